/* SPDX-License-Identifier: MIT */
/*
 * A reader's attachment, apart from the per-frame path: reserving the name
 * (lossless readers), finding the region on one transport or either,
 * deciding whether it is worth reading, registering in the reader table in
 * the order that keeps the writer's view safe, and giving the entry back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader.h"

#define CREATING_NS (200 * 1000000LL) /* how long a half-made region may stay so */

/*
 * Whether a lossless reader starts this region from frame 1: when nothing is
 * published yet, or when the region was made after our reservation (the
 * writer waited for us, or should have: frames we find gone are drops).
 * Otherwise we joined a running stream and start at its newest frame.
 */
static int starts_at_one(const struct fbus_reader *r, uint64_t newest)
{
    if (r->policy != FBUS_POLICY_LOSSLESS)
        return 0;
    return newest == 0 || (r->rsv.fd >= 0 && r->rg.created_ns >= r->rsv.created_ns);
}

/*
 * Take a reader entry. `keep`: go on from r->last_seq (taking an entry back,
 * see keep_entry) rather than choosing a start. The order is what makes the
 * writer's view safe: the entry's lock before the claim (so a claimed entry
 * always has a live owner or a free lock), every field and the consumed
 * cursor before the entry turns active (so an active entry's frames are
 * protected from its first moment), the high-water mark before both.
 */
static int register_entry(struct fbus_reader *r, int keep)
{
    struct fbus__region *rg = &r->rg;

    for (uint32_t i = 0; i < rg->reader_count; i++) {
        struct fbus__reader_entry *e = &rg->readers[i];
        uint32_t st = atomic_load_explicit(&e->state, memory_order_acquire), mine;
        uint64_t c;

        if (FBUS__ENTRY_KIND(st) != FBUS__ENTRY_FREE)
            continue;
        /* Held by someone: a live reader the table lists as free (a
         * scribbled table). Leave its entry alone. */
        if (fbus__lock_take(rg->map.lockfd, FBUS__LOCK_ENTRY(i)) < 0)
            continue;
        /* The mark covers the entry before it is claimed: the writer's
         * reclaim scans only below it, and a reader that died between the
         * claim and the mark left an entry no one would ever free. (The
         * writer loads the mark, seq_cst, before it scans entries.) */
        for (uint32_t hw = atomic_load(&rg->hdr->readers_hw); hw < i + 1;)
            if (atomic_compare_exchange_weak(&rg->hdr->readers_hw, &hw, i + 1))
                break;
        mine = (FBUS__ENTRY_GEN(st) + 1) << 8 | FBUS__ENTRY_CLAIMED;
        if (!atomic_compare_exchange_strong(&e->state, &st, mine)) {
            fbus__lock_drop(rg->map.lockfd, FBUS__LOCK_ENTRY(i));
            continue;
        }
        FBUS__HOOK("register:claimed");
        atomic_store_explicit(&e->pid, getpid(), memory_order_relaxed);
        atomic_store_explicit(&e->uid, geteuid(), memory_order_relaxed);
        atomic_store_explicit(&e->start, fbus__proc_start(getpid()), memory_order_relaxed);
        atomic_store_explicit(&e->session, rg->session, memory_order_relaxed);
        atomic_store_explicit(&e->policy, (uint32_t)r->policy, memory_order_relaxed);
        atomic_store_explicit(&e->pin, 0, memory_order_relaxed);
        atomic_store_explicit(&e->token, r->rsv.fd >= 0 ? r->rsv.token : 0, memory_order_relaxed);
        atomic_store_explicit(&e->demoted, 0, memory_order_relaxed);
        atomic_store_explicit(&e->heartbeat_ns, fbus_now_ns(), memory_order_relaxed);
        atomic_store_explicit(&e->frames, 0, memory_order_relaxed);
        atomic_store_explicit(&e->overruns, 0, memory_order_relaxed);
        atomic_store_explicit(&e->drops, 0, memory_order_relaxed);
        c = atomic_load_explicit(&rg->hdr->cursor, memory_order_seq_cst);
        if (!keep) {
            uint64_t newest = FBUS__CURSOR_SEQ(c);
            r->from_start = starts_at_one(r, newest);
            r->last_seq = r->from_start || !newest ? 0 : newest - 1;
        }
        atomic_store_explicit(&e->consumed, r->last_seq, memory_order_seq_cst);
        FBUS__HOOK("register:before-active");
        mine = FBUS__ENTRY_GEN(mine) << 8 | FBUS__ENTRY_ACTIVE;
        atomic_store_explicit(&e->state, mine, memory_order_seq_cst);
        r->entry = e;
        r->entry_index = i;
        r->entry_state = mine;
        /* Let a writer waiting for readers or reservations know. */
        atomic_fetch_add_explicit(&rg->hdr->release_futex, 1, memory_order_seq_cst);
        fbus__futex_wake(&rg->hdr->release_futex, 1);
        return 0;
    }
    return FBUS_EFULL;
}

/* Give the entry up: free (unless the writer already did, or it is not ours
 * any more), then let go of its lock, then tell a waiting writer. */
static void unregister_entry(struct fbus_reader *r)
{
    struct fbus__reader_entry *e = r->entry;
    uint32_t st = r->entry_state;

    if (!e)
        return;
    atomic_store_explicit(&e->pin, 0, memory_order_relaxed);
    atomic_compare_exchange_strong(&e->state, &st, FBUS__ENTRY_GEN(st) << 8 | FBUS__ENTRY_FREE);
    fbus__lock_drop(r->rg.map.lockfd, FBUS__LOCK_ENTRY(r->entry_index));
    atomic_fetch_add_explicit(&r->rg.hdr->release_futex, 1, memory_order_seq_cst);
    fbus__futex_wake(&r->rg.hdr->release_futex, 1);
    r->entry = NULL;
}

/* Unmap and close the region's descriptors with no fork in between (a
 * child forked meanwhile kept them: fbus__fork_hold). */
static void unmap(struct fbus_reader *r)
{
    fbus__fork_hold();
    fbus__region_detach(&r->rg);
    fbus__fork_release();
}

void fbus__reader_detach(struct fbus_reader *r)
{
    if (!r->attached)
        return;
    unregister_entry(r);
    unmap(r);
    r->attached = 0;
    r->holding = 0;
}

/* Map the region behind the name on transport t, waiting out one that is
 * being made this very moment. */
static int map_region(struct fbus_reader *r, fbus_transport t)
{
    int want_write = !(r->flags & FBUS_READER_OBSERVER);
    int64_t giveup = fbus_now_ns() + CREATING_NS;
    int err;

    for (;;) {
        /* The descriptors land in r->rg, tracked: no fork meanwhile. */
        fbus__fork_hold();
        err = fbus__region_attach(r->name, t, want_write, &r->rg);
        fbus__fork_release();
        if (err != -EAGAIN)
            return err;
        if (fbus_now_ns() > giveup)
            return FBUS_EBADREGION;
        fbus__sleep_ns(1000000);
    }
}

/* Whether a mapped region is one to read: a live (or stalled) producer's, or
 * an ended one whose frames a reserved lossless reader has yet to see. */
static int worth_reading(struct fbus_reader *r)
{
    int status = fbus__producer_status(&r->rg, r->producer_timeout, fbus_now_ns());

    if (status == FBUS__STATE_LIVE || status == FBUS__STATE_STALLED)
        return 1;
    /* A producer we gave up on as stalled may come back and is joined again
     * then; a finished one is not re-read, but a stream that ended before a
     * reader that was waiting for it could attach is read to its end. */
    return status == FBUS__STATE_ENDED && r->rg.session != r->done_session &&
           r->policy == FBUS_POLICY_LOSSLESS && r->rsv.fd >= 0 &&
           r->rg.created_ns >= r->rsv.created_ns;
}

/* One attempt to attach on transport t: 0, -ENOENT (nothing to read there
 * yet), or an error. */
static int attach_on(struct fbus_reader *r, fbus_transport t)
{
    int err = map_region(r, t);

    if (err < 0)
        return err;
    if ((r->flags & FBUS_READER_SAME_USER) && r->rg.map.uid != geteuid()) {
        unmap(r);
        return FBUS_EOWNER;
    }
    if (!worth_reading(r)) {
        unmap(r);
        return -ENOENT;
    }
    /* Registering takes a lock on the region's file: without one (a SysV
     * key file we may not open for writing) we can only observe. */
    r->observer = !r->rg.map.writable || r->rg.map.lockfd < 0;
    r->last_seq = 0;
    r->from_start = 0;
    if (r->observer && r->policy == FBUS_POLICY_LOSSLESS) {
        unmap(r);
        return FBUS_EOBSERVER;
    }
    if (!r->observer) {
        err = register_entry(r, 0);
        if (err < 0) {
            unmap(r);
            return err;
        }
    }
    r->attached = 1;
    r->new_session = 1;
    r->hb_since = 0;
    return 0;
}

int fbus__reader_attach(struct fbus_reader *r)
{
    int err;

    if (r->transport != FBUS_TRANSPORT_ANY)
        return attach_on(r, r->transport);
    err = attach_on(r, FBUS_TRANSPORT_POSIX);
    return err == -ENOENT ? attach_on(r, FBUS_TRANSPORT_SYSV) : err;
}

FBUS_EXTERN int fbus_reader_open(const char *name, const fbus_reader_opts *opts, fbus_reader **out)
{
    static const fbus_reader_opts defaults;
    struct fbus_reader *r;
    int err;

    if (out)
        *out = NULL;
    if (!out)
        return -EINVAL;
    if (!opts)
        opts = &defaults;
    err = fbus_name_check(name);
    if (err < 0)
        return err;
    if ((!fbus__transport_get(opts->transport) && opts->transport != FBUS_TRANSPORT_ANY) ||
        (opts->policy != FBUS_POLICY_LATEST && opts->policy != FBUS_POLICY_LOSSLESS))
        return -EINVAL;
    if ((opts->flags & FBUS_READER_OBSERVER) && opts->policy == FBUS_POLICY_LOSSLESS)
        return FBUS_EOBSERVER;

    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    strcpy(r->name, name);
    r->transport = opts->transport;
    r->policy = opts->policy;
    r->producer_timeout =
        opts->producer_timeout_ns > 0 ? opts->producer_timeout_ns : FBUS__PRODUCER_TIMEOUT_NS;
    r->flags = opts->flags;
    r->fork_gen = atomic_load_explicit(&fbus__fork_gen, memory_order_relaxed);
    r->rg.map.fd = -1;
    r->rg.map.guard = -1;
    r->rg.map.lockfd = -1;
    r->rsv.fd = -1;
    r->watch_fd = -1;

    /* A lossless reader reserves its place under the name for its whole
     * life, so that every session's writer waits for it. Without /dev/shm
     * write access it goes on unreserved: lossless from when it attaches. */
    /* Its lock is held from the file's creation: no fork until it is
     * tracked (a child that kept it made a dead reader's reservation look
     * alive, and every session's writer waited for it; found by a tester). */
    fbus__fork_hold();
    if (r->policy == FBUS_POLICY_LOSSLESS)
        (void)fbus__reserve_make(name, r->transport, &r->rsv);
    FBUS__HOOK("reserve:made");
    fbus__fd_track(&r->rg.map.fd);
    fbus__fd_track(&r->rg.map.lockfd);
    fbus__fd_track(&r->rsv.fd);
    fbus__fd_track(&r->watch_fd);
    fbus__fork_release();

    err = fbus__reader_attach(r);
    if (err == -ENOENT && (r->flags & FBUS_READER_WAIT))
        err = 0;
    if (err < 0) {
        fbus_reader_close(r);
        return err;
    }
    *out = r;
    return 0;
}

FBUS_EXTERN void fbus_reader_close(fbus_reader *r)
{
    int forked;

    if (!r)
        return;
    forked = fbus__reader_forked(r);
    if (!forked) {
        fbus__reader_detach(r);
        /* Untracked and closed with no fork in between (fbus__fork_hold). */
        fbus__fork_hold();
    }
    fbus__fd_untrack(&r->rg.map.fd);
    fbus__fd_untrack(&r->rg.map.lockfd);
    fbus__fd_untrack(&r->rsv.fd);
    fbus__fd_untrack(&r->watch_fd);
    if (forked) {
        /* A forked child's copy: the entry and the reservation are the
         * parent's (the child's descriptors were closed at fork). */
        if (r->attached)
            fbus__region_detach(&r->rg);
        free(r);
        return;
    }
    fbus__reserve_drop(&r->rsv);
    if (r->watch_fd >= 0)
        close(r->watch_fd);
    fbus__fork_release();
    free(r);
}

FBUS_EXTERN int fbus_reader_attached(const fbus_reader *r)
{
    return r && r->attached;
}

/*
 * Whether our entry is still ours. The writer frees only entries whose lock
 * is free, so this fails only if someone scribbled on the table: then take
 * an entry again and go on from our last frame, so the writer waits for us
 * from now on; frames it reused meanwhile show as drops. A demotion (our
 * lease ran out while we were stopped) is cleared the same way: the writer
 * waits for us again, and what we missed shows as drops. 0, or FBUS_EFULL.
 */
int fbus__reader_keep_entry(struct fbus_reader *r)
{
    struct fbus__reader_entry *e = r->entry;

    if (!e)
        return 0;
    if (atomic_load_explicit(&e->state, memory_order_relaxed) == r->entry_state) {
        if (atomic_load_explicit(&e->demoted, memory_order_relaxed) ==
            FBUS__DEMOTED(r->entry_state))
            atomic_store_explicit(&e->demoted, 0, memory_order_seq_cst);
        return 0;
    }
    fbus__lock_drop(r->rg.map.lockfd, FBUS__LOCK_ENTRY(r->entry_index));
    r->entry = NULL;
    return register_entry(r, 1);
}
