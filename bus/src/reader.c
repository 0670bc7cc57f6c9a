/* SPDX-License-Identifier: MIT */
/*
 * The reader's per-frame path: pinning a frame with the hazard handshake,
 * validating it, releasing it, waiting for the next one, and noticing that
 * the producer ended, died or moved (attach.c does the attaching).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reader.h"

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

/* One look for a frame: 1 got one, 0 nothing new yet, <0 error. */
static int try_take(struct fbus_reader *r, fbus_frame *f)
{
    struct fbus__region *rg = &r->rg;
    int err = fbus__reader_keep_entry(r);

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
    uint64_t bit;

    if (left > FBUS__WAIT_CHUNK_NS)
        left = FBUS__WAIT_CHUNK_NS;
    if (r->observer) {
        /* Observers cannot write the futex words: poll. */
        fbus__sleep_ns(left < 2000000 ? left : 2000000);
        return;
    }
    bit = UINT64_C(1) << (r->entry_index & 63);
    /* A writer of an older build gives no heads-up (layout.h): then a
     * low-latency reader waits plainly too. */
    if ((r->flags & FBUS_READER_LOW_LATENCY) && (r->rg.features & FBUS__FEAT_HEADS_UP))
        fbus__lowlat_wait(&r->ll, r->rg.hdr, r->last_seq, bit, left);
    else
        fbus__sleep_publish(r->rg.hdr, r->last_seq, bit, left);
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

    if (r && fbus__reader_forked(r))
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
            err = fbus__reader_attach(r);
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
            fbus__reader_detach(r);
            return got;
        }
        now = fbus_now_ns();
        /* The producer's state word is read every time; its lock and the
         * object's size (a system call each) at most every
         * FBUS__LOOK_EVERY_NS: a reader that waits for every frame of a
         * fast stream would otherwise make them for every frame. */
        if (atomic_load_explicit(&r->rg.hdr->state, memory_order_acquire) == FBUS__STATE_LIVE &&
            fbus__age_ns(now, r->looked_ns) < FBUS__LOOK_EVERY_NS) {
            status = FBUS__STATE_LIVE;
        } else {
            status = fbus__producer_status(&r->rg, r->producer_timeout, now);
            if (status == FBUS__STATE_STALLED && !stalled_long(r, now))
                status = FBUS__STATE_LIVE;
            if (status == FBUS__STATE_LIVE && shrunk(r)) {
                fbus__reader_detach(r);
                return FBUS_EBADREGION;
            }
            r->looked_ns = now;
        }
        if (status != FBUS__STATE_LIVE) {
            /* Frames published before the end are still delivered. */
            got = try_take(r, frame);
            if (got == 1)
                return 0;
            r->done_session = r->rg.session;
            fbus__reader_detach(r);
            return status_error(status);
        }
        if (now >= deadline)
            return fbus__timed_out(timeout_ns);
        wait_publish(r, deadline - now);
    }
}

/*
 * Whether our release (consumed: old -> newer) moved the oldest frame the
 * writer waits for: no other lossless reader it waits for is at or below
 * old. Only then is a wake of a waiting writer any use; with N readers in
 * step, one wake a frame instead of N. Of two readers that release the
 * oldest frame at once, each stores its consumed (seq_cst) before it loads
 * the other's, so at least the second sees the first's and wakes. A newly
 * registered reader wakes the writer itself, and the writer frees dead
 * entries and demotes stopped ones on its own.
 */
static int oldest_moved(const struct fbus_reader *r, uint64_t old)
{
    const struct fbus__region *rg = &r->rg;
    uint32_t hw = fbus__readers_hw(rg);

    for (uint32_t i = 0; i < hw; i++) {
        const struct fbus__reader_entry *e = &rg->readers[i];
        uint32_t st;

        if (i == r->entry_index)
            continue;
        st = atomic_load_explicit(&e->state, memory_order_seq_cst);
        if (FBUS__ENTRY_KIND(st) != FBUS__ENTRY_ACTIVE ||
            atomic_load_explicit(&e->policy, memory_order_relaxed) != FBUS_POLICY_LOSSLESS ||
            atomic_load_explicit(&e->demoted, memory_order_seq_cst) == FBUS__DEMOTED(st))
            continue;
        if (atomic_load_explicit(&e->consumed, memory_order_seq_cst) <= old)
            return 0;
    }
    return 1;
}

FBUS_EXTERN int fbus_reader_release(fbus_reader *r, fbus_frame *frame)
{
    struct fbus__slot_desc *d;
    struct fbus__header *h;
    int torn;

    if (!r || !frame || !r->holding || frame->seq != r->held_seq || frame->slot != r->held_slot)
        return -EINVAL;
    if (fbus__reader_forked(r))
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
        uint64_t old = atomic_load_explicit(&e->consumed, memory_order_relaxed);

        atomic_store_explicit(&e->pin, 0, memory_order_release);
        /* seq_cst store, then seq_cst load of writer_waiting: either the
         * writer sees the new consumed or we see that it waits. */
        atomic_store_explicit(&e->consumed, r->held_seq, memory_order_seq_cst);
        if (r->policy == FBUS_POLICY_LOSSLESS &&
            atomic_load_explicit(&h->writer_waiting, memory_order_seq_cst) &&
            oldest_moved(r, old)) {
            atomic_fetch_add_explicit(&h->release_futex, 1, memory_order_seq_cst);
            fbus__futex_wake(&h->release_futex, 1);
        }
    }
    memset(frame->data, 0, sizeof(frame->data));
    return torn ? FBUS_EOVERRUN : 0;
}
