/* SPDX-License-Identifier: MIT */
/*
 * Micro-benchmark of the bus library, measured against a baseline in the same
 * run: publishing a frame (acquire + copy + publish) against a plain memcpy of
 * the same bytes, and a reader's acquire + release. Rounds alternate between
 * the two so that drift on a shared machine hits both alike; the report gives
 * medians and their ratio.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <framebus/framebus.h>

#define ROUNDS 21

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t median(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_i64);
    return v[n / 2];
}

static void copy_frame(uint8_t *const dst[], const fbus_format *fmt, const uint8_t *src)
{
    for (uint32_t p = 0; p < fmt->nb_planes; p++)
        memcpy(dst[p], src + fmt->planes[p].offset,
               (size_t)fmt->planes[p].stride * fmt->planes[p].rows);
}

static int run(fbus_transport t, int width, int height, int frames)
{
    char name[64];
    fbus_format fmt, small;
    fbus_writer_opts wo = {.transport = t};
    fbus_reader_opts ro = {.transport = t};
    fbus_writer *w = NULL;
    fbus_reader *r = NULL;
    uint8_t *src = NULL, *dst[3] = {NULL, NULL, NULL};
    int64_t t_copy[ROUNDS], t_pub[ROUNDS], t_acq[ROUNDS], ratio[ROUNDS];
    int err, rc = 1;

    snprintf(name, sizeof(name), "bench-bus-%d", (int)getpid());
    fbus_format_init(&fmt, "yuv420p", (uint32_t)width, (uint32_t)height, 0);
    fbus_format_init(&small, "gray", 64, 64, 0);
    wo.format = &fmt;
    err = fbus_writer_open(name, &wo, &w);
    if (err < 0) {
        fprintf(stderr, "bench_bus: %s\n", fbus_strerror(err));
        return 1;
    }
    src = malloc(fmt.size);
    for (int i = 0; i < 3; i++)
        dst[i] = malloc(fmt.size);
    if (!src || !dst[0] || !dst[1] || !dst[2])
        goto out;
    for (uint64_t i = 0; i < fmt.size; i++)
        src[i] = (uint8_t)(i * 7 + 3);
    for (int i = 0; i < 3; i++)
        memset(dst[i], 0, fmt.size);

    for (int round = 0; round < ROUNDS; round++) {
        int64_t t0 = fbus_now_ns();
        for (int i = 0; i < frames; i++) {
            uint8_t *d = dst[i % 3];
            uint8_t *planes[3] = {d + fmt.planes[0].offset, d + fmt.planes[1].offset,
                                  d + fmt.planes[2].offset};
            copy_frame(planes, &fmt, src);
        }
        t_copy[round] = (fbus_now_ns() - t0) / frames;

        t0 = fbus_now_ns();
        for (int i = 0; i < frames; i++) {
            fbus_slot s;
            if (fbus_writer_acquire(w, &fmt, -1, &s) < 0)
                goto out;
            copy_frame(s.data, &fmt, src);
            fbus_writer_publish(w, &s, NULL);
        }
        t_pub[round] = (fbus_now_ns() - t0) / frames;
        /* Each round's two halves ran back to back: their ratio cancels
         * most of the machine's drift, which a ratio of medians does not. */
        ratio[round] = t_pub[round] * 1000 / (t_copy[round] ? t_copy[round] : 1);
    }

    /* acquire + release, uncontended: small frames, one reader. */
    err = fbus_reader_open(name, &ro, &r);
    if (err < 0) {
        fprintf(stderr, "bench_bus: reader: %s\n", fbus_strerror(err));
        goto out;
    }
    for (int round = 0; round < ROUNDS; round++) {
        int64_t spent = 0;
        for (int i = 0; i < 2000; i++) {
            fbus_slot s;
            fbus_frame f;
            int64_t t0;
            if (fbus_writer_acquire(w, &small, -1, &s) < 0)
                goto out;
            fbus_writer_publish(w, &s, NULL);
            t0 = fbus_now_ns();
            if (fbus_reader_acquire(r, 0, &f) < 0)
                goto out;
            fbus_reader_release(r, &f);
            spent += fbus_now_ns() - t0;
        }
        t_acq[round] = spent / 2000;
    }
    {
        int64_t c = median(t_copy, ROUNDS), p = median(t_pub, ROUNDS), a = median(t_acq, ROUNDS);
        printf("%-6s %4dx%-4d yuv420p  memcpy %8.1f us  publish %8.1f us  ratio %.3f  "
               "acquire+release %.2f us\n",
               t == FBUS_TRANSPORT_POSIX ? "posix" : "sysv", width, height, c / 1000.0, p / 1000.0,
               (double)median(ratio, ROUNDS) / 1000.0, a / 1000.0);
    }
    rc = 0;
out:
    fbus_reader_close(r);
    fbus_writer_close(w);
    free(src);
    for (int i = 0; i < 3; i++)
        free(dst[i]);
    return rc;
}

int main(int argc, char **argv)
{
    int frames = argc > 1 ? atoi(argv[1]) : 50;

    if (frames <= 0) {
        fprintf(stderr, "usage: bench_bus [FRAMES-PER-ROUND]\n");
        return 2;
    }
    printf("bench_bus: %d rounds of %d frames; medians, and the median of the rounds' "
           "publish/memcpy ratios\n",
           ROUNDS, frames);
    return run(FBUS_TRANSPORT_POSIX, 1920, 1080, frames) |
           run(FBUS_TRANSPORT_SYSV, 1920, 1080, frames);
}
