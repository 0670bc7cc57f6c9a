/* SPDX-License-Identifier: MIT */
/*
 * What a recording keeps besides the pixels: the frame rate and the pixel
 * aspect travel from the source (a VP9/WebM or FFV1/Matroska clip through
 * framebus-producer, or a y4m stream through `framebus put`) in the bus's
 * metadata to the header `framebus cat --y4m` writes. And --loop on an input
 * that cannot seek (a pipe) is refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tools_util.h"
#include "testutil.h"

#define RUN_MS 90000

/* The stream header line of a y4m file, without its newline. */
static char *y4m_header(const char *file)
{
    char *y4m = tt_read(file, NULL), *nl;

    assert_non_null(y4m);
    nl = strchr(y4m, '\n');
    assert_non_null(nl);
    *nl = '\0';
    return y4m;
}

/* ffmpeg makes `clip` from `lavfi` and `codec`; the producer publishes it as
 * fast as cat takes it; cat --y4m writes `frames` frames to got.y4m. */
static void produce_and_cat(const char *lavfi, const char *codec, const char *clip, int frames)
{
    char bus[FBUS_NAME_MAX + 1];
    tt_result r;

    tt_bus_name(bus, sizeof(bus), "ttmeta");
    tt_run(&r, RUN_MS, "ffmpeg -nostdin -v error -y -f lavfi -i %s -t 1 %s %s", lavfi, codec, clip);
    assert_int_equal(r.status, 0);
    tt_free(&r);
    tt_run(&r, RUN_MS,
           "\"$P\" %s --fps max --wait-readers 1 --bus %s -q & p=$!\n"
           "\"$FB\" cat %s --y4m --frames %d --timeout 20 > got.y4m; c=$?\n"
           "wait $p; echo \"cat=$c producer=$?\"",
           clip, bus, bus, frames);
    assert_string_equal(r.out, "cat=0 producer=0\n");
    assert_string_equal(r.err, "");
    tt_free(&r);
}

static void check_rate(const char *rate, const char *expect)
{
    char lavfi[128], clip[64];
    char *h;

    if (!tt_have_ffmpeg())
        fail_msg("ffmpeg not found");
    snprintf(lavfi, sizeof(lavfi), "testsrc2=size=96x64:rate=%s", rate);
    snprintf(clip, sizeof(clip), "r%s.webm", rate);
    for (char *s = clip; *s; s++)
        if (*s == '/')
            *s = '_';
    produce_and_cat(lavfi, "-c:v libvpx-vp9 -deadline realtime -cpu-used 8", clip, 5);
    h = y4m_header("got.y4m");
    tt_assert_contains(h, expect);
    free(h);
    /* One frame has no second timestamp to guess from: the rate the
     * producer published is still the stream's, not a default 25. */
    produce_and_cat(lavfi, "-c:v libvpx-vp9 -deadline realtime -cpu-used 8", clip, 1);
    h = y4m_header("got.y4m");
    tt_assert_contains(h, expect);
    free(h);
}

static void test_rate_ntsc_film(void **state)
{
    (void)state;
    check_rate("24000/1001", " F24000:1001 ");
}

static void test_rate_30(void **state)
{
    (void)state;
    check_rate("30", " F30:1 ");
}

static void test_rate_60(void **state)
{
    (void)state;
    check_rate("60", " F60:1 ");
}

static void test_sar_from_producer(void **state)
{
    char *h;

    (void)state;
    if (!tt_have_ffmpeg())
        fail_msg("ffmpeg not found");
    /* A PAL 16:9 picture: 720x576 pixels of 64:45 (here at 90x72). */
    produce_and_cat("testsrc2=size=90x72:rate=25,setsar=64/45", "-c:v ffv1", "sar.mkv", 3);
    h = y4m_header("got.y4m");
    tt_assert_contains(h, " F25:1 ");
    tt_assert_contains(h, " A64:45 ");
    free(h);
}

static void test_rate_and_sar_through_put(void **state)
{
    char bus[FBUS_NAME_MAX + 1];
    tt_result r;
    char *h;

    (void)state;
    if (!tt_have_ffmpeg())
        fail_msg("ffmpeg not found");
    tt_bus_name(bus, sizeof(bus), "ttmetaput");
    tt_run(&r, RUN_MS,
           "\"$FB\" cat %s --y4m --timeout 20 > got.y4m & c=$!\n"
           "ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=64x48:rate=30000/1001,setsar=10/11 "
           "-frames:v 4 -pix_fmt yuv420p -f yuv4mpegpipe - | "
           "\"$FB\" put %s --y4m --wait-readers 1; p=$?\n"
           "wait $c; echo \"put=$p cat=$?\"",
           bus, bus);
    assert_string_equal(r.out, "put=0 cat=0\n");
    assert_string_equal(r.err, "");
    tt_free(&r);
    h = y4m_header("got.y4m");
    tt_assert_contains(h, " F30000:1001 ");
    tt_assert_contains(h, " A10:11 ");
    free(h);
}

/* --loop needs to seek back: on a pipe it is refused, not one quiet pass. */
static void test_loop_on_pipe(void **state)
{
    tt_result r;

    (void)state;
    if (!tt_have_ffmpeg())
        fail_msg("ffmpeg not found");
    tt_run(&r, RUN_MS,
           "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=64x48:rate=25 -t 0.4 -c:v ffv1 "
           "loop.mkv && cat loop.mkv | \"$P\" - --loop --bus ttloop-%d -q",
           (int)getpid());
    assert_int_equal(r.status, 1);
    assert_string_equal(r.err, "framebus-producer: pipe:0: cannot loop: input is not seekable\n");
    tt_free(&r);
}

static int setup(void **state)
{
    (void)state;
    setenv("P", FBUS_TEST_BINDIR "/producer/framebus-producer", 1);
    return tt_setup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_rate_ntsc_film, tt_test_cleanup),
        cmocka_unit_test_teardown(test_rate_30, tt_test_cleanup),
        cmocka_unit_test_teardown(test_rate_60, tt_test_cleanup),
        cmocka_unit_test_teardown(test_sar_from_producer, tt_test_cleanup),
        cmocka_unit_test_teardown(test_rate_and_sar_through_put, tt_test_cleanup),
        cmocka_unit_test_teardown(test_loop_on_pipe, tt_test_cleanup),
    };
    return cmocka_run_group_tests(tests, setup, tt_group_teardown);
}
