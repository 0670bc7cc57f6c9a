/* SPDX-License-Identifier: MIT */
/*
 * framebus bench: the synthetic frames (a pool of prepared frames, their
 * checksum, the header stamped into each) and the latency histogram.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static uint64_t next_random(uint64_t *s)
{
    /* xorshift64*: plenty for bytes that only need to differ. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

/* Fletcher-like sum in four independent lanes: order-sensitive, so a torn
 * frame (rows of two prepared frames) does not add up, and cheap enough that
 * a reader runs at memory speed. The lanes live in locals: stored through
 * the array pointers, every byte loaded (uint8_t aliases anything) would
 * force them back to memory. */
static void sum_bytes(const uint8_t *p, size_t n, uint64_t a[4], uint64_t b[4])
{
    uint64_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    uint64_t b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];

    for (; n >= 32; p += 32, n -= 32) {
        uint64_t w[4];
        memcpy(w, p, sizeof(w));
        a0 += w[0];
        a1 += w[1];
        a2 += w[2];
        a3 += w[3];
        b0 += a0;
        b1 += a1;
        b2 += a2;
        b3 += a3;
    }
    for (; n; p++, n--) {
        a0 += *p;
        b0 += a0;
    }
    a[0] = a0;
    a[1] = a1;
    a[2] = a2;
    a[3] = a3;
    b[0] = b0;
    b[1] = b1;
    b[2] = b2;
    b[3] = b3;
}

/* The checksum of a frame: every plane's stride * rows bytes, in order,
 * except the header at the start of plane 0. */
static uint64_t frame_checksum(const fbus_format *fmt, const uint8_t *const data[])
{
    uint64_t a[4] = {1, 2, 3, 4}, b[4] = {0, 0, 0, 0}, h = 0;

    for (uint32_t p = 0; p < fmt->nb_planes; p++) {
        size_t skip = p == 0 ? BENCH_HDR_BYTES : 0;
        size_t n = (size_t)fmt->planes[p].stride * fmt->planes[p].rows;
        sum_bytes(data[p] + skip, n - skip, a, b);
    }
    for (int k = 0; k < 4; k++)
        h = (h ^ a[k] ^ (b[k] << 1)) * UINT64_C(0x100000001b3);
    return h;
}

void bench_plane_ptrs(const fbus_format *fmt, const uint8_t *base, const uint8_t *data[])
{
    for (uint32_t p = 0; p < fmt->nb_planes; p++)
        data[p] = base + fmt->planes[p].offset;
}

void bench_pool_free(struct bench_pool *pl)
{
    for (int k = 0; k < BENCH_POOL; k++) {
        free(pl->buf[k]);
        pl->buf[k] = NULL;
    }
}

int bench_pool_init(struct bench_pool *pl, const fbus_format *fmt)
{
    uint64_t s = UINT64_C(0x9e3779b97f4a7c15);

    memset(pl, 0, sizeof(*pl));
    for (int k = 0; k < BENCH_POOL; k++) {
        const uint8_t *data[FBUS_MAX_PLANES];
        uint8_t *b = aligned_alloc(64, (fmt->size + 63) & ~(uint64_t)63);

        if (!b) {
            bench_pool_free(pl);
            return -1;
        }
        for (uint64_t i = 0; i + 8 <= fmt->size; i += 8) {
            uint64_t v = next_random(&s);
            memcpy(b + i, &v, 8);
        }
        for (uint64_t i = fmt->size & ~(uint64_t)7; i < fmt->size; i++)
            b[i] = (uint8_t)next_random(&s);
        pl->buf[k] = b;
        bench_plane_ptrs(fmt, b, data);
        pl->sum[k] = frame_checksum(fmt, data);
    }
    return 0;
}

/* Copy prepared frame `seq % BENCH_POOL` into the planes at dst, as a
 * producer copies a decoded frame into its slot: with fbus_copy(), or with
 * plain memcpy for the memcpy baseline. */
void bench_copy_frame(const fbus_format *fmt, const struct bench_pool *pl, uint64_t seq,
                      uint8_t *const dst[], int plain)
{
    const uint8_t *src = pl->buf[seq % BENCH_POOL];

    for (uint32_t p = 0; p < fmt->nb_planes; p++) {
        size_t n = (size_t)fmt->planes[p].stride * fmt->planes[p].rows;

        if (plain)
            memcpy(dst[p], src + fmt->planes[p].offset, n);
        else
            fbus_copy(dst[p], src + fmt->planes[p].offset, n);
    }
}

void bench_stamp(uint8_t *plane0, uint64_t seq, int64_t send_ns)
{
    struct bench_frame_hdr h = {BENCH_MAGIC, seq, send_ns, seq % BENCH_POOL};

    memcpy(plane0, &h, sizeof(h));
}

/* Whether a received frame is the one the writer sent as `seq`. */
int bench_frame_ok(const fbus_format *fmt, const struct bench_pool *pl, const uint8_t *const data[],
                   uint64_t seq, struct bench_frame_hdr *hdr)
{
    memcpy(hdr, data[0], sizeof(*hdr));
    if (hdr->magic != BENCH_MAGIC || hdr->seq != seq || hdr->pool != seq % BENCH_POOL)
        return 0;
    return frame_checksum(fmt, data) == pl->sum[seq % BENCH_POOL];
}

/* ------------------------------------------------------------ latency */

static int hist_index(int64_t ns)
{
    uint64_t v = ns < 0 ? 0 : (uint64_t)ns;
    int msb;

    if (v < BENCH_HIST_SUB)
        return (int)v;
    msb = 63 - __builtin_clzll(v);
    /* The top 5 bits below and including the msb pick the sub-bucket. */
    return (msb - 4) * BENCH_HIST_SUB + (int)((v >> (msb - 5)) - BENCH_HIST_SUB);
}

/* The middle of a bucket, in ns. */
static double hist_value(int idx)
{
    int msb, sub;
    double low, width;

    if (idx < BENCH_HIST_SUB)
        return idx;
    msb = idx / BENCH_HIST_SUB + 4;
    sub = idx % BENCH_HIST_SUB;
    width = (double)(UINT64_C(1) << (msb - 5));
    low = (double)(BENCH_HIST_SUB + sub) * width;
    return low + width / 2;
}

void bench_latency_of(const uint64_t *hist, int64_t max_ns, bench_latency *lat)
{
    uint64_t n = 0, acc = 0;
    double p50 = 0, p99 = 0;
    int have50 = 0;

    for (int i = 0; i < BENCH_HIST_BUCKETS; i++)
        n += hist[i];
    lat->samples = n;
    if (!n) {
        lat->p50_us = lat->p99_us = lat->max_us = 0;
        return;
    }
    for (int i = 0; i < BENCH_HIST_BUCKETS; i++) {
        acc += hist[i];
        if (!have50 && acc * 2 >= n) {
            p50 = hist_value(i);
            have50 = 1;
        }
        if (acc * 100 >= n * 99) {
            p99 = hist_value(i);
            break;
        }
    }
    if (p50 > (double)max_ns)
        p50 = (double)max_ns;
    if (p99 > (double)max_ns)
        p99 = (double)max_ns;
    lat->p50_us = p50 / 1000.0;
    lat->p99_us = p99 / 1000.0;
    lat->max_us = (double)max_ns / 1000.0;
}

void bench_record_latency(struct bench_child_out *o, int64_t ns)
{
    o->hist[hist_index(ns)]++;
    if (ns > o->lat_max)
        o->lat_max = ns;
}
