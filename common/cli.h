/* SPDX-License-Identifier: MIT */
/*
 * The command-line helpers the framebus command and the benchmarks share:
 * one-line errors, option value parsing, the stop flag signals set, names of
 * transports and states, and the list of buses.
 */
#ifndef FBUS_COMMON_CLI_H
#define FBUS_COMMON_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "framebus/framebus.h"

#define TOOL_NAME "framebus"

/* Exit codes: 0 success, 1 runtime error, 2 bad usage. */
enum { TOOL_EXIT_OK = 0, TOOL_EXIT_ERROR = 1, TOOL_EXIT_USAGE = 2 };

/* After a usage error: "Try 'framebus help CMD'." on stderr; returns 2. */
int tool_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* After getopt_long returned '?' or ':' (optstring starting "+:"): print
 * the unknown option or the one missing its value; returns 2. */
int tool_bad_option(const char *cmd, char **argv, int opt);

/* Print "framebus: CMD: message" on stderr (one line). */
void tool_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Set by SIGINT/SIGTERM (and SIGHUP) once tool_signals() ran. */
extern volatile sig_atomic_t tool_stop;
/* Install the stop handlers (without SA_RESTART, so blocking calls return
 * EINTR) and, if ignore_pipe, ignore SIGPIPE so writes fail with EPIPE. */
void tool_signals(int ignore_pipe);

/* Flush stdout and say whether everything written to it arrived: 0, or the
 * errno of the first failed write (EPIPE, ENOSPC...), on every later call
 * too. A program that wrote its output calls it before exiting: a write
 * error is an error (a closed pipe, EPIPE, is the normal end of a long
 * listing and is not reported). */
int tool_stdout_error(void);

/* Option values. Each returns 0, or -1 if s is not valid. */
int tool_parse_transport(const char *s, fbus_transport *t);
int tool_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int tool_parse_seconds(const char *s, double *out);
int tool_parse_size(const char *s, uint32_t *w, uint32_t *h);
/* "30", "30000/1001", "30000:1001" or "29.97", positive. */
int tool_parse_rate(const char *s, int *num, int *den);

const char *tool_transport_name(fbus_transport t);
const char *tool_state_name(fbus_state s);
/* A rate as ffmpeg's -r takes it: "30" or "30000/1001". */
const char *tool_rate_str(char *buf, size_t size, int num, int den);
/* Reduce num/den by their gcd. */
void tool_reduce(int64_t *num, int64_t *den);

/*
 * Which transport holds bus `name` when the user did not say: posix if a
 * posix bus of that name exists, else sysv if a sysv one does, else posix.
 */
fbus_transport tool_guess_transport(const char *name);

/* A bus-level error for `name` as one phrase ("no such bus (is a producer
 * running?)", "permission denied"...). */
const char *tool_bus_strerror(int err);

/* Every bus on the host, sorted by name then transport (tool_list_buses). */
typedef struct tool_bus {
    char name[FBUS_NAME_MAX + 1];
    fbus_transport transport;
} tool_bus;

/* Fill *out (free() it) with n buses. Returns 0 or a negative errno. */
int tool_list_buses(tool_bus **out, size_t *n);

/* Write s as a JSON string, quotes included. */
void tool_json_string(void *f, const char *s);

/* The publishing rate worth showing for a bus: 1 and *fps, or 0 when there
 * is none to show (no producer publishing: ended or dead; or a live one in
 * its first second, before the library measured a rate). */
int tool_bus_fps(const fbus_stats *st, double *fps);

/* The rate as a table shows it: "30.0", or "-" (tool_bus_fps). */
const char *tool_fps_str(char *buf, size_t size, const fbus_stats *st);

/* The rate as JSON: "30.00" or "null". */
const char *tool_fps_json(char *buf, size_t size, const fbus_stats *st);

/* "640x360 yuv420p", or "-" before the first frame. */
const char *tool_format_str(char *buf, size_t size, const fbus_format *fmt);

#endif /* FBUS_COMMON_CLI_H */
