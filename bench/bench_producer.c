/* SPDX-License-Identifier: MIT */
/*
 * bench_producer: what publishing on the bus costs a decoder. One decoder
 * loops over a clip; whole passes over it alternate between decode-only and
 * decode + publish (one reader process attached), and each pair's ratio of
 * frame rates is printed (their median is the figure).
 *   bench_producer [--reader lossless|latest|none] [--checksum]
 *                  [--copy direct|stream|plain|none] [--only decode|publish] CLIP [PAIRS]
 * --checksum: the reader sums every byte of each frame (else it reads one);
 * --copy direct (the default, the producer's way): the decoder decodes
 * into slots the bus lends, frames it could not lend are copied;
 * --copy stream: every frame copied with fbus_copy_plane() (the producer's
 * --copy); --copy plain: memcpy instead of its streaming stores, to see
 * what they buy; --copy none: publish the slot without copying the frame
 * into it (a bound: the reader gets stale pixels).
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

#include "avplanes.h"
#include "decode.h"

#define PROG      "bench_producer"
#define NS        1000000000LL
#define MAX_PAIRS 64

enum reader_kind { READER_LOSSLESS, READER_LATEST, READER_NONE };
static const char *const reader_names[] = {"lossless", "latest", "none"};

/* One run: the decoder, the bus and the reader live for all its passes, as
 * they do in a producer, so that no pass pays for opening them. */
struct run {
    const char *clip;
    char bus[64];
    enum reader_kind rk;
    int checksum; /* the reader reads every byte */
    enum { COPY_DIRECT, COPY_STREAM, COPY_PLAIN, COPY_NONE } copy;
    prod_direct *direct;
    prod_decoder *dec;
    /* With --copy direct, decode-only passes run a decoder of their own
     * on libav's buffers: one decoder switched between lent buffers and
     * libav's pool page-faults its pool back in at every switch, which
     * would slow the baseline. */
    prod_decoder *dec_only;
    AVFrame *frame;
    fbus_writer *w;
    fbus_format fmt;
    pid_t reader;
    uint64_t pass_frames; /* frames in one pass over the clip */
    uint64_t published;
    char err[512];
};

/* What one timed pass measured. */
struct pass {
    double seconds;
    double cpu_seconds; /* this process, all threads */
    double copy_seconds;
    long faults; /* page faults in this process */
};

static void usage_times(double *cpu, long *faults)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    *faults = ru.ru_minflt + ru.ru_majflt;
}

/* The frames in one pass over the clip, by decoding it once (which also
 * brings it into the page cache). */
static int count_frames(struct run *r)
{
    prod_decoder *d = NULL;
    int ret;

    ret = prod_decoder_open(r->clip, 0, NULL, NULL, &d, r->err, sizeof(r->err));
    while (ret == 0) {
        ret = prod_decoder_next(d, r->frame, r->err, sizeof(r->err));
        av_frame_unref(r->frame);
        if (ret == 0)
            r->pass_frames++;
    }
    prod_decoder_close(d);
    if (ret == AVERROR_EOF && r->pass_frames >= 2)
        return 0;
    if (ret == AVERROR_EOF)
        snprintf(r->err, sizeof(r->err), "%s: fewer than 2 frames", r->clip);
    return ret < 0 && ret != AVERROR_EOF ? ret : AVERROR_INVALIDDATA;
}

/* The reader process: take frames until the stream ends, looking at one
 * byte of each (reading the pixels is the reader's cost, not the
 * producer's). Exits with the count's low byte. */
/* Every byte of a frame, as a consumer that reads the pixels touches them
 * (summed 8 bytes at a time, so that the reader's own work stays small). */
static uint64_t sum_frame(const fbus_frame *fr)
{
    uint64_t sum = 0;

    for (uint32_t i = 0; i < fr->format.nb_planes; i++) {
        const fbus_plane *p = &fr->format.planes[i];

        for (uint32_t y = 0; y < p->rows; y++) {
            const uint8_t *row = fr->data[i] + (size_t)y * p->stride;
            uint32_t x = 0;

            for (; x + 8 <= p->row_bytes; x += 8) {
                uint64_t v;

                memcpy(&v, row + x, 8);
                sum += v;
            }
            for (; x < p->row_bytes; x++)
                sum += row[x];
        }
    }
    return sum;
}

static int reader_main(const char *bus, fbus_policy policy, int checksum)
{
    fbus_reader_opts ro = {.policy = policy, .flags = FBUS_READER_WAIT};
    fbus_reader *r = NULL;
    fbus_frame fr;
    uint64_t n = 0;

    if (fbus_reader_open(bus, &ro, &r) < 0)
        return 255;
    while (fbus_reader_acquire(r, 5 * NS, &fr) == 0) {
        volatile uint64_t sink = checksum ? sum_frame(&fr) : fr.data[0][0];
        (void)sink;
        fbus_reader_release(r, &fr);
        n++;
    }
    fbus_reader_close(r);
    return (int)(n & 0xff);
}

static int run_open(struct run *r)
{
    fbus_writer_opts wo;
    int ret;

    r->frame = av_frame_alloc();
    if (!r->frame)
        return AVERROR(ENOMEM);
    ret = count_frames(r);
    if (ret < 0)
        return ret;
    if (r->copy == COPY_DIRECT && !(r->direct = prod_direct_new()))
        return AVERROR(ENOMEM);
    ret = prod_decoder_open(r->clip, 1, NULL, r->direct, &r->dec, r->err, sizeof(r->err));
    if (ret == 0 && r->direct)
        ret = prod_decoder_open(r->clip, 1, NULL, NULL, &r->dec_only, r->err, sizeof(r->err));
    if (ret == 0)
        ret = prod_decoder_next(r->dec, r->frame, r->err, sizeof(r->err));
    if (ret < 0)
        return ret;
    ret = fbav_format(&r->fmt, r->frame->format, r->frame->width, r->frame->height);
    av_frame_unref(r->frame);
    if (ret < 0) {
        snprintf(r->err, sizeof(r->err), "%s: no bus format for its frames", r->clip);
        return ret;
    }
    memset(&wo, 0, sizeof(wo));
    wo.format = &r->fmt;
    if (r->direct && prod_direct_slot_size(r->direct)) {
        /* Sized as the producer sizes it. */
        wo.slot_size = prod_direct_slot_size(r->direct);
        wo.slots = FBUS_DEFAULT_SLOTS + prod_direct_frames_held(r->direct);
        if (wo.slots > FBUS_MAX_SLOTS)
            wo.slots = FBUS_MAX_SLOTS;
    }
    ret = fbus_writer_open(r->bus, &wo, &r->w);
    if (ret == 0 && r->direct)
        prod_direct_set_writer(r->direct, r->w);
    if (ret == 0 && r->rk != READER_NONE) {
        fflush(stdout);
        r->reader = fork();
        if (r->reader == 0)
            _exit(reader_main(r->bus,
                              r->rk == READER_LOSSLESS ? FBUS_POLICY_LOSSLESS : FBUS_POLICY_LATEST,
                              r->checksum));
        ret = r->reader < 0 ? -errno : fbus_writer_wait_readers(r->w, 1, 5 * NS);
    }
    if (ret < 0)
        snprintf(r->err, sizeof(r->err), "bus \"%s\": %s", r->bus, fbus_strerror(ret));
    return ret;
}

/* fbav_copy_frame() with plain stores: memcpy row by row. */
static void copy_plain(const fbus_slot *slot, const AVFrame *f)
{
    for (uint32_t i = 0; i < slot->format.nb_planes && i < 4; i++) {
        const fbus_plane *p = &slot->format.planes[i];

        if (p->stride == p->row_bytes && f->linesize[i] == (int)p->stride) {
            memcpy(slot->data[i], f->data[i], (size_t)p->row_bytes * p->rows);
            continue;
        }
        for (uint32_t y = 0; y < p->rows; y++)
            memcpy(slot->data[i] + (size_t)y * p->stride,
                   f->data[i] + (ptrdiff_t)y * f->linesize[i], p->row_bytes);
    }
}

static int publish(struct run *r, struct pass *p)
{
    const AVFrame *f = r->frame;
    fbus_meta meta = {.pts = f->pts, .tb_num = 1, .tb_den = 1};
    fbus_slot slot;
    int64_t t0;
    int ret;

    if (r->direct) {
        ret = prod_direct_publish(r->direct, r->w, f, &r->fmt, &meta);
        if (ret <= 0) {
            r->published += ret == 0;
            return ret;
        }
    }
    /* The clip has one format: fmt, made for its first frame, fits all. */
    ret = fbus_writer_acquire(r->w, &r->fmt, -1, &slot);
    if (ret < 0)
        return ret;
    t0 = fbus_now_ns();
    if (r->copy == COPY_PLAIN)
        copy_plain(&slot, f);
    else if (r->copy != COPY_NONE)
        fbav_copy_frame(&slot, f);
    p->copy_seconds += (double)(fbus_now_ns() - t0) / NS;
    ret = fbus_writer_publish(r->w, &slot, &meta);
    if (ret == 0)
        r->published++;
    return ret;
}

/*
 * One whole pass over the clip (the looping decoder's restart included),
 * publishing each frame or not. Every pass decodes the same frames and
 * restarts once, wherever in the clip it begins.
 */
static int run_pass(struct run *r, int publishing, struct pass *p)
{
    double c0, c1;
    long f0, f1;
    int64_t t0;
    int ret = 0;

    memset(p, 0, sizeof(*p));
    usage_times(&c0, &f0);
    t0 = fbus_now_ns();
    for (uint64_t i = 0; i < r->pass_frames && ret == 0; i++) {
        ret = prod_decoder_next(publishing || !r->dec_only ? r->dec : r->dec_only, r->frame, r->err,
                                sizeof(r->err));
        if (ret == 0 && publishing) {
            ret = publish(r, p);
            if (ret < 0)
                snprintf(r->err, sizeof(r->err), "bus \"%s\": %s", r->bus, fbus_strerror(ret));
        }
        av_frame_unref(r->frame);
    }
    p->seconds = (double)(fbus_now_ns() - t0) / NS;
    usage_times(&c1, &f1);
    p->cpu_seconds = c1 - c0;
    p->faults = f1 - f0;
    return ret;
}

/* Close the bus (which ends the reader's stream) and collect the reader:
 * 0, or -1 if it did not see every frame a lossless reader must. */
static int run_close(struct run *r, double *reader_cpu)
{
    int ret = 0;

    if (r->direct)
        prod_direct_set_writer(r->direct, NULL);
    fbus_writer_close(r->w); /* slots the decoder holds keep it until freed */
    r->w = NULL;
    *reader_cpu = 0;
    if (r->reader > 0) {
        struct rusage ru;
        int status;

        if (wait4(r->reader, &status, 0, &ru) != r->reader || !WIFEXITED(status) ||
            (r->rk == READER_LOSSLESS && (uint64_t)WEXITSTATUS(status) != (r->published & 0xff))) {
            snprintf(r->err, sizeof(r->err), "the lossless reader missed frames");
            ret = -1;
        }
        *reader_cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        r->reader = -1;
    }
    prod_decoder_close(r->dec);
    prod_decoder_close(r->dec_only);
    r->dec = r->dec_only = NULL;
    av_frame_free(&r->frame);
    prod_direct_free(r->direct);
    r->direct = NULL;
    return ret;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: " PROG " [--reader lossless|latest|none] [--checksum]\n"
            "                      [--copy direct|stream|plain|none] [--only decode|publish]\n"
            "                      CLIP [PAIRS]\n");
    return 2;
}

static int parse_args(int argc, char **argv, struct run *r, const char **only, int *pairs)
{
    int nargs = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--reader") == 0 && i + 1 < argc) {
            const char *v = argv[++i];

            if (strcmp(v, "lossless") == 0)
                r->rk = READER_LOSSLESS;
            else if (strcmp(v, "latest") == 0)
                r->rk = READER_LATEST;
            else if (strcmp(v, "none") == 0)
                r->rk = READER_NONE;
            else
                return -1;
        } else if (strcmp(a, "--checksum") == 0) {
            r->checksum = 1;
        } else if (strcmp(a, "--copy") == 0 && i + 1 < argc) {
            const char *v = argv[++i];

            if (strcmp(v, "direct") == 0)
                r->copy = COPY_DIRECT;
            else if (strcmp(v, "stream") == 0)
                r->copy = COPY_STREAM;
            else if (strcmp(v, "plain") == 0)
                r->copy = COPY_PLAIN;
            else if (strcmp(v, "none") == 0)
                r->copy = COPY_NONE;
            else
                return -1;
        } else if (strcmp(a, "--only") == 0 && i + 1 < argc) {
            *only = argv[++i];
            if (strcmp(*only, "decode") != 0 && strcmp(*only, "publish") != 0)
                return -1;
        } else if (a[0] == '-' && a[1]) {
            return -1;
        } else if (nargs == 0) {
            r->clip = a;
            nargs++;
        } else if (nargs == 1) {
            *pairs = atoi(a);
            nargs++;
        } else {
            return -1;
        }
    }
    return r->clip ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct run r = {.rk = READER_LOSSLESS, .reader = -1};
    const char *only = NULL;
    double fa[MAX_PAIRS], fb[MAX_PAIRS], ca[MAX_PAIRS], cb[MAX_PAIRS], ratio[MAX_PAIRS];
    double copy_ms = 0, reader_cpu;
    long faults_a = 0, faults_b = 0;
    uint64_t direct_published, direct_refused;
    struct pass a, b;
    int pairs = 7, ret;

    if (parse_args(argc, argv, &r, &only, &pairs) < 0)
        return usage();
    if (pairs < 1 || pairs > MAX_PAIRS) {
        fprintf(stderr, PROG ": PAIRS must be 1..%d\n", MAX_PAIRS);
        return 2;
    }
    av_log_set_level(AV_LOG_QUIET);
    snprintf(r.bus, sizeof(r.bus), "bench-producer-%d", (int)getpid());
    ret = run_open(&r);
    /* One untimed pass, publishing: the decoder's frame pools and the bus's
     * slots reach the size they keep, as in a producer that has run a while. */
    if (ret == 0)
        ret = run_pass(&r, 1, &a);
    if (ret == 0 && r.dec_only)
        ret = run_pass(&r, 0, &a);
    if (ret < 0)
        goto fail;
    printf("%s: %llu frames a pass, reader %s%s, %s copy, %d pairs of passes (alternating "
           "order)\n",
           r.clip, (unsigned long long)r.pass_frames, reader_names[r.rk],
           r.checksum ? " (checksums every byte)" : "",
           r.copy == COPY_PLAIN    ? "memcpy"
           : r.copy == COPY_NONE   ? "no"
           : r.copy == COPY_STREAM ? "fbus_copy_plane"
                                   : "decoded into lent slots, else fbus_copy_plane",
           pairs);
    if (only) {
        /* One kind of pass only, for a profiler. */
        for (int i = 0; i < pairs; i++) {
            ret = run_pass(&r, strcmp(only, "publish") == 0, &a);
            if (ret < 0)
                goto fail;
            printf("%-4d %s %.1f fps, cpu %.3f ms/frame, %.2f page faults/frame\n", i + 1, only,
                   (double)r.pass_frames / a.seconds, a.cpu_seconds * 1e3 / (double)r.pass_frames,
                   (double)a.faults / (double)r.pass_frames);
        }
        if (run_close(&r, &reader_cpu) < 0)
            goto fail;
        return 0;
    }
    printf("%-4s %16s %13s %19s %13s %8s\n", "pair", "decode-only fps", "cpu ms/f",
           "decode+publish fps", "cpu ms/f", "ratio");
    for (int i = 0; i < pairs; i++) {
        /* Alternate which pass goes first, so that a drift in the machine's
         * speed does not favour one of them. */
        ret = run_pass(&r, i % 2, i % 2 ? &b : &a);
        if (ret == 0)
            ret = run_pass(&r, !(i % 2), i % 2 ? &a : &b);
        if (ret < 0)
            goto fail;
        fa[i] = (double)r.pass_frames / a.seconds;
        fb[i] = (double)r.pass_frames / b.seconds;
        ratio[i] = fb[i] / fa[i];
        ca[i] = a.cpu_seconds * 1e3 / (double)r.pass_frames;
        cb[i] = b.cpu_seconds * 1e3 / (double)r.pass_frames;
        copy_ms += b.copy_seconds * 1e3 / (double)r.pass_frames;
        faults_a += a.faults;
        faults_b += b.faults;
        printf("%-4d %16.1f %13.3f %19.1f %13.3f %7.3fx\n", i + 1, fa[i], ca[i], fb[i], cb[i],
               ratio[i]);
    }
    direct_published = prod_direct_published(r.direct);
    direct_refused = prod_direct_refused(r.direct);
    if (run_close(&r, &reader_cpu) < 0)
        goto fail;
    printf("median: decode-only %.1f fps %.3f ms cpu/frame, decode+publish %.1f fps %.3f ms "
           "cpu/frame\n",
           median(fa, pairs), median(ca, pairs), median(fb, pairs), median(cb, pairs));
    printf("copy into the slot %.3f ms/frame; page faults/frame %.2f vs %.2f; reader cpu %.3f "
           "ms/frame\n",
           copy_ms / pairs, (double)faults_a / (double)(pairs * r.pass_frames),
           (double)faults_b / (double)(pairs * r.pass_frames),
           reader_cpu * 1e3 / (double)(r.published ? r.published : 1));
    if (r.copy == COPY_DIRECT)
        printf("published where decoded: %llu of %llu frames; buffers the bus could not lend: "
               "%llu\n",
               (unsigned long long)direct_published, (unsigned long long)r.published,
               (unsigned long long)direct_refused);
    printf("decode+publish / decode-only: median of the pairs %.3fx (cpu per frame: %.3fx)\n",
           median(ratio, pairs), median(ca, pairs) / median(cb, pairs));
    return 0;

fail:
    fprintf(stderr, PROG ": %s\n", r.err[0] ? r.err : av_err2str(ret));
    run_close(&r, &reader_cpu);
    return 1;
}
