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

#define POLL_BUS_NS (20 * 1000000LL)  /* how often to look for a missing bus */
#define CREATING_NS (200 * 1000000LL) /* how long a half-made region may stay so */

struct fbus_reader {
    char name[FBUS_NAME_MAX + 1];
    fbus_transport transport;
    fbus_policy policy;
    int64_t producer_timeout;
    uint32_t flags;
    int attached;
    int observer;
    struct fbus__region rg;
    struct fbus__reader_entry *entry; /* NULL for observers */
    pid_t pid;                        /* ours, as written into the entry */
    uint64_t last_seq;                /* last frame taken in this session */
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

static int64_t deadline_of(int64_t timeout_ns)
{
    return timeout_ns < 0 ? INT64_MAX : fbus_now_ns() + timeout_ns;
}

/* Take a reader entry. `keep`: go on from r->last_seq (taking an entry
 * back, below) rather than from the newest frame. */
static int register_entry(struct fbus_reader *r, int keep)
{
    struct fbus__region *rg = &r->rg;

    for (uint32_t i = 0; i < rg->reader_count; i++) {
        struct fbus__reader_entry *e = &rg->readers[i];
        uint32_t expect = FBUS__ENTRY_FREE;
        uint64_t c;

        /* The claim carries our pid, so the writer can free the entry if we
         * die before it is filled in. */
        if (!atomic_compare_exchange_strong(&e->state, &expect,
                                            FBUS__ENTRY_CLAIMED | ((uint32_t)getpid() << 8)))
            continue;
        r->pid = getpid();
        atomic_store_explicit(&e->pid, r->pid, memory_order_relaxed);
        atomic_store_explicit(&e->uid, geteuid(), memory_order_relaxed);
        atomic_store_explicit(&e->start, fbus__proc_start(getpid()), memory_order_relaxed);
        atomic_store_explicit(&e->session, rg->session, memory_order_relaxed);
        atomic_store_explicit(&e->policy, (uint32_t)r->policy, memory_order_relaxed);
        atomic_store_explicit(&e->pin, 0, memory_order_relaxed);
        atomic_store_explicit(&e->consumed, FBUS__JOINING, memory_order_relaxed);
        atomic_store_explicit(&e->heartbeat_ns, fbus_now_ns(), memory_order_relaxed);
        atomic_store_explicit(&e->frames, 0, memory_order_relaxed);
        atomic_store_explicit(&e->overruns, 0, memory_order_relaxed);
        atomic_store_explicit(&e->drops, 0, memory_order_relaxed);
        atomic_store_explicit(&e->state, FBUS__ENTRY_ACTIVE, memory_order_seq_cst);
        /* From here the writer sees us. Start with the newest frame (or the
         * first, if none is out yet); a frame published between the two
         * lines is simply the newest one. */
        c = atomic_load_explicit(&rg->hdr->cursor, memory_order_seq_cst);
        if (!keep)
            r->last_seq = c ? FBUS__CURSOR_SEQ(c) - 1 : 0;
        atomic_store_explicit(&e->consumed, r->last_seq, memory_order_seq_cst);
        r->entry = e;
        /* Raise the high-water mark before our pin can matter: the writer
         * loads it (seq_cst) before it scans pins. */
        for (uint32_t hw = atomic_load(&rg->hdr->readers_hw); hw < i + 1;)
            if (atomic_compare_exchange_weak(&rg->hdr->readers_hw, &hw, i + 1))
                break;
        /* Let a writer waiting for readers know. */
        atomic_fetch_add_explicit(&rg->hdr->release_futex, 1, memory_order_seq_cst);
        fbus__futex_wake(&rg->hdr->release_futex, 1);
        return 0;
    }
    return FBUS_EFULL;
}

static void unregister_entry(struct fbus_reader *r)
{
    struct fbus__reader_entry *e = r->entry;

    if (!e)
        return;
    atomic_store_explicit(&e->pin, 0, memory_order_relaxed);
    atomic_store_explicit(&e->consumed, FBUS__JOINING, memory_order_relaxed);
    atomic_store_explicit(&e->state, FBUS__ENTRY_FREE, memory_order_seq_cst);
    /* A writer waiting on us can go on now. */
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

/* One attempt to attach: 0, -ENOENT (nothing there yet), or an error. */
static int try_attach(struct fbus_reader *r)
{
    int want_write = !(r->flags & FBUS_READER_OBSERVER);
    int64_t giveup = fbus_now_ns() + CREATING_NS;
    int err, status;

    for (;;) {
        err = fbus__region_attach(r->name, r->transport, want_write, &r->rg);
        if (err != -EAGAIN)
            break;
        /* A producer is creating it this very moment. */
        if (fbus_now_ns() > giveup)
            return FBUS_EBADREGION;
        fbus__sleep_ns(1000000);
    }
    if (err < 0)
        return err;
    if ((r->flags & FBUS_READER_SAME_USER) && r->rg.map.uid != geteuid()) {
        fbus__region_detach(&r->rg);
        return FBUS_EOWNER;
    }
    status = fbus__producer_status(&r->rg, r->producer_timeout, fbus_now_ns());
    if (status != FBUS__STATE_LIVE && status != FBUS__STATE_STALLED) {
        /* A region whose producer is finished: wait for its successor
         * rather than re-reading a dead stream. (A producer we gave up on
         * as stalled may come back, and is joined again then.) */
        fbus__region_detach(&r->rg);
        return -ENOENT;
    }
    r->observer = !r->rg.map.writable;
    r->last_seq = 0;
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
    if (!fbus__transport_get(opts->transport) ||
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
    r->rg.map.fd = -1;

    err = try_attach(r);
    if (err == -ENOENT && (r->flags & FBUS_READER_WAIT))
        err = 0;
    if (err < 0) {
        free(r);
        return err;
    }
    *out = r;
    return 0;
}

FBUS_EXTERN void fbus_reader_close(fbus_reader *r)
{
    if (!r)
        return;
    detach(r);
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
    if (atomic_load_explicit(&d->lock, memory_order_acquire) != 2 * seq)
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
 * Whether the writer freed our entry, taking us for dead (it never should
 * for a live reader: a fault elsewhere, or a process that scribbled on the
 * table). Then take an entry again and go on from our last frame, so the
 * writer waits for us from now on; frames it reused meanwhile show as
 * drops. 0, or FBUS_EFULL.
 */
static int keep_entry(struct fbus_reader *r)
{
    struct fbus__reader_entry *e = r->entry;

    if (!e || (atomic_load_explicit(&e->state, memory_order_relaxed) == FBUS__ENTRY_ACTIVE &&
               atomic_load_explicit(&e->pid, memory_order_relaxed) == r->pid))
        return 0;
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
        if (r->last_seq && seq > r->last_seq + 1)
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
    uint64_t c;
    uint32_t v;

    if (left > FBUS__WAIT_CHUNK_NS)
        left = FBUS__WAIT_CHUNK_NS;
    if (r->observer) {
        /* Observers cannot write the futex words: poll. */
        fbus__sleep_ns(left < 2000000 ? left : 2000000);
        return;
    }
    /* Announce first, then re-read the cursor: a publish after our read sees
     * readers_waiting and bumps the word, so the wait returns at once. */
    atomic_fetch_add_explicit(&h->readers_waiting, 1, memory_order_seq_cst);
    v = atomic_load_explicit(&h->publish_futex, memory_order_seq_cst);
    c = atomic_load_explicit(&h->cursor, memory_order_seq_cst);
    if (FBUS__CURSOR_SEQ(c) <= r->last_seq &&
        atomic_load_explicit(&h->state, memory_order_relaxed) == FBUS__STATE_LIVE)
        fbus__futex_wait(&h->publish_futex, v, left);
    atomic_fetch_sub_explicit(&h->readers_waiting, 1, memory_order_seq_cst);
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
    int64_t deadline = deadline_of(timeout_ns);

    if (!r || !frame || r->holding)
        return -EINVAL;
    for (;;) {
        int64_t now;
        int got, status;

        if (!r->attached) {
            int err = try_attach(r);
            if (err < 0 && err != -ENOENT)
                return err;
            if (err == -ENOENT) {
                now = fbus_now_ns();
                if (now >= deadline)
                    return timeout_ns == 0 ? -EAGAIN : -ETIMEDOUT;
                fbus__sleep_ns(deadline - now < POLL_BUS_NS ? deadline - now : POLL_BUS_NS);
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
            detach(r);
            return status_error(status);
        }
        if (shrunk(r)) {
            detach(r);
            return FBUS_EBADREGION;
        }
        if (now >= deadline)
            return timeout_ns == 0 ? -EAGAIN : -ETIMEDOUT;
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
    r->holding = 0;
    d = fbus__desc(&r->rg, r->held_slot);
    h = r->rg.hdr;
    /* Acquire: everything we read from the frame came before this load. If
     * the lock still names our frame, the writer never touched the slot. */
    torn = atomic_load_explicit(&d->lock, memory_order_acquire) != 2 * r->held_seq;
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
