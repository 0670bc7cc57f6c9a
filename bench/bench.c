/* SPDX-License-Identifier: MIT */
/*
 * framebus bench, one run from start to report: the frame format's checks,
 * the memcpy, bus and pipe measurements, the table or JSON, and the exit
 * code. Children report back through a shared anonymous mapping
 * (measure.c); internal.h says which file does what.
 */
#include "bench.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

int bench_format_of(const bench_config *cfg, fbus_format *fmt, char *err, size_t errsz)
{
    int rc = fbus_format_init(fmt, cfg->pix_fmt, cfg->width, cfg->height, 0);

    if (rc == FBUS_EFORMAT) {
        snprintf(err, errsz, "unknown pixel format \"%s\"", cfg->pix_fmt);
        return -1;
    }
    if (rc < 0) {
        snprintf(err, errsz, "%" PRIu32 "x%" PRIu32 " is not a valid size for %s: %s", cfg->width,
                 cfg->height, cfg->pix_fmt, fbus_strerror(rc));
        return -1;
    }
    if ((uint64_t)fmt->planes[0].stride * fmt->planes[0].rows < 2 * BENCH_HDR_BYTES) {
        snprintf(err, errsz,
                 "%" PRIu32 "x%" PRIu32 " is too small: the first plane must hold at least %d "
                 "bytes",
                 cfg->width, cfg->height, 2 * BENCH_HDR_BYTES);
        return -1;
    }
    return 0;
}

int bench_one(const bench_config *cfg, const fbus_format *fmt, int json)
{
    bench_result *res = calloc(1, sizeof(*res));
    char err[320];
    int rc = 0;

    if (!res) {
        bench_say(cfg, "out of memory");
        return 1;
    }
    if (bench_run(cfg, fmt, BENCH_DO_ALL, res, err, sizeof(err)) < 0) {
        bench_say(cfg, "%s", err);
        free(res);
        return 1;
    }
    if (json)
        bench_print_json(stdout, res);
    else
        bench_print_table(stdout, res);
    fflush(stdout);
    if (res->bus.bad || res->pipe.bad) {
        bench_say(cfg, "%" PRIu64 " frames had a bad checksum", res->bus.bad + res->pipe.bad);
        rc = 1;
    } else if (res->bus.seq_errors || res->pipe.seq_errors) {
        bench_say(cfg, "%" PRIu64 " frames came out of order",
                  res->bus.seq_errors + res->pipe.seq_errors);
        rc = 1;
    }
    free(res);
    return rc;
}
