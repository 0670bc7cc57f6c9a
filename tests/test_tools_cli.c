/* SPDX-License-Identifier: MIT */
/*
 * The framebus command against buses this test makes with the library:
 * list and stat show what the test's writers and readers really did; rm
 * refuses live producers and --stale removes dead ones; cat derives the
 * y4m rate from timestamps, stops a y4m stream whose size changes, and
 * refuses what y4m cannot carry. (Bad input and options: test_tools_errors.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tools_util.h"
#include "testutil.h"

#define RUN_MS 20000

/* ------------------------------------------------------------ list, stat */

static void test_list_stat_live(void **state)
{
    char a[FBUS_NAME_MAX + 1], b[FBUS_NAME_MAX + 1], want[512], planes[256];
    fbus_reader_opts ro = {0};
    fbus_format fa, fb;
    fbus_writer *wa, *wb;
    fbus_reader *r = NULL;
    fbus_frame f;
    tt_result res;
    size_t n = 0;

    (void)state;
    tt_bus_name(a, sizeof(a), "ttlist");
    tt_bus_name(b, sizeof(b), "ttlist");
    wa = tt_open_writer(a, FBUS_TRANSPORT_POSIX, "yuv420p", 64, 48, 4, &fa);
    wb = tt_open_writer(b, FBUS_TRANSPORT_SYSV, "gray", 32, 16, 2, &fb);
    ro.policy = FBUS_POLICY_LOSSLESS;
    assert_int_equal(fbus_reader_open(a, &ro, &r), 0);
    /* Three frames on a, of which the reader takes two; one on b. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(tu_publish(wa, &fa, TU_SEC, NULL), 0);
    assert_int_equal(tu_publish(wb, &fb, TU_SEC, NULL), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &f), 0);
        assert_true(tu_verify(&f, (uint64_t)i + 1));
        assert_int_equal(fbus_reader_release(r, &f), 0);
    }

    tt_run(&res, RUN_MS, "\"$FB\" list --json");
    assert_int_equal(res.status, 0);
    assert_string_equal(res.err, "");
    snprintf(want, sizeof(want),
             "{\"name\": \"%s\", \"transport\": \"posix\", \"state\": \"live\", "
             "\"producer_pid\": %d, \"width\": 64, \"height\": 48, \"pix_fmt\": \"yuv420p\", "
             "\"slots\": 4, \"readers\": 1, \"frames\": 3, \"fps\": ",
             a, (int)getpid());
    tt_assert_contains(res.out, want);
    snprintf(want, sizeof(want),
             "{\"name\": \"%s\", \"transport\": \"sysv\", \"state\": \"live\", "
             "\"producer_pid\": %d, \"width\": 32, \"height\": 16, \"pix_fmt\": \"gray\", "
             "\"slots\": 2, \"readers\": 0, \"frames\": 1, \"fps\": ",
             b, (int)getpid());
    tt_assert_contains(res.out, want);
    assert_int_equal(res.out[0], '[');
    tt_free(&res);

    /* The table: one line per bus with the same facts. */
    tt_run(&res, RUN_MS, "\"$FB\" list | awk '$1 == \"%s\" || $1 == \"%s\" {$NF=\"\"; print}'", a,
           b);
    assert_int_equal(res.status, 0);
    snprintf(want, sizeof(want), "%s posix live 64x48 yuv420p 4 1 \n%s sysv live 32x16 gray 2 0 \n",
             a, b);
    assert_string_equal(res.out, want);
    tt_free(&res);

    /* Only one transport. */
    tt_run(&res, RUN_MS, "\"$FB\" --transport sysv list | awk '{print $1}' | grep -c ttlist-%d",
           (int)getpid());
    assert_string_equal(res.out, "1\n");
    tt_free(&res);

    /* stat: the plane table the writer used, and the reader's counters. */
    tt_run(&res, RUN_MS, "\"$FB\" stat %s --json", a);
    assert_int_equal(res.status, 0);
    for (uint32_t i = 0; i < fa.nb_planes; i++) {
        n += (size_t)snprintf(planes + n, sizeof(planes) - n,
                              "%s{\"offset\": %llu, \"stride\": %u, \"row_bytes\": %u, "
                              "\"rows\": %u}",
                              i ? ", " : "", (unsigned long long)fa.planes[i].offset,
                              fa.planes[i].stride, fa.planes[i].row_bytes, fa.planes[i].rows);
    }
    snprintf(want, sizeof(want),
             "\"format\": {\"width\": 64, \"height\": 48, \"pix_fmt\": \"yuv420p\", "
             "\"planes\": [%s]},",
             planes);
    tt_assert_contains(res.out, want);
    snprintf(want, sizeof(want), "\"producer_pid\": %d,", (int)getpid());
    tt_assert_contains(res.out, want);
    tt_assert_contains(res.out, "\"state\": \"live\",");
    tt_assert_contains(res.out, "\"slots\": 4,");
    tt_assert_contains(res.out, "\"frames\": 3,");
    snprintf(want, sizeof(want),
             "{\"pid\": %d, \"policy\": \"lossless\", \"frames\": 2, \"lag\": 1, "
             "\"overruns\": 0, \"drops\": 0, ",
             (int)getpid());
    tt_assert_contains(res.out, want);
    tt_free(&res);

    tt_run(&res, RUN_MS, "\"$FB\" stat %s", a);
    assert_int_equal(res.status, 0);
    snprintf(want, sizeof(want), "bus        %s (posix)\nstate      live\nproducer   pid %d, ", a,
             (int)getpid());
    assert_memory_equal(res.out, want, strlen(want));
    tt_assert_contains(res.out, "\nformat     64x48 yuv420p\n");
    tt_assert_contains(res.out, "\nframes     3 published, ");
    tt_assert_contains(res.out, "\nslots      4 x ");
    tt_assert_contains(res.out, "\nreaders    1\n");
    snprintf(want, sizeof(want), "\n  %-8d lossless           2      1         0        0  ",
             (int)getpid());
    tt_assert_contains(res.out, want);
    tt_free(&res);

    /* A sysv bus is found without saying --transport. */
    tt_run(&res, RUN_MS, "\"$FB\" stat %s | head -2", b);
    snprintf(want, sizeof(want), "bus        %s (sysv)\nstate      live\n", b);
    assert_string_equal(res.out, want);
    tt_free(&res);

    fbus_reader_close(r);
    fbus_writer_close(wa);
    fbus_writer_close(wb);
}

static void test_stat_watch(void **state)
{
    char a[FBUS_NAME_MAX + 1], want[128];
    fbus_format fa;
    fbus_writer *wa;
    tt_result res;
    char *out, *p;
    int clears = 0, ok;

    (void)state;
    tt_bus_name(a, sizeof(a), "ttwatch");
    wa = tt_open_writer(a, FBUS_TRANSPORT_POSIX, "gray", 16, 16, 3, &fa);
    tt_run(&res, 70000,
           "\"$FB\" stat %s --watch > watch.txt & p=$!\n"
           /* Two screens drawn (about a second apart), then Ctrl-C. */
           "for i in $(seq 600); do [ \"$(grep -c '%s (posix)' watch.txt 2>/dev/null)\" -ge 2 ] && "
           "break; "
           "sleep 0.1; done\n"
           "kill -INT $p; wait $p; echo rc=$?",
           a, a);
    assert_string_equal(res.out, "rc=0\n");
    assert_string_equal(res.err, "");
    tt_free(&res);
    out = tt_read("watch.txt", NULL);
    assert_non_null(out);
    /* Redrawn in place (home + clear) at least twice, every time the bus. */
    for (p = out; (p = strstr(p, "\033[H\033[2J")) != NULL; p++)
        clears++;
    snprintf(want, sizeof(want), "\033[H\033[2Jbus        %s (posix)\n", a);
    ok = strncmp(out, want, strlen(want)) == 0;
    if (clears < 2 || !ok)
        print_message("stat --watch wrote %d screens:\n%s\n", clears, out);
    free(out);
    assert_true(clears >= 2);
    assert_true(ok);
    fbus_writer_close(wa);
}

/* stat --watch ends when its reader goes (`| head -3`), and --json is JSON
 * Lines: one whole object per line, errors on stderr. */
static void test_stat_watch_pipe(void **state)
{
    char a[FBUS_NAME_MAX + 1], none[FBUS_NAME_MAX + 1], want[256];
    fbus_format fa;
    fbus_writer *wa;
    tt_result res;
    char *line, *save = NULL;
    int n = 0;

    (void)state;
    tt_bus_name(a, sizeof(a), "ttwpipe");
    tt_bus_name(none, sizeof(none), "ttwpipe");
    wa = tt_open_writer(a, FBUS_TRANSPORT_POSIX, "gray", 16, 16, 3, &fa);
    assert_int_equal(tu_publish(wa, &fa, TU_SEC, NULL), 0);
    tt_run(&res, 30000,
           "timeout 20 \"$FB\" stat %s --watch | head -3 > /dev/null; echo rc=${PIPESTATUS[0]}", a);
    assert_string_equal(res.out, "rc=0\n");
    assert_string_equal(res.err, "");
    tt_free(&res);

    tt_run(&res, 30000, "timeout 20 \"$FB\" stat %s --watch --json | head -2", a);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.err, "");
    snprintf(want, sizeof(want), "{\"name\": \"%s\",\"transport\": \"posix\",", a);
    for (line = strtok_r(res.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        assert_memory_equal(line, want, strlen(want));
        assert_int_equal(line[strlen(line) - 1], '}');
        tt_assert_contains(line, "\"frames\": 1,");
        n++;
    }
    assert_int_equal(n, 2);
    tt_free(&res);

    /* A bus that is not there: said once on stderr, nothing on stdout. */
    tt_run(&res, 30000,
           "\"$FB\" stat %s --watch --json & p=$!; sleep 1.5; kill -INT $p; wait $p; echo rc=$?",
           none);
    assert_string_equal(res.out, "rc=0\n");
    snprintf(want, sizeof(want),
             "framebus: stat: bus \"%s\": no such bus (is a producer running?)\n", none);
    assert_string_equal(res.err, want);
    tt_free(&res);
    fbus_writer_close(wa);
}

/* Publish at about 50 fps for 1.3 s (long enough for the library to
 * measure a rate), then die without ending the stream. */
static int die_after_a_while(void *arg)
{
    const char *name = arg;
    fbus_writer_opts o = {0};
    fbus_writer *w;
    fbus_format f;

    if (fbus_format_init(&f, "gray", 8, 8, 0) < 0 || fbus_writer_open(name, &o, &w) < 0)
        return 1;
    for (int i = 0; i < 65; i++) {
        if (tu_publish(w, &f, TU_SEC, NULL) < 0)
            return 2;
        tu_sleep_ms(20);
    }
    return 0;
}

/* The tools' view of a bus that published one frame: no rate yet (it is
 * in its first second). A run slower than that second (a loaded machine, a
 * sanitizer build) says nothing either way: it is tried again with a new
 * bus, up to 5 times. */
static void check_young(const char *dead)
{
    char young[FBUS_NAME_MAX + 1], want[256];
    int tries = 0;

    for (;; tries++) {
        fbus_writer *w;
        fbus_format f;
        tt_result res, res2;
        int64_t t0;

        assert_true(tries < 5);
        tt_bus_name(young, sizeof(young), "ttfps");
        t0 = tu_now_ns();
        w = tt_open_writer(young, FBUS_TRANSPORT_POSIX, "gray", 8, 8, 2, &f);
        assert_int_equal(tu_publish(w, &f, TU_SEC, NULL), 0);
        tt_run(&res, RUN_MS, "\"$FB\" list --json; \"$FB\" stat %s --json", young);
        tt_run(&res2, RUN_MS, "\"$FB\" list | awk '$1 == \"%s\" || $1 == \"%s\" {print $1, $NF}'",
               dead, young);
        fbus_writer_close(w);
        if (tu_now_ns() - t0 < 900 * TU_MS) {
            assert_int_equal(res.status, 0);
            snprintf(want, sizeof(want),
                     "{\"name\": \"%s\", \"transport\": \"posix\", \"state\": \"live\"", young);
            tt_assert_contains(res.out, want);
            tt_assert_contains(strstr(res.out, want), "\"frames\": 1, \"fps\": null}");
            tt_assert_contains(res.out, "\"frames\": 1,\n  \"fps\": null,");
            snprintf(want, sizeof(want), "%s -\n%s -\n", dead, young);
            assert_string_equal(res2.out, want);
        }
        tt_free(&res);
        tt_free(&res2);
        if (tu_now_ns() - t0 < 900 * TU_MS)
            return;
        print_message("the tools took more than 0.9 s: again with a new bus\n");
    }
}

/* The rate shown is one a producer is publishing at: none for a dead bus
 * (not its last rate forever), none yet in a bus's first second (not 0). */
static void test_fps_shown(void **state)
{
    char dead[FBUS_NAME_MAX + 1], want[256];
    fbus_stats st;
    tt_result res;
    pid_t child;

    (void)state;
    tt_bus_name(dead, sizeof(dead), "ttfps");
    child = tu_fork(die_after_a_while, dead, 20);
    assert_int_equal(tu_wait(child, 20000), 0);
    for (int i = 0; i < 100; i++) {
        if (fbus_stat(dead, FBUS_TRANSPORT_POSIX, &st) == 0 && st.state == FBUS_STATE_DEAD)
            break;
        tu_sleep_ms(50);
    }
    assert_int_equal(st.state, FBUS_STATE_DEAD);

    tt_run(&res, RUN_MS, "\"$FB\" list --json; \"$FB\" stat %s", dead);
    assert_int_equal(res.status, 0);
    snprintf(want, sizeof(want), "{\"name\": \"%s\", \"transport\": \"posix\", \"state\": \"dead\"",
             dead);
    tt_assert_contains(res.out, want);
    tt_assert_contains(strstr(res.out, want), "\"frames\": 65, \"fps\": null}");
    tt_assert_contains(res.out, "frames     65 published, - fps, last ");
    tt_free(&res);
    check_young(dead);
}

/* ------------------------------------------------------------------- rm */

static int die_with_bus(void *arg)
{
    const char *name = arg;
    fbus_writer_opts o = {0};
    fbus_writer *w;
    fbus_format f;

    if (fbus_format_init(&f, "gray", 8, 8, 0) < 0 || fbus_writer_open(name, &o, &w) < 0)
        return 1;
    if (tu_publish(w, &f, TU_SEC, NULL) < 0)
        return 2;
    return 0; /* exits without closing: the bus is left behind, dead */
}

static void test_rm_rules(void **state)
{
    char live[FBUS_NAME_MAX + 1], dead[FBUS_NAME_MAX + 1], want[256];
    fbus_format f;
    fbus_writer *w;
    tt_result res;
    pid_t child;

    (void)state;
    tt_bus_name(live, sizeof(live), "ttrm");
    tt_bus_name(dead, sizeof(dead), "ttrm");
    w = tt_open_writer(live, FBUS_TRANSPORT_POSIX, "gray", 8, 8, 2, &f);
    child = tu_fork(die_with_bus, dead, 10);
    assert_int_equal(tu_wait(child, 10000), 0);
    assert_true(tt_bus_exists(dead, FBUS_TRANSPORT_POSIX));
    /* The library looks at the pid once the heartbeat is a little old:
     * wait until it calls the producer dead. */
    for (int i = 0; i < 100; i++) {
        fbus_stats st;
        if (fbus_stat(dead, FBUS_TRANSPORT_POSIX, &st) == 0 && st.state == FBUS_STATE_DEAD)
            break;
        tu_sleep_ms(50);
    }

    tt_run(&res, RUN_MS, "\"$FB\" list --json");
    snprintf(want, sizeof(want), "{\"name\": \"%s\", \"transport\": \"posix\", \"state\": \"dead\"",
             dead);
    tt_assert_contains(res.out, want);
    tt_free(&res);

    /* A live producer is refused, and its bus stays. */
    snprintf(want, sizeof(want),
             "framebus: rm: bus \"%s\" has a live producer (pid %d); use --force to remove it\n",
             live, (int)getpid());
    tt_expect(1, want, "\"$FB\" rm %s", live);
    assert_true(tt_bus_exists(live, FBUS_TRANSPORT_POSIX));

    /* --stale removes the dead bus only (the pattern keeps this test away
     * from other tests' buses). */
    tt_run(&res, RUN_MS, "\"$FB\" rm --stale 'ttrm-%d-*'", (int)getpid());
    assert_int_equal(res.status, 0);
    assert_string_equal(res.err, "");
    snprintf(want, sizeof(want), "removed %s (posix, dead)\n", dead);
    assert_string_equal(res.out, want);
    tt_free(&res);
    assert_false(tt_bus_exists(dead, FBUS_TRANSPORT_POSIX));
    assert_true(tt_bus_exists(live, FBUS_TRANSPORT_POSIX));

    /* --force removes a live one; then it is gone. */
    tt_expect(0, "", "\"$FB\" rm --force %s", live);
    assert_false(tt_bus_exists(live, FBUS_TRANSPORT_POSIX));
    snprintf(want, sizeof(want), "framebus: rm: bus \"%s\": no such bus (is a producer running?)\n",
             live);
    tt_expect(1, want, "\"$FB\" rm %s", live);

    fbus_writer_close(w);
}

/* Files that hold a name without being a bus: list shows them as broken,
 * stat and the producer say what they are, rm and rm --stale remove them. */
static void test_broken_files(void **state)
{
    char empty[FBUS_NAME_MAX + 1], blank[FBUS_NAME_MAX + 1], rsv[FBUS_NAME_MAX + 1];
    char path[3][128], tmp[128], want[4096];
    tt_result res;
    FILE *f;

    (void)state;
    tt_bus_name(empty, sizeof(empty), "ttbrk1");
    tt_bus_name(blank, sizeof(blank), "ttbrk2");
    tt_bus_name(rsv, sizeof(rsv), "ttbrk3");
    snprintf(path[0], sizeof(path[0]), "/dev/shm/framebus.%s", empty);
    snprintf(path[1], sizeof(path[1]), "/dev/shm/framebus.%s", blank);
    snprintf(path[2], sizeof(path[2]), "/dev/shm/framebus-rsv.%s.p.00000000deadbeef", rsv);
    /* A temporary region whose maker is gone: pid 2^22 + 1 is above any
     * pid_max, and no lock is held on it. */
    snprintf(tmp, sizeof(tmp), "/dev/shm/framebus-tmp.4194305.%016llx",
             (unsigned long long)getpid());
    memset(want, 0, sizeof(want));
    for (int i = 0; i < 3; i++) {
        f = fopen(path[i], "w");
        assert_non_null(f);
        /* The second is a region never initialised: zeros. */
        if (i == 1)
            assert_int_equal(fwrite(want, 1, 4096, f) == 4096 ? 0 : -1, 0);
        fclose(f);
    }
    f = fopen(tmp, "w");
    assert_non_null(f);
    fclose(f);

    tt_run(&res, RUN_MS,
           "\"$FB\" list | awk '$1 ~ /^ttbrk[123]-%d-/ || $4 ~ /4194305/ {print $1, $2, $3, $4}'",
           (int)getpid());
    /* Sorted by bus name: the temporary region (no name) comes first. */
    snprintf(want, sizeof(want),
             "- posix broken %s:\n%s posix broken %s:\n%s posix broken %s:\n%s posix broken %s:\n",
             tmp, empty, path[0], blank, path[1], rsv, path[2]);
    assert_string_equal(res.out, want);
    tt_free(&res);
    tt_run(&res, RUN_MS, "\"$FB\" list --json");
    snprintf(want, sizeof(want),
             "{\"name\": \"%s\", \"transport\": \"posix\", \"state\": \"broken\", \"file\": "
             "\"%s\", \"error\": \"empty file\"}",
             empty, path[0]);
    tt_assert_contains(res.out, want);
    tt_free(&res);

    snprintf(want, sizeof(want),
             "framebus: stat: bus \"%s\": %s is not a bus (empty file); `framebus rm %s` "
             "removes it\n",
             empty, path[0], empty);
    tt_expect(1, want, "\"$FB\" stat %s", empty);
    snprintf(want, sizeof(want),
             "framebus-producer: bus \"%s\": %s is not a bus (empty file); `framebus rm %s` "
             "removes it\n",
             empty, path[0], empty);
    tt_expect(1, want, "%s/producer/framebus-producer --bus %s -q --frames 1", FBUS_TEST_BINDIR,
              empty);
    tt_expect(0, "", "\"$FB\" rm %s", empty);
    assert_int_equal(access(path[0], F_OK), -1);

    /* rm --stale leaves what may still be in the making (2 s), then takes
     * the rest. */
    tu_sleep_ms(2200);
    tt_run(&res, RUN_MS, "\"$FB\" rm --stale 'ttbrk[123]-%d-*'", (int)getpid());
    assert_int_equal(res.status, 0);
    assert_string_equal(res.err, "");
    snprintf(want, sizeof(want),
             "removed %s (never initialised)\nremoved %s (reservation of a lossless reader that "
             "died)\n",
             path[1], path[2]);
    assert_string_equal(res.out, want);
    tt_free(&res);
    assert_int_equal(access(path[1], F_OK), -1);
    assert_int_equal(access(path[2], F_OK), -1);
    /* The temporary region has no bus name: its file name is matched (the
     * library may also have swept it meanwhile). */
    tt_expect(0, "", "\"$FB\" rm --stale 'framebus-tmp.4194305.*' > /dev/null");
    assert_int_equal(access(tmp, F_OK), -1);
}

/* ------------------------------------------------------------------- cat */

struct writer_job {
    char name[FBUS_NAME_MAX + 1];
    const char *pix_fmt[2]; /* formats of the frames, in turn */
    uint32_t w[2], h[2];
    int frames;
    int32_t tb_num, tb_den;
    int64_t pts_step; /* 0: pts unknown */
    int crash_only;   /* crash_and_restart: no second producer */
};

/* A producer that waits for one reader, publishes its frames and ends. */
static int run_writer(void *arg)
{
    const struct writer_job *j = arg;
    fbus_writer_opts o = {0};
    fbus_format f[2];
    fbus_writer *w;
    int rc;

    for (int i = 0; i < 2; i++) {
        if (fbus_format_init(&f[i], j->pix_fmt[i], j->w[i], j->h[i], 0) < 0)
            return 1;
    }
    o.format = &f[0];
    /* Right after a crash the dead producer's heartbeat is still fresh and
     * the library calls the name busy for a moment (see bus-bugs T3). */
    for (int i = 0; (rc = fbus_writer_open(j->name, &o, &w)) == FBUS_EBUSY && i < 60; i++)
        tu_sleep_ms(50);
    if (rc < 0)
        return 2;
    if (fbus_writer_wait_readers(w, 1, 10 * TU_SEC) < 0)
        return 3;
    for (int i = 0; i < j->frames; i++) {
        fbus_meta m = {.pts = INT64_MIN};
        fbus_slot s;

        if (j->pts_step) {
            m.pts = 1000 + i * j->pts_step;
            m.tb_num = j->tb_num;
            m.tb_den = j->tb_den;
        }
        if (fbus_writer_acquire(w, &f[i > 0], 5 * TU_SEC, &s) < 0)
            return 4;
        tu_fill(&s, s.seq);
        if (fbus_writer_publish(w, &s, &m) < 0)
            return 5;
    }
    fbus_writer_close(w);
    return 0;
}

/* Check that y4m text holds `frames` frames of fmt with tu_fill's pattern
 * for seq 1, 2, ... after a header line equal to header. */
static void check_y4m_seqs(const char *y4m, size_t len, const char *header, const fbus_format *fmt,
                           int frames, const uint64_t *seqs)
{
    size_t hl = strlen(header), pos = hl, pic = 0;
    fbus_format packed = *fmt;

    assert_true(len >= hl);
    assert_memory_equal(y4m, header, hl);
    for (uint32_t i = 0; i < fmt->nb_planes; i++) {
        packed.planes[i].offset = pic;
        packed.planes[i].stride = fmt->planes[i].row_bytes;
        pic += (size_t)fmt->planes[i].row_bytes * fmt->planes[i].rows;
    }
    assert_int_equal(len, hl + (size_t)frames * (6 + pic));
    for (int k = 0; k < frames; k++) {
        const uint8_t *data[FBUS_MAX_PLANES];

        assert_memory_equal(y4m + pos, "FRAME\n", 6);
        pos += 6;
        for (uint32_t i = 0; i < fmt->nb_planes; i++)
            data[i] = (const uint8_t *)y4m + pos + packed.planes[i].offset;
        assert_true(tu_checksum(data, &packed) ==
                    tu_pattern_checksum(fmt, seqs ? seqs[k] : (uint64_t)k + 1));
        pos += pic;
    }
}

static void check_y4m(const char *y4m, size_t len, const char *header, const fbus_format *fmt,
                      int frames)
{
    check_y4m_seqs(y4m, len, header, fmt, frames, NULL);
}

static void test_cat_rate(void **state)
{
    static const struct {
        int32_t tb_num, tb_den;
        int64_t step;
        const char *rate;
    } cases[] = {
        {1, 90000, 3000, "F30:1"},       /* clock ticks: rate from pts steps */
        {1, 1000, 40, "F25:1"},          /* milliseconds */
        {1001, 30000, 1, "F30000:1001"}, /* a frame-counting time base */
        {1, 90000, 3003, "F30000:1001"}, /* NTSC in ticks */
        {0, 0, 0, "F25:1"},              /* unknown: ffmpeg's default */
    };
    fbus_format f;

    (void)state;
    assert_int_equal(fbus_format_init(&f, "gray", 16, 8, 0), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct writer_job j = {.pix_fmt = {"gray", "gray"}, .w = {16, 16}, .h = {8, 8}};
        char header[128], *y4m;
        tt_result res;
        size_t len;
        pid_t child;

        tt_bus_name(j.name, sizeof(j.name), "ttrate");
        j.frames = 3;
        j.tb_num = cases[i].tb_num;
        j.tb_den = cases[i].tb_den;
        j.pts_step = cases[i].step;
        child = tu_fork(run_writer, &j, 20);
        tt_run(&res, RUN_MS, "\"$FB\" cat %s --y4m --timeout 10 > rate.y4m", j.name);
        assert_int_equal(res.status, 0);
        assert_string_equal(res.err, "");
        tt_free(&res);
        assert_int_equal(tu_wait(child, 10000), 0);
        y4m = tt_read("rate.y4m", &len);
        assert_non_null(y4m);
        snprintf(header, sizeof(header), "YUV4MPEG2 W16 H8 %s Ip A1:1 Cmono\n", cases[i].rate);
        check_y4m(y4m, len, header, &f, 3);
        free(y4m);
    }
}

static void test_cat_format_change(void **state)
{
    struct writer_job j = {.pix_fmt = {"yuv420p", "yuv420p"}, .w = {64, 32}, .h = {48, 32}};
    char want[512], *out;
    tt_result res;
    size_t len;
    pid_t child;

    (void)state;
    j.frames = 2;
    j.tb_num = 1;
    j.tb_den = 25;
    j.pts_step = 1;

    /* y4m cannot change size: cat stops after the first frame. */
    tt_bus_name(j.name, sizeof(j.name), "ttchange");
    child = tu_fork(run_writer, &j, 20);
    tt_run(&res, RUN_MS, "\"$FB\" cat %s --y4m --timeout 10 > change.y4m", j.name);
    snprintf(want, sizeof(want),
             "framebus: cat: bus \"%s\": format changed from 64x48 yuv420p to 32x32 yuv420p; "
             "a y4m stream cannot change (use --raw)\n",
             j.name);
    assert_string_equal(res.err, want);
    assert_int_equal(res.status, 1);
    tt_free(&res);
    assert_int_equal(tu_wait(child, 10000), 0);
    out = tt_read("change.y4m", &len);
    {
        fbus_format f;
        assert_int_equal(fbus_format_init(&f, "yuv420p", 64, 48, 0), 0);
        check_y4m(out, len, "YUV4MPEG2 W64 H48 F25:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n", &f, 1);
    }
    free(out);

    /* Raw output goes on, and says the new options. */
    tt_bus_name(j.name, sizeof(j.name), "ttchange");
    child = tu_fork(run_writer, &j, 20);
    tt_run(&res, RUN_MS, "\"$FB\" cat %s --raw --timeout 10 | wc -c", j.name);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.out, "6144\n"); /* 64x48 and 32x32 yuv420p */
    assert_string_equal(res.err,
                        "framebus: cat: ffmpeg reads this with: -f rawvideo -pix_fmt yuv420p -s "
                        "64x48 -r 25\n"
                        "framebus: cat: ffmpeg reads this with: -f rawvideo -pix_fmt yuv420p -s "
                        "32x32 -r 25\n");
    tt_free(&res);
    assert_int_equal(tu_wait(child, 10000), 0);
}

static void test_cat_not_y4m(void **state)
{
    struct writer_job j = {.pix_fmt = {"nv12", "nv12"}, .w = {64, 64}, .h = {48, 48}};
    char want[256];
    pid_t child;

    (void)state;
    j.frames = 1;
    tt_bus_name(j.name, sizeof(j.name), "ttnv12");
    child = tu_fork(run_writer, &j, 20);
    snprintf(want, sizeof(want),
             "framebus: cat: bus \"%s\": pixel format \"nv12\" cannot be carried in y4m (use "
             "--raw)\n",
             j.name);
    tt_expect(1, want, "\"$FB\" cat %s --y4m --timeout 10 > /dev/null", j.name);
    tu_wait(child, 10000);
}

static void test_cat_frames_latest(void **state)
{
    struct writer_job j = {.pix_fmt = {"gray", "gray"}, .w = {32, 32}, .h = {8, 8}};
    fbus_format f;
    tt_result res;
    pid_t child;
    char *out;
    size_t len;

    (void)state;
    assert_int_equal(fbus_format_init(&f, "gray", 32, 8, 0), 0);
    j.frames = 5;
    j.tb_num = 1;
    j.tb_den = 10;
    j.pts_step = 1;
    tt_bus_name(j.name, sizeof(j.name), "ttframes");
    child = tu_fork(run_writer, &j, 20);
    /* Lossless with --frames 2: exactly the first two frames. */
    tt_run(&res, RUN_MS, "\"$FB\" cat %s --y4m --frames 2 --timeout 10 > two.y4m", j.name);
    assert_int_equal(res.status, 0);
    tt_free(&res);
    tu_wait(child, 10000);
    out = tt_read("two.y4m", &len);
    check_y4m(out, len, "YUV4MPEG2 W32 H8 F10:1 Ip A1:1 Cmono\n", &f, 2);
    free(out);

    /* --latest takes whole frames too. */
    j.frames = 1;
    tt_bus_name(j.name, sizeof(j.name), "ttframes");
    child = tu_fork(run_writer, &j, 20);
    tt_run(&res, RUN_MS, "\"$FB\" cat %s --y4m --latest --frames 1 --timeout 10 > one.y4m", j.name);
    assert_int_equal(res.status, 0);
    tt_free(&res);
    tu_wait(child, 10000);
    out = tt_read("one.y4m", &len);
    check_y4m(out, len, "YUV4MPEG2 W32 H8 F10:1 Ip A1:1 Cmono\n", &f, 1);
    free(out);
}

/* One producer that dies after 3 frames, then another under the same name
 * (taking the dead one's region over) with 3 more that ends the stream. */
static int crash_and_restart(void *arg)
{
    const struct writer_job *j = arg;
    pid_t first = fork();
    int status = 0;

    if (first < 0)
        return 1;
    if (first == 0) {
        struct writer_job once = *j;
        fbus_writer_opts o = {0};
        fbus_writer *w;
        fbus_format f;

        if (fbus_format_init(&f, once.pix_fmt[0], once.w[0], once.h[0], 0) < 0)
            _exit(1);
        o.format = &f;
        if (fbus_writer_open(once.name, &o, &w) < 0 ||
            fbus_writer_wait_readers(w, 1, 10 * TU_SEC) < 0)
            _exit(2);
        for (int i = 0; i < 3; i++) {
            if (tu_publish(w, &f, 5 * TU_SEC, NULL) < 0)
                _exit(3);
        }
        _exit(0); /* dies without ending the stream */
    }
    if (waitpid(first, &status, 0) != first || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 10;
    if (j->crash_only)
        return 0;
    return run_writer(arg);
}

static void test_cat_follows_crash(void **state)
{
    struct writer_job j = {.pix_fmt = {"gray", "gray"}, .w = {24, 24}, .h = {8, 8}};
    static const uint64_t seqs[6] = {1, 2, 3, 1, 2, 3};
    fbus_format f;
    tt_result res;
    pid_t child;
    char *out;
    size_t len;

    (void)state;
    assert_int_equal(fbus_format_init(&f, "gray", 24, 8, 0), 0);
    j.frames = 3;
    tt_bus_name(j.name, sizeof(j.name), "ttcrash");
    /* Without --follow, a producer that died is an error, not an end: the
     * frames it published come out, then one line and a failure. */
    j.crash_only = 1;
    child = tu_fork(crash_and_restart, &j, 30);
    tt_run(&res, RUN_MS, "\"$FB\" cat %s --y4m --timeout 15 > crash.y4m", j.name);
    assert_non_null(strstr(res.err, "producer is gone"));
    assert_int_equal(res.status, 1);
    tt_free(&res);
    assert_int_equal(tu_wait(child, 20000), 0);
    out = tt_read("crash.y4m", &len);
    check_y4m_seqs(out, len, "YUV4MPEG2 W24 H8 F25:1 Ip A1:1 Cmono\n", &f, 3, seqs);
    free(out);
    tu_bus_cleanup(j.name);

    /* With --follow the next producer is followed, and the y4m stream goes
     * on with the same format. */
    j.crash_only = 0;
    child = tu_fork(crash_and_restart, &j, 30);
    tt_run(&res, RUN_MS, "\"$FB\" cat %s --y4m --follow --frames 6 --timeout 15 > crash.y4m",
           j.name);
    assert_string_equal(res.err, "");
    assert_int_equal(res.status, 0);
    tt_free(&res);
    assert_int_equal(tu_wait(child, 20000), 0);
    out = tt_read("crash.y4m", &len);
    check_y4m_seqs(out, len, "YUV4MPEG2 W24 H8 F25:1 Ip A1:1 Cmono\n", &f, 6, seqs);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_list_stat_live, tt_test_cleanup),
        cmocka_unit_test_teardown(test_stat_watch, tt_test_cleanup),
        cmocka_unit_test_teardown(test_stat_watch_pipe, tt_test_cleanup),
        cmocka_unit_test_teardown(test_fps_shown, tt_test_cleanup),
        cmocka_unit_test_teardown(test_rm_rules, tt_test_cleanup),
        cmocka_unit_test_teardown(test_broken_files, tt_test_cleanup),

        cmocka_unit_test_teardown(test_cat_rate, tt_test_cleanup),
        cmocka_unit_test_teardown(test_cat_format_change, tt_test_cleanup),
        cmocka_unit_test_teardown(test_cat_not_y4m, tt_test_cleanup),
        cmocka_unit_test_teardown(test_cat_frames_latest, tt_test_cleanup),
        cmocka_unit_test_teardown(test_cat_follows_crash, tt_test_cleanup),
    };
    return cmocka_run_group_tests(tests, tt_group_setup, tt_group_teardown);
}
