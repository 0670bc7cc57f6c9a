/* SPDX-License-Identifier: MIT */
/*
 * framebus stat: one bus in detail (producer, format, frames, rate, and each
 * reader's policy, frames, lag, overruns and drops), once or refreshed in
 * place every second like top (or as JSON Lines, one object a second).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leftovers.h"
#include "tools.h"

#define CMD "stat"

static const char *policy_name(fbus_policy p)
{
    return p == FBUS_POLICY_LOSSLESS ? "lossless" : "latest";
}

/* A duration for people: "4 ms", "1.5 s", "-" when unknown. */
static const char *age_str(char *buf, size_t size, int64_t ns)
{
    if (ns < 0)
        snprintf(buf, size, "-");
    else if (ns < 1000000)
        snprintf(buf, size, "<1 ms");
    else if (ns < 10000000000LL)
        snprintf(buf, size, "%" PRId64 " ms", ns / 1000000);
    else
        snprintf(buf, size, "%.1f s", (double)ns / 1e9);
    return buf;
}

static void print_text(const fbus_stats *st)
{
    char a[32], b[32], fmtbuf[64], fps[32];

    printf("bus        %s (%s)\n", st->name, tool_transport_name(st->transport));
    printf("state      %s\n", tool_state_name(st->state));
    printf("producer   pid %" PRId32 ", session %016" PRIx64 ", heartbeat %s ago\n",
           st->producer_pid, st->session, age_str(a, sizeof(a), st->heartbeat_age_ns));
    printf("format     %s\n", tool_format_str(fmtbuf, sizeof(fmtbuf), &st->format));
    for (uint32_t i = 0; st->format.width && i < st->format.nb_planes && i < FBUS_MAX_PLANES; i++) {
        const fbus_plane *p = &st->format.planes[i];
        printf("  plane %" PRIu32 "  offset %" PRIu64 ", stride %" PRIu32 ", %" PRIu32
               " bytes x %" PRIu32 " rows\n",
               i, p->offset, p->stride, p->row_bytes, p->rows);
    }
    printf("slots      %" PRIu32 " x %" PRIu64 " bytes (region %" PRIu64 " bytes), mode %04" PRIo32
           ", uid %" PRIu32 "\n",
           st->slots, st->slot_size, st->region_size, st->mode, st->uid);
    printf("frames     %" PRIu64 " published, %s fps, last %s ago\n", st->frames,
           tool_fps_str(fps, sizeof(fps), st), age_str(b, sizeof(b), st->last_publish_age_ns));
    printf("writer     %" PRIu64 " waits for lossless readers, %" PRIu64
           " slots reused under latest readers\n",
           st->writer_waits, st->forced);
    printf("readers    %" PRIu32 "\n", st->nb_readers);
    if (st->nb_readers == 0)
        return;
    printf("  %-8s %-9s %10s %6s %9s %8s  %s\n", "PID", "POLICY", "FRAMES", "LAG", "OVERRUNS",
           "DROPS", "IDLE");
    for (uint32_t i = 0; i < st->nb_readers && i < FBUS_MAX_READERS; i++) {
        const fbus_reader_info *r = &st->readers[i];
        printf("  %-8" PRId32 " %-9s %10" PRIu64 " %6" PRIu64 " %9" PRIu64 " %8" PRIu64 "  %s%s\n",
               r->pid, policy_name(r->policy), r->frames, r->lag, r->overruns, r->drops,
               age_str(a, sizeof(a), r->idle_ns), r->alive ? "" : " (dead)");
    }
}

/* One JSON object; compact: on one line (JSON Lines, for --watch). */
static void print_json(const fbus_stats *st, int compact)
{
    const char *nl = compact ? "" : "\n  ";
    const char *nl2 = compact ? "" : "\n    ";
    char fps[32];

    printf("{%s\"name\": ", nl);
    tool_json_string(stdout, st->name);
    printf(",%s\"transport\": \"%s\",%s\"state\": \"%s\",", nl, tool_transport_name(st->transport),
           nl, tool_state_name(st->state));
    printf("%s\"producer_pid\": %" PRId32 ",%s\"session\": \"%016" PRIx64 "\",", nl,
           st->producer_pid, nl, st->session);
    printf("%s\"uid\": %" PRIu32 ",%s\"mode\": \"%04" PRIo32 "\",", nl, st->uid, nl, st->mode);
    printf("%s\"region_size\": %" PRIu64 ",%s\"slots\": %" PRIu32 ",%s\"slot_size\": %" PRIu64 ",",
           nl, st->region_size, nl, st->slots, nl, st->slot_size);
    if (st->format.width) {
        printf("%s\"format\": {\"width\": %" PRIu32 ", \"height\": %" PRIu32 ", \"pix_fmt\": ", nl,
               st->format.width, st->format.height);
        tool_json_string(stdout, st->format.pix_fmt);
        printf(", \"planes\": [");
        for (uint32_t i = 0; i < st->format.nb_planes && i < FBUS_MAX_PLANES; i++) {
            const fbus_plane *p = &st->format.planes[i];
            printf("%s{\"offset\": %" PRIu64 ", \"stride\": %" PRIu32 ", \"row_bytes\": %" PRIu32
                   ", \"rows\": %" PRIu32 "}",
                   i ? ", " : "", p->offset, p->stride, p->row_bytes, p->rows);
        }
        printf("]},");
    } else {
        printf("%s\"format\": null,", nl);
    }
    printf("%s\"frames\": %" PRIu64 ",%s\"fps\": %s,%s\"writer_waits\": %" PRIu64
           ",%s\"forced\": %" PRIu64 ",",
           nl, st->frames, nl, tool_fps_json(fps, sizeof(fps), st), nl, st->writer_waits, nl,
           st->forced);
    printf("%s\"heartbeat_age_ms\": %.1f,%s\"last_publish_age_ms\": %.1f,", nl,
           (double)st->heartbeat_age_ns / 1e6, nl,
           st->last_publish_age_ns < 0 ? -1.0 : (double)st->last_publish_age_ns / 1e6);
    printf("%s\"readers\": [", nl);
    for (uint32_t i = 0; i < st->nb_readers && i < FBUS_MAX_READERS; i++) {
        const fbus_reader_info *r = &st->readers[i];
        printf("%s%s{\"pid\": %" PRId32 ", \"policy\": \"%s\", \"frames\": %" PRIu64
               ", \"lag\": %" PRIu64 ", \"overruns\": %" PRIu64 ", \"drops\": %" PRIu64
               ", \"idle_ms\": %.1f, \"alive\": %s}",
               i ? "," : "", nl2, r->pid, policy_name(r->policy), r->frames, r->lag, r->overruns,
               r->drops, r->idle_ns < 0 ? -1.0 : (double)r->idle_ns / 1e6,
               r->alive ? "true" : "false");
    }
    printf("%s]%s}\n", st->nb_readers && !compact ? "\n  " : "", compact ? "" : "\n");
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};

    /* A signal cuts the sleep short; the caller checks tool_stop. */
    nanosleep(&ts, NULL);
}

/*
 * stat --watch: a screen a second (or a JSON line a second) until a signal,
 * or until stdout goes away: a closed pipe (`| head -3`) is the normal end,
 * any other write error an error. A bus that cannot be read is said on the
 * screen, or once on stderr for JSON (again only when the error changes).
 */
static int watch_bus(const char *name, fbus_transport transport, int transport_set, int json,
                     fbus_stats *st)
{
    int last_err = 0;

    tool_signals(1);
    while (!tool_stop) {
        int rc, werr;

        if (!transport_set)
            transport = tool_guess_transport(name);
        rc = fbus_stat(name, transport, st);
        if (!json)
            printf("\033[H\033[2J"); /* home, clear: redraw in place */
        if (rc < 0 && json && rc != last_err)
            tool_error(CMD, "bus \"%s\": %s", name, tool_bus_strerror(rc));
        else if (rc < 0 && !json)
            printf("%s: %s: bus \"%s\": %s\n", TOOL_NAME, CMD, name, tool_bus_strerror(rc));
        else if (rc == 0 && json)
            print_json(st, 1);
        else if (rc == 0)
            print_text(st);
        last_err = rc;
        if (!json)
            printf("\n(every 1 s; Ctrl-C to quit)\n");
        werr = tool_stdout_error();
        if (werr == EPIPE)
            return TOOL_EXIT_OK;
        if (werr) {
            tool_error(CMD, "writing to stdout: %s", strerror(werr));
            return TOOL_EXIT_ERROR;
        }
        if (!tool_stop)
            sleep_ns(1000000000LL);
    }
    return TOOL_EXIT_OK;
}

int cmd_stat(int argc, char **argv)
{
    fbus_transport transport = FBUS_TRANSPORT_POSIX;
    int json = 0, watch = 0, transport_set = 0, rc = 0;
    const char *name;
    fbus_stats *st;
    tool_leftover left;

    {
        const tool_flag flags[] = {{"watch", 0, &watch}, {"json", 0, &json}, {NULL, 0, NULL}};
        rc = tool_parse_flags(CMD, argc, argv, flags, &transport, &transport_set);
        if (rc >= 0)
            return rc;
    }
    if (optind >= argc)
        return tool_usage_error(CMD, "which bus? (framebus stat NAME)");
    if (optind + 1 < argc)
        return tool_usage_error(CMD, "unexpected argument \"%s\"", argv[optind + 1]);
    name = argv[optind];
    if (fbus_name_check(name) < 0) {
        tool_error(CMD, "bus \"%s\": %s", name, tool_bus_strerror(FBUS_EBADNAME));
        return TOOL_EXIT_ERROR;
    }
    st = malloc(sizeof(*st));
    if (!st) {
        tool_error(CMD, "out of memory");
        return TOOL_EXIT_ERROR;
    }

    if (watch) {
        rc = watch_bus(name, transport, transport_set, json, st);
        free(st);
        return rc;
    }
    if (!transport_set)
        transport = tool_guess_transport(name);
    rc = fbus_stat(name, transport, st);
    if (rc == -ENOENT &&
        tool_find_broken_bus(name, transport_set ? transport : FBUS_TRANSPORT_ANY, &left))
        tool_error(CMD,
                   "bus \"%s\": " TOOL_SHM_DIR "/%s is not a bus (%s); `framebus rm %s` removes it",
                   name, left.file, left.why, name);
    else if (rc < 0)
        tool_error(CMD, "bus \"%s\": %s", name, tool_bus_strerror(rc));
    else if (json)
        print_json(st, 0);
    else
        print_text(st);
    free(st);
    return rc < 0 ? TOOL_EXIT_ERROR : TOOL_EXIT_OK;
}
