/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of framebus-producer: the real binary runs in a child
 * process, this process attaches a lossless reader and checks every frame
 * bit-exact against decoding the same clip here, with its pts and count;
 * then the test pattern, conversion, pacing, signals and every error message.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "framebus/framebus.h"

#include "../producer/font.h"
#include "clipgen.h"
#include "testutil.h"

#define PRODUCER FBUS_TEST_BINDIR "/producer/framebus-producer"
#define MAX_REF  64

static char tmpdir[256];
static pid_t child = -1; /* the producer under test, killed in teardown */
static char bus[FBUS_NAME_MAX + 1];
static char errpath[PATH_MAX]; /* the producer's stderr */

/* ------------------------------------------------------------ helpers */

static const char *clip(const char *name)
{
    static char paths[8][PATH_MAX];
    static int next;
    char *p = paths[next++ % 8];

    snprintf(p, PATH_MAX, "%s/%s", tmpdir, name);
    return p;
}

/* Start the producer with a NULL-terminated argument list; stderr goes to
 * errpath, stdout to /dev/null. */
static pid_t spawn(const char *arg, ...)
{
    const char *argv[40];
    int argc = 0;
    va_list ap;
    pid_t pid;

    argv[argc++] = "framebus-producer";
    va_start(ap, arg);
    for (const char *a = arg; a && argc < 39; a = va_arg(ap, const char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    pid = fork();
    if (pid == 0) {
        int out = open("/dev/null", O_WRONLY);
        int err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out < 0 || err < 0)
            _exit(126);
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        execv(PRODUCER, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Wait for the producer under test; its exit status. */
static int finish(int timeout_ms)
{
    int status = tu_wait(child, timeout_ms);

    child = -1;
    return status;
}

static char *slurp(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    size_t n = 0;

    buf[0] = '\0';
    if (f) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

/* Run the producer to completion and return its exit status. */
#define RUN(...) (child = spawn(__VA_ARGS__, NULL), finish(20000))

static void expect_error(const char *expected, int status)
{
    char line[1024];

    if ((size_t)snprintf(line, sizeof(line), "framebus-producer: %s\n", expected) >= sizeof(line))
        fail_msg("expected message too long: %s", expected);
    assert_int_not_equal(status, 0);
    assert_string_equal(slurp(errpath), line);
}

/* A decoded clip, as the test sees it. */
struct ref {
    AVFrame *frames[MAX_REF];
    int n;
    AVRational tb;
};

static void ref_free(struct ref *r)
{
    for (int i = 0; i < r->n; i++)
        av_frame_free(&r->frames[i]);
    r->n = 0;
}

/* Decode path here, independently of the producer (single thread, errors
 * skipped), keeping every frame and its best-effort timestamp. */
static void ref_decode(const char *path, struct ref *r)
{
    AVFormatContext *fc = NULL;
    AVCodecContext *dc;
    const AVCodec *codec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    int si, ret, draining = 0;

    memset(r, 0, sizeof(*r));
    assert_int_equal(avformat_open_input(&fc, path, NULL, NULL), 0);
    assert_true(avformat_find_stream_info(fc, NULL) >= 0);
    si = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    assert_true(si >= 0);
    r->tb = fc->streams[si]->time_base;
    dc = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(dc, fc->streams[si]->codecpar);
    dc->pkt_timebase = r->tb;
    dc->thread_count = 1;
    assert_int_equal(avcodec_open2(dc, codec, NULL), 0);
    for (;;) {
        ret = avcodec_receive_frame(dc, f);
        if (ret == 0) {
            assert_true(r->n < MAX_REF);
            f->pts = f->best_effort_timestamp;
            r->frames[r->n++] = av_frame_clone(f);
            av_frame_unref(f);
            continue;
        }
        if (ret == AVERROR_EOF)
            break;
        if (ret != AVERROR(EAGAIN))
            continue;
        if (draining)
            break;
        if (av_read_frame(fc, pkt) < 0) {
            avcodec_send_packet(dc, NULL);
            draining = 1;
            continue;
        }
        if (pkt->stream_index == si)
            avcodec_send_packet(dc, pkt);
        av_packet_unref(pkt);
    }
    av_frame_free(&f);
    av_packet_free(&pkt);
    avcodec_free_context(&dc);
    avformat_close_input(&fc);
    assert_true(r->n > 0);
}

/* Whether a bus frame holds exactly the picture of an AVFrame. */
static int same_picture(const fbus_frame *fr, const AVFrame *ref)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(ref->format);
    int linesizes[4];

    if (fr->format.width != (uint32_t)ref->width || fr->format.height != (uint32_t)ref->height ||
        strcmp(fr->format.pix_fmt, desc->name) != 0 ||
        fr->format.nb_planes != (uint32_t)av_pix_fmt_count_planes(ref->format))
        return 0;
    av_image_fill_linesizes(linesizes, ref->format, ref->width);
    for (uint32_t p = 0; p < fr->format.nb_planes; p++) {
        const fbus_plane *pl = &fr->format.planes[p];
        int chroma = (p == 1 || p == 2) && !(desc->flags & AV_PIX_FMT_FLAG_RGB);
        uint32_t rows = chroma ? (uint32_t)AV_CEIL_RSHIFT(ref->height, desc->log2_chroma_h)
                               : (uint32_t)ref->height;

        if (pl->row_bytes != (uint32_t)linesizes[p] || pl->rows != rows)
            return 0;
        for (uint32_t y = 0; y < rows; y++) {
            if (memcmp(fr->data[p] + (size_t)y * pl->stride,
                       ref->data[p] + (ptrdiff_t)y * ref->linesize[p], pl->row_bytes) != 0)
                return 0;
        }
    }
    return 1;
}

typedef void (*frame_check)(const fbus_frame *fr, int index, void *ctx);

/* Read every frame of the stream on `bus` as a lossless reader until the
 * producer ends it, following moves to a new region. Returns the count. */
static int read_all(fbus_transport t, frame_check check, void *ctx)
{
    fbus_reader_opts ro = {
        .transport = t, .policy = FBUS_POLICY_LOSSLESS, .flags = FBUS_READER_WAIT};
    fbus_reader *r = NULL;
    fbus_frame fr;
    int n = 0, ret;

    assert_int_equal(fbus_reader_open(bus, &ro, &r), 0);
    for (;;) {
        ret = fbus_reader_acquire(r, 10 * TU_SEC, &fr);
        if (ret == FBUS_EREPLACED)
            continue;
        if (ret == FBUS_EENDED)
            break;
        if (ret != 0) {
            fbus_reader_close(r);
            fail_msg("fbus_reader_acquire after %d frames: %s", n, fbus_strerror(ret));
        }
        check(&fr, n, ctx);
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        n++;
    }
    fbus_reader_close(r);
    return n;
}

struct exact {
    const struct ref *ref;
    int cyclic; /* frame i is ref[i % n] (--loop) */
    int64_t pts[256];
};

static void check_exact(const fbus_frame *fr, int i, void *ctx)
{
    struct exact *e = ctx;
    const AVFrame *ref = e->ref->frames[e->cyclic ? i % e->ref->n : i];

    assert_true(e->cyclic || i < e->ref->n);
    if (!same_picture(fr, ref))
        fail_msg("frame %d (%ux%u %s) differs from the decoded clip", i, fr->format.width,
                 fr->format.height, fr->format.pix_fmt);
    assert_int_equal(fr->tb_num, e->ref->tb.num);
    assert_int_equal(fr->tb_den, e->ref->tb.den);
    if (!e->cyclic)
        assert_int_equal(fr->pts, ref->pts);
    if (i < 256)
        e->pts[i] = fr->pts;
}

/* Publish clip `name` through the producer with a lossless reader attached
 * and check every frame bit-exact against the test's own decoding. */
static void check_clip(const char *name)
{
    struct ref ref;
    struct exact e = {.ref = &ref};
    int n;

    ref_decode(clip(name), &ref);
    child = spawn(clip(name), "--bus", bus, "--fps", "max", "--wait-readers", "1", "--quiet", NULL);
    n = read_all(FBUS_TRANSPORT_POSIX, check_exact, &e);
    assert_int_equal(finish(10000), 0);
    assert_int_equal(n, ref.n);
    assert_string_equal(slurp(errpath), "");
    ref_free(&ref);
}

/* ------------------------------------------------------------ fixtures */

static int make_clips(void **state)
{
    const struct clipgen_seg small = {160, 120, 10};
    const struct clipgen_seg odd = {642, 362, 4};
    const struct clipgen_seg odd_long = {642, 362, 40};
    const struct clipgen_seg odder = {161, 121, 5};
    const struct clipgen_seg change[] = {{160, 120, 5}, {320, 240, 5}, {96, 64, 3}};
    const struct clipgen_seg grow[] = {{160, 120, 10}, {320, 240, 40}};
    const struct clipgen_seg longer = {160, 120, 20};

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/fbus-producer-%d-XXXXXX", (int)getpid());
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(errpath, sizeof(errpath), "%s/stderr.txt", tmpdir);
    av_log_set_level(AV_LOG_QUIET);
    if (clipgen_encode(clip("ffv1.mkv"), "ffv1", AV_PIX_FMT_YUV420P, 25, &small, 1) < 0 ||
        clipgen_encode(clip("odd.mp4"), "mpeg4", AV_PIX_FMT_YUV420P, 25, &odd, 1) < 0 ||
        clipgen_encode(clip("odd40.mp4"), "mpeg4", AV_PIX_FMT_YUV420P, 25, &odd_long, 1) < 0 ||
        clipgen_encode(clip("gbrp.mkv"), "ffv1", AV_PIX_FMT_GBRP10LE, 25, &odder, 1) < 0 ||
        clipgen_encode(clip("10bit.mkv"), "ffv1", AV_PIX_FMT_YUV420P10LE, 25, &small, 1) < 0 ||
        clipgen_encode(clip("change.ts"), "mpeg4", AV_PIX_FMT_YUV420P, 25, change, 3) < 0 ||
        clipgen_encode(clip("grow.ts"), "mpeg4", AV_PIX_FMT_YUV420P, 25, grow, 2) < 0 ||
        clipgen_encode(clip("trunc.mkv"), "ffv1", AV_PIX_FMT_YUV420P, 25, &longer, 1) < 0 ||
        clipgen_truncate(clip("trunc.mkv"), 60) < 0 ||
        clipgen_raw(clip("corrupt.nut"), 160, 120, 8, 3) < 0 ||
        clipgen_raw(clip("undecodable.nut"), 64, 48, 4, -2) < 0 ||
        clipgen_audio_only(clip("audio.wav")) < 0 || clipgen_unknown_codec(clip("unknown.nut")) < 0)
        return -1;
    if (clipgen_have_encoder("libx264") &&
        clipgen_encode(clip("h264.mp4"), "libx264", AV_PIX_FMT_YUV420P, 25, &small, 1) < 0)
        return -1;
    FILE *f = fopen(clip("notes.dat"), "w");
    if (!f)
        return -1;
    fputs("these are notes, not a video\n", f);
    fclose(f);
    (void)state;
    return 0;
}

static int remove_clips(void **state)
{
    char cmd[PATH_MAX + 16];

    if (tmpdir[0] && strncmp(tmpdir, "/tmp/fbus-producer-", 19) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            return -1;
    }
    (void)state;
    return 0;
}

static int setup(void **state)
{
    tu_bus_name(bus, sizeof(bus), "producer");
    (void)state;
    return 0;
}

static int teardown(void **state)
{
    if (child > 0) {
        kill(child, SIGKILL);
        tu_wait(child, 5000);
        child = -1;
    }
    tu_bus_cleanup(bus);
    (void)state;
    return 0;
}

/* ------------------------------------------------------------ clips */

static void test_ffv1_mkv(void **state)
{
    check_clip("ffv1.mkv");
    (void)state;
}

static void test_mpeg4_mp4_642x362(void **state)
{
    check_clip("odd.mp4");
    (void)state;
}

/* The decoder decodes straight into the bus's slots (most frames: the
 * first ones come out before the bus exists), bit-exact and in order
 * whatever order the decoder filled the slots in (B-frames, frame threads);
 * --copy copies every frame, with the same result. */
/* Run the producer -v on `name` with a lossless reader checking every
 * frame bit-exact; return how many it says it published in place. */
static unsigned long long run_in_place(const char *name)
{
    struct ref ref;
    struct exact e = {.ref = &ref};
    unsigned long long in_place = 0, total = 0;
    const char *text, *line;

    ref_decode(clip(name), &ref);
    child = spawn(clip(name), "--bus", bus, "--fps", "max", "--wait-readers", "1", "-v", NULL);
    assert_int_equal(read_all(FBUS_TRANSPORT_POSIX, check_exact, &e), ref.n);
    assert_int_equal(finish(10000), 0);
    text = slurp(errpath);
    line = strstr(text, "frames published where the decoder decoded them");
    assert_non_null(line);
    while (line > text && line[-1] != ':')
        line--;
    assert_int_equal(sscanf(line, " %llu of %llu", &in_place, &total), 2);
    assert_int_equal(total, (unsigned long long)ref.n);
    print_message("# %s: %llu of %llu frames decoded into the bus\n", name, in_place, total);
    ref_free(&ref);
    return in_place;
}

static void test_decoded_in_place(void **state)
{
    struct ref ref;
    struct exact e = {.ref = &ref};

    assert_true(run_in_place("odd40.mp4") >= 20);
    /* After a move to bigger slots (160x120, then 320x240) too: the new
     * region is sized for the decoder's padded buffers (sized for a copy,
     * it took none of them). */
    assert_true(run_in_place("grow.ts") >= 30);

    ref_decode(clip("odd40.mp4"), &ref);

    child = spawn(clip("odd40.mp4"), "--bus", bus, "--fps", "max", "--wait-readers", "1", "-v",
                  "--copy", NULL);
    assert_int_equal(read_all(FBUS_TRANSPORT_POSIX, check_exact, &e), ref.n);
    assert_int_equal(finish(10000), 0);
    assert_null(strstr(slurp(errpath), "decoder decoded them"));
    ref_free(&ref);
    (void)state;
}

/* check_exact, then again after holding the frame for 30 ms: a published
 * frame must not change while a reader holds it. */
static void check_exact_held(const fbus_frame *fr, int i, void *ctx)
{
    check_exact(fr, i, ctx);
    tu_sleep_ms(30);
    check_exact(fr, i, ctx);
}

/* RoQ decodes each frame into the buffer of the one before last when the
 * caller let go of it: lent, it rewrote frames readers held (frame 2 became
 * frame 4). Such decoders get libav's buffers, and their frames are copied. */
static void test_in_place_decoder_copied(void **state)
{
    struct ref ref;
    struct exact e = {.ref = &ref};
    char cmd[2 * PATH_MAX];

    snprintf(cmd, sizeof(cmd),
             "ffmpeg -v error -y -f lavfi -i testsrc=size=256x256:rate=30 -frames:v 30 "
             "-c:v roqvideo '%s'",
             clip("t.roq"));
    assert_int_equal(system(cmd), 0);
    ref_decode(clip("t.roq"), &ref);
    child = spawn(clip("t.roq"), "--bus", bus, "--fps", "max", "--wait-readers", "1", "-v", NULL);
    assert_int_equal(read_all(FBUS_TRANSPORT_POSIX, check_exact_held, &e), ref.n);
    assert_int_equal(finish(10000), 0);
    assert_non_null(strstr(slurp(errpath), ": 0 of "));
    ref_free(&ref);
    (void)state;
}

static void test_h264_mp4(void **state)
{
    if (!clipgen_have_encoder("libx264"))
        skip();
    check_clip("h264.mp4");
    (void)state;
}

static void test_10bit(void **state)
{
    check_clip("10bit.mkv");
    (void)state;
}

/* gbrp10le at an odd size: a format the bus library has no table for. */
static void test_gbrp_odd_size(void **state)
{
    check_clip("gbrp.mkv");
    (void)state;
}

static void test_resolution_change(void **state)
{
    struct ref ref;
    int sizes = 1;

    ref_decode(clip("change.ts"), &ref);
    for (int i = 1; i < ref.n; i++)
        sizes += ref.frames[i]->width != ref.frames[i - 1]->width;
    assert_int_equal(sizes, 3);
    ref_free(&ref);
    check_clip("change.ts");
    (void)state;
}

static void test_truncated(void **state)
{
    struct ref ref;

    ref_decode(clip("trunc.mkv"), &ref);
    assert_true(ref.n < 20);
    ref_free(&ref);
    check_clip("trunc.mkv");
    /* Matroska's demuxer ends a cut-off file cleanly; the producer sees it
     * ended short of the duration the file declares, and says so. */
    child = spawn(clip("trunc.mkv"), "--bus", bus, "--fps", "max", NULL);
    assert_int_equal(finish(10000), 0);
    assert_non_null(strstr(slurp(errpath), "input ended early"));
    /* A whole file does not. */
    child = spawn(clip("ffv1.mkv"), "--bus", bus, "--fps", "max", NULL);
    assert_int_equal(finish(10000), 0);
    assert_null(strstr(slurp(errpath), "input ended early"));
    (void)state;
}

/* An mp4 cut off before its index: libav's own reason, as ffmpeg gives it. */
static void test_truncated_mp4(void **state)
{
    char cmd[2 * PATH_MAX + 64];

    snprintf(cmd, sizeof(cmd), "head -c 2000 '%s' > '%s'", clip("odd.mp4"), clip("cut.mp4"));
    assert_int_equal(system(cmd), 0);
    child = spawn(clip("cut.mp4"), "--bus", bus, NULL);
    assert_int_equal(finish(10000), 1);
    assert_non_null(strstr(slurp(errpath), "cut.mp4: not a media file (moov atom not found)"));
    (void)state;
}

/* A damaged packet is counted and skipped; the rest arrives intact. */
static void test_corrupt_packet(void **state)
{
    struct ref ref;
    struct exact e = {.ref = &ref};

    ref_decode(clip("corrupt.nut"), &ref);
    assert_int_equal(ref.n, 7);
    child = spawn(clip("corrupt.nut"), "--bus", bus, "--fps", "max", "--wait-readers", "1", NULL);
    assert_int_equal(read_all(FBUS_TRANSPORT_POSIX, check_exact, &e), 7);
    assert_int_equal(finish(10000), 0);
    assert_non_null(strstr(slurp(errpath), "7 frames (160x120 yuv420p)"));
    assert_non_null(strstr(slurp(errpath), ", 1 corrupt packet\n"));
    ref_free(&ref);
    (void)state;
}

/* --loop: the clip again and again, timestamps one frame apart throughout. */
static void test_loop_frames(void **state)
{
    struct ref ref;
    struct exact e = {.ref = &ref, .cyclic = 1};

    ref_decode(clip("ffv1.mkv"), &ref);
    assert_int_equal(ref.n, 10);
    child = spawn(clip("ffv1.mkv"), "--bus", bus, "--loop", "--frames", "25", "--fps", "max",
                  "--wait-readers", "1", "--quiet", NULL);
    assert_int_equal(read_all(FBUS_TRANSPORT_POSIX, check_exact, &e), 25);
    assert_int_equal(finish(10000), 0);
    for (int i = 1; i < 25; i++)
        assert_int_equal(e.pts[i] - e.pts[i - 1], ref.frames[1]->pts - ref.frames[0]->pts);
    assert_int_equal(e.pts[0], ref.frames[0]->pts);
    ref_free(&ref);
    (void)state;
}

static void test_frames_limit(void **state)
{
    struct ref ref;
    struct exact e = {.ref = &ref};

    ref_decode(clip("ffv1.mkv"), &ref);
    child = spawn(clip("ffv1.mkv"), "--bus", bus, "--frames", "4", "--fps", "max", "--wait-readers",
                  "1", NULL);
    assert_int_equal(read_all(FBUS_TRANSPORT_POSIX, check_exact, &e), 4);
    assert_int_equal(finish(10000), 0);
    assert_non_null(strstr(slurp(errpath), "framebus-producer: bus \""));
    assert_non_null(strstr(slurp(errpath), "\": 4 frames (160x120 yuv420p)"));
    /* The live status line, refreshed in place, ends on the last count. */
    assert_non_null(strstr(slurp(errpath), "frame=      4 fps="));
    assert_non_null(strstr(slurp(errpath), " readers=1 drops=0"));
    ref_free(&ref);
    (void)state;
}

struct converted {
    const struct ref *ref;
    struct SwsContext *sws;
};

static void check_converted(const fbus_frame *fr, int i, void *ctx)
{
    struct converted *c = ctx;
    const AVFrame *src = c->ref->frames[i];
    uint8_t *dst[4];
    int linesize[4];

    assert_true(i < c->ref->n);
    assert_string_equal(fr->format.pix_fmt, "rgb24");
    assert_int_equal(fr->format.width, 80);
    assert_int_equal(fr->format.height, 60);
    assert_int_equal(fr->format.nb_planes, 1);
    assert_int_equal(fr->format.planes[0].row_bytes, 240);
    assert_int_equal(fr->pts, src->pts);
    /* The same conversion the producer documents: bicubic, 64-byte rows. */
    c->sws = sws_getCachedContext(c->sws, src->width, src->height, src->format, 80, 60,
                                  AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL, NULL, NULL);
    assert_non_null(c->sws);
    assert_true(av_image_alloc(dst, linesize, 80, 60, AV_PIX_FMT_RGB24, 64) > 0);
    sws_scale(c->sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height, dst,
              linesize);
    for (int y = 0; y < 60; y++) {
        if (memcmp(fr->data[0] + (size_t)y * fr->format.planes[0].stride, dst[0] + y * linesize[0],
                   240) != 0) {
            av_freep(&dst[0]);
            fail_msg("frame %d row %d differs from the test's own conversion", i, y);
        }
    }
    av_freep(&dst[0]);
}

static void test_convert(void **state)
{
    struct ref ref;
    struct converted c = {.ref = &ref};

    ref_decode(clip("ffv1.mkv"), &ref);
    child = spawn(clip("ffv1.mkv"), "--bus", bus, "--pix-fmt", "rgb24", "--size", "80x60", "--fps",
                  "max", "--wait-readers", "1", "--quiet", NULL);
    assert_int_equal(read_all(FBUS_TRANSPORT_POSIX, check_converted, &c), ref.n);
    assert_int_equal(finish(10000), 0);
    sws_freeContext(c.sws);
    ref_free(&ref);
    (void)state;
}

/* ------------------------------------------------------------ pattern */

/* Read the frame number the pattern drew, -1 if no digit is legible. */
static long read_number(const fbus_frame *fr)
{
    int s = PROD_PATTERN_SCALE((int)fr->format.height);
    int org = PROD_PATTERN_ORIGIN(s);
    const uint8_t *y0 = fr->data[0];
    uint32_t stride = fr->format.planes[0].stride;
    long n = -1;

    for (int k = 0; k < 12; k++) {
        uint8_t glyph[PROD_FONT_ROWS] = {0};
        int any = 0, digit = -1;

        for (int cy = 0; cy < PROD_FONT_ROWS; cy++) {
            for (int cx = 0; cx < PROD_FONT_COLS; cx++) {
                int x = org + (k * PROD_FONT_ADVANCE + cx) * s + s / 2;
                int y = org + cy * s + s / 2;
                if (y0[(size_t)y * stride + (size_t)x] > 128) {
                    glyph[cy] |= (uint8_t)(0x10 >> cx);
                    any = 1;
                }
            }
        }
        if (!any)
            break;
        for (int d = 0; d < 10; d++)
            if (memcmp(glyph, prod_font_digits[d], sizeof(glyph)) == 0)
                digit = d;
        if (digit < 0)
            return -1;
        n = (n < 0 ? 0 : n * 10) + digit;
    }
    return n;
}

struct pattern {
    uint32_t w, h;
    uint64_t prev_sum;
    uint64_t pts[64];
};

static void check_pattern(const fbus_frame *fr, int i, void *ctx)
{
    struct pattern *p = ctx;
    uint64_t sum = tu_checksum(fr->data, &fr->format);

    assert_string_equal(fr->format.pix_fmt, "yuv420p");
    assert_int_equal(fr->format.width, p->w);
    assert_int_equal(fr->format.height, p->h);
    assert_int_equal(fr->seq, (uint64_t)i + 1);
    assert_int_equal(read_number(fr), i);
    if (i > 0)
        assert_true(sum != p->prev_sum);
    p->prev_sum = sum;
    if (i < 64)
        p->pts[i] = (uint64_t)fr->pts;
}

static void test_pattern(void **state)
{
    struct pattern p = {.w = 320, .h = 240};

    child = spawn("--bus", bus, "--size", "320x240", "--frames", "12", "--fps", "max",
                  "--wait-readers", "1", "--quiet", NULL);
    assert_int_equal(read_all(FBUS_TRANSPORT_POSIX, check_pattern, &p), 12);
    assert_int_equal(finish(10000), 0);
    for (int i = 0; i < 12; i++)
        assert_int_equal(p.pts[i], i);
    (void)state;
}

/* The default pattern is 1280x720 yuv420p at 30 fps, here over SysV. */
static void test_pattern_default_sysv(void **state)
{
    struct pattern p = {.w = 1280, .h = 720};
    int64_t t0 = tu_now_ns();

    child = spawn("--bus", bus, "--transport", "sysv", "--frames", "7", "--wait-readers", "1",
                  "--quiet", NULL);
    assert_int_equal(read_all(FBUS_TRANSPORT_SYSV, check_pattern, &p), 7);
    assert_int_equal(finish(10000), 0);
    /* Paced at 30 fps: 6 frame intervals cannot take less than 0.2 s. */
    assert_true(tu_now_ns() - t0 >= 190 * TU_MS);
    (void)state;
}

static void check_rgb_pattern(const fbus_frame *fr, int i, void *ctx)
{
    assert_string_equal(fr->format.pix_fmt, "bgra");
    assert_int_equal(fr->format.width, 64);
    assert_int_equal(fr->format.planes[0].row_bytes, 256);
    (void)i;
    (void)ctx;
}

static void test_pattern_converted(void **state)
{
    child = spawn("--bus", bus, "--size", "64x48", "--pix-fmt", "bgra", "--frames", "3", "--fps",
                  "max", "--wait-readers", "1", "--quiet", NULL);
    assert_int_equal(read_all(FBUS_TRANSPORT_POSIX, check_rgb_pattern, NULL), 3);
    assert_int_equal(finish(10000), 0);
    (void)state;
}

static void count_only(const fbus_frame *fr, int i, void *ctx)
{
    (void)fr;
    (void)i;
    (void)ctx;
}

/* Native pacing follows the clip's 25 fps: 7 intervals take 0.28 s or more. */
static void test_native_pacing(void **state)
{
    int64_t t0 = tu_now_ns();

    child = spawn(clip("corrupt.nut"), "--bus", bus, "--wait-readers", "1", "--quiet", NULL);
    assert_int_equal(read_all(FBUS_TRANSPORT_POSIX, count_only, NULL), 7);
    assert_int_equal(finish(10000), 0);
    assert_true(tu_now_ns() - t0 >= 270 * TU_MS);
    (void)state;
}

/* ------------------------------------------------------------ signals, bus */

static int wait_live(const char *name, fbus_stats *st)
{
    for (int i = 0; i < 500; i++) {
        if (fbus_stat(name, FBUS_TRANSPORT_POSIX, st) == 0 && st->frames > 0)
            return 0;
        tu_sleep_ms(10);
    }
    return -1;
}

/* A second producer on a live bus is refused; SIGTERM ends the first one
 * cleanly: readers see the end, the bus is gone, the exit status is 0. */
static void test_busy_and_sigterm(void **state)
{
    static fbus_stats st;
    fbus_reader_opts ro = {0};
    fbus_reader *r = NULL;
    fbus_frame fr;
    pid_t first;
    char expected[256];
    int ret;

    first = spawn("--bus", bus, "--size", "64x48", "--fps", "50", "--slots", "4", "--mode", "0640",
                  "--quiet", NULL);
    child = first;
    assert_int_equal(wait_live(bus, &st), 0);
    assert_int_equal(st.slots, 4);
    assert_int_equal(st.mode & 0777, 0640);
    assert_int_equal(st.state, FBUS_STATE_LIVE);

    /* The second one writes to errpath too: the first is quiet. */
    pid_t second = spawn("--bus", bus, "--frames", "1", NULL);
    assert_int_not_equal(tu_wait(second, 10000), 0);
    snprintf(expected, sizeof(expected), "framebus-producer: bus \"%s\": %s\n", bus,
             fbus_strerror(FBUS_EBUSY));
    assert_string_equal(slurp(errpath), expected);

    assert_int_equal(fbus_reader_open(bus, &ro, &r), 0);
    assert_int_equal(fbus_reader_acquire(r, 5 * TU_SEC, &fr), 0);
    assert_int_equal(fbus_reader_release(r, &fr), 0);
    assert_int_equal(kill(first, SIGTERM), 0);
    do {
        ret = fbus_reader_acquire(r, 5 * TU_SEC, &fr);
        if (ret == 0)
            fbus_reader_release(r, &fr);
    } while (ret == 0);
    assert_int_equal(ret, FBUS_EENDED);
    fbus_reader_close(r);
    assert_int_equal(finish(10000), 0);
    assert_int_equal(fbus_stat(bus, FBUS_TRANSPORT_POSIX, &st), -ENOENT);
    (void)state;
}

/* SIGINT while waiting for readers ends cleanly too. */
static void test_sigint_waiting(void **state)
{
    static fbus_stats st;

    child = spawn(clip("ffv1.mkv"), "--bus", bus, "--wait-readers", "2", "--quiet", NULL);
    for (int i = 0; i < 500 && fbus_stat(bus, FBUS_TRANSPORT_POSIX, &st) != 0; i++)
        tu_sleep_ms(10);
    assert_int_equal(fbus_stat(bus, FBUS_TRANSPORT_POSIX, &st), 0);
    assert_int_equal(kill(child, SIGINT), 0);
    assert_int_equal(finish(10000), 0);
    assert_int_equal(fbus_stat(bus, FBUS_TRANSPORT_POSIX, &st), -ENOENT);
    assert_string_equal(slurp(errpath), "");
    (void)state;
}

/* ------------------------------------------------------------ errors */

static void test_error_missing_file(void **state)
{
    char msg[PATH_MAX + 64];

    snprintf(msg, sizeof(msg), "%s: No such file or directory", clip("nosuch.mkv"));
    expect_error(msg, RUN(clip("nosuch.mkv"), "--bus", bus));
    (void)state;
}

static void test_error_not_media(void **state)
{
    char msg[PATH_MAX + 64];

    snprintf(msg, sizeof(msg), "%s: not a media file", clip("notes.dat"));
    expect_error(msg, RUN(clip("notes.dat"), "--bus", bus));
    (void)state;
}

static void test_error_no_video(void **state)
{
    char msg[PATH_MAX + 64];

    snprintf(msg, sizeof(msg), "%s: no video stream", clip("audio.wav"));
    expect_error(msg, RUN(clip("audio.wav"), "--bus", bus));
    (void)state;
}

static void test_error_no_decoder(void **state)
{
    char msg[PATH_MAX + 64];

    snprintf(msg, sizeof(msg), "%s: no decoder for video codec 'none'", clip("unknown.nut"));
    expect_error(msg, RUN(clip("unknown.nut"), "--bus", bus));
    (void)state;
}

static void test_error_undecodable(void **state)
{
    char msg[PATH_MAX + 64];

    snprintf(msg, sizeof(msg), "%s: could not decode any video frame", clip("undecodable.nut"));
    expect_error(msg, RUN(clip("undecodable.nut"), "--bus", bus));
    (void)state;
}

static void test_error_bad_bus_name(void **state)
{
    char msg[256];

    int status;

    snprintf(msg, sizeof(msg), "bus \"no/slash\": %s", fbus_strerror(FBUS_EBADNAME));
    status = RUN("--bus", "no/slash");
    expect_error(msg, status);
    /* A runtime error, status 1, as from framebus and framebus-viewer; a
     * bad command line is 2. */
    assert_int_equal(status, 1);
    assert_int_equal(RUN("--bus", bus, "--slots", "1"), 2);
    assert_int_equal(RUN("--bus", bus, "--frames", "0"), 2);
    assert_int_equal(RUN("--version"), 0);
    (void)state;
}

static void test_error_options(void **state)
{
    expect_error("invalid --slots \"1\" (expected a number from 2 to 64)",
                 RUN("--bus", bus, "--slots", "1"));
    expect_error("invalid --fps \"fast\" (expected native, max or frames per second, e.g. 25)",
                 RUN("--bus", bus, "--fps", "fast"));
    expect_error("invalid --size \"big\" (expected WIDTHxHEIGHT, e.g. 1280x720)",
                 RUN("--bus", bus, "--size", "big"));
    expect_error("invalid --pix-fmt \"yuv9000\" (expected a pixel format name, e.g. rgb24 or "
                 "nv12)",
                 RUN("--bus", bus, "--pix-fmt", "yuv9000"));
    expect_error("invalid --pix-fmt \"pal8\" (expected a pixel format libswscale can write)",
                 RUN("--bus", bus, "--pix-fmt", "pal8"));
    expect_error("invalid --transport \"tcp\" (expected posix or sysv)",
                 RUN("--bus", bus, "--transport", "tcp"));
    expect_error("invalid --mode \"0999\" (expected octal permission bits, e.g. 0640)",
                 RUN("--bus", bus, "--mode", "0999"));
    expect_error("invalid --frames \"0\" (expected a number of frames, 1 or more)",
                 RUN("--bus", bus, "--frames", "0"));
    expect_error("invalid --wait-readers \"many\" (expected a number from 0 to 64)",
                 RUN("--bus", bus, "--wait-readers", "many"));
    expect_error("unknown option \"--speed\" (see --help)", RUN("--bus", bus, "--speed", "2"));
    expect_error("option --frames needs a value", RUN("--bus", bus, "--frames"));
    expect_error("more than one input (\"a.mkv\" and \"b.mkv\")", RUN("a.mkv", "b.mkv"));
    (void)state;
}

/*
 * Write [a b; c d] (whole numbers, 16.16 in the file) as the display matrix
 * of the one track of an mp4, in its track header ('tkhd'), with no
 * translation: how a camera that mirrors (a selfie) marks its video. Debian's
 * ffmpeg 5.1 cannot write a mirror itself (no -display_hflip).
 */
static void set_tkhd_matrix(const char *path, int a, int b, int c, int d)
{
    const int32_t m[9] = {a * 65536, b * 65536, 0, c * 65536, d * 65536, 0, 0, 0, 1 << 30};
    static uint8_t buf[1 << 20];
    uint8_t *box = NULL;
    size_t n, at;
    FILE *f = fopen(path, "r+b");

    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf), f);
    assert_true(n > 0 && n < sizeof(buf));
    for (size_t i = 4; i + 4 <= n; i++) {
        if (memcmp(buf + i, "tkhd", 4) == 0) {
            assert_null(box); /* one track, one header */
            box = buf + i;
        }
    }
    assert_non_null(box);
    /* After the type: version and flags, then the times, track id and
     * duration (32-bit fields in version 0, 64-bit in 1), 8 reserved bytes,
     * layer, group, volume and 2 reserved bytes: then the matrix. */
    at = (size_t)(box - buf) + 4 + 4 + (box[4] == 0 ? 20 : 32) + 8 + 8;
    assert_true(at + sizeof(m) <= n);
    for (int i = 0; i < 9; i++) {
        uint32_t v = (uint32_t)m[i];
        uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        memcpy(buf + at + 4 * (size_t)i, be, 4);
    }
    assert_int_equal(fseek(f, (long)at, SEEK_SET), 0);
    assert_int_equal(fwrite(buf + at, 1, sizeof(m), f), sizeof(m));
    assert_int_equal(fclose(f), 0);
}

/*
 * A stream with a display matrix is published upright, as ffmpeg decodes it
 * (frame for frame the same: framemd5): each quarter turn, and each mirror a
 * matrix can hold (left-right, upside down, transposed both ways); with
 * --no-autorotate as stored. An even and an odd size (the chroma planes'
 * edges). Through the real programs and ffmpeg.
 */
static void test_autorotate(void **state)
{
    static const struct {
        const char *what;
        int rotate; /* ffmpeg's rotate= metadata, or */
        int m[4];   /* a display matrix [a b; c d] written into the file */
    } cases[] = {
        {"rotate=90", 90, {0}},
        {"rotate=180", 180, {0}},
        {"rotate=270", 270, {0}},
        {"mirrored left-right", 0, {-1, 0, 0, 1}},
        {"upside down", 0, {1, 0, 0, -1}},
        {"transposed", 0, {0, 1, 1, 0}},
        {"transposed across the other diagonal", 0, {0, -1, -1, 0}},
    };
    static const char *const sizes[] = {"96x64", "97x61"};
    char cmd[4 * PATH_MAX + 1024], rotate[32];

    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        snprintf(cmd, sizeof(cmd),
                 "ffmpeg -v error -y -f lavfi -i testsrc2=size=%s:rate=25 -frames:v 4 "
                 "-c:v mpeg4 '%s'",
                 sizes[s], clip("upright.mkv"));
        assert_int_equal(system(cmd), 0);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            /* Stream copy into mp4 with the turn or mirror in its display
             * matrix. */
            snprintf(rotate, sizeof(rotate), "-metadata:s:v:0 rotate=%d", cases[i].rotate);
            snprintf(cmd, sizeof(cmd), "ffmpeg -v error -y -i '%s' -c copy %s '%s'",
                     clip("upright.mkv"), cases[i].rotate ? rotate : "", clip("turned.mp4"));
            assert_int_equal(system(cmd), 0);
            if (!cases[i].rotate)
                set_tkhd_matrix(clip("turned.mp4"), cases[i].m[0], cases[i].m[1], cases[i].m[2],
                                cases[i].m[3]);
            for (int keep = 0; keep < 2; keep++) {
                /* cat started first, then the producer, which waits for it
                 * (a fixed sleep lost the race on a loaded machine); compare framemd5s
                 * of ffmpeg's own decode (autorotated unless
                 * -noautorotate). */
                snprintf(cmd, sizeof(cmd),
                         "set -e; d='%s'; "
                         "'%s/tools/framebus' cat %s --y4m --timeout 30 > \"$d/turned.y4m\" "
                         "2>/dev/null & "
                         "'%s' \"$d/turned.mp4\" --bus %s --fps max --wait-readers 1 "
                         "--quiet %s; "
                         "wait; "
                         "ffmpeg -v error %s -i \"$d/turned.mp4\" -f framemd5 - | grep -v '^#' | "
                         "cut -d, -f6 > \"$d/a.md5\"; "
                         "ffmpeg -v error -i \"$d/turned.y4m\" -f framemd5 - | grep -v '^#' | "
                         "cut -d, -f6 > \"$d/b.md5\"; "
                         "test -s \"$d/a.md5\"; cmp -s \"$d/a.md5\" \"$d/b.md5\"",
                         tmpdir, FBUS_TEST_BINDIR, bus, PRODUCER, bus,
                         keep ? "--no-autorotate" : "", keep ? "-noautorotate" : "");
                if (system(cmd) != 0)
                    fail_msg("%s %s%s: the bus's frames differ from ffmpeg's", sizes[s],
                             cases[i].what, keep ? " with --no-autorotate" : "");
            }
        }
    }
    (void)state;
}

static void test_help(void **state)
{
    char out[PATH_MAX];
    pid_t pid;
    int fd;

    snprintf(out, sizeof(out), "%s/help.txt", tmpdir);
    pid = fork();
    if (pid == 0) {
        fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, STDOUT_FILENO);
        execl(PRODUCER, "framebus-producer", "--help", (char *)NULL);
        _exit(127);
    }
    assert_int_equal(tu_wait(pid, 10000), 0);
    assert_non_null(strstr(slurp(out), "Usage: framebus-producer [INPUT] [options]"));
    assert_non_null(strstr(slurp(out), "Examples:"));
    assert_non_null(strstr(slurp(out), "--wait-readers N"));
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ffv1_mkv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mpeg4_mp4_642x362, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decoded_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_place_decoder_copied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_h264_mp4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_10bit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gbrp_odd_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolution_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_mp4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_autorotate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_packet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frames_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_convert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pattern, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pattern_default_sysv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pattern_converted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_native_pacing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_and_sigterm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigint_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_not_media, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_no_video, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_no_decoder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_undecodable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_bad_bus_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help, setup, teardown),
    };

    return cmocka_run_group_tests(tests, make_clips, remove_clips);
}
