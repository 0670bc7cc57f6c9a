/* SPDX-License-Identifier: MIT */
/*
 * framebus put and cat between real ffmpeg processes: a clip piped through
 * `ffmpeg | framebus put` -> bus -> `framebus cat | ffmpeg -f framemd5` gives
 * exactly the frame hashes of `ffmpeg -i clip -f framemd5`, as y4m and as
 * raw planes, for several pixel formats and odd sizes; cat ends cleanly when
 * its reader goes away and follows a producer that restarts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_tools_util.h"
#include "testutil.h"

#define RUN_MS 60000
#define FRAMES 6

static int have_ffmpeg;

struct clip {
    const char *pix_fmt;
    int w, h;
    const char *y4m_tags;  /* colour tags expected in cat's y4m header */
    const char *transport; /* NULL: posix, the default */
};

/* Make the clip (FRAMES frames at 10 fps) and ref_PIXFMT.md5, ffmpeg's own
 * hashes of its frames. The clip is y4m for the y4m tests (so colour range
 * tags are kept) and rawvideo in NUT for the others (any pixel format).
 * Returns the clip's file name. */
static const char *make_clip(const struct clip *c)
{
    static char path[64];
    tt_result r;

    snprintf(path, sizeof(path), "clip_%s.%s", c->pix_fmt, c->y4m_tags ? "y4m" : "nut");
    tt_run(&r, RUN_MS,
           "ffmpeg -v error -y -f lavfi -i testsrc=size=%dx%d:rate=10 -frames:v %d "
           "-pix_fmt %s %s %s -frames:v %d -pix_fmt %s -f framemd5 ref_%s.md5",
           c->w, c->h, FRAMES, c->pix_fmt,
           c->y4m_tags ? "-strict -1 -f yuv4mpegpipe" : "-c:v rawvideo -f nut", path, FRAMES,
           c->pix_fmt, c->pix_fmt);
    assert_int_equal(r.status, 0);
    tt_free(&r);
    return path;
}

/* The hashes in file got are those of ref, repeated `times` times. */
static void assert_same_frames(const char *ref_file, const char *got_file, int times)
{
    int nref, ngot;
    char *ref = tt_md5_column(ref_file, &nref);
    char *got = tt_md5_column(got_file, &ngot);
    size_t len;

    assert_non_null(ref);
    assert_non_null(got);
    assert_int_equal(nref, FRAMES);
    assert_int_equal(ngot, FRAMES * times);
    len = strlen(ref);
    assert_int_equal(strlen(got), len * (size_t)times);
    for (int i = 0; i < times; i++)
        assert_memory_equal(got + len * (size_t)i, ref, len);
    free(ref);
    free(got);
}

static void roundtrip_y4m(const struct clip *c)
{
    char bus[FBUS_NAME_MAX + 1], ref[64], header[160];
    const char *clip;
    char *y4m;
    tt_result r;

    if (!have_ffmpeg)
        skip();
    tt_bus_name(bus, sizeof(bus), "ttpipe");
    clip = make_clip(c);
    /* Which of cat and put starts first does not matter: put holds its
     * first frame until a reader is attached, and cat waits for the bus. */
    tt_run(&r, RUN_MS,
           "\"$FB\" %s%s cat %s --y4m --timeout 20 | tee got.y4m | "
           "ffmpeg -v error -y -f yuv4mpegpipe -i - -f framemd5 got.md5 & c=$!\n"
           "ffmpeg -v error -i %s -strict -1 -f yuv4mpegpipe - | "
           "\"$FB\" put %s --y4m --wait-readers 1 %s%s; p=$?\n"
           "wait $c; echo \"put=$p cat=$?\"",
           c->transport ? "--transport " : "", c->transport ? c->transport : "", bus, clip, bus,
           c->transport ? "--transport " : "", c->transport ? c->transport : "");
    assert_string_equal(r.out, "put=0 cat=0\n");
    assert_string_equal(r.err, "");
    tt_free(&r);

    snprintf(ref, sizeof(ref), "ref_%s.md5", c->pix_fmt);
    assert_same_frames(ref, "got.md5", 1);

    /* The header carries size, the rate put was given (10 fps from
     * ffmpeg's header) and the colour format the way ffmpeg writes it. */
    snprintf(header, sizeof(header), "YUV4MPEG2 W%d H%d F10:1 Ip A1:1 %s\nFRAME\n", c->w, c->h,
             c->y4m_tags);
    y4m = tt_read("got.y4m", NULL);
    assert_non_null(y4m);
    assert_memory_equal(y4m, header, strlen(header));
    free(y4m);
    /* put ended the stream and removed the bus. */
    assert_int_equal(fbus_stat(bus, FBUS_TRANSPORT_POSIX, &(fbus_stats){0}), -ENOENT);
    assert_int_equal(fbus_stat(bus, FBUS_TRANSPORT_SYSV, &(fbus_stats){0}), -ENOENT);
}

static void roundtrip_raw(const struct clip *c)
{
    char bus[FBUS_NAME_MAX + 1], ref[64], hint[200];
    const char *clip;
    tt_result r;
    char *err;

    if (!have_ffmpeg)
        skip();
    tt_bus_name(bus, sizeof(bus), "ttraw");
    clip = make_clip(c);
    tt_run(&r, RUN_MS,
           "\"$FB\" cat %s --raw --timeout 20 2>cat.err | "
           "ffmpeg -v error -y -f rawvideo -pix_fmt %s -s %dx%d -r 10 -i - -f framemd5 got.md5 "
           "& c=$!\n"
           "ffmpeg -v error -i %s -f rawvideo - | "
           "\"$FB\" put %s --size %dx%d --pix-fmt %s --fps 10 --wait-readers 1; p=$?\n"
           "wait $c; echo \"put=$p cat=$?\"",
           bus, c->pix_fmt, c->w, c->h, clip, bus, c->w, c->h, c->pix_fmt);
    assert_string_equal(r.out, "put=0 cat=0\n");
    assert_string_equal(r.err, "");
    tt_free(&r);

    snprintf(ref, sizeof(ref), "ref_%s.md5", c->pix_fmt);
    assert_same_frames(ref, "got.md5", 1);
    /* stderr names the ffmpeg options that read what cat wrote, and the
     * test above read it with exactly those. */
    snprintf(hint, sizeof(hint),
             "framebus: cat: ffmpeg reads this with: -f rawvideo -pix_fmt %s -s %dx%d -r 10\n",
             c->pix_fmt, c->w, c->h);
    err = tt_read("cat.err", NULL);
    assert_string_equal(err, hint);
    free(err);
}

static void test_y4m_yuv420p_odd(void **state)
{
    static const struct clip c = {"yuv420p", 97, 61, "C420jpeg XYSCSS=420JPEG", NULL};
    (void)state;
    roundtrip_y4m(&c);
}

static void test_y4m_yuv422p(void **state)
{
    static const struct clip c = {"yuv422p", 97, 61, "C422 XYSCSS=422", NULL};
    (void)state;
    roundtrip_y4m(&c);
}

static void test_y4m_yuv444p(void **state)
{
    static const struct clip c = {"yuv444p", 64, 48, "C444 XYSCSS=444", NULL};
    (void)state;
    roundtrip_y4m(&c);
}

static void test_y4m_gray(void **state)
{
    static const struct clip c = {"gray", 97, 61, "Cmono", NULL};
    (void)state;
    roundtrip_y4m(&c);
}

static void test_y4m_yuv420p10(void **state)
{
    /* An even width: ffmpeg 5.1's y4m muxer writes the chroma rows of odd
     * widths one byte short for formats above 8 bits (its demuxer, and we,
     * expect whole samples), so an odd width cannot round-trip via ffmpeg. */
    static const struct clip c = {"yuv420p10le", 98, 61, "C420p10 XYSCSS=420P10", NULL};
    (void)state;
    roundtrip_y4m(&c);
}

static void test_y4m_yuvj420p(void **state)
{
    static const struct clip c = {"yuvj420p", 64, 36, "C420jpeg XYSCSS=420JPEG XCOLORRANGE=FULL",
                                  NULL};
    (void)state;
    roundtrip_y4m(&c);
}

static void test_y4m_sysv(void **state)
{
    /* The other transport (cat started first must be told which). */
    static const struct clip c = {"yuv420p", 64, 48, "C420jpeg XYSCSS=420JPEG", "sysv"};
    (void)state;
    roundtrip_y4m(&c);
}

static void test_raw_yuv420p_odd(void **state)
{
    static const struct clip c = {"yuv420p", 97, 61, NULL, NULL};
    (void)state;
    roundtrip_raw(&c);
}

static void test_raw_nv12(void **state)
{
    /* A format y4m cannot carry. */
    static const struct clip c = {"nv12", 66, 38, NULL, NULL};
    (void)state;
    roundtrip_raw(&c);
}

static void test_raw_yuv420p10_odd(void **state)
{
    static const struct clip c = {"yuv420p10le", 97, 61, NULL, NULL};
    (void)state;
    roundtrip_raw(&c);
}

static void test_raw_libav_format(void **state)
{
    /* Not among the bus's built-in formats: the plane table comes from
     * libavutil. */
    static const struct clip c = {"yuv410p", 33, 17, NULL, NULL};
    (void)state;
    roundtrip_raw(&c);
}

static void test_raw_pal8(void **state)
{
    /* Paletted: the palette crosses the bus as plane 1 (1024 bytes), which
     * is where ffmpeg's rawvideo puts it, after the picture. The producer
     * publishes a decoder's paletted frames the same way. */
    static const struct clip c = {"pal8", 32, 18, NULL, NULL};
    (void)state;
    roundtrip_raw(&c);
}

static void test_follow_restart(void **state)
{
    static const struct clip c = {"yuv420p", 64, 48, NULL, NULL};
    char bus[FBUS_NAME_MAX + 1];
    const char *clip;
    tt_result r;

    (void)state;
    if (!have_ffmpeg)
        skip();
    tt_bus_name(bus, sizeof(bus), "ttfollow");
    clip = make_clip(&c);
    /* Two producers one after the other under one name: cat --follow
     * stays one y4m stream across them and loses no frame. */
    tt_run(&r, RUN_MS,
           "\"$FB\" cat %s --y4m --follow --frames %d --timeout 20 | "
           "ffmpeg -v error -y -f yuv4mpegpipe -i - -f framemd5 got.md5 & c=$!\n"
           "for i in 1 2; do ffmpeg -v error -i %s -f yuv4mpegpipe - | "
           "\"$FB\" put %s --y4m --wait-readers 1 || echo put failed; done\n"
           "wait $c; echo \"cat=$?\"",
           bus, 2 * FRAMES, clip, bus);
    assert_string_equal(r.out, "cat=0\n");
    assert_string_equal(r.err, "");
    tt_free(&r);
    assert_same_frames("ref_yuv420p.md5", "got.md5", 2);
}

static void test_cat_epipe(void **state)
{
    char bus[FBUS_NAME_MAX + 1];
    tt_result r;

    (void)state;
    if (!have_ffmpeg)
        skip();
    tt_bus_name(bus, sizeof(bus), "ttepipe");
    /* The reader of cat's output leaves after 20000 bytes: cat ends
     * quietly with status 0, and the producer, no longer held back by a
     * lossless reader, runs to its end. */
    tt_run(&r, RUN_MS,
           "ffmpeg -v error -f lavfi -i testsrc=size=64x48:rate=25 -frames:v 100 "
           "-pix_fmt yuv420p -f yuv4mpegpipe - | \"$FB\" put %s --y4m --wait-readers 1 & p=$!\n"
           "\"$FB\" cat %s --y4m --timeout 20 2>cat.err | head -c 20000 > head.out\n"
           "echo \"cat=${PIPESTATUS[0]}\"; wait $p; echo \"put=$?\"; wc -c < head.out",
           bus, bus);
    assert_string_equal(r.out, "cat=0\nput=0\n20000\n");
    assert_string_equal(r.err, "");
    tt_free(&r);
    {
        char *err = tt_read("cat.err", NULL);
        assert_string_equal(err, "");
        free(err);
    }
}

static int setup(void **state)
{
    (void)state;
    if (tt_setup() < 0)
        return -1;
    have_ffmpeg = tt_have_ffmpeg();
    if (!have_ffmpeg)
        fprintf(stderr, "ffmpeg not found: skipping the pipe tests\n");
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_y4m_yuv420p_odd, tt_test_cleanup),
        cmocka_unit_test_teardown(test_y4m_yuv422p, tt_test_cleanup),
        cmocka_unit_test_teardown(test_y4m_yuv444p, tt_test_cleanup),
        cmocka_unit_test_teardown(test_y4m_gray, tt_test_cleanup),
        cmocka_unit_test_teardown(test_y4m_yuv420p10, tt_test_cleanup),
        cmocka_unit_test_teardown(test_y4m_yuvj420p, tt_test_cleanup),
        cmocka_unit_test_teardown(test_y4m_sysv, tt_test_cleanup),
        cmocka_unit_test_teardown(test_raw_yuv420p_odd, tt_test_cleanup),
        cmocka_unit_test_teardown(test_raw_nv12, tt_test_cleanup),
        cmocka_unit_test_teardown(test_raw_yuv420p10_odd, tt_test_cleanup),
        cmocka_unit_test_teardown(test_raw_libav_format, tt_test_cleanup),
        cmocka_unit_test_teardown(test_raw_pal8, tt_test_cleanup),
        cmocka_unit_test_teardown(test_follow_restart, tt_test_cleanup),
        cmocka_unit_test_teardown(test_cat_epipe, tt_test_cleanup),
    };
    return cmocka_run_group_tests(tests, setup, tt_group_teardown);
}
