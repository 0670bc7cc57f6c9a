/* SPDX-License-Identifier: MIT */
/*
 * The low-latency wait of a reader (FBUS_READER_LOW_LATENCY): learn the
 * stream's frame interval from its publish times, sleep on the futex until
 * shortly before the next frame is due, then spin (bounded) until it comes,
 * so the kernel's wake-up is not on the path from publish to acquire.
 */
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

#define LL_MIN_MARGIN_NS 5000LL    /* woken at least this long before a frame */
#define LL_MAX_SPIN_NS   4000000LL /* never spin longer than this a frame */
#define LL_SPIN_SHARE    64        /* nor longer than interval / this (1.6 %) */
#define LL_CLOCK_EVERY   32        /* pauses between two looks at the clock */
#define LL_SCORE_MAX     1024      /* spins that caught their frame, recently */
#define LL_RETRY_EVERY   16        /* with a low score, spin for 1 frame in 16 */

/* Exponential moving average with weight 1/8 for the new sample. */
static int64_t ewma(int64_t avg, int64_t sample)
{
    return avg + (sample - avg) / 8;
}

/* An estimate that rises at once (half way to a larger sample) and falls
 * slowly (1/16): it stays near the larger samples, so that most frames are
 * covered rather than the average one. */
static int64_t envelope(int64_t est, int64_t sample)
{
    return sample > est ? est + (sample - est) / 2 : est + (sample - est) / 16;
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

/* The median of the deltas between the last publishes: the interval, robust
 * to a frame that was late (which makes one delta long and the next short). */
static int64_t median_delta(const struct fbus__lowlat *ll)
{
    int64_t v[FBUS__LL_DELTAS];
    uint32_t n = ll->ndeltas < FBUS__LL_DELTAS ? ll->ndeltas : FBUS__LL_DELTAS;

    for (uint32_t i = 0; i < n; i++) {
        int64_t x = ll->deltas[i];
        uint32_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
    return n ? v[n / 2] : 0;
}

/*
 * Learn from the newest publish (1: a new one, 0: nothing new). A camera or
 * a paced writer publishes on a schedule, each frame late by some amount,
 * never early: the interval is the median of recent deltas, and the
 * schedule's line (`anchor`, the time frame `anchor_seq` was due) follows
 * the earliest frames: a frame before the line moves it back at once, late
 * ones move it on slowly (so a wrong interval or a drifting clock is
 * followed). `lateness` is how late frames come after the line on average,
 * `jitter` how far from that they come (an envelope: near the larger ones).
 */
static int observe(struct fbus__lowlat *ll, const struct fbus__header *h)
{
    uint64_t seq;
    int64_t ns, late;

    if (!newest_publish(h, &seq, &ns) || seq == ll->seen_seq)
        return 0;
    if (seq < ll->seen_seq || ll->seen_seq == 0 || ns <= ll->seen_ns) {
        /* A new session, or the first look: start over from here. */
        ll->seen_seq = seq;
        ll->seen_ns = ns;
        ll->interval = 0;
        ll->ndeltas = 0;
        ll->jitter = 0;
        ll->lateness = 0;
        ll->anchor_seq = 0;
        ll->score = LL_SCORE_MAX;
        return 1;
    }
    ll->deltas[ll->ndeltas++ % FBUS__LL_DELTAS] =
        (ns - ll->seen_ns) / (int64_t)(seq - ll->seen_seq);
    ll->seen_seq = seq;
    ll->seen_ns = ns;
    ll->interval = median_delta(ll);
    if (ll->anchor_seq == 0 || ll->ndeltas < 3) {
        ll->anchor_seq = seq;
        ll->anchor = ns;
        return 1;
    }
    late = ns - (ll->anchor + ll->interval * (int64_t)(seq - ll->anchor_seq));
    if (late < -ll->interval / 2 || late > 4 * ll->interval) {
        /* Not on this schedule at all (a pause, a new rate): start the
         * line again from this frame. */
        ll->anchor_seq = seq;
        ll->anchor = ns;
        return 1;
    }
    if (late < 0) {
        ll->anchor_seq = seq;
        ll->anchor = ns;
        late = 0;
    } else {
        ll->anchor_seq = seq;
        ll->anchor = ns - late + late / 16;
    }
    ll->jitter =
        envelope(ll->jitter, late < ll->lateness ? ll->lateness - late : late - ll->lateness);
    ll->lateness = ewma(ll->lateness, late);
    return 1;
}

/* Whether a frame after last_seq is out, or the stream stopped being live. */
static int nothing_new(const struct fbus__header *h, uint64_t last_seq)
{
    uint64_t c = atomic_load_explicit(&h->cursor, memory_order_acquire);

    return FBUS__CURSOR_SEQ(c) <= last_seq &&
           atomic_load_explicit(&h->state, memory_order_relaxed) == FBUS__STATE_LIVE;
}

/* Sleep on the publish futex with bit set in the waiting mask (so the
 * writer wakes us), at most ns. */
static void futex_sleep(struct fbus__header *h, uint64_t last_seq, uint64_t bit, int64_t ns)
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

/* A spin that caught its frame raises the score, a frame that came while we
 * were asleep or not within the spin lowers it. */
static void scored(struct fbus__lowlat *ll, int hit)
{
    if (hit)
        ll->score += (LL_SCORE_MAX - ll->score) / 8;
    else
        ll->score -= ll->score / 8;
}

void fbus__lowlat_wait(struct fbus__lowlat *ll, struct fbus__header *h, uint64_t last_seq,
                       uint64_t bit, int64_t left)
{
    int64_t start = fbus_now_ns(), now = start, due, early, spin_cap, spin_from, wake_at, spin_end;

    if (observe(ll, h))
        ll->frames++;
    if (ll->ndeltas < 3 || ll->seen_seq != last_seq || ll->interval <= 0) {
        /* Nothing learnt yet, or we are behind the stream: a plain wait. */
        futex_sleep(h, last_seq, bit, left);
        return;
    }
    /* Where timed sleeps come back too late to catch frames (a machine
     * with more runnable threads than CPUs), a timed wake-up only adds the
     * wait for a CPU to the latency: wait plainly, and try again now and
     * then. */
    if (ll->score < LL_SCORE_MAX / 4 && ll->frames % LL_RETRY_EVERY != 0) {
        futex_sleep(h, last_seq, bit, left);
        return;
    }
    spin_cap = ll->interval / LL_SPIN_SHARE;
    if (spin_cap > LL_MAX_SPIN_NS)
        spin_cap = LL_MAX_SPIN_NS;
    /* The frame is due on the schedule's line plus how late frames come;
     * spin from a little before, by the jitter, for at most spin_cap. */
    due = ll->anchor + ll->interval * (int64_t)(last_seq + 1 - ll->anchor_seq) + ll->lateness;
    early = 2 * ll->jitter + LL_MIN_MARGIN_NS;
    if (early > spin_cap / 2)
        early = spin_cap / 2;
    spin_from = due - early;
    /* A timed sleep returns late by `oversleep`: ask for that much earlier. */
    wake_at = spin_from - ll->oversleep;
    if (now > spin_from + spin_cap) {
        /* Later than we would spin for: wait for it. */
        futex_sleep(h, last_seq, bit, left);
        return;
    }
    if (wake_at > now) {
        int64_t ns = wake_at - now, over;

        futex_sleep(h, last_seq, bit, ns < left ? ns : left);
        now = fbus_now_ns();
        if (!nothing_new(h, last_seq)) {
            /* Woken by the publish. Before we meant to wake: the frame was
             * early, no harm done. After: we overslept past it. */
            if (now > wake_at)
                scored(ll, 0);
            return;
        }
        if (ns >= left)
            return; /* the caller's time is up */
        /* How late the kernel wakes us from a timed sleep (timer slack,
         * waiting for a CPU). One long preemption is not the timer's
         * doing: clamp it. */
        over = now - wake_at;
        ll->oversleep = envelope(ll->oversleep, over < 0 ? 0 : over > spin_cap ? spin_cap : over);
    }
    /* Spin, not announced (a publish then costs the writer no system call),
     * until the frame comes or the spin budget is spent. */
    spin_end = spin_from + spin_cap;
    if (spin_end > start + left)
        spin_end = start + left;
    for (unsigned n = 1; nothing_new(h, last_seq); n++) {
        CPU_RELAX();
        if (n % LL_CLOCK_EVERY == 0) {
            now = fbus_now_ns();
            if (now >= spin_end) {
                scored(ll, 0);
                futex_sleep(h, last_seq, bit, left - (now - start));
                return;
            }
        }
    }
    scored(ll, 1);
}
