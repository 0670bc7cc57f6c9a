/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the framebus command tests: run a bash command line (the
 * `framebus` binary is $FB, ffmpeg is on PATH) in a private temporary
 * directory with a time limit, capture its output, and compare frame hashes.
 */
#ifndef FBUS_TEST_TOOLS_UTIL_H
#define FBUS_TEST_TOOLS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "framebus/framebus.h"

typedef struct tt_result {
    int status; /* exit status, 128 + signal, or -1 if killed on timeout */
    char *out;  /* stdout, NUL-terminated */
    char *err;  /* stderr, NUL-terminated */
} tt_result;

/* Create the temporary directory (cwd of every command). 0 or -1. */
int tt_setup(void);
/* Remove it and everything in it. */
void tt_teardown(void);
const char *tt_dir(void);
/* Path of the framebus binary under test. */
const char *tt_framebus(void);
/* Whether the ffmpeg command-line tool runs. */
int tt_have_ffmpeg(void);

/*
 * Run `bash -c CMD` (printf-style) with `set -o pipefail`, FB set to the
 * framebus binary, in tt_dir(), for at most timeout_ms; stdin is /dev/null
 * unless the command redirects it. Everything the command started is killed
 * when it returns. Returns r->status.
 */
int tt_run(tt_result *r, int timeout_ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tt_free(tt_result *r);

/* Contents of a file in tt_dir() (NUL-terminated; NULL if missing). */
char *tt_read(const char *name, size_t *len);

/* The hash column of each frame line of ffmpeg -f framemd5 output in file
 * `name`, one per line, into a new string; *count gets the frame count. */
char *tt_md5_column(const char *name, int *count);

/* A bus name unique to this run ("PREFIX-PID-N", like tu_bus_name), which
 * tt_cleanup_buses() removes on both transports even if a test failed. */
char *tt_bus_name(char *buf, size_t size, const char *prefix);
void tt_cleanup_buses(void);

/* cmocka fixtures every tools test program shares: the group's setup
 * (tt_setup) and teardown (buses, then the directory), and the per-test
 * teardown that removes the test's buses, pass or fail. */
int tt_group_setup(void **state);
int tt_group_teardown(void **state);
int tt_test_cleanup(void **state);

/* cmocka checks shared by the command tests. */

/* Open a writer for a w x h pix_fmt bus with `slots` slots; fmt gets the
 * format. Fails the test if that does not work. */
fbus_writer *tt_open_writer(const char *name, fbus_transport t, const char *pix_fmt, uint32_t w,
                            uint32_t h, uint32_t slots, fbus_format *fmt);
/* Run a command (printf-style) and check its exit status and exact stderr. */
void tt_expect(int status, const char *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* strstr, saying what was missing from what on failure. */
#define tt_assert_contains(hay, needle) tt_assert_contains_(hay, needle, __FILE__, __LINE__)
void tt_assert_contains_(const char *hay, const char *needle, const char *file, int line);
int tt_bus_exists(const char *name, fbus_transport t);

#endif /* FBUS_TEST_TOOLS_UTIL_H */
