/* SPDX-License-Identifier: MIT */
/*
 * The low-latency wait of a reader (FBUS_READER_LOW_LATENCY).
 *
 * A sleeping reader is woken by the kernel some tens of microseconds after
 * the publish (more on a VM), and that is most of a paced stream's latency.
 * So the reader is awake before the publish: it sleeps until the writer
 * *begins* the next frame (the heads-up, layout.h: the writer says so before
 * it copies the frame in), then spins until the frame is published. The
 * spin lasts about as long as the writer's copy and never more than 1/32 of
 * the frame interval; past that, the reader sleeps on the publish futex as a
 * plain reader does. Where the copy takes longer than that share, the
 * reader sleeps through its first part, by a timer, waking early by as much
 * as its timed sleeps have been seen to come back late.
 *
 * docs/latency.md tells why not to predict the publish from the stream's
 * rate alone (the first design): a timed sleep on a VM comes back 0.1 to
 * 0.3 ms late, so the prediction must be so early that the spin costs more
 * than this.
 */
#include <sched.h>
#include <stdint.h>

#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield" ::: "memory")
#else
#define CPU_RELAX() __asm__ __volatile__("" ::: "memory")
#endif

#define LL_SPIN_SHARE   32        /* spin at most interval / this (3 %) */
#define LL_SPIN_DEFAULT 200000LL  /* until the interval is known */
#define LL_SPIN_MIN     20000LL   /* nor less than this */
#define LL_SPIN_MAX     1000000LL /* nor more */
#define LL_CLOCK_EVERY  16        /* pauses between two looks at the clock */

#define LL_SAMPLE_MAX 10000000000LL /* times from the region: clamped */

/* Keep a sample in a ring of FBUS__LL_KEEP. */
static void keep(int64_t *ring, uint32_t *n, int64_t v)
{
    ring[*n % FBUS__LL_KEEP] = v < 0 ? 0 : v > LL_SAMPLE_MAX ? LL_SAMPLE_MAX : v;
    (*n)++;
}

/* The q-th quantile (q in 1/8ths) of the samples kept, 0 if none. */
static int64_t quantile(const int64_t *ring, uint32_t n, int eighths)
{
    int64_t v[FBUS__LL_KEEP];
    uint32_t k = n < FBUS__LL_KEEP ? n : FBUS__LL_KEEP;

    if (k == 0)
        return 0;
    for (uint32_t i = 0; i < k; i++) {
        int64_t x = ring[i];
        uint32_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
    return v[(k - 1) * (uint32_t)eighths / 8];
}

/* The newest publish (sequence number and time), read so that the two
 * belong together: the time is stored after the cursor, so read it on both
 * sides. 0 if the writer was publishing meanwhile. */
static int newest_publish(const struct fbus__header *h, uint64_t *seq, int64_t *ns)
{
    int64_t a = atomic_load_explicit(&h->last_publish_ns, memory_order_acquire);
    uint64_t c = atomic_load_explicit(&h->cursor, memory_order_acquire);
    int64_t b = atomic_load_explicit(&h->last_publish_ns, memory_order_acquire);
    uint64_t c2 = atomic_load_explicit(&h->cursor, memory_order_acquire);

    if (a != b || c != c2 || c == 0)
        return 0;
    *seq = FBUS__CURSOR_SEQ(c);
    *ns = a;
    return 1;
}

/* Learn from the newest publish: the interval between two frames in a row,
 * and how long the frame took from its heads-up to its publish. The times
 * come from the region, which may hold anything: differences saturate. */
static void observe(struct fbus__lowlat *ll, const struct fbus__header *h)
{
    uint64_t seq;
    int64_t ns;

    if (!newest_publish(h, &seq, &ns) || seq == ll->seen_seq)
        return;
    if (seq == ll->seen_seq + 1 && ns > ll->seen_ns)
        keep(ll->interval, &ll->nintervals, fbus__age_ns(ns, ll->seen_ns));
    if (seq == ll->begun_seq)
        keep(ll->fill, &ll->nfills, fbus__age_ns(ns, ll->begun_ns));
    ll->seen_seq = seq;
    ll->seen_ns = ns;
}

/* Whether no frame after last_seq is out and the stream is still live. */
static int nothing_new(const struct fbus__header *h, uint64_t last_seq)
{
    uint64_t c = atomic_load_explicit(&h->cursor, memory_order_seq_cst);

    return FBUS__CURSOR_SEQ(c) <= last_seq &&
           atomic_load_explicit(&h->state, memory_order_relaxed) == FBUS__STATE_LIVE;
}

void fbus__sleep_publish(struct fbus__header *h, uint64_t last_seq, uint64_t bit, int64_t ns)
{
    uint32_t v;

    if (ns <= 0)
        return;
    /* Announce first, then re-read the cursor: a publish after our read sees
     * our bit and bumps the word, so the wait returns at once. */
    atomic_fetch_or_explicit(&h->waiting_mask, bit, memory_order_seq_cst);
    v = atomic_load_explicit(&h->publish_futex, memory_order_seq_cst);
    if (nothing_new(h, last_seq))
        fbus__futex_wait(&h->publish_futex, v, ns);
    atomic_fetch_and_explicit(&h->waiting_mask, ~bit, memory_order_seq_cst);
}

/* Sleep on the heads-up futex until the writer begins a frame after
 * last_seq (or publishes, or ends), at most ns. The same handshake as
 * above: bit first, then the look at begun_seq, which the writer stores
 * before it reads the mask. */
static void sleep_heads_up(struct fbus__header *h, uint64_t last_seq, uint64_t bit, int64_t ns)
{
    uint32_t v;

    atomic_fetch_or_explicit(&h->heads_up_mask, bit, memory_order_seq_cst);
    v = atomic_load_explicit(&h->heads_up_futex, memory_order_seq_cst);
    if (atomic_load_explicit(&h->begun_seq, memory_order_seq_cst) <= last_seq &&
        nothing_new(h, last_seq))
        fbus__futex_wait(&h->heads_up_futex, v, ns);
    atomic_fetch_and_explicit(&h->heads_up_mask, ~bit, memory_order_seq_cst);
}

/* How long to spin for a frame at most: a share of the interval. */
static int64_t spin_cap(const struct fbus__lowlat *ll)
{
    int64_t iv = quantile(ll->interval, ll->nintervals, 4), cap;

    if (ll->nintervals < 3 || iv <= 0)
        return LL_SPIN_DEFAULT;
    cap = iv / LL_SPIN_SHARE;
    return cap < LL_SPIN_MIN ? LL_SPIN_MIN : cap > LL_SPIN_MAX ? LL_SPIN_MAX : cap;
}

void fbus__lowlat_wait(struct fbus__lowlat *ll, struct fbus__header *h, uint64_t last_seq,
                       uint64_t bit, int64_t left)
{
    int64_t start = fbus_now_ns(), now = start, end = start + left;
    int64_t cap, age, ahead, bns, spin_start, spin_end;
    uint64_t begun;
    uint32_t begun_cpu;
    int yield = 0;

    observe(ll, h);
    /* Asleep until the writer begins the frame after last_seq. */
    for (;;) {
        if (!nothing_new(h, last_seq))
            return;
        begun = atomic_load_explicit(&h->begun_seq, memory_order_acquire);
        if (begun > last_seq)
            break;
        if (now >= end)
            return;
        sleep_heads_up(h, last_seq, bit, end - now);
        now = fbus_now_ns();
    }
    /* A frame number may be begun again after a cancel: its time tells. */
    bns = atomic_load_explicit(&h->begun_ns, memory_order_relaxed);
    if (begun != ll->begun_seq || bns != ll->begun_ns) {
        ll->begun_seq = begun;
        ll->begun_ns = bns;
        ll->spun = 0;
    }
    begun_cpu = atomic_load_explicit(&h->begun_cpu, memory_order_relaxed);
    cap = spin_cap(ll);
    if (ll->spun >= cap) {
        /* This frame's budget is spent (over this call and earlier ones:
         * a writer that holds a slot while it waits for its input, or was
         * stopped): wait as a plain reader until something is published. */
        fbus__sleep_publish(h, last_seq, bit, end - now);
        return;
    }
    /* Most frames are out this long after their heads-up: sleep through
     * what comes before the spin, if that is longer than a timed sleep's
     * lateness. The age is clamped: begun_ns comes from the region. */
    age = fbus__age_ns(now, ll->begun_ns);
    ahead = quantile(ll->fill, ll->nfills, 7) - cap - quantile(ll->over, ll->novers, 7) -
            (age < LL_SAMPLE_MAX ? age : LL_SAMPLE_MAX);
    if (ll->nfills >= 3 && ahead > 0) {
        int64_t wake_at = now + (ahead < end - now ? ahead : end - now);

        fbus__sleep_publish(h, last_seq, bit, wake_at - now);
        now = fbus_now_ns();
        if (!nothing_new(h, last_seq) || now >= end)
            return;
        keep(ll->over, &ll->novers, now - wake_at);
    }
    /* Spin, not announced (a publish then costs the writer no system call),
     * until the frame comes or the spin budget is spent. On the writer's
     * own CPU a spin would only keep it from finishing the frame: yield to
     * it instead, and look at the clock after every yield (one may give a
     * busy process a whole time slice). */
    spin_start = now;
    spin_end = now + (cap - ll->spun) < end ? now + (cap - ll->spun) : end;
    for (unsigned n = 1; nothing_new(h, last_seq); n++) {
        if (yield)
            sched_yield();
        else
            CPU_RELAX();
        if (yield || n % LL_CLOCK_EVERY == 0) {
            int cpu = sched_getcpu();

            yield = cpu >= 0 && (uint32_t)cpu == begun_cpu;
            now = fbus_now_ns();
            if (now >= spin_end) {
                ll->spun += now - spin_start;
                fbus__sleep_publish(h, last_seq, bit, end - now);
                return;
            }
        }
    }
}
