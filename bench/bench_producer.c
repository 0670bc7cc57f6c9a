/* SPDX-License-Identifier: MIT */
/*
 * bench_producer: what publishing on the bus costs a decoder. Runs, in turn,
 * decode-only passes over a clip and decode + publish passes with one
 * lossless reader process attached, and prints the frame rates.
 *   bench_producer CLIP [RUNS]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libavutil/log.h>
#include <libavutil/pixdesc.h>

#include <framebus/framebus.h>

#include "decode.h"
#include "avplanes.h"

#define PROG "bench_producer"
#define NS   1000000000LL

struct result {
    uint64_t frames;
    double seconds;
    double cpu_seconds; /* this process, all threads, over the timed part */
    double copy_seconds;
    uint64_t read; /* frames the reader received */
};

static double cpu_now(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int decode_only(const char *clip, struct result *res)
{
    prod_decoder *d = NULL;
    AVFrame *f = av_frame_alloc();
    char err[512];
    int64_t t0;
    double c0;
    int ret;

    memset(res, 0, sizeof(*res));
    if (!f)
        return -ENOMEM;
    ret = prod_decoder_open(clip, 0, NULL, &d, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    /* As in decode_publish(), the clock starts after the first frame. */
    ret = prod_decoder_next(d, f, err, sizeof(err));
    t0 = fbus_now_ns();
    c0 = cpu_now();
    while (ret == 0) {
        res->frames++;
        av_frame_unref(f);
        ret = prod_decoder_next(d, f, err, sizeof(err));
    }
    res->seconds = (double)(fbus_now_ns() - t0) / NS;
    res->cpu_seconds = cpu_now() - c0;
    if (ret == AVERROR_EOF)
        ret = 0;
    else
        fprintf(stderr, PROG ": %s\n", err);
out:
    prod_decoder_close(d);
    av_frame_free(&f);
    return ret;
}

/* The reader process: take every frame, lossless, until the stream ends. */
static int reader_main(const char *bus)
{
    fbus_reader_opts ro = {.policy = FBUS_POLICY_LOSSLESS, .flags = FBUS_READER_WAIT};
    fbus_reader *r = NULL;
    fbus_frame fr;
    uint64_t n = 0;
    int ret;

    if (fbus_reader_open(bus, &ro, &r) < 0)
        return 255;
    while ((ret = fbus_reader_acquire(r, 5 * NS, &fr)) == 0) {
        volatile uint8_t sink = fr.data[0][0];
        (void)sink;
        fbus_reader_release(r, &fr);
        n++;
    }
    fbus_reader_close(r);
    return (int)(n & 0xff);
}

static int decode_publish(const char *clip, const char *bus, struct result *res)
{
    prod_decoder *d = NULL;
    fbus_writer *w = NULL;
    AVFrame *f = av_frame_alloc();
    fbus_writer_opts wo;
    fbus_format fmt;
    char err[512];
    pid_t child = -1;
    int64_t t0;
    double c0;
    int ret, status;

    memset(res, 0, sizeof(*res));
    if (!f)
        return -ENOMEM;
    child = fork();
    if (child == 0)
        _exit(reader_main(bus));
    ret = prod_decoder_open(clip, 0, NULL, &d, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    ret = prod_decoder_next(d, f, err, sizeof(err));
    if (ret < 0)
        goto out;
    ret = fbav_format(&fmt, f->format, f->width, f->height);
    if (ret < 0)
        goto out;
    memset(&wo, 0, sizeof(wo));
    wo.format = &fmt;
    ret = fbus_writer_open(bus, &wo, &w);
    if (ret < 0) {
        fprintf(stderr, PROG ": bus \"%s\": %s\n", bus, fbus_strerror(ret));
        goto out;
    }
    ret = fbus_writer_wait_readers(w, 1, 5 * NS);
    if (ret < 0)
        goto out;
    t0 = fbus_now_ns();
    c0 = cpu_now();
    do {
        fbus_slot slot;
        fbus_meta meta = {.pts = f->pts, .tb_num = 1, .tb_den = 1};
        int64_t copy_t0;

        ret = fbav_format(&fmt, f->format, f->width, f->height);
        if (ret < 0)
            break;
        ret = fbus_writer_acquire(w, &fmt, -1, &slot);
        if (ret < 0)
            break;
        copy_t0 = fbus_now_ns();
        fbav_copy_frame(&slot, f);
        res->copy_seconds += (double)(fbus_now_ns() - copy_t0) / NS;
        fbus_writer_publish(w, &slot, &meta);
        res->frames++;
        av_frame_unref(f);
    } while ((ret = prod_decoder_next(d, f, err, sizeof(err))) == 0);
    res->seconds = (double)(fbus_now_ns() - t0) / NS;
    res->cpu_seconds = cpu_now() - c0;
    if (ret == AVERROR_EOF)
        ret = 0;
out:
    fbus_writer_close(w);
    if (child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status))
        res->read = (uint64_t)WEXITSTATUS(status);
    prod_decoder_close(d);
    av_frame_free(&f);
    return ret;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    struct result a, b;
    double fa[32], fb[32], ca[32], cb[32], copy_ms = 0;
    char bus[64];
    int runs = 3;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: " PROG " CLIP [RUNS]\n");
        return 2;
    }
    if (argc == 3)
        runs = atoi(argv[2]);
    if (runs < 1 || runs > 32) {
        fprintf(stderr, PROG ": RUNS must be 1..32\n");
        return 2;
    }
    av_log_set_level(AV_LOG_QUIET);
    snprintf(bus, sizeof(bus), "bench-producer-%d", (int)getpid());
    printf("%-4s %16s %18s %20s %22s\n", "run", "decode-only fps", "(cpu ms/frame)",
           "decode+publish fps", "(cpu ms/frame)");
    for (int i = 0; i < runs; i++) {
        if (decode_only(argv[1], &a) < 0 || decode_publish(argv[1], bus, &b) < 0)
            return 1;
        if (a.frames != b.frames || (b.read & 0xff) != (b.frames & 0xff)) {
            fprintf(stderr, PROG ": frame counts differ (%llu decoded, %llu published)\n",
                    (unsigned long long)a.frames, (unsigned long long)b.frames);
            return 1;
        }
        fa[i] = (double)a.frames / a.seconds;
        fb[i] = (double)b.frames / b.seconds;
        ca[i] = a.cpu_seconds * 1000.0 / (double)a.frames;
        cb[i] = b.cpu_seconds * 1000.0 / (double)b.frames;
        copy_ms += b.copy_seconds * 1000.0 / (double)b.frames;
        printf("%-4d %16.1f %18.3f %20.1f %22.3f\n", i + 1, fa[i], ca[i], fb[i], cb[i]);
    }
    qsort(fa, (size_t)runs, sizeof(double), cmp_double);
    qsort(fb, (size_t)runs, sizeof(double), cmp_double);
    qsort(ca, (size_t)runs, sizeof(double), cmp_double);
    qsort(cb, (size_t)runs, sizeof(double), cmp_double);
    printf("frames per run: %llu\n", (unsigned long long)a.frames);
    printf("median: decode-only %.1f fps, decode+publish %.1f fps, bus cost %.1f%%\n", fa[runs / 2],
           fb[runs / 2], 100.0 * (1.0 - fb[runs / 2] / fa[runs / 2]));
    printf("best:   decode-only %.1f fps, decode+publish %.1f fps, bus cost %.1f%%\n", fa[runs - 1],
           fb[runs - 1], 100.0 * (1.0 - fb[runs - 1] / fa[runs - 1]));
    printf("median cpu: decode-only %.3f ms/frame, decode+publish %.3f ms/frame (+%.1f%%)\n",
           ca[runs / 2], cb[runs / 2], 100.0 * (cb[runs / 2] / ca[runs / 2] - 1.0));
    printf("copy into the slot: %.3f ms per frame\n", copy_ms / runs);
    return 0;
}
