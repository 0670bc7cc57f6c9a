/* SPDX-License-Identifier: MIT */
/*
 * The writer side of the protocol: choosing a slot that no reader still needs,
 * publishing it, waiting for lossless readers, and the producer's heartbeat.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_SLOT_SIZE (UINT64_C(8) << 20)

/* What the writer last saw of a lossless reader that holds it back. */
struct lease {
    uint32_t state;    /* the entry's state word (kind and generation) */
    uint64_t consumed; /* its consumed cursor then */
    int64_t since;     /* when it was first seen there; 0: not watched */
};

/* A region the writer left (a move) while some of its slots were still
 * lent: mapped until the last of them comes back. */
struct retired {
    struct fbus__region rg;
    uint32_t gen;                 /* w->gen while it was the writer's region */
    uint8_t lent[FBUS_MAX_SLOTS]; /* its slots not given back yet */
    uint32_t holds;               /* those, and the moving writer's own */
    struct retired *next;
};

/* lent[i]: slot i is lent out (fbus_writer_lend) and not given back. */
enum { NOT_LENT = 0, LENT = 1, LENT_PUBLISHED = 2 };

struct fbus_writer {
    char name[FBUS_NAME_MAX + 1];
    fbus_transport transport;
    uint32_t mode;
    uint32_t slots;
    unsigned fork_gen; /* fbus__fork_gen at open: a child's copy refuses */
    struct fbus__region rg;
    uint64_t seq;                      /* last published */
    uint64_t slot_seq[FBUS_MAX_SLOTS]; /* frame each slot holds, 0 if none */
    uint32_t newest;                   /* slot of the newest frame */
    int holding;                       /* a slot is acquired */
    uint32_t held;                     /* which */
    /* Lending (fbus_writer_lend), under `lock`, as are the slot words above
     * once a slot is lent: lend and give_back come from other threads. */
    uint8_t lent[FBUS_MAX_SLOTS];
    uint32_t nlent;
    uint32_t gen; /* raised by every move: a lent slot's region */
    struct retired *retired;
    int closed;         /* closed with slots still lent: the last give_back frees */
    int destroy_at_end; /* ... and the region never got the name */

    /* Reserved lossless readers are waited for before a session's first
     * frame, until gate_deadline at the latest. */
    int64_t reserve_ns; /* the bound; negative: never wait */
    int gate_open;
    int64_t gate_deadline;
    int64_t lease_ns; /* negative: lossless readers hold us forever */
    unsigned repairs; /* guard.c's repairs of our mapping, last seen */
    struct lease leases[FBUS_MAX_READERS];
    int64_t reclaimed_ns; /* the acquire's last reclaim */

    /* Heartbeat thread; the lock guards `rg` against a region move, and the
     * slot bookkeeping against lend and give_back. */
    int thread_started;
    int stop;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t fps_frames;
    int64_t fps_t0;
};

static int forked(const struct fbus_writer *w)
{
    return w->fork_gen != atomic_load_explicit(&fbus__fork_gen, memory_order_relaxed);
}

/*
 * Free the entries of readers that died: an entry whose liveness lock is
 * free while it is claimed or active has no process behind it (a reader
 * takes its lock before it claims the entry and keeps it until it has freed
 * it). The compare-and-swap is on the exact state word judged, generation
 * included, so an entry freed and taken by a new reader in the meantime is
 * left alone. Nothing else of the entry is written: a reader that claims it
 * next sets every field before it becomes active, and the writer's scans
 * skip free entries. Called under w->lock, so one reclaimer at a time.
 */
static int reclaim(struct fbus__region *rg)
{
    uint32_t hw = fbus__readers_hw(rg);
    int freed = 0;

    for (uint32_t i = 0; i < hw; i++) {
        struct fbus__reader_entry *e = &rg->readers[i];
        uint32_t st = atomic_load_explicit(&e->state, memory_order_acquire);

        if (FBUS__ENTRY_KIND(st) == FBUS__ENTRY_FREE || fbus__entry_alive(rg, i))
            continue;
        FBUS__HOOK("reclaim:judged");
        /* It may have died asleep: publishes need not wake it. Cleared
         * before the entry is freed, while no live reader can own it (a
         * newcomer's bit, set after the CAS, must stay). */
        atomic_fetch_and_explicit(&rg->hdr->waiting_mask, ~(UINT64_C(1) << (i & 63)),
                                  memory_order_seq_cst);
        atomic_fetch_and_explicit(&rg->hdr->heads_up_mask, ~(UINT64_C(1) << (i & 63)),
                                  memory_order_seq_cst);
        if (atomic_compare_exchange_strong(&e->state, &st,
                                           FBUS__ENTRY_GEN(st) << 8 | FBUS__ENTRY_FREE))
            freed++;
    }
    return freed;
}

/* Wake the low-latency readers asleep on the heads-up futex (layout.h).
 * The begun_seq store before is seq_cst, so the mask is read after it: a
 * reader sets its bit, then looks at begun_seq. Only a begun frame needs
 * it: a reader sleeps there only while nothing after its last frame is
 * begun, so a publish (of a frame begun before) wakes no one there. */
static void heads_up(struct fbus__header *h)
{
    if (atomic_load_explicit(&h->heads_up_mask, memory_order_seq_cst)) {
        atomic_fetch_add_explicit(&h->heads_up_futex, 1, memory_order_seq_cst);
        fbus__futex_wake(&h->heads_up_futex, INT32_MAX);
    }
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
    /* Writable, to take its lock below; another user's region is not,
     * and is refused below as before. */
    int status, err = fbus__region_attach(name, t, 1, old);

    if (err == -EACCES)
        err = fbus__region_attach(name, t, 0, old);

    if (err < 0)
        return err;
    if (old->map.uid != geteuid()) {
        fbus__region_detach(old);
        return -EEXIST;
    }
    status = fbus__producer_status(old, FBUS__PRODUCER_TIMEOUT_NS, fbus_now_ns());
    /* Ours to take over only with its takeover lock, held until we have
     * removed its name (the detach drops it): of writers racing for one
     * stale region, the others find it taken, and none can remove a name
     * another one has given its new region meanwhile (the unlink's check
     * of the inode and the unlink are two steps; without the lock two
     * writers both got the name, 1 run in ~10 of test_writer_race_stale).
     * Not the producer's liveness byte: readers would take the dead
     * producer for alive again and rejoin its session (test_fault). */
    if (status == FBUS__STATE_LIVE || status == FBUS__STATE_STALLED ||
        fbus__lock_take(old->map.lockfd, FBUS__LOCK_TAKEOVER) < 0) {
        fbus__region_detach(old);
        return FBUS_EBUSY;
    }
    return 0;
}

/* Remove our region's name, under its takeover lock: a writer taking
 * the name over from our ended region holds that lock and removes the name
 * itself, and our check that the name is ours and the unlink are two
 * steps, between which it could give the name to its new region (a tester
 * widened that window with a delay and got two writers owning the name).
 * So wait for the lock while a taker holds it (milliseconds: it removes
 * the name and gives its own region the name), then unlink only if the
 * name is still ours. A taker that dies holding it lets go of it, and then
 * the name is ours to remove (skipping it left an ended region behind,
 * found by a tester). One that holds it longer than DROP_WAIT_NS (stopped)
 * is left the name: it removes it when it goes on. */
#define DROP_WAIT_NS (2000 * 1000000LL)
static void drop_name(struct fbus_writer *w)
{
    int64_t giveup = fbus__deadline(DROP_WAIT_NS);

    for (;;) {
        int err = fbus__lock_take(w->rg.map.lockfd, FBUS__LOCK_TAKEOVER);

        if (err == 0) {
            w->rg.tp->unlink(w->name, &w->rg.map);
            return;
        }
        if (err != -EAGAIN || fbus_now_ns() >= giveup)
            return;
        fbus__sleep_ns(1000000);
    }
}

/* Remove the file under bus `name` that names no region (a SysV key file
 * whose segment is gone), under its producer and takeover locks and only
 * if the name still is that file: a writer that took the name meanwhile
 * holds the producer lock on its own file, so its name stays (an
 * unconditional unlink here could remove it, and two writers had the
 * name). */
static void remove_garbage(const struct fbus__transport *tp, const char *name)
{
    char file[sizeof(((struct fbus__mapping *)0)->path)];
    struct stat held, now;
    int fd;

    tp->file(name, file, sizeof(file));
    fd = open(file, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return;
    if (fstat(fd, &held) == 0 && fbus__lock_take(fd, FBUS__LOCK_PRODUCER) == 0 &&
        fbus__lock_take(fd, FBUS__LOCK_TAKEOVER) == 0 && lstat(file, &now) == 0 &&
        now.st_ino == held.st_ino && now.st_dev == held.st_dev)
        unlink(file);
    close(fd);
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
    FBUS__HOOK("create:made");
    for (int attempt = 0; attempt < 3; attempt++) {
        err = fbus__transport_link(w->rg.tp, w->name, &w->rg.map);
        if (err != -EEXIST)
            break;
        err = stale_region(w->name, w->transport, &old);
        if (err == -ENOENT) {
            /* It went away meanwhile (also between two looks at the name,
             * as when its writer closes); or, the second time, the name is
             * a SysV key file whose segment is gone: garbage to remove. */
            if (attempt > 0)
                remove_garbage(w->rg.tp, w->name);
            /* If this was the last look, the name kept changing under
             * us: another writer is taking it over. */
            err = FBUS_EBUSY;
            continue;
        }
        if (err == -EAGAIN) {
            /* Replaced between two looks, or an empty object: look again;
             * one that stays empty is refused as not ours. */
            err = -EEXIST;
            continue;
        }
        if (err == FBUS_EBADREGION || err == FBUS_EVERSION)
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

static void free_writer(struct fbus_writer *w);

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
    w->fork_gen = atomic_load_explicit(&fbus__fork_gen, memory_order_relaxed);
    w->reserve_ns = opts->reserve_timeout_ns ? opts->reserve_timeout_ns : FBUS__RESERVE_NS;
    w->lease_ns = opts->lease_ns ? opts->lease_ns : FBUS__LEASE_NS;
    pthread_mutex_init(&w->lock, NULL);

    fbus__fork_hold();
    err = create_region(w, capacity);
    if (err >= 0) {
        fbus__fd_track(&w->rg.map.fd);
        fbus__fd_track(&w->rg.map.lockfd);
    }
    fbus__fork_release();
    if (err < 0)
        goto fail_region;
    w->fps_t0 = fbus_now_ns();
    w->gate_deadline = fbus__deadline(w->reserve_ns);
    if (!(opts->flags & FBUS_WRITER_NO_THREAD)) {
        err = start_thread(w);
        if (err < 0)
            goto fail_thread;
    }
    *out = w;
    return 0;

fail_thread:
    drop_name(w);
    w->destroy_at_end = 1;
    free_writer(w);
    return err;
fail_region:
    pthread_mutex_destroy(&w->lock);
    free(w);
    return err;
}

/* Tell everyone attached that this region is finished. The last frame's
 * number goes first, so a reader that sees the state sees it too. */
static void finish_region(struct fbus__region *rg, uint32_t state, uint64_t last)
{
    atomic_store_explicit(&rg->hdr->end_seq, last, memory_order_relaxed);
    atomic_store_explicit(&rg->hdr->state, state, memory_order_seq_cst);
    atomic_fetch_add_explicit(&rg->hdr->publish_futex, 1, memory_order_seq_cst);
    fbus__futex_wake(&rg->hdr->publish_futex, INT32_MAX);
    atomic_fetch_add_explicit(&rg->hdr->heads_up_futex, 1, memory_order_seq_cst);
    fbus__futex_wake(&rg->hdr->heads_up_futex, INT32_MAX);
}

/* The end of a closed writer, once nothing of it is lent. */
static void free_writer(struct fbus_writer *w)
{
    fbus__fork_hold();
    fbus__fd_untrack(&w->rg.map.fd);
    fbus__fd_untrack(&w->rg.map.lockfd);
    if (w->rg.hdr) {
        if (w->destroy_at_end)
            w->rg.tp->destroy(&w->rg.map);
        else
            fbus__region_detach(&w->rg);
    }
    fbus__fork_release();
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* Whether a reader with reservation `token` is registered (or was, once
 * the region ended) in this region. */
static int registered(const struct fbus__region *rg, uint64_t token)
{
    uint32_t hw = fbus__readers_hw(rg);
    int ended = atomic_load_explicit(&rg->hdr->state, memory_order_relaxed) != FBUS__STATE_LIVE;

    for (uint32_t i = 0; i < hw; i++) {
        const struct fbus__reader_entry *e = &rg->readers[i];
        uint32_t kind = FBUS__ENTRY_KIND(atomic_load_explicit(&e->state, memory_order_seq_cst));
        /* A reader that read an ended stream to its end leaves at once
         * (and one that follows restarts keeps its reservation): its freed
         * entry still holds its token, and it has had the whole stream.
         * Without this the writer's close would wait the full bound for it. */
        if ((kind == FBUS__ENTRY_ACTIVE || (ended && kind == FBUS__ENTRY_FREE)) &&
            atomic_load_explicit(&e->token, memory_order_relaxed) == token)
            return 1;
    }
    return 0;
}

struct missing {
    const struct fbus__region *rg;
    uint64_t n;
};

static int count_missing(uint64_t token, int64_t created_ns, void *opaque)
{
    struct missing *m = opaque;

    /* Once the region has ended, a reader that reserved after it was
     * created will not read it (attach.c, worth_reading): nothing to keep
     * the name for (the 0.2 close waited the whole bound for it). */
    if (created_ns > m->rg->created_ns &&
        atomic_load_explicit(&m->rg->hdr->state, memory_order_relaxed) != FBUS__STATE_LIVE)
        return 0;
    if (!registered(m->rg, token))
        m->n++;
    return 0;
}

/*
 * Wait until every live reservation of our name has registered here, until
 * `until` at the latest (then the ones still missing are counted as
 * expired and we go on), or until the caller's deadline (-ETIMEDOUT or
 * -EAGAIN, to be called again). The futex word is read before each look,
 * and a registering reader bumps it after it is active, so no registration
 * between the look and the sleep is missed.
 */
static int wait_reserved(struct fbus_writer *w, int64_t until, int64_t deadline, int64_t timeout_ns)
{
    struct fbus__header *h = w->rg.hdr;

    for (;;) {
        uint32_t v = atomic_load_explicit(&h->release_futex, memory_order_seq_cst);
        struct missing m = {&w->rg, 0};
        int64_t now, end;

        fbus__reserve_each(w->name, w->transport, w->mode, count_missing, &m);
        if (m.n == 0)
            return 0;
        now = fbus_now_ns();
        if (now >= until) {
            atomic_fetch_add_explicit(&h->reserve_expired, m.n, memory_order_relaxed);
            return 0;
        }
        if (now >= deadline)
            return fbus__timed_out(timeout_ns);
        end = until < deadline ? until : deadline;
        fbus__futex_wait_chunk(&h->release_futex, v, end - now);
    }
}

static void stop_thread(struct fbus_writer *w)
{
    if (!w->thread_started)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    w->thread_started = 0;
}

FBUS_EXTERN void fbus_writer_close(fbus_writer *w)
{
    if (!w)
        return;
    if (forked(w)) {
        /* A forked child's copy: the stream is the parent's to end, and
         * the heartbeat thread was never the child's. Just let go (its
         * descriptors were closed at fork). */
        fbus__fd_untrack(&w->rg.map.fd);
        fbus__fd_untrack(&w->rg.map.lockfd);
        if (w->rg.hdr)
            fbus__region_detach(&w->rg);
        free(w);
        return;
    }
    stop_thread(w);
    if (w->rg.hdr) {
        finish_region(&w->rg, FBUS__STATE_ENDED, w->seq);
        if (strstr(w->rg.map.path, "/" FBUS__TEMP_PREFIX)) {
            w->destroy_at_end = 1; /* a region that never got the name */
        } else {
            /* A reserved reader that has not attached yet still gets the
             * stream's frames and its end: keep the name until each live
             * reservation has registered, within the bound. */
            if (w->reserve_ns > 0)
                wait_reserved(w, fbus__deadline(w->reserve_ns), INT64_MAX, -1);
            drop_name(w);
        }
    }
    /* Slots still lent (a decoder not freed yet) keep the memory mapped:
     * the last fbus_writer_give_back() frees. */
    pthread_mutex_lock(&w->lock);
    w->closed = 1;
    if (w->nlent || w->retired) {
        pthread_mutex_unlock(&w->lock);
        return;
    }
    pthread_mutex_unlock(&w->lock);
    free_writer(w);
}

FBUS_EXTERN void fbus_writer_heartbeat(fbus_writer *w)
{
    if (!w || !w->rg.hdr || forked(w))
        return;
    pthread_mutex_lock(&w->lock);
    beat(w, fbus_now_ns());
    pthread_mutex_unlock(&w->lock);
}

FBUS_EXTERN int fbus_writer_readers(fbus_writer *w)
{
    int n = 0;

    if (!w || !w->rg.hdr || forked(w))
        return 0;
    for (uint32_t i = 0; i < w->rg.reader_count; i++)
        if (FBUS__ENTRY_KIND(atomic_load_explicit(&w->rg.readers[i].state, memory_order_acquire)) ==
            FBUS__ENTRY_ACTIVE)
            n++;
    return n;
}

FBUS_EXTERN int fbus_writer_wait_readers(fbus_writer *w, int n, int64_t timeout_ns)
{
    int64_t deadline = fbus__deadline(timeout_ns);
    struct fbus__header *h;

    if (!w || !w->rg.hdr)
        return -EINVAL;
    if (forked(w))
        return -ECHILD;
    h = w->rg.hdr;
    for (;;) {
        /* The word first, then the count: a reader that registers after
         * the count bumps the word, and the wait returns at once. */
        uint32_t v = atomic_load_explicit(&h->release_futex, memory_order_seq_cst);
        int64_t now;

        if (fbus_writer_readers(w) >= n)
            return 0;
        now = fbus_now_ns();
        if (now >= deadline)
            return fbus__timed_out(timeout_ns);
        if (!w->thread_started)
            fbus_writer_heartbeat(w);
        fbus__futex_wait_chunk(&h->release_futex, v, deadline - now);
    }
}

/*
 * Move to a fresh region with slots of `capacity` bytes under the same name.
 * The new region is made under a temporary name and renamed over the old one,
 * so the bus never lacks a name and a failure leaves the old region in
 * place. The old one is then marked replaced so its readers follow.
 */
/* Drop a hold on the region w left at generation gen: lent slot i's, or
 * with i == UINT32_MAX the moving writer's (a slot given back twice drops
 * nothing the second time, as in the current region). The one that drops
 * the last returns it, unlinked from the list, to be unmapped outside the
 * lock. Under w->lock. */
static struct retired *unhold(struct fbus_writer *w, uint32_t gen, uint32_t i)
{
    struct retired **pr, *r;

    for (pr = &w->retired; *pr; pr = &(*pr)->next)
        if ((*pr)->gen == gen)
            break;
    if (!*pr || (i != UINT32_MAX && (i >= FBUS_MAX_SLOTS || !(*pr)->lent[i])))
        return NULL;
    if (i != UINT32_MAX)
        (*pr)->lent[i] = NOT_LENT;
    if (--(*pr)->holds)
        return NULL;
    r = *pr;
    *pr = r->next;
    return r;
}

static int move_region(struct fbus_writer *w, uint64_t capacity)
{
    struct fbus__region old = w->rg, fresh;
    struct retired *keep = NULL;
    uint64_t old_seq = w->seq;
    uint32_t old_gen = w->gen;
    int err;

    err = fbus__region_create(w->name, w->transport, w->slots, capacity, w->mode, &fresh);
    if (err < 0)
        return err;
    /* Take the name over from our old region only; if someone removed it
     * and another producer holds it now, the new region stays nameless
     * (its readers followed us here, new ones find the other producer). */
    if (old.tp->owns(w->name, &old.map))
        err = fbus__transport_rename(fresh.tp, w->name, &fresh.map);
    else if ((err = fbus__transport_link(fresh.tp, w->name, &fresh.map)) == -EEXIST)
        err = 0;
    if (err < 0) {
        fresh.tp->destroy(&fresh.map);
        return err;
    }
    /* Slots of the old region still lent out keep it mapped: a decoder may
     * still write into them. (Made before the lock: a lend may come.) */
    keep = calloc(1, sizeof(*keep));
    if (!keep) {
        fresh.tp->destroy(&fresh.map);
        return -ENOMEM;
    }
    pthread_mutex_lock(&w->lock);
    if (!w->nlent) {
        free(keep);
        keep = NULL;
    } else {
        keep->rg = old;
        keep->gen = w->gen;
        /* The lent slots' holds, and ours until we are done with it below
         * (a give-back on another thread may drop the others meanwhile). */
        memcpy(keep->lent, w->lent, sizeof(keep->lent));
        keep->holds = w->nlent + 1;
        keep->next = w->retired;
        w->retired = keep;
    }
    w->rg = fresh;
    w->gen++;
    w->seq = 0;
    memset(w->slot_seq, 0, sizeof(w->slot_seq));
    memset(w->lent, 0, sizeof(w->lent));
    w->nlent = 0;
    memset(w->leases, 0, sizeof(w->leases));
    w->newest = UINT32_MAX;
    w->fps_frames = 0;
    w->gate_open = 0;
    pthread_mutex_unlock(&w->lock);
    FBUS__HOOK("move:left");

    /* The name is the new region's now; this only drops a SysV segment. */
    old.tp->unlink(w->name, &old.map);
    finish_region(&old, FBUS__STATE_REPLACED, old_seq);
    if (keep) {
        pthread_mutex_lock(&w->lock);
        keep = unhold(w, old_gen, UINT32_MAX);
        pthread_mutex_unlock(&w->lock);
        if (keep) {
            fbus__region_detach(&keep->rg);
            free(keep);
        }
    } else {
        fbus__region_detach(&old);
    }
    /* The lossless readers of the old region follow us here: they hold
     * reservations, so the new session's first frame waits for them the way
     * any session's does, for them and not for a count. */
    w->gate_deadline = fbus__deadline(w->reserve_ns);
    return 0;
}

/* Whether a reader holds frame `seq` in slot i. */
static int pinned(const struct fbus__region *rg, uint32_t i, uint64_t seq)
{
    uint64_t want = FBUS__CURSOR(seq, i);
    uint32_t hw = fbus__readers_hw(rg);

    for (uint32_t r = 0; r < hw; r++) {
        const struct fbus__reader_entry *e = &rg->readers[r];
        /* Only active readers pin: a reader is active before its first pin
         * (see the handshake in claim_slot). */
        if (FBUS__ENTRY_KIND(atomic_load_explicit(&e->state, memory_order_seq_cst)) !=
            FBUS__ENTRY_ACTIVE)
            continue;
        if (atomic_load_explicit(&e->pin, memory_order_seq_cst) == want)
            return 1;
    }
    return 0;
}

/* Whether entry e is a lossless reader the writer waits for. */
static int holds_writer(const struct fbus__reader_entry *e)
{
    uint32_t st = atomic_load_explicit(&e->state, memory_order_seq_cst);

    return FBUS__ENTRY_KIND(st) == FBUS__ENTRY_ACTIVE &&
           atomic_load_explicit(&e->policy, memory_order_relaxed) == FBUS_POLICY_LOSSLESS &&
           atomic_load_explicit(&e->demoted, memory_order_seq_cst) != FBUS__DEMOTED(st);
}

/* Active readers that fbus_writer_acquire() may overrun: latest readers
 * and demoted lossless ones. */
static uint32_t readers_not_waited_for(const struct fbus__region *rg)
{
    uint32_t hw = fbus__readers_hw(rg), n = 0;

    for (uint32_t r = 0; r < hw; r++) {
        const struct fbus__reader_entry *e = &rg->readers[r];
        uint32_t st = atomic_load_explicit(&e->state, memory_order_relaxed);

        n += FBUS__ENTRY_KIND(st) == FBUS__ENTRY_ACTIVE && !holds_writer(e);
    }
    return n;
}

/* The oldest frame any live lossless reader still needs (UINT64_MAX: none).
 * A reader is active only once its consumed cursor is set, so every active
 * one counts. */
static uint64_t oldest_needed(const struct fbus__region *rg)
{
    uint64_t need = UINT64_MAX;
    uint32_t hw = fbus__readers_hw(rg);

    for (uint32_t r = 0; r < hw; r++) {
        const struct fbus__reader_entry *e = &rg->readers[r];
        uint64_t c;
        if (!holds_writer(e))
            continue;
        c = atomic_load_explicit(&e->consumed, memory_order_seq_cst);
        if (c + 1 < need)
            need = c + 1;
    }
    return need;
}

/*
 * A lossless reader that has not moved for the lease while we wait for it
 * (stopped, paused in a debugger, exec'd into something that never reads)
 * is demoted: we stop waiting for it, and it learns so when it reads again
 * (drops, and an overrun if we took the frame it held). One that moves at
 * all, however slowly, keeps its lease.
 */
static void check_leases(struct fbus_writer *w, uint64_t need, int64_t now)
{
    struct fbus__region *rg = &w->rg;
    uint32_t hw = fbus__readers_hw(rg);

    if (w->lease_ns < 0)
        return;
    for (uint32_t r = 0; r < hw; r++) {
        struct fbus__reader_entry *e = &rg->readers[r];
        struct lease *l = &w->leases[r];
        uint32_t st = atomic_load_explicit(&e->state, memory_order_seq_cst);
        uint64_t c = atomic_load_explicit(&e->consumed, memory_order_seq_cst);

        if (!holds_writer(e) || c + 1 != need) {
            l->since = 0;
            continue;
        }
        if (!l->since || l->state != st || l->consumed != c) {
            l->state = st;
            l->consumed = c;
            l->since = now;
            continue;
        }
        if (now - l->since >= w->lease_ns) {
            atomic_store_explicit(&e->demoted, FBUS__DEMOTED(st), memory_order_seq_cst);
            atomic_fetch_add_explicit(&rg->hdr->demotions, 1, memory_order_relaxed);
            l->since = 0;
        }
    }
}

/*
 * Try to claim a slot for frame `seq`. Candidates are tried oldest first. A
 * slot is claimed by raising its claim word and only then looking at the
 * pins: a reader pins first and then checks the claim word, so either it sees
 * the claim and retries, or we see its pin (both sides use seq_cst, which
 * orders each one's store before its load). Only a slot found unpinned has
 * its lock changed, so a reader's check at release is exact. Returns the slot, or -1 with *forced
 * set to the slot that only latest readers hold, if any. *needp is the
 * oldest frame a lossless reader still needed. The lock word becomes
 * `odd`. Under w->lock.
 */
static int claim_slot(struct fbus_writer *w, uint64_t odd, int *forced, uint64_t *needp)
{
    struct fbus__region *rg = &w->rg;
    uint64_t need = oldest_needed(rg);
    uint32_t order[FBUS_MAX_SLOTS];
    uint32_t n = 0;

    *forced = -1;
    *needp = need;
    for (uint32_t i = 0; i < w->slots; i++) {
        uint32_t k = n++;
        /* Not the newest frame's, nor one lent out or acquired. */
        if (i == w->newest || w->lent[i] || (w->holding && i == w->held)) {
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
            atomic_store_explicit(&d->lock, odd, memory_order_seq_cst);
            /* Seqlock: the odd lock is ordered before every byte written
             * into the slot from here on. It pairs with the acquire fence
             * a reader puts between its reads and its check of the lock. */
            atomic_thread_fence(memory_order_release);
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

/* The heads-up: frame seq + 1 is coming. Its time and CPU first, the
 * number last, so a reader that sees the number sees them. */
static void announce(struct fbus_writer *w)
{
    struct fbus__header *h = w->rg.hdr;
    int cpu = sched_getcpu();

    atomic_store_explicit(&h->begun_ns, fbus_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&h->begun_cpu, cpu < 0 ? UINT32_MAX : (uint32_t)cpu,
                          memory_order_relaxed);
    atomic_store_explicit(&h->begun_seq, w->seq + 1, memory_order_seq_cst);
    heads_up(h);
}

/* Describe slot i, about to be filled with a frame of format fmt, to the
 * caller (mapping it in first). */
static void hand_out(struct fbus_writer *w, uint32_t i, const fbus_format *fmt, fbus_slot *slot)
{
    uint8_t *base = fbus__payload(&w->rg, i);

    /* The writer's own region: a failure here shows on the first store. */
    (void)fbus__slot_map_in(&w->rg, i, fmt->size, 1);
    memset(slot, 0, sizeof(*slot));
    slot->format = *fmt;
    for (uint32_t p = 0; p < fmt->nb_planes; p++)
        slot->data[p] = base + fmt->planes[p].offset;
    slot->index = i;
}

static void fill_slot(struct fbus_writer *w, uint32_t i, const fbus_format *fmt, fbus_slot *slot)
{
    announce(w);
    hand_out(w, i, fmt, slot);
    slot->seq = w->seq + 1;
    w->holding = 1;
    w->held = i;
}

FBUS_EXTERN int fbus_writer_acquire(fbus_writer *w, const fbus_format *fmt, int64_t timeout_ns,
                                    fbus_slot *slot)
{
    int64_t deadline = fbus__deadline(timeout_ns);
    int err;

    if (!w || !fmt || !slot)
        return -EINVAL;
    if (forked(w))
        return -ECHILD; /* before the holding check: the parent's state */
    if (w->holding)
        return -EINVAL;
    err = fbus_format_check(fmt, 0);
    if (err < 0)
        return err;
    if (fmt->size > w->rg.slot_capacity || fbus__guard_repairs(w->rg.map.guard) != w->repairs) {
        /* Bigger frames need bigger slots; and a region someone shrank
         * under us (our SIGBUS guard grew it back, zeroed) cannot be
         * trusted any more: either way, a fresh region, readers follow. */
        fbus__fork_hold();
        err = move_region(w, fmt->size > w->rg.slot_capacity ? fmt->size : w->rg.slot_capacity);
        fbus__fork_release();
        if (err < 0)
            return err;
        w->repairs = fbus__guard_repairs(w->rg.map.guard);
    }
    if (!w->gate_open) {
        /* A session's first frame: reserved lossless readers first. */
        if (w->reserve_ns > 0) {
            err = wait_reserved(w, w->gate_deadline, deadline, timeout_ns);
            if (err < 0)
                return err;
        }
        pthread_mutex_lock(&w->lock); /* lend reads it */
        w->gate_open = 1;
        pthread_mutex_unlock(&w->lock);
    }

    for (;;) {
        struct fbus__header *h = w->rg.hdr;
        uint64_t need;
        int forced, i;
        int64_t now;
        uint32_t v;

        pthread_mutex_lock(&w->lock);
        i = claim_slot(w, 2 * (w->seq + 1) + 1, &forced, &need);
        if (i < 0 && forced >= 0) {
            /* Only latest (or demoted) readers hold frames: never block on
             * them. They learn from the lock at release that it changed. */
            i = forced;
            atomic_store_explicit(&fbus__desc(&w->rg, i)->lock, 2 * (w->seq + 1) + 1,
                                  memory_order_seq_cst);
            atomic_thread_fence(memory_order_release); /* as in claim_slot */
            atomic_fetch_add_explicit(&h->forced, 1, memory_order_relaxed);
        }
        if (i >= 0) {
            fill_slot(w, (uint32_t)i, fmt, slot);
            pthread_mutex_unlock(&w->lock);
            return 0;
        }
        pthread_mutex_unlock(&w->lock);
        /* The lease watch, before every wait and before giving up: a
         * writer that polls (or waits less than a lease per call) keeps it
         * across calls, so a stopped reader cannot hold it for good
         * either; one demoted here lets the look below go on at once. */
        now = fbus_now_ns();
        check_leases(w, need, now);
        if (now >= deadline)
            return fbus__timed_out(timeout_ns);
        /* A lossless reader holds us back. Announce the wait, then look
         * again: a reader that releases after that look sees writer_waiting
         * and bumps the futex word, so the wait cannot miss it. */
        atomic_store_explicit(&h->writer_waiting, 1, memory_order_seq_cst);
        v = atomic_load_explicit(&h->release_futex, memory_order_seq_cst);
        if (oldest_needed(&w->rg) == need) {
            int64_t left = deadline - now;
            /* A release that did not move the oldest frame wakes no one:
             * a dead or stopped reader holding it is ours to find, so
             * look at least every FBUS__LOOK_EVERY_NS. */
            if (left > FBUS__LOOK_EVERY_NS)
                left = FBUS__LOOK_EVERY_NS;
            atomic_fetch_add_explicit(&h->writer_waits, 1, memory_order_relaxed);
            FBUS__HOOK("wait:release");
            fbus__futex_wait_chunk(&h->release_futex, v, left);
        }
        atomic_store_explicit(&h->writer_waiting, 0, memory_order_relaxed);
        if (!w->thread_started)
            fbus_writer_heartbeat(w);
        now = fbus_now_ns();
        /* Dead readers, at most every FBUS__LOOK_EVERY_NS (a lock test per
         * entry: with readers that release every frame, this wait comes
         * every frame). Under the lock, as in the heartbeat thread: one
         * reclaimer at a time. */
        if (fbus__age_ns(now, w->reclaimed_ns) >= FBUS__LOOK_EVERY_NS) {
            pthread_mutex_lock(&w->lock);
            reclaim(&w->rg);
            pthread_mutex_unlock(&w->lock);
            w->reclaimed_ns = now;
        }
    }
}

FBUS_EXTERN void fbus_writer_cancel(fbus_writer *w, fbus_slot *slot)
{
    if (!w || !w->holding || forked(w))
        return;
    /* Nothing was published: the slot holds its old frame's bytes only if
     * the caller did not write, so call it empty. */
    pthread_mutex_lock(&w->lock);
    atomic_store_explicit(&fbus__desc(&w->rg, w->held)->lock, 0, memory_order_release);
    atomic_store_explicit(&w->rg.hdr->begun_seq, w->seq, memory_order_seq_cst);
    w->slot_seq[w->held] = 0;
    w->holding = 0;
    pthread_mutex_unlock(&w->lock);
    if (slot)
        memset(slot, 0, sizeof(*slot));
}

/* Make slot i, filled with a frame of format fmt, frame w->seq + 1: the
 * descriptor, the even lock, the cursor, and a wake if a reader sleeps.
 * Under w->lock. */
static void publish_slot(struct fbus_writer *w, uint32_t i, const fbus_format *fmt,
                         const fbus_meta *meta)
{
    struct fbus__header *h = w->rg.hdr;
    struct fbus__slot_desc *d = fbus__desc(&w->rg, i);
    uint64_t seq = w->seq + 1;

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
    d->format = *fmt;

    /* Release: the payload and descriptor above happen-before any reader
     * that sees the even lock or the new cursor with acquire. The cursor
     * store is seq_cst so the waiting_mask load below cannot move ahead of
     * it (a reader announces itself, then re-reads the cursor). */
    atomic_store_explicit(&d->lock, 2 * seq, memory_order_release);
    atomic_store_explicit(&h->cursor, FBUS__CURSOR(seq, i), memory_order_seq_cst);
    atomic_store_explicit(&h->last_publish_ns, d->publish_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->frames, 1, memory_order_relaxed);
    w->slot_seq[i] = seq;
    w->newest = i;
    w->seq = seq;
    if (atomic_load_explicit(&h->waiting_mask, memory_order_seq_cst)) {
        atomic_fetch_add_explicit(&h->publish_futex, 1, memory_order_seq_cst);
        fbus__futex_wake(&h->publish_futex, INT32_MAX);
    }
}

FBUS_EXTERN int fbus_writer_publish(fbus_writer *w, fbus_slot *slot, const fbus_meta *meta)
{
    if (!w || !slot || !w->holding || slot->index != w->held || slot->seq != w->seq + 1 ||
        slot->reserved)
        return -EINVAL;
    if (forked(w))
        return -ECHILD;
    /* The slot's format is the caller's to fill, and readers will trust
     * what it says only after checking it: refuse one that would not pass. */
    if (fbus_format_check(&slot->format, w->rg.slot_capacity) < 0)
        return FBUS_EFORMAT;
    pthread_mutex_lock(&w->lock);
    publish_slot(w, w->held, &slot->format, meta);
    w->holding = 0;
    pthread_mutex_unlock(&w->lock);
    return 0;
}

/*
 * Lending. A lent slot's lock is odd (1: being written, no number yet) from
 * lend until it is published, so no reader takes it, and the writer's own
 * choice of slots (claim_slot) skips it until it is given back, published
 * or not: a decoder reads its reference frames long after it returned them.
 * Its number is given at publish, in the order frames are published, so the
 * stream's sequence numbers stay consecutive whatever order a decoder fills
 * them in. slot->reserved is the lending region's generation + 1.
 */
FBUS_EXTERN int fbus_writer_lend(fbus_writer *w, const fbus_format *fmt, fbus_slot *slot)
{
    uint64_t need;
    int forced, i, err;

    if (!w || !fmt || !slot)
        return -EINVAL;
    if (forked(w))
        return -ECHILD;
    err = fbus_format_check(fmt, 0);
    if (err < 0)
        return err;
    pthread_mutex_lock(&w->lock);
    if (w->closed || !w->gate_open) {
        /* Closed; or the session's first frame, which waits for reserved
         * readers in fbus_writer_acquire(). */
        pthread_mutex_unlock(&w->lock);
        return w->closed ? -EINVAL : -EAGAIN;
    }
    if (fmt->size > w->rg.slot_capacity) {
        pthread_mutex_unlock(&w->lock);
        return FBUS_EFORMAT;
    }
    /* Two slots stay with fbus_writer_acquire(), the newest frame's and one
     * to fill, so a producer that copies some frames never waits for one
     * only its decoder could give back; and one more for each reader the
     * writer does not wait for (latest, demoted), so that acquire never
     * takes the frame such a reader holds while another slot would do. */
    if (w->nlent + 3 + readers_not_waited_for(&w->rg) > w->slots) {
        pthread_mutex_unlock(&w->lock);
        return -EAGAIN;
    }
    i = claim_slot(w, 1, &forced, &need);
    if (i < 0) {
        pthread_mutex_unlock(&w->lock);
        return -EAGAIN;
    }
    w->lent[i] = LENT;
    w->nlent++;
    w->slot_seq[i] = 0;
    hand_out(w, (uint32_t)i, fmt, slot);
    slot->reserved = w->gen + 1;
    pthread_mutex_unlock(&w->lock);
    return 0;
}

FBUS_EXTERN int fbus_writer_publish_lent(fbus_writer *w, fbus_slot *slot, const fbus_meta *meta)
{
    int err = 0;

    if (!w || !slot || !slot->reserved || slot->index >= FBUS_MAX_SLOTS)
        return -EINVAL;
    if (forked(w))
        return -ECHILD;
    pthread_mutex_lock(&w->lock);
    if (slot->reserved != w->gen + 1)
        err = slot->reserved <= w->gen ? -ESTALE : -EINVAL;
    else if (slot->index >= w->slots || w->lent[slot->index] == NOT_LENT)
        err = -EINVAL;
    else if (w->lent[slot->index] == LENT_PUBLISHED)
        err = -EALREADY;
    else if (w->holding)
        err = -EBUSY;
    else if (fbus_format_check(&slot->format, w->rg.slot_capacity) < 0)
        err = FBUS_EFORMAT;
    if (err) {
        pthread_mutex_unlock(&w->lock);
        return err;
    }
    /* The heads-up, as fill_slot gives it, at once: the frame was filled
     * over several frames' time, so a low-latency reader asleep there is
     * woken now, and the publish follows. */
    announce(w);
    publish_slot(w, slot->index, &slot->format, meta);
    w->lent[slot->index] = LENT_PUBLISHED;
    slot->seq = w->seq;
    pthread_mutex_unlock(&w->lock);
    return 0;
}

FBUS_EXTERN void fbus_writer_give_back(fbus_writer *w, const fbus_slot *slot)
{
    struct retired *r = NULL;
    int done;

    if (!w || !slot || !slot->reserved || slot->index >= FBUS_MAX_SLOTS || forked(w))
        return;
    pthread_mutex_lock(&w->lock);
    if (slot->reserved == w->gen + 1) {
        uint32_t i = slot->index;
        if (i >= w->slots || w->lent[i] == NOT_LENT) {
            pthread_mutex_unlock(&w->lock);
            return;
        }
        if (w->lent[i] == LENT) {
            /* Never published: an empty slot, as after a cancel. */
            atomic_store_explicit(&fbus__desc(&w->rg, i)->lock, 0, memory_order_release);
            w->slot_seq[i] = 0;
        }
        w->lent[i] = NOT_LENT;
        w->nlent--;
        /* A writer waiting in fbus_writer_acquire() may take it. */
        if (atomic_load_explicit(&w->rg.hdr->writer_waiting, memory_order_seq_cst)) {
            atomic_fetch_add_explicit(&w->rg.hdr->release_futex, 1, memory_order_seq_cst);
            fbus__futex_wake(&w->rg.hdr->release_futex, 1);
        }
    } else {
        r = unhold(w, slot->reserved - 1, slot->index);
    }
    done = w->closed && !w->nlent && !w->retired;
    pthread_mutex_unlock(&w->lock);
    if (r) {
        fbus__region_detach(&r->rg);
        free(r);
    }
    if (done)
        free_writer(w);
}

FBUS_EXTERN uint64_t fbus_writer_session(const fbus_writer *w)
{
    return w ? w->rg.session : 0;
}
