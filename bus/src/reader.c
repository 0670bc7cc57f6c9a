/* SPDX-License-Identifier: MIT */
/*
 * The reader side of the protocol: registering in the reader table, pinning a
 * frame with the hazard handshake, validating it, releasing it, and following
 * the producer through restarts and region moves.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define CREATING_NS (200 * 1000000LL) /* how long a half-made region may stay so */

struct fbus_reader {
    char name[FBUS_NAME_MAX + 1];
    fbus_transport transport; /* asked for; ANY: whichever holds the name */
    fbus_policy policy;
    int64_t producer_timeout;
    uint32_t flags;
    unsigned fork_gen; /* fbus__fork_gen at open: a child's copy refuses */
    int attached;
    int observer;
    struct fbus__region rg;
    struct fbus__reader_entry *entry; /* NULL for observers */
    uint32_t entry_index;
    uint32_t entry_state;         /* the state word we set: ours while it stays */
    struct fbus__reservation rsv; /* lossless readers: fd -1 if none */
    int watch_fd;                 /* inotify on /dev/shm, -1 until needed */
    uint64_t done_session;        /* the last session we saw end */
    uint64_t last_seq;            /* last frame taken in this session */
    int from_start;               /* drops count from frame 1 */
    /* Our own watch of a heartbeat that stopped moving: when we first saw
     * this value, and how many times we looked since. */
    int64_t hb_value;
    int64_t hb_since;
    int64_t hb_looks;
    int new_session; /* next frame is the first of a session */
    int holding;
    uint64_t held_seq;
    uint32_t held_slot;
    /* Observers keep their own counters. */
    uint64_t frames, overruns, drops;
};

static int forked(const struct fbus_reader *r)
{
    return r->fork_gen != atomic_load_explicit(&fbus__fork_gen, memory_order_relaxed);
}

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

static void detach(struct fbus_reader *r)
{
    if (!r->attached)
        return;
    unregister_entry(r);
    fbus__region_detach(&r->rg);
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
        err = fbus__region_attach(r->name, t, want_write, &r->rg);
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
        fbus__region_detach(&r->rg);
        return FBUS_EOWNER;
    }
    if (!worth_reading(r)) {
        fbus__region_detach(&r->rg);
        return -ENOENT;
    }
    /* Registering takes a lock on the region's file: without one (a SysV
     * key file we may not open for writing) we can only observe. */
    r->observer = !r->rg.map.writable || r->rg.map.lockfd < 0;
    r->last_seq = 0;
    r->from_start = 0;
    if (r->observer && r->policy == FBUS_POLICY_LOSSLESS) {
        fbus__region_detach(&r->rg);
        return FBUS_EOBSERVER;
    }
    if (!r->observer) {
        err = register_entry(r, 0);
        if (err < 0) {
            fbus__region_detach(&r->rg);
            return err;
        }
    }
    r->attached = 1;
    r->new_session = 1;
    r->hb_since = 0;
    return 0;
}

static int try_attach(struct fbus_reader *r)
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
    if (r->policy == FBUS_POLICY_LOSSLESS)
        (void)fbus__reserve_make(name, r->transport, &r->rsv);
    fbus__fd_track(&r->rg.map.fd);
    fbus__fd_track(&r->rg.map.lockfd);
    fbus__fd_track(&r->rsv.fd);
    fbus__fd_track(&r->watch_fd);

    err = try_attach(r);
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
    if (!r)
        return;
    fbus__fd_untrack(&r->rg.map.fd);
    fbus__fd_untrack(&r->rg.map.lockfd);
    fbus__fd_untrack(&r->rsv.fd);
    fbus__fd_untrack(&r->watch_fd);
    if (forked(r)) {
        /* A forked child's copy: the entry and the reservation are the
         * parent's (the child's descriptors were closed at fork). */
        if (r->attached)
            fbus__region_detach(&r->rg);
        free(r);
        return;
    }
    detach(r);
    fbus__reserve_drop(&r->rsv);
    if (r->watch_fd >= 0)
        close(r->watch_fd);
    free(r);
}

FBUS_EXTERN int fbus_reader_attached(const fbus_reader *r)
{
    return r && r->attached;
}

/* The slot holding frame seq, or -1. */
static int find_slot(const struct fbus__region *rg, uint64_t seq)
{
    for (uint32_t i = 0; i < rg->slot_count; i++)
        if (atomic_load_explicit(&fbus__desc(rg, i)->lock, memory_order_acquire) == 2 * seq)
            return (int)i;
    return -1;
}

/* The oldest complete frame newer than seq and no newer than upto (0: none). */
static uint64_t oldest_after(const struct fbus__region *rg, uint64_t seq, uint64_t upto)
{
    uint64_t best = 0;

    for (uint32_t i = 0; i < rg->slot_count; i++) {
        uint64_t l = atomic_load_explicit(&fbus__desc(rg, i)->lock, memory_order_acquire);
        if (l & 1)
            continue;
        l /= 2;
        if (l > seq && l <= upto && (!best || l < best))
            best = l;
    }
    return best;
}

static void count(struct fbus_reader *r, _Atomic uint64_t *shared, uint64_t *own, uint64_t n)
{
    if (r->entry)
        atomic_fetch_add_explicit(shared, n, memory_order_relaxed);
    else
        *own += n;
}

/*
 * Pin frame `seq` in slot i and make sure the writer is not taking that slot:
 * 1 if the frame is ours until release, 0 if it moved on. The pin store and
 * the claim load are both seq_cst; the writer stores the claim and then loads
 * the pins, also seq_cst, so one of us sees the other.
 */
static int pin(struct fbus_reader *r, uint32_t i, uint64_t seq)
{
    struct fbus__slot_desc *d = fbus__desc(&r->rg, i);

    if (r->entry)
        atomic_store_explicit(&r->entry->pin, FBUS__CURSOR(seq, i), memory_order_seq_cst);
    if (atomic_load_explicit(&d->claim, memory_order_seq_cst) == 0 &&
        atomic_load_explicit(&d->lock, memory_order_seq_cst) == 2 * seq)
        return 1;
    if (r->entry)
        atomic_store_explicit(&r->entry->pin, 0, memory_order_release);
    return 0;
}

static void unpin(struct fbus_reader *r)
{
    if (r->entry)
        atomic_store_explicit(&r->entry->pin, 0, memory_order_release);
}

/* Copy and check the descriptor of a pinned frame. 1: good, 0: it changed
 * under us (forced reuse), <0: the region is bad. */
static int take(struct fbus_reader *r, uint32_t i, uint64_t seq, fbus_frame *f)
{
    const struct fbus__slot_desc *d = fbus__desc(&r->rg, i);
    uint8_t *base = fbus__payload(&r->rg, i);
    int err;

    memset(f, 0, sizeof(*f));
    memcpy(&f->format, &d->format, sizeof(f->format));
    f->pts = d->pts;
    f->tb_num = d->tb_num;
    f->tb_den = d->tb_den;
    f->publish_ns = d->publish_ns;
    f->flags = d->flags & 0xffu;
    f->rate_num = d->rate_num;
    f->rate_den = d->rate_den;
    f->sar_num = d->sar_num;
    f->sar_den = d->sar_den;
    f->color = d->color;
    /* Seqlock read side: the copies above are ordered before the check by
     * this fence, which pairs with the writer's fence after its odd lock. */
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&d->lock, memory_order_relaxed) != 2 * seq)
        return 0;
    err = fbus_format_check(&f->format, r->rg.slot_capacity);
    if (err < 0)
        return FBUS_EBADREGION;
    err = fbus__slot_map_in(&r->rg, i, f->format.size, 0);
    if (err < 0)
        return err;
    for (uint32_t p = 0; p < f->format.nb_planes; p++)
        f->data[p] = base + f->format.planes[p].offset;
    f->seq = seq;
    f->session = r->rg.session;
    f->slot = i;
    return 1;
}

/*
 * Whether our entry is still ours. The writer frees only entries whose lock
 * is free, so this fails only if someone scribbled on the table: then take
 * an entry again and go on from our last frame, so the writer waits for us
 * from now on; frames it reused meanwhile show as drops. A demotion (our
 * lease ran out while we were stopped) is cleared the same way: the writer
 * waits for us again, and what we missed shows as drops. 0, or FBUS_EFULL.
 */
static int keep_entry(struct fbus_reader *r)
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

/* One look for a frame: 1 got one, 0 nothing new yet, <0 error. */
static int try_take(struct fbus_reader *r, fbus_frame *f)
{
    struct fbus__region *rg = &r->rg;
    int err = keep_entry(r);

    if (err < 0)
        return err;

    for (int spins = 0; spins < 1000; spins++) {
        uint64_t c = atomic_load_explicit(&rg->hdr->cursor, memory_order_acquire);
        uint64_t newest = FBUS__CURSOR_SEQ(c), seq, skipped = 0;
        int i, got;

        if (c && FBUS__CURSOR_SLOT(c) >= rg->slot_count)
            return FBUS_EBADREGION;
        if (newest <= r->last_seq)
            return 0;
        if (r->policy == FBUS_POLICY_LATEST) {
            seq = newest;
            i = (int)FBUS__CURSOR_SLOT(c);
        } else {
            seq = r->last_seq + 1;
            i = find_slot(rg, seq);
            if (i < 0) {
                /* Gone before we came (we joined late or lagged after a
                 * reclaim): go on from the oldest frame still there. */
                uint64_t next = oldest_after(rg, r->last_seq, newest);
                if (!next)
                    continue;
                seq = next;
                i = find_slot(rg, seq);
                if (i < 0)
                    continue;
            }
        }
        if (!pin(r, (uint32_t)i, seq))
            continue;
        got = take(r, (uint32_t)i, seq, f);
        if (got < 0) {
            unpin(r);
            return got;
        }
        if (got == 0) {
            unpin(r);
            count(r, r->entry ? &r->entry->overruns : NULL, &r->overruns, 1);
            continue;
        }
        /* Frames skipped count from the first we could have had: frame 1
         * for a reader that was waiting for the stream, else the first we
         * took. */
        if ((r->from_start || !r->new_session) && seq > r->last_seq + 1)
            skipped = seq - r->last_seq - 1;
        f->dropped = skipped;
        if (skipped)
            count(r, r->entry ? &r->entry->drops : NULL, &r->drops, skipped);
        if (r->new_session)
            f->flags |= FBUS_FRAME_NEW_SESSION;
        r->new_session = 0;
        r->last_seq = seq;
        r->holding = 1;
        r->held_seq = seq;
        r->held_slot = (uint32_t)i;
        count(r, r->entry ? &r->entry->frames : NULL, &r->frames, 1);
        if (r->entry)
            atomic_store_explicit(&r->entry->heartbeat_ns, fbus_now_ns(), memory_order_relaxed);
        return 1;
    }
    /* The writer lapped us a thousand times: report what we have. */
    return 0;
}

/* Wait until a publish, the writer ending, or `left` passes. */
static void wait_publish(struct fbus_reader *r, int64_t left)
{
    struct fbus__header *h = r->rg.hdr;
    uint64_t c, bit;
    uint32_t v;

    if (left > FBUS__WAIT_CHUNK_NS)
        left = FBUS__WAIT_CHUNK_NS;
    if (r->observer) {
        /* Observers cannot write the futex words: poll. */
        fbus__sleep_ns(left < 2000000 ? left : 2000000);
        return;
    }
    /* Announce first, then re-read the cursor: a publish after our read sees
     * our bit and bumps the word, so the wait returns at once. */
    bit = UINT64_C(1) << (r->entry_index & 63);
    atomic_fetch_or_explicit(&h->waiting_mask, bit, memory_order_seq_cst);
    v = atomic_load_explicit(&h->publish_futex, memory_order_seq_cst);
    c = atomic_load_explicit(&h->cursor, memory_order_seq_cst);
    if (FBUS__CURSOR_SEQ(c) <= r->last_seq &&
        atomic_load_explicit(&h->state, memory_order_relaxed) == FBUS__STATE_LIVE)
        fbus__futex_wait(&h->publish_futex, v, left);
    atomic_fetch_and_explicit(&h->waiting_mask, ~bit, memory_order_seq_cst);
}

/*
 * The producer's process lives but its heartbeat is old. Call it gone only
 * once we ourselves have watched the heartbeat stand still for the timeout,
 * over several looks: if it was this process that was not scheduled (a
 * loaded machine, a debugger), the heartbeat is old through no fault of the
 * producer, and we must not give up on a live stream.
 */
static int stalled_long(struct fbus_reader *r, int64_t now)
{
    int64_t hb = atomic_load_explicit(&r->rg.hdr->heartbeat_ns, memory_order_relaxed);
    int64_t looks_needed = r->producer_timeout / FBUS__WAIT_CHUNK_NS;

    if (hb != r->hb_value || r->hb_since == 0) {
        r->hb_value = hb;
        r->hb_since = now;
        r->hb_looks = 0;
        return 0;
    }
    r->hb_looks++;
    return fbus__age_ns(now, r->hb_since) > r->producer_timeout &&
           r->hb_looks >= (looks_needed < 2 ? 2 : looks_needed);
}

/*
 * Whether someone with write access shrank the posix object under our
 * mapping: touching the lost pages would raise SIGBUS. Checked whenever we
 * are about to wait, not per frame; this narrows the window but cannot close
 * it (see docs/security.md).
 */
static int shrunk(const struct fbus_reader *r)
{
    struct stat st;

    return r->rg.map.fd >= 0 && fstat(r->rg.map.fd, &st) == 0 &&
           (uint64_t)st.st_size < r->rg.map.size;
}

static int status_error(int status)
{
    switch (status) {
    case FBUS__STATE_ENDED:
        return FBUS_EENDED;
    case FBUS__STATE_REPLACED:
        return FBUS_EREPLACED;
    default:
        return FBUS_EPRODUCERGONE;
    }
}

FBUS_EXTERN int fbus_reader_acquire(fbus_reader *r, int64_t timeout_ns, fbus_frame *frame)
{
    int64_t deadline = fbus__deadline(timeout_ns);

    if (r && forked(r))
        return -ECHILD;
    if (!r || !frame || r->holding)
        return -EINVAL;
    for (;;) {
        int64_t now;
        int got, status;

        if (!r->attached) {
            int err;
            /* Watch before looking, so a name that appears between the
             * look and the wait wakes us. */
            if (r->watch_fd < 0 && timeout_ns != 0)
                r->watch_fd = fbus__name_watch_open();
            err = try_attach(r);
            if (err < 0 && err != -ENOENT)
                return err;
            if (err == -ENOENT) {
                now = fbus_now_ns();
                if (now >= deadline)
                    return fbus__timed_out(timeout_ns);
                fbus__name_watch_wait(r->watch_fd, deadline - now);
                continue;
            }
        }
        got = try_take(r, frame);
        if (got == 1)
            return 0;
        if (got < 0) {
            detach(r);
            return got;
        }
        now = fbus_now_ns();
        status = fbus__producer_status(&r->rg, r->producer_timeout, now);
        if (status == FBUS__STATE_STALLED && !stalled_long(r, now))
            status = FBUS__STATE_LIVE;
        if (status != FBUS__STATE_LIVE) {
            /* Frames published before the end are still delivered. */
            got = try_take(r, frame);
            if (got == 1)
                return 0;
            r->done_session = r->rg.session;
            detach(r);
            return status_error(status);
        }
        if (shrunk(r)) {
            detach(r);
            return FBUS_EBADREGION;
        }
        if (now >= deadline)
            return fbus__timed_out(timeout_ns);
        wait_publish(r, deadline - now);
    }
}

FBUS_EXTERN int fbus_reader_release(fbus_reader *r, fbus_frame *frame)
{
    struct fbus__slot_desc *d;
    struct fbus__header *h;
    int torn;

    if (!r || !frame || !r->holding || frame->seq != r->held_seq || frame->slot != r->held_slot)
        return -EINVAL;
    if (forked(r))
        return -ECHILD;
    r->holding = 0;
    d = fbus__desc(&r->rg, r->held_slot);
    h = r->rg.hdr;
    /* Seqlock read side: everything read from the frame is ordered before
     * the check by this fence (it pairs with the writer's fence after its
     * odd lock). If the lock still names our frame, the writer never
     * started writing the slot while we read it. */
    atomic_thread_fence(memory_order_acquire);
    torn = atomic_load_explicit(&d->lock, memory_order_relaxed) != 2 * r->held_seq;
    if (torn)
        count(r, r->entry ? &r->entry->overruns : NULL, &r->overruns, 1);
    if (r->entry) {
        struct fbus__reader_entry *e = r->entry;
        atomic_store_explicit(&e->pin, 0, memory_order_release);
        /* seq_cst store, then seq_cst load of writer_waiting: either the
         * writer sees the new consumed or we see that it waits. */
        atomic_store_explicit(&e->consumed, r->held_seq, memory_order_seq_cst);
        if (r->policy == FBUS_POLICY_LOSSLESS &&
            atomic_load_explicit(&h->writer_waiting, memory_order_seq_cst)) {
            atomic_fetch_add_explicit(&h->release_futex, 1, memory_order_seq_cst);
            fbus__futex_wake(&h->release_futex, 1);
        }
    }
    memset(frame->data, 0, sizeof(frame->data));
    return torn ? FBUS_EOVERRUN : 0;
}
