/* SPDX-License-Identifier: MIT */
/*
 * framebus list: one line per bus on the host, both transports, with what a
 * glance needs (state, format, slots, readers, rate); --json for scripts.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leftovers.h"
#include "tools.h"

#define CMD "list"

static uint32_t live_readers(const fbus_stats *st)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < st->nb_readers && i < FBUS_MAX_READERS; i++)
        n += st->readers[i].alive != 0;
    return n;
}

static void print_json(const tool_bus *b, int rc, const fbus_stats *st, int first)
{
    char fps[32];

    printf("%s\n  {\"name\": ", first ? "" : ",");
    tool_json_string(stdout, b->name);
    printf(", \"transport\": \"%s\"", tool_transport_name(b->transport));
    if (rc < 0) {
        printf(", \"error\": ");
        tool_json_string(stdout, tool_bus_strerror(rc));
        printf("}");
        return;
    }
    printf(", \"state\": \"%s\", \"producer_pid\": %" PRId32, tool_state_name(st->state),
           st->producer_pid);
    if (st->format.width) {
        printf(", \"width\": %" PRIu32 ", \"height\": %" PRIu32 ", \"pix_fmt\": ", st->format.width,
               st->format.height);
        tool_json_string(stdout, st->format.pix_fmt);
    } else {
        printf(", \"width\": null, \"height\": null, \"pix_fmt\": null");
    }
    printf(", \"slots\": %" PRIu32 ", \"readers\": %" PRIu32 ", \"frames\": %" PRIu64
           ", \"fps\": %s}",
           st->slots, live_readers(st), st->frames, tool_fps_json(fps, sizeof(fps), st));
}

/* A file that blocks or clutters a name without being a bus: one row. */
static void print_leftover(const tool_leftover *l, int json, int width, int first)
{
    const char *name = l->name[0] ? l->name : "-";
    const char *transport =
        l->transport == FBUS_TRANSPORT_ANY ? "any" : tool_transport_name(l->transport);
    char path[sizeof(TOOL_SHM_DIR) + sizeof(l->file)];

    snprintf(path, sizeof(path), TOOL_SHM_DIR "/%s", l->file);
    if (json) {
        printf("%s\n  {\"name\": ", first ? "" : ",");
        if (l->name[0])
            tool_json_string(stdout, l->name);
        else
            printf("null");
        printf(", \"transport\": \"%s\", \"state\": \"broken\", \"file\": ", transport);
        tool_json_string(stdout, path);
        printf(", \"error\": ");
        tool_json_string(stdout, l->why);
        printf("}");
        return;
    }
    printf("%-*s  %-9s  %-6s  %s: %s\n", width, name, transport, "broken", path, l->why);
}

int cmd_list(int argc, char **argv)
{
    fbus_transport only = FBUS_TRANSPORT_POSIX;
    int json = 0, filter = 0, rc, width = 4, shown = 0;
    fbus_stats *st = NULL;
    tool_bus *buses = NULL;
    tool_leftover *left = NULL;
    size_t n = 0, nleft = 0;

    {
        const tool_flag flags[] = {{"json", 0, &json}, {NULL, 0, NULL}};
        rc = tool_parse_flags(CMD, argc, argv, flags, &only, &filter);
        if (rc >= 0)
            return rc;
    }
    if (optind < argc)
        return tool_usage_error(CMD, "unexpected argument \"%s\"", argv[optind]);

    rc = tool_list_buses(&buses, &n);
    if (rc < 0) {
        tool_error(CMD, "listing buses: %s", strerror(-rc));
        return TOOL_EXIT_ERROR;
    }
    rc = tool_list_leftovers(&left, &nleft);
    st = malloc(sizeof(*st));
    if (rc < 0 || !st) {
        free(buses);
        free(left);
        free(st);
        tool_error(CMD, "listing buses: %s", strerror(rc < 0 ? -rc : ENOMEM));
        return TOOL_EXIT_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        int len = (int)strlen(buses[i].name);
        if (len > width)
            width = len;
    }
    for (size_t i = 0; i < nleft; i++) {
        int len = (int)strlen(left[i].name);
        if (len > width)
            width = len;
    }

    if (json)
        printf("[");
    else
        printf("%-*s  %-9s  %-6s  %-22s  %5s  %7s  %6s\n", width, "NAME", "TRANSPORT", "STATE",
               "FORMAT", "SLOTS", "READERS", "FPS");
    for (size_t i = 0; i < n; i++) {
        char fmtbuf[64], fps[32];

        if (filter && buses[i].transport != only)
            continue;
        rc = fbus_stat(buses[i].name, buses[i].transport, st);
        if (rc == -ENOENT)
            continue; /* removed since it was listed */
        if (json) {
            print_json(&buses[i], rc, st, shown == 0);
        } else if (rc < 0) {
            printf("%-*s  %-9s  %-6s  %s\n", width, buses[i].name,
                   tool_transport_name(buses[i].transport), "broken", tool_bus_strerror(rc));
        } else {
            printf("%-*s  %-9s  %-6s  %-22s  %5" PRIu32 "  %7" PRIu32 "  %6s\n", width,
                   buses[i].name, tool_transport_name(buses[i].transport),
                   tool_state_name(st->state), tool_format_str(fmtbuf, sizeof(fmtbuf), &st->format),
                   st->slots, live_readers(st), tool_fps_str(fps, sizeof(fps), st));
        }
        shown++;
    }
    for (size_t i = 0; i < nleft; i++) {
        if (filter && left[i].transport != only && left[i].transport != FBUS_TRANSPORT_ANY)
            continue;
        print_leftover(&left[i], json, width, shown == 0);
        shown++;
    }
    if (json)
        printf("%s]\n", shown ? "\n" : "");
    free(st);
    free(buses);
    free(left);
    return TOOL_EXIT_OK;
}
