/* SPDX-License-Identifier: MIT */
/*
 * The writer side of the protocol: choosing a slot that no reader still needs,
 * publishing it, waiting for lossless readers, and the producer's heartbeat.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_SLOT_SIZE (UINT64_C(8) << 20)
#define FOLLOW_WAIT_NS    (5 * 1000000000LL) /* lossless readers to follow a move */

struct fbus_writer {
    char name[FBUS_NAME_MAX + 1];
    fbus_transport transport;
    uint32_t mode;
    uint32_t slots;
    struct fbus__region rg;
    uint64_t seq;                      /* last published */
    uint64_t slot_seq[FBUS_MAX_SLOTS]; /* frame each slot holds, 0 if none */
    uint32_t newest;                   /* slot of the newest frame */
    int holding;                       /* a slot is acquired */
    uint32_t held;                     /* which */
    int follow_readers;                /* lossless readers to wait for */

    /* Heartbeat thread; the lock guards `rg` against a region move. */
    int thread_started;
    int stop;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t fps_frames;
    int64_t fps_t0;
};

static int64_t deadline_of(int64_t timeout_ns)
{
    return timeout_ns < 0 ? INT64_MAX : fbus_now_ns() + timeout_ns;
}

/* Reclaim the entries of readers that died, and their pins. */
static int reclaim(struct fbus__region *rg)
{
    int freed = 0;

    for (uint32_t i = 0; i < rg->reader_count; i++) {
        struct fbus__reader_entry *e = &rg->readers[i];
        uint32_t st = atomic_load_explicit(&e->state, memory_order_acquire);

        if (st == FBUS__ENTRY_FREE)
            continue;
        if ((st & 0xffu) == FBUS__ENTRY_CLAIMED) {
            /* Still being filled in: only the pid in the state word is
             * trustworthy yet. */
            if (fbus__pid_alive((pid_t)(st >> 8), 0))
                continue;
        } else if (fbus__entry_alive(e)) {
            continue;
        }
        atomic_store_explicit(&e->pin, 0, memory_order_relaxed);
        atomic_store_explicit(&e->consumed, FBUS__JOINING, memory_order_relaxed);
        if (atomic_compare_exchange_strong(&e->state, &st, FBUS__ENTRY_FREE))
            freed++;
    }
    return freed;
}

static void beat(struct fbus_writer *w, int64_t now)
{
    struct fbus__header *h = w->rg.hdr;
    uint64_t frames;

    atomic_store_explicit(&h->heartbeat_ns, now, memory_order_relaxed);
    if (now - w->fps_t0 >= 1000000000LL) {
        frames = atomic_load_explicit(&h->frames, memory_order_relaxed);
        atomic_store_explicit(&h->fps_milli,
                              (frames - w->fps_frames) * 1000000000000ULL /
                                  (uint64_t)(now - w->fps_t0),
                              memory_order_relaxed);
        w->fps_frames = frames;
        w->fps_t0 = now;
        reclaim(&w->rg);
    }
}

static void *heartbeat_main(void *arg)
{
    struct fbus_writer *w = arg;
    struct timespec ts;

    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        beat(w, fbus_now_ns());
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += FBUS__HEARTBEAT_NS;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static int start_thread(struct fbus_writer *w)
{
    pthread_condattr_t ca;
    int err;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    err = pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (err)
        return -err;
    err = pthread_create(&w->thread, NULL, heartbeat_main, w);
    if (err) {
        pthread_cond_destroy(&w->cond);
        return -err;
    }
    w->thread_started = 1;
    return 0;
}

/* Whether a region found under our name may be taken over: it must be ours
 * and its producer ended or gone. */
static int stale_region(const char *name, fbus_transport t, struct fbus__region *old)
{
    int status, err = fbus__region_attach(name, t, 0, old);

    if (err < 0)
        return err;
    if (old->map.uid != geteuid()) {
        fbus__region_detach(old);
        return -EEXIST;
    }
    status = fbus__producer_status(old, FBUS__PRODUCER_TIMEOUT_NS, fbus_now_ns());
    if (status == FBUS__STATE_LIVE || status == FBUS__STATE_STALLED) {
        fbus__region_detach(old);
        return FBUS_EBUSY;
    }
    return 0;
}

/* Create the region, complete, under a temporary name; then give it the
 * bus name, taking over a stale region that holds it. */
static int create_region(struct fbus_writer *w, uint64_t capacity)
{
    struct fbus__region old;
    int err;

    fbus__sweep_temp();
    err = fbus__region_create(w->name, w->transport, w->slots, capacity, w->mode, &w->rg);
    if (err < 0)
        return err;
    for (int attempt = 0; attempt < 3; attempt++) {
        err = w->rg.tp->link(w->name, &w->rg.map);
        if (err != -EEXIST)
            break;
        err = stale_region(w->name, w->transport, &old);
        if (err == -ENOENT) {
            /* It went away meanwhile; or, the second time, the name is a
             * SysV key file whose segment is gone: garbage to remove. */
            if (attempt > 0)
                w->rg.tp->unlink(w->name, NULL);
            continue;
        }
        if (err == -EAGAIN || err == FBUS_EBADREGION || err == FBUS_EVERSION)
            err = -EEXIST;
        if (err < 0)
            break;
        old.tp->unlink(w->name, &old.map);
        fbus__region_detach(&old);
        err = -EEXIST;
    }
    if (err < 0)
        w->rg.tp->destroy(&w->rg.map);
    return err;
}

FBUS_EXTERN int fbus_writer_open(const char *name, const fbus_writer_opts *opts, fbus_writer **out)
{
    static const fbus_writer_opts defaults;
    struct fbus_writer *w = NULL;
    uint64_t capacity;
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
    if (!fbus__transport_get(opts->transport))
        return -EINVAL;
    if (opts->slots == 1 || opts->slots > FBUS_MAX_SLOTS)
        return -EINVAL;
    if (opts->mode & ~07777u)
        return -EINVAL;
    capacity = opts->slot_size;
    if (!capacity && opts->format) {
        err = fbus_format_check(opts->format, 0);
        if (err < 0)
            return err;
        capacity = opts->format->size;
    }
    if (!capacity)
        capacity = DEFAULT_SLOT_SIZE;

    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    strcpy(w->name, name);
    w->transport = opts->transport;
    w->mode = opts->mode ? opts->mode : 0600;
    w->slots = opts->slots ? opts->slots : FBUS_DEFAULT_SLOTS;
    w->newest = UINT32_MAX;
    pthread_mutex_init(&w->lock, NULL);

    err = create_region(w, capacity);
    if (err < 0)
        goto fail_region;
    w->fps_t0 = fbus_now_ns();
    if (!(opts->flags & FBUS_WRITER_NO_THREAD)) {
        err = start_thread(w);
        if (err < 0)
            goto fail_thread;
    }
    *out = w;
    return 0;

fail_thread:
    w->rg.tp->destroy(&w->rg.map);
fail_region:
    pthread_mutex_destroy(&w->lock);
    free(w);
    return err;
}

/* Tell everyone attached that this region is finished. */
static void finish_region(struct fbus__region *rg, uint32_t state)
{
    atomic_store_explicit(&rg->hdr->state, state, memory_order_seq_cst);
    atomic_fetch_add_explicit(&rg->hdr->publish_futex, 1, memory_order_seq_cst);
    fbus__futex_wake(&rg->hdr->publish_futex, INT32_MAX);
}

FBUS_EXTERN void fbus_writer_close(fbus_writer *w)
{
    if (!w)
        return;
    if (w->thread_started) {
        pthread_mutex_lock(&w->lock);
        w->stop = 1;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        pthread_cond_destroy(&w->cond);
    }
    if (w->rg.hdr) {
        finish_region(&w->rg, FBUS__STATE_ENDED);
        if (strstr(w->rg.map.path, "/" FBUS__TEMP_PREFIX)) {
            w->rg.tp->destroy(&w->rg.map); /* a region that never got the name */
        } else {
            w->rg.tp->unlink(w->name, &w->rg.map);
            fbus__region_detach(&w->rg);
        }
    }
    pthread_mutex_destroy(&w->lock);
    free(w);
}

FBUS_EXTERN void fbus_writer_heartbeat(fbus_writer *w)
{
    if (!w || !w->rg.hdr)
        return;
    pthread_mutex_lock(&w->lock);
    beat(w, fbus_now_ns());
    pthread_mutex_unlock(&w->lock);
}

FBUS_EXTERN int fbus_writer_readers(fbus_writer *w)
{
    int n = 0;

    if (!w || !w->rg.hdr)
        return 0;
    for (uint32_t i = 0; i < w->rg.reader_count; i++)
        if (atomic_load_explicit(&w->rg.readers[i].state, memory_order_acquire) ==
            FBUS__ENTRY_ACTIVE)
            n++;
    return n;
}

static int count_lossless(const struct fbus__region *rg)
{
    int n = 0;

    for (uint32_t i = 0; i < rg->reader_count; i++) {
        const struct fbus__reader_entry *e = &rg->readers[i];
        if (atomic_load_explicit(&e->state, memory_order_acquire) == FBUS__ENTRY_ACTIVE &&
            atomic_load_explicit(&e->policy, memory_order_relaxed) == FBUS_POLICY_LOSSLESS)
            n++;
    }
    return n;
}

/* Sleep until a reader registers or releases, or about `left` passes. */
static void wait_release(struct fbus_writer *w, int64_t left)
{
    struct fbus__header *h = w->rg.hdr;
    uint32_t v = atomic_load_explicit(&h->release_futex, memory_order_seq_cst);

    fbus__futex_wait(&h->release_futex, v, left < FBUS__WAIT_CHUNK_NS ? left : FBUS__WAIT_CHUNK_NS);
}

/* Wait until n readers (only lossless ones, if lossless) are registered. */
static int wait_for_readers(fbus_writer *w, int n, int lossless, int64_t timeout_ns)
{
    int64_t deadline = deadline_of(timeout_ns);

    for (;;) {
        int64_t now;
        if ((lossless ? count_lossless(&w->rg) : fbus_writer_readers(w)) >= n)
            return 0;
        now = fbus_now_ns();
        if (now >= deadline)
            return timeout_ns == 0 ? -EAGAIN : -ETIMEDOUT;
        if (!w->thread_started)
            fbus_writer_heartbeat(w);
        atomic_store_explicit(&w->rg.hdr->writer_waiting, 1, memory_order_seq_cst);
        if ((lossless ? count_lossless(&w->rg) : fbus_writer_readers(w)) < n)
            wait_release(w, deadline - now);
        atomic_store_explicit(&w->rg.hdr->writer_waiting, 0, memory_order_relaxed);
    }
}

FBUS_EXTERN int fbus_writer_wait_readers(fbus_writer *w, int n, int64_t timeout_ns)
{
    if (!w || !w->rg.hdr)
        return -EINVAL;
    return wait_for_readers(w, n, 0, timeout_ns);
}

/*
 * Move to a fresh region with slots of `capacity` bytes under the same name.
 * The new region is made under a temporary name and renamed over the old one,
 * so the bus never lacks a name and a failure leaves the old region in
 * place. The old one is then marked replaced so its readers follow.
 */
static int move_region(struct fbus_writer *w, uint64_t capacity)
{
    struct fbus__region old = w->rg, fresh;
    int err;

    err = fbus__region_create(w->name, w->transport, w->slots, capacity, w->mode, &fresh);
    if (err < 0)
        return err;
    /* Take the name over from our old region only; if someone removed it
     * and another producer holds it now, the new region stays nameless
     * (its readers followed us here, new ones find the other producer). */
    if (old.tp->owns(w->name, &old.map))
        err = fresh.tp->rename(w->name, &fresh.map);
    else if ((err = fresh.tp->link(w->name, &fresh.map)) == -EEXIST)
        err = 0;
    if (err < 0) {
        fresh.tp->destroy(&fresh.map);
        return err;
    }
    pthread_mutex_lock(&w->lock);
    w->rg = fresh;
    w->seq = 0;
    memset(w->slot_seq, 0, sizeof(w->slot_seq));
    w->newest = UINT32_MAX;
    w->fps_frames = 0;
    pthread_mutex_unlock(&w->lock);

    /* The name is the new region's now; this only drops a SysV segment. */
    old.tp->unlink(w->name, &old.map);
    w->follow_readers = count_lossless(&old);
    finish_region(&old, FBUS__STATE_REPLACED);
    fbus__region_detach(&old);
    return 0;
}

/* Whether a reader holds frame `seq` in slot i. */
static int pinned(const struct fbus__region *rg, uint32_t i, uint64_t seq)
{
    uint64_t want = FBUS__CURSOR(seq, i);
    uint32_t hw = fbus__readers_hw(rg);

    for (uint32_t r = 0; r < hw; r++) {
        const struct fbus__reader_entry *e = &rg->readers[r];
        if (atomic_load_explicit(&e->state, memory_order_seq_cst) == FBUS__ENTRY_FREE)
            continue;
        if (atomic_load_explicit(&e->pin, memory_order_seq_cst) == want)
            return 1;
    }
    return 0;
}

/* The oldest frame any live lossless reader still needs (UINT64_MAX: none). */
static uint64_t oldest_needed(const struct fbus__region *rg)
{
    uint64_t need = UINT64_MAX;
    uint32_t hw = fbus__readers_hw(rg);

    for (uint32_t r = 0; r < hw; r++) {
        const struct fbus__reader_entry *e = &rg->readers[r];
        uint64_t c;
        if (atomic_load_explicit(&e->state, memory_order_seq_cst) != FBUS__ENTRY_ACTIVE ||
            atomic_load_explicit(&e->policy, memory_order_relaxed) != FBUS_POLICY_LOSSLESS)
            continue;
        c = atomic_load_explicit(&e->consumed, memory_order_seq_cst);
        if (c != FBUS__JOINING && c + 1 < need)
            need = c + 1;
    }
    return need;
}

/*
 * Try to claim a slot for frame `seq`. Candidates are tried oldest first. A
 * slot is claimed by raising its claim word and only then looking at the
 * pins: a reader pins first and then checks the claim word, so either it sees
 * the claim and retries, or we see its pin (both sides use seq_cst, which
 * orders each one's store before its load). Only a slot found unpinned has
 * its lock changed, so a reader's check at release is exact. Returns the slot, or -1 with *forced
 * set to the slot that only latest readers hold, if any. *needp is the
 * oldest frame a lossless reader still needed.
 */
static int claim_slot(struct fbus_writer *w, uint64_t seq, int *forced, uint64_t *needp)
{
    struct fbus__region *rg = &w->rg;
    uint64_t need = oldest_needed(rg);
    uint32_t order[FBUS_MAX_SLOTS];
    uint32_t n = 0;

    *forced = -1;
    *needp = need;
    for (uint32_t i = 0; i < w->slots; i++) {
        uint32_t k = n++;
        if (i == w->newest) {
            n--;
            continue;
        }
        /* Insertion sort by the age of what the slot holds. */
        while (k > 0 && w->slot_seq[order[k - 1]] > w->slot_seq[i]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = order[k];
        uint64_t old = w->slot_seq[i];
        struct fbus__slot_desc *d = fbus__desc(rg, i);

        if (old && old >= need) {
            /* This and every newer slot wait for a lossless reader. We wait
             * too then, rather than take a frame from a latest reader. */
            *forced = -1;
            break;
        }
        atomic_store_explicit(&d->claim, 1, memory_order_seq_cst);
        if (!old || !pinned(rg, i, old)) {
            atomic_store_explicit(&d->lock, 2 * seq + 1, memory_order_seq_cst);
            atomic_store_explicit(&d->claim, 0, memory_order_release);
            return (int)i;
        }
        /* Held by a reader: let go; the frame never changed, so its reader
         * will find it intact at release. */
        atomic_store_explicit(&d->claim, 0, memory_order_release);
        if (*forced < 0)
            *forced = (int)i;
    }
    return -1;
}

static void fill_slot(struct fbus_writer *w, uint32_t i, const fbus_format *fmt, fbus_slot *slot)
{
    uint8_t *base = fbus__payload(&w->rg, i);

    /* The writer's own region: a failure here shows on the first store. */
    (void)fbus__slot_map_in(&w->rg, i, fmt->size, 1);
    memset(slot, 0, sizeof(*slot));
    slot->format = *fmt;
    for (uint32_t p = 0; p < fmt->nb_planes; p++)
        slot->data[p] = base + fmt->planes[p].offset;
    slot->index = i;
    slot->seq = w->seq + 1;
    w->holding = 1;
    w->held = i;
}

FBUS_EXTERN int fbus_writer_acquire(fbus_writer *w, const fbus_format *fmt, int64_t timeout_ns,
                                    fbus_slot *slot)
{
    int64_t deadline = deadline_of(timeout_ns);
    int err;

    if (!w || !fmt || !slot || w->holding)
        return -EINVAL;
    err = fbus_format_check(fmt, 0);
    if (err < 0)
        return err;
    if (fmt->size > w->rg.slot_capacity) {
        err = move_region(w, fmt->size);
        if (err < 0)
            return err;
    }
    if (w->follow_readers) {
        /* Give the lossless readers of the old region time to follow, so a
         * move loses none of their frames. */
        wait_for_readers(w, w->follow_readers, 1, FOLLOW_WAIT_NS);
        w->follow_readers = 0;
    }

    for (;;) {
        struct fbus__header *h = w->rg.hdr;
        uint64_t need;
        int forced, i = claim_slot(w, w->seq + 1, &forced, &need);
        int64_t now;
        uint32_t v;

        if (i < 0 && forced >= 0) {
            /* Only latest readers hold frames: never block on them. They
             * learn from the lock at release that their frame changed. */
            i = forced;
            atomic_store_explicit(&fbus__desc(&w->rg, i)->lock, 2 * (w->seq + 1) + 1,
                                  memory_order_seq_cst);
            atomic_fetch_add_explicit(&h->forced, 1, memory_order_relaxed);
        }
        if (i >= 0) {
            fill_slot(w, (uint32_t)i, fmt, slot);
            return 0;
        }
        now = fbus_now_ns();
        if (now >= deadline)
            return timeout_ns == 0 ? -EAGAIN : -ETIMEDOUT;
        /* A lossless reader holds us back. Announce the wait, then look
         * again: a reader that releases after that look sees writer_waiting
         * and bumps the futex word, so the wait cannot miss it. */
        atomic_store_explicit(&h->writer_waiting, 1, memory_order_seq_cst);
        v = atomic_load_explicit(&h->release_futex, memory_order_seq_cst);
        if (oldest_needed(&w->rg) == need) {
            int64_t left = deadline - now;
            atomic_fetch_add_explicit(&h->writer_waits, 1, memory_order_relaxed);
            fbus__futex_wait(&h->release_futex, v,
                             left < FBUS__WAIT_CHUNK_NS ? left : FBUS__WAIT_CHUNK_NS);
        }
        atomic_store_explicit(&h->writer_waiting, 0, memory_order_relaxed);
        if (!w->thread_started)
            fbus_writer_heartbeat(w);
        /* Under the lock, as in the heartbeat thread: two reclaimers could
         * each free the same dead entry, the second after a new reader took
         * it over. */
        pthread_mutex_lock(&w->lock);
        reclaim(&w->rg);
        pthread_mutex_unlock(&w->lock);
    }
}

FBUS_EXTERN void fbus_writer_cancel(fbus_writer *w, fbus_slot *slot)
{
    if (!w || !w->holding)
        return;
    /* Nothing was published: the slot holds its old frame's bytes only if
     * the caller did not write, so call it empty. */
    atomic_store_explicit(&fbus__desc(&w->rg, w->held)->lock, 0, memory_order_release);
    w->slot_seq[w->held] = 0;
    w->holding = 0;
    if (slot)
        memset(slot, 0, sizeof(*slot));
}

FBUS_EXTERN int fbus_writer_publish(fbus_writer *w, fbus_slot *slot, const fbus_meta *meta)
{
    struct fbus__header *h;
    struct fbus__slot_desc *d;
    uint64_t seq;

    if (!w || !slot || !w->holding || slot->index != w->held || slot->seq != w->seq + 1)
        return -EINVAL;
    h = w->rg.hdr;
    d = fbus__desc(&w->rg, w->held);
    seq = w->seq + 1;
    d->pts = meta ? meta->pts : INT64_MIN;
    d->tb_num = meta ? meta->tb_num : 0;
    d->tb_den = meta ? meta->tb_den : 0;
    d->flags = meta ? meta->flags & 0xffu : 0;
    d->rate_num = meta ? meta->rate_num : 0;
    d->rate_den = meta ? meta->rate_den : 0;
    d->sar_num = meta ? meta->sar_num : 0;
    d->sar_den = meta ? meta->sar_den : 0;
    if (meta)
        d->color = meta->color;
    else
        memset(&d->color, 0, sizeof(d->color));
    d->publish_ns = fbus_now_ns();
    d->format = slot->format;

    /* Release: the payload and descriptor above happen-before any reader
     * that sees the even lock or the new cursor with acquire. The cursor
     * store is seq_cst so the readers_waiting load below cannot move ahead of
     * it (a reader announces itself, then re-reads the cursor). */
    atomic_store_explicit(&d->lock, 2 * seq, memory_order_release);
    atomic_store_explicit(&h->cursor, FBUS__CURSOR(seq, w->held), memory_order_seq_cst);
    atomic_store_explicit(&h->last_publish_ns, d->publish_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->frames, 1, memory_order_relaxed);
    w->slot_seq[w->held] = seq;
    w->newest = w->held;
    w->seq = seq;
    w->holding = 0;
    if (atomic_load_explicit(&h->readers_waiting, memory_order_seq_cst)) {
        atomic_fetch_add_explicit(&h->publish_futex, 1, memory_order_seq_cst);
        fbus__futex_wake(&h->publish_futex, INT32_MAX);
    }
    return 0;
}

FBUS_EXTERN uint64_t fbus_writer_session(const fbus_writer *w)
{
    return w ? w->rg.session : 0;
}
