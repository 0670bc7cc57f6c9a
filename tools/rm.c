/* SPDX-License-Identifier: MIT */
/*
 * framebus rm: remove a bus's name, refusing one whose producer is alive
 * unless forced, or remove every bus whose producer is gone (--stale,
 * optionally only those whose names match shell patterns).
 * Readers already attached keep their mapping until they let go.
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leftovers.h"
#include "tools.h"

#define CMD "rm"

/* Remove a leftover file. Returns 0, or -1 after printing why not. */
static int remove_leftover(const tool_leftover *l, int say)
{
    int rc = tool_remove_leftover(l);

    if (rc == -ENOENT)
        return 0; /* someone else removed it */
    if (rc < 0) {
        tool_error(CMD, TOOL_SHM_DIR "/%s: %s", l->file, strerror(-rc));
        return -1;
    }
    if (say)
        printf("removed " TOOL_SHM_DIR "/%s (%s)\n", l->file, l->why);
    return 0;
}

/* Remove one bus. Returns 0, or -1 after printing why not. */
static int remove_one(const char *name, fbus_transport t, int transport_set, int force,
                      fbus_stats *st)
{
    int rc = fbus_stat(name, t, st);
    tool_leftover l;

    /* An empty or never initialised bus file is no bus to the library,
     * but it blocks the name: it goes like a dead bus. */
    if (rc == -ENOENT && tool_find_broken_bus(name, transport_set ? t : FBUS_TRANSPORT_ANY, &l))
        return remove_leftover(&l, 0);

    if (rc == 0 && st->state == FBUS_STATE_LIVE && !force) {
        tool_error(CMD,
                   "bus \"%s\" has a live producer (pid %" PRId32 "); use --force to remove it",
                   name, st->producer_pid);
        return -1;
    }
    /* A region we cannot read (corrupt, another version) can still be
     * removed by name; only a missing one is an error. */
    if (rc == -ENOENT) {
        tool_error(CMD, "bus \"%s\": %s", name, tool_bus_strerror(rc));
        return -1;
    }
    if (rc < 0 && !force && rc != FBUS_EBADREGION && rc != FBUS_EVERSION) {
        tool_error(CMD, "bus \"%s\": %s", name, tool_bus_strerror(rc));
        return -1;
    }
    rc = fbus_unlink(name, t);
    if (rc < 0) {
        tool_error(CMD, "bus \"%s\": %s", name, tool_bus_strerror(rc));
        return -1;
    }
    return 0;
}

/* Whether name matches one of the patterns (all names if there are none). */
static int wanted(const char *name, char **patterns, int n)
{
    if (n == 0)
        return 1;
    for (int i = 0; i < n; i++) {
        if (fnmatch(patterns[i], name, 0) == 0)
            return 1;
    }
    return 0;
}

/* The leftovers no producer or reader owns any more (tool_list_leftovers)
 * whose bus name (or, for a temporary region, file name) matches. */
static int remove_leftovers(char **patterns, int npatterns)
{
    tool_leftover *left = NULL;
    size_t n = 0;
    int rc = tool_list_leftovers(&left, &n), failed = 0;

    if (rc < 0) {
        tool_error(CMD, "listing " TOOL_SHM_DIR ": %s", strerror(-rc));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (left[i].age_ns < TOOL_LEFTOVER_GRACE_NS ||
            !wanted(left[i].name[0] ? left[i].name : left[i].file, patterns, npatterns))
            continue;
        if (remove_leftover(&left[i], 1) < 0)
            failed = 1;
    }
    free(left);
    return failed ? -1 : 0;
}

static int remove_stale(fbus_stats *st, char **patterns, int npatterns)
{
    tool_bus *buses = NULL;
    size_t n = 0;
    int rc = tool_list_buses(&buses, &n), failed = 0;

    if (rc < 0) {
        tool_error(CMD, "listing buses: %s", strerror(-rc));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!wanted(buses[i].name, patterns, npatterns))
            continue;
        rc = fbus_stat(buses[i].name, buses[i].transport, st);
        if (rc < 0 || st->state == FBUS_STATE_LIVE)
            continue;
        rc = fbus_unlink(buses[i].name, buses[i].transport);
        if (rc == -ENOENT)
            continue; /* someone else removed or took it over */
        if (rc < 0) {
            tool_error(CMD, "bus \"%s\": %s", buses[i].name, tool_bus_strerror(rc));
            failed = 1;
            continue;
        }
        printf("removed %s (%s, %s)\n", buses[i].name, tool_transport_name(buses[i].transport),
               tool_state_name(st->state));
    }
    free(buses);
    if (remove_leftovers(patterns, npatterns) < 0)
        failed = 1;
    return failed ? -1 : 0;
}

int cmd_rm(int argc, char **argv)
{
    fbus_transport transport = FBUS_TRANSPORT_POSIX;
    int force = 0, stale = 0, transport_set = 0, rc;
    fbus_stats *st;

    {
        const tool_flag flags[] = {{"force", 'f', &force}, {"stale", 0, &stale}, {NULL, 0, NULL}};
        rc = tool_parse_flags(CMD, argc, argv, flags, &transport, &transport_set);
        if (rc >= 0)
            return rc;
    }
    if (!stale && optind >= argc)
        return tool_usage_error(CMD, "which bus? (framebus rm NAME, or rm --stale)");
    if (stale && force)
        return tool_usage_error(CMD, "--stale and --force exclude each other");
    for (int i = optind; !stale && i < argc; i++) {
        if (fbus_name_check(argv[i]) < 0) {
            tool_error(CMD, "bus \"%s\": %s", argv[i], tool_bus_strerror(FBUS_EBADNAME));
            return TOOL_EXIT_ERROR;
        }
    }
    st = malloc(sizeof(*st));
    if (!st) {
        tool_error(CMD, "out of memory");
        return TOOL_EXIT_ERROR;
    }
    if (stale) {
        rc = remove_stale(st, argv + optind, argc - optind);
    } else {
        rc = 0;
        for (int i = optind; i < argc; i++) {
            fbus_transport t = transport_set ? transport : tool_guess_transport(argv[i]);
            if (remove_one(argv[i], t, transport_set, force, st) < 0)
                rc = -1;
        }
    }
    free(st);
    return rc < 0 ? TOOL_EXIT_ERROR : TOOL_EXIT_OK;
}
