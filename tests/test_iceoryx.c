/* SPDX-License-Identifier: MIT */
/*
 * Tests of bench/bench_iceoryx, the iceoryx side of the comparison: with few
 * small frames it must deliver every frame with the right checksum and
 * sequence to every lossless reader, flat out and paced, and fail with one
 * line on a bad option or without iox-roudi. No timing asserts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_tools_util.h"

#define BENCH_ICEORYX FBUS_TEST_BINDIR "/bench/bench_iceoryx"
/* Room for a wait on another run's lock (bench/iceoryx.sh holds it for a
 * few seconds at a time). */
#define TIMEOUT_MS 90000

/* One row of the table: "iceoryx writer" or "iceoryx reader N". */
struct row {
    unsigned long long frames, drops, overruns, bad;
    double fps, cpu, p50, p99, max;
};

/* Find the row named `name` in out; fails the test if it is missing. */
static void find_row(const char *out, const char *name, int is_reader, struct row *r)
{
    const char *p = out;
    size_t len = strlen(name);

    memset(r, 0, sizeof(*r));
    for (;;) {
        p = strstr(p, name);
        if (!p)
            fail_msg("no row \"%s\" in:\n%s", name, out);
        /* "iceoryx reader 1" must not match "iceoryx reader 12". */
        if ((p == out || p[-1] == '\n') && p[len] == ' ')
            break;
        p += len;
    }
    p += len;
    if (is_reader)
        assert_int_equal(sscanf(p, "%llu %lf %lf %llu %llu %llu %lf %lf %lf", &r->frames, &r->fps,
                                &r->cpu, &r->drops, &r->overruns, &r->bad, &r->p50, &r->p99,
                                &r->max),
                         9);
    else
        assert_int_equal(sscanf(p, "%llu %lf %lf", &r->frames, &r->fps, &r->cpu), 3);
}

/* Every reader of a lossless run got all `frames`, none bad or lost. */
static void expect_every_frame(const char *out, int readers, unsigned long long frames)
{
    struct row w, r;

    find_row(out, "iceoryx writer", 0, &w);
    assert_int_equal(w.frames, frames);
    for (int i = 1; i <= readers; i++) {
        char name[32];

        snprintf(name, sizeof(name), "iceoryx reader %d", i);
        find_row(out, name, 1, &r);
        assert_int_equal(r.frames, frames);
        assert_int_equal(r.drops, 0);
        assert_int_equal(r.bad, 0);
        assert_true(r.p50 > 0 && r.p50 <= r.p99 && r.p99 <= r.max);
    }
}

static void test_lossless_every_frame(void **state)
{
    tt_result r;

    (void)state;
    tt_run(&r, TIMEOUT_MS, "'%s' --size 320x240 --frames 60 --readers 2 --rounds 2", BENCH_ICEORYX);
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    tt_assert_contains(r.out, "2 readers, lossless, queue 2, 60 frames per round");
    expect_every_frame(r.out, 2, 60);
    tt_free(&r);
}

/* Paced, readers asleep on their waitset between frames: each frame still
 * arrives, with a publish -> take latency. */
static void test_paced_every_frame(void **state)
{
    tt_result r;

    (void)state;
    tt_run(&r, TIMEOUT_MS, "'%s' --size 320x240 --pix-fmt nv12 --fps 200 --frames 20 --rounds 1",
           BENCH_ICEORYX);
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    tt_assert_contains(r.out, "320x240 nv12");
    tt_assert_contains(r.out, "writer at most 200 fps");
    expect_every_frame(r.out, 1, 20);
    tt_free(&r);
}

/* Latest: frames may be skipped but never arrive bad or out of order (the
 * program exits 1 if they do). */
static void test_latest_in_order(void **state)
{
    tt_result r;
    struct row row;

    (void)state;
    tt_run(&r, TIMEOUT_MS, "'%s' --size 320x240 --policy latest --frames 100 --rounds 1",
           BENCH_ICEORYX);
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    find_row(r.out, "iceoryx reader 1", 1, &row);
    assert_true(row.frames >= 1 && row.frames + row.drops <= 100);
    assert_int_equal(row.bad, 0);
    tt_free(&r);
}

/* stderr is the line `want`, after at most a note that the run waited for
 * another one's lock. */
static void expect_one_error(const char *err, const char *want)
{
    const char *wait_note = "bench_iceoryx: waiting for another run to end";
    const char *p = err;

    if (strncmp(p, wait_note, strlen(wait_note)) == 0)
        p = strchr(p, '\n') + 1;
    if (strncmp(p, want, strlen(want)) != 0 || strcmp(p + strlen(want), "\n") != 0)
        fail_msg("expected the one line \"%s\", got:\n%s", want, err);
}

static void test_errors(void **state)
{
    tt_result r;

    (void)state;
    tt_expect(2, "bench_iceoryx: bad reader count \"0\" (1 to 64) (see 'bench_iceoryx --help')\n",
              "'%s' --readers 0", BENCH_ICEORYX);
    tt_expect(2,
              "bench_iceoryx: unknown policy \"fast\" (lossless or latest) (see "
              "'bench_iceoryx --help')\n",
              "'%s' --policy fast", BENCH_ICEORYX);
    /* No RouDi to start: one line, exit 1, nothing left running. */
    tt_run(&r, TIMEOUT_MS, "PATH=/nonexistent '%s' --frames 5", BENCH_ICEORYX);
    assert_int_equal(r.status, 1);
    expect_one_error(r.err, "bench_iceoryx: cannot start RouDi: iox-roudi not found (Debian: "
                            "apt-get install iceoryx)");
    tt_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lossless_every_frame),
        cmocka_unit_test(test_paced_every_frame),
        cmocka_unit_test(test_latest_in_order),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, tt_group_setup, tt_group_teardown);
}
