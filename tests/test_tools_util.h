/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the framebus command tests: run a bash command line (the
 * `framebus` binary is $FB, ffmpeg is on PATH) in a private temporary
 * directory with a time limit, capture its output, and compare frame hashes.
 */
#ifndef FBUS_TEST_TOOLS_UTIL_H
#define FBUS_TEST_TOOLS_UTIL_H

#include <stddef.h>

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

#endif /* FBUS_TEST_TOOLS_UTIL_H */
