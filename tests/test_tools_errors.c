/* SPDX-License-Identifier: MIT */
/*
 * Every bad input and option of the framebus command gets its exact one-line
 * message and exit status (1 for errors, 2 for usage): unknown buses, bad bus
 * names, truncated or malformed y4m headers and frames, unknown pixel
 * formats, sizes that do not match; and help and --version say what they
 * should.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tools_util.h"
#include "testutil.h"

#define RUN_MS 20000

static void test_unknown_bus(void **state)
{
    char name[FBUS_NAME_MAX + 1], want[256];

    (void)state;
    tt_bus_name(name, sizeof(name), "ttnone");
    snprintf(want, sizeof(want),
             "framebus: stat: bus \"%s\": no such bus (is a producer running?)\n", name);
    tt_expect(1, want, "\"$FB\" stat %s", name);
    snprintf(want, sizeof(want), "framebus: rm: bus \"%s\": no such bus (is a producer running?)\n",
             name);
    tt_expect(1, want, "\"$FB\" rm %s", name);
    snprintf(want, sizeof(want),
             "framebus: cat: bus \"%s\": no such bus (is a producer running?)\n", name);
    tt_expect(1, want, "\"$FB\" cat %s --timeout 0.3 > /dev/null", name);
    tt_expect(1,
              "framebus: stat: bus \"bad/name\": invalid bus name (use 1-64 characters of A-Z a-z "
              "0-9 . _ -)\n",
              "\"$FB\" stat bad/name");
    tt_expect(1,
              "framebus: cat: bus \"bad name\": invalid bus name (use 1-64 characters of A-Z a-z "
              "0-9 . _ -)\n",
              "\"$FB\" cat 'bad name' > /dev/null");
}

/* A live bus whose object belongs to another user (root can chown it
 * there): cat reads it by default and refuses it with --same-user. */
static void test_other_users_bus(void **state)
{
    char name[FBUS_NAME_MAX + 1], want[256], path[128];
    fbus_writer *w;
    fbus_format fmt;
    tt_result r;

    (void)state;
    if (geteuid() != 0)
        skip();
    tt_bus_name(name, sizeof(name), "ttowner");
    w = tt_open_writer(name, FBUS_TRANSPORT_POSIX, "gray", 64, 48, 3, &fmt);
    assert_non_null(w);
    assert_int_equal(tu_publish(w, &fmt, TU_SEC, NULL), 0);
    snprintf(path, sizeof(path), "/dev/shm/framebus.%s", name);
    assert_int_equal(chown(path, 65534, 65534), 0);
    snprintf(want, sizeof(want), "framebus: cat: bus \"%s\": bus belongs to another user\n", name);
    tt_expect(1, want, "\"$FB\" cat %s --same-user > /dev/null", name);
    assert_int_equal(tt_run(&r, RUN_MS, "\"$FB\" cat %s --latest --frames 1 | wc -c", name), 0);
    assert_int_equal(atoi(r.out), 64 * 48);
    tt_free(&r);
    fbus_writer_close(w);
}

/* Run `framebus cat NAME ARGS...` as uid (-1: as this process), stdout into
 * file out and stderr into err (both in tt_dir()): the exit status. */
static int cat_as(long uid, const char *name, const char *args, const char *out, const char *err)
{
    char cmd[512], o[512], e[512];
    pid_t pid;

    snprintf(cmd, sizeof(cmd), "exec \"%s\" cat %s %s", tt_framebus(), name, args);
    snprintf(o, sizeof(o), "%s/%s", tt_dir(), out);
    snprintf(e, sizeof(e), "%s/%s", tt_dir(), err);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The files are opened before the uid changes: tt_dir() is root's. */
        if (!freopen(o, "w", stdout) || !freopen(e, "w", stderr))
            _exit(125);
        if (uid >= 0 && tu_become((uid_t)uid, (gid_t)uid, NULL, 0) != 0)
            _exit(126);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return tu_wait(pid, RUN_MS);
}

/* A bus this user may only read (0644, another user's): a lossless cat,
 * the default, cannot take part in the writer's backpressure, and says to
 * use --latest, which works. As root the bus is root's and cat runs as
 * nobody; otherwise the object is made read-only (0444) for its owner. */
static void test_lossless_read_only(void **state)
{
    char name[FBUS_NAME_MAX + 1], want[320], path[128];
    fbus_writer_opts o = {0};
    fbus_writer *w = NULL;
    fbus_format fmt;
    long reader = 65534; /* nobody */
    size_t len;
    char *text;

    (void)state;
    tt_bus_name(name, sizeof(name), "ttro");
    assert_int_equal(fbus_format_init(&fmt, "gray", 64, 48, 0), 0);
    o.transport = FBUS_TRANSPORT_POSIX;
    o.format = &fmt;
    o.mode = 0644;
    assert_int_equal(fbus_writer_open(name, &o, &w), 0);
    assert_int_equal(tu_publish(w, &fmt, TU_SEC, NULL), 0);
    if (geteuid() != 0) {
        print_message("test_lossless_read_only: NOT ROOT: the cross-user case (a root bus read "
                      "by nobody) is NOT checked; checking a bus made read-only (0444) for its "
                      "owner instead\n");
        snprintf(path, sizeof(path), "/dev/shm/framebus.%s", name);
        assert_int_equal(chmod(path, 0444), 0);
        reader = -1;
    }
    snprintf(want, sizeof(want),
             "framebus: cat: bus \"%s\": read-only access to this bus: cannot read every frame "
             "(--latest watches the newest ones)\n",
             name);
    assert_int_equal(cat_as(reader, name, "--timeout 10", "ro.out", "ro.err"), 1);
    text = tt_read("ro.err", &len);
    assert_non_null(text);
    assert_string_equal(text, want);
    free(text);
    text = tt_read("ro.out", &len);
    assert_non_null(text);
    assert_int_equal(len, 0);
    free(text);
    /* The hint holds: --latest reads the newest frame. */
    assert_int_equal(cat_as(reader, name, "--latest --frames 1 --timeout 10", "ro.out", "ro.err"),
                     0);
    text = tt_read("ro.out", &len);
    assert_non_null(text);
    assert_int_equal(len, 64 * 48);
    free(text);
    fbus_writer_close(w);
}

static void test_put_errors(void **state)
{
    static const struct {
        const char *input; /* bash producing stdin */
        const char *args;
        const char *err; /* after "framebus: put: " */
    } cases[] = {
        {"true", "--y4m", "no input (expected a y4m stream on stdin)"},
        {"printf 'YUV4MPEG2 W64 H48'", "--y4m",
         "truncated y4m header (input ended before its end of line)"},
        {"printf 'P5 64 48\\n'", "--y4m",
         "bad y4m header: not a y4m stream (it does not start with \"YUV4MPEG2\")"},
        {"printf 'YUV4MPEG2 W64 H48 Ix\\n'", "--y4m",
         "bad y4m header: bad interlacing \"Ix\" (expected Ip, It, Ib or I?)"},
        {"printf 'YUV4MPEG2 W64 H48 C420foo\\n'", "--y4m",
         "bad y4m header: unknown colour format \"C420foo\""},
        {"printf 'YUV4MPEG2 H48 F25:1\\n'", "--y4m", "bad y4m header: header has no width (W tag)"},
        {"printf 'YUV4MPEG2 W64 H48 X%0300d\\n' 0", "--y4m",
         "bad y4m header: longer than 255 bytes"},
        {"printf 'YUV4MPEG2 W64 H48\\nFRAMX\\n'", "--y4m",
         "frame 1: bad frame header \"FRAMX\" (expected FRAME)"},
        {"printf 'YUV4MPEG2 W64 H48\\nFRA'", "--y4m", "frame 1: truncated frame header"},
        {"{ printf 'YUV4MPEG2 W64 H48 F25:1\\nFRAME\\n'; head -c 100 /dev/zero; }", "--y4m",
         "frame 1 is truncated: got 100 of 4608 bytes"},
        {"{ printf 'YUV4MPEG2 W64 H48\\nFRAME\\n'; head -c 4608 /dev/zero; echo garbage; }",
         "--y4m", "frame 2: bad frame header \"garbage\" (expected FRAME)"},
        {"head -c 3000 /dev/zero", "--size 64x48 --pix-fmt gray",
         "frame 1 is truncated: got 3000 of 3072 bytes (do --size and --pix-fmt match the "
         "input?)"},
        {"head -c 7000 /dev/zero", "--size 64x48 --pix-fmt gray --fps 30",
         "frame 3 is truncated: got 856 of 3072 bytes (do --size and --pix-fmt match the "
         "input?)"},
        {"head -c 7000 /dev/zero", "--size 64x48 --pix-fmt foo", "unknown pixel format \"foo\""},
        {"head -c 7000 /dev/zero", "--size 8x8 --pix-fmt vaapi",
         "pixel format \"vaapi\" is not supported (hardware frames)"},
        {"printf 'YUV4MPEG2 W64 H48\\n'", "--y4m --size 32x32",
         "input is 64x48 yuv420p but the options say 32x32 yuv420p"},
        {"printf 'YUV4MPEG2 W64 H48 Cmono\\n'", "--y4m --pix-fmt yuv420p",
         "input is 64x48 gray but the options say 64x48 yuv420p"},
    };
    char name[FBUS_NAME_MAX + 1], want[512];

    (void)state;
    tt_bus_name(name, sizeof(name), "ttput");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(want, sizeof(want), "framebus: put: %s\n", cases[i].err);
        tt_expect(1, want, "%s | \"$FB\" put %s %s", cases[i].input, name, cases[i].args);
        /* A put that failed leaves no bus behind. */
        assert_false(tt_bus_exists(name, FBUS_TRANSPORT_POSIX));
    }

    /* A name a live producer holds. */
    {
        fbus_format f;
        fbus_writer *w = tt_open_writer(name, FBUS_TRANSPORT_POSIX, "gray", 8, 8, 2, &f);

        snprintf(want, sizeof(want), "framebus: put: bus \"%s\" is in use by a live producer\n",
                 name);
        tt_expect(1, want, "printf 'YUV4MPEG2 W8 H8 Cmono\\n' | \"$FB\" put %s --y4m", name);
        fbus_writer_close(w);
    }
}

static void test_usage_errors(void **state)
{
    static const struct {
        const char *args;
        const char *err;
    } cases[] = {
        {"", "framebus: which command? (see 'framebus help')"},
        {"frob", "framebus: no such command \"frob\" (see 'framebus help')"},
        {"help frob", "framebus: no such command \"frob\" (see 'framebus help')"},
        {"--bogus list", "framebus: unknown option \"--bogus\" (see 'framebus help')"},
        {"--transport foo list",
         "framebus: unknown transport \"foo\" (posix or sysv) (see 'framebus help')"},
        {"list --bogus", "framebus: list: unknown option \"--bogus\" (see 'framebus help list')"},
        {"list extra", "framebus: list: unexpected argument \"extra\" (see 'framebus help list')"},
        {"stat", "framebus: stat: which bus? (framebus stat NAME) (see 'framebus help stat')"},
        {"stat a b", "framebus: stat: unexpected argument \"b\" (see 'framebus help stat')"},
        {"rm", "framebus: rm: which bus? (framebus rm NAME, or rm --stale) (see 'framebus help "
               "rm')"},
        {"rm --stale --force",
         "framebus: rm: --stale and --force exclude each other (see 'framebus help rm')"},
        {"cat", "framebus: cat: which bus? (framebus cat NAME) (see 'framebus help cat')"},
        {"cat x --frames 0",
         "framebus: cat: --frames wants a positive count, not \"0\" (see 'framebus help cat')"},
        {"cat x --timeout soon",
         "framebus: cat: --timeout wants seconds, not \"soon\" (see 'framebus help cat')"},
        {"cat x --timeout",
         "framebus: cat: option \"--timeout\" needs a value (see 'framebus help cat')"},
        {"cat x --y4m --raw",
         "framebus: cat: --y4m and --raw exclude each other (see 'framebus help cat')"},
        {"cat x -q", "framebus: cat: unknown option \"-q\" (see 'framebus help cat')"},
        {"cat x --transport shm",
         "framebus: cat: unknown transport \"shm\" (posix or sysv) (see 'framebus help cat')"},
        {"put x", "framebus: put: raw input needs --size and --pix-fmt (or use --y4m) (see "
                  "'framebus help put')"},
        {"put x --size 64x48",
         "framebus: put: raw input needs both --size and --pix-fmt (see 'framebus help put')"},
        {"put x --size 12 --y4m", "framebus: put: --size wants WIDTHxHEIGHT (1 to 32768), not "
                                  "\"12\" (see 'framebus help put')"},
        {"put x --size 0x10 --y4m", "framebus: put: --size wants WIDTHxHEIGHT (1 to 32768), not "
                                    "\"0x10\" (see 'framebus help put')"},
        {"put x --slots 1 --y4m",
         "framebus: put: --slots wants 2 to 64, not \"1\" (see 'framebus help put')"},
        {"put x --fps abc --y4m", "framebus: put: --fps wants a rate like 30 or 30000/1001, not "
                                  "\"abc\" (see 'framebus help put')"},
        {"put x --wait-readers many --y4m",
         "framebus: put: --wait-readers wants 0 to 64, not \"many\" (see 'framebus help put')"},
    };
    char want[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(want, sizeof(want), "%s\n", cases[i].err);
        tt_expect(2, want, "\"$FB\" %s < /dev/null > /dev/null", cases[i].args);
    }
}

/* cat on a name nobody holds waits, and says so once. */
static void test_cat_says_waiting(void **state)
{
    char name[FBUS_NAME_MAX + 1], want[256];

    (void)state;
    tt_bus_name(name, sizeof(name), "ttwait");
    snprintf(want, sizeof(want),
             "framebus: cat: bus \"%s\": no such bus yet; waiting for a producer\n", name);
    tt_expect(0, want, "\"$FB\" cat %s > /dev/null & p=$!; sleep 1.5; kill -INT $p; wait $p", name);
}

/* Output that does not arrive is an error: one message, status 1. */
static void test_write_errors(void **state)
{
    static const struct {
        const char *args, *err;
    } cases[] = {
        {"list", "framebus: list: writing to stdout: No space left on device\n"},
        {"list --json", "framebus: list: writing to stdout: No space left on device\n"},
        {"--help", "framebus: writing to stdout: No space left on device\n"},
        {"--version", "framebus: writing to stdout: No space left on device\n"},
        {"help cat", "framebus: writing to stdout: No space left on device\n"},
        {"stat --help", "framebus: stat: writing to stdout: No space left on device\n"},
    };
    char bus[FBUS_NAME_MAX + 1], want[256];
    fbus_format f;
    fbus_writer *w;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        tt_expect(1, cases[i].err, "\"$FB\" %s > /dev/full", cases[i].args);
    tt_bus_name(bus, sizeof(bus), "ttfull");
    w = tt_open_writer(bus, FBUS_TRANSPORT_POSIX, "gray", 8, 8, 2, &f);
    snprintf(want, sizeof(want), "framebus: stat: writing to stdout: No space left on device\n");
    tt_expect(1, want, "\"$FB\" stat %s > /dev/full", bus);
    tt_expect(1, want, "\"$FB\" stat %s --json > /dev/full", bus);
    tt_expect(1, want, "timeout 10 \"$FB\" stat %s --watch > /dev/full", bus);
    fbus_writer_close(w);
}

static void test_help_version(void **state)
{
    static const char *const cmds[] = {"list", "stat", "rm", "cat", "put", "bench"};
    tt_result res, res2;

    (void)state;
    tt_run(&res, RUN_MS, "\"$FB\" --version");
    assert_int_equal(res.status, 0);
    assert_string_equal(res.out, "framebus 0.1.0 (libframebus 0.1, bus layout 2)\n");
    tt_free(&res);

    tt_run(&res, RUN_MS, "\"$FB\" --help");
    assert_int_equal(res.status, 0);
    assert_memory_equal(res.out, "usage: framebus ", 16);
    tt_assert_contains(res.out, "\nexamples:\n");
    tt_free(&res);

    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char want[64];

        tt_run(&res, RUN_MS, "\"$FB\" help %s", cmds[i]);
        tt_run(&res2, RUN_MS, "\"$FB\" %s --help", cmds[i]);
        assert_int_equal(res.status, 0);
        assert_int_equal(res2.status, 0);
        snprintf(want, sizeof(want), "usage: framebus %s", cmds[i]);
        assert_memory_equal(res.out, want, strlen(want));
        tt_assert_contains(res.out, "\nexamples:\n");
        assert_string_equal(res.out, res2.out);
        tt_free(&res);
        tt_free(&res2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_unknown_bus, tt_test_cleanup),
        cmocka_unit_test_teardown(test_other_users_bus, tt_test_cleanup),
        cmocka_unit_test_teardown(test_lossless_read_only, tt_test_cleanup),
        cmocka_unit_test_teardown(test_put_errors, tt_test_cleanup),
        cmocka_unit_test_teardown(test_usage_errors, tt_test_cleanup),
        cmocka_unit_test_teardown(test_help_version, tt_test_cleanup),
        cmocka_unit_test_teardown(test_write_errors, tt_test_cleanup),
        cmocka_unit_test_teardown(test_cat_says_waiting, tt_test_cleanup),
    };
    return cmocka_run_group_tests(tests, tt_group_setup, tt_group_teardown);
}
