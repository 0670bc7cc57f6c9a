/* SPDX-License-Identifier: MIT */
/*
 * Command-line options of framebus-viewer and its --help text. The options
 * are one table (name, kind of value, field it sets); values are parsed with
 * the shared helpers of common/cli.c, as the framebus command does.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "viewer.h"

void viewer_print_help(FILE *f)
{
    fprintf(f, "Usage: " VIEWER_NAME " [OPTIONS] [BUS]\n"
               "Show the newest frame of a framebus bus in an SDL2 window.\n"
               "\n"
               "Options:\n"
               "  -b, --bus NAME            bus to watch (default \"" VIEWER_DEFAULT_BUS "\")\n"
               "  -t, --transport T         posix or sysv (default: whichever holds the name)\n"
               "      --lossless            show every frame in order (the producer waits\n"
               "                            for this viewer); default: always the newest\n"
               "      --same-user           refuse a bus that belongs to another user (a\n"
               "                            name squatted before the producer started)\n"
               "      --fullscreen          start fullscreen\n"
               "      --frames N            quit after showing N frames (N >= 1)\n"
               "      --no-vsync            present frames as soon as they arrive\n"
               "      --low-latency         wake within microseconds of a publish (awake from\n"
               "                            when the producer begins a frame; with --no-vsync)\n"
               "      --overlay             start with the stats drawn over the picture\n"
               "      --headless            render off screen and print stats on stderr\n"
               "                            (automatic without DISPLAY/WAYLAND_DISPLAY)\n"
               "      --timeout SECONDS     give up if no producer is there for that long;\n"
               "                            0: it must be there at once (default: wait\n"
               "                            forever)\n"
               "      --stats SECONDS       print a stats line on stderr this often\n"
               "                            (default 1 when headless, else never)\n"
               "      --screenshot-on-exit FILE\n"
               "                            save the last frame shown to FILE on exit\n"
               "                            (.png, .bmp or .ppm)\n"
               "      --screenshot-dir DIR  where the s key saves screenshots (default .)\n"
               "  -V, --version             print the version and exit\n"
               "  -h, --help                show this help\n"
               "\n"
               "Keys: q/Esc quit, f fullscreen, space pause, s screenshot (PNG),\n"
               "o stats overlay on/off.\n"
               "The title shows bus, size, pixel format, displayed fps, frames skipped,\n"
               "overruns and the latency from publish to present. The viewer waits for\n"
               "a producer that is not there yet and follows producer restarts.\n"
               "\n"
               "Exit status: 0 done, 1 runtime error (including a bad bus name),\n"
               "2 bad command line.\n"
               "\n"
               "Examples:\n"
               "  framebus-producer --bus cam & " VIEWER_NAME " --bus cam\n"
               "  " VIEWER_NAME " --bus cam --lossless --frames 100\n"
               "  " VIEWER_NAME " --headless --frames 300 --screenshot-on-exit last.png\n");
}

/* What an option does with its value. */
enum kind {
    SET_INT,   /* store `value` into an int field */
    STRING,    /* store optarg */
    COUNT,     /* a count >= 1 into a uint64_t field */
    SECONDS,   /* seconds >= 0 into a double field */
    TRANSPORT, /* posix | sysv */
    POLICY,    /* store `value` as the reader policy */
    HELP,
    VERSION,
};

struct optdef {
    const char *name;
    int short_name; /* 0: long only */
    enum kind kind;
    size_t offset; /* of the field in struct viewer_opts */
    int value;     /* for SET_INT and POLICY */
};

#define FIELD(f) offsetof(struct viewer_opts, f)

static const struct optdef defs[] = {
    {"bus", 'b', STRING, FIELD(bus), 0},
    {"transport", 't', TRANSPORT, FIELD(transport), 0},
    {"lossless", 0, POLICY, FIELD(policy), FBUS_POLICY_LOSSLESS},
    {"same-user", 0, SET_INT, FIELD(same_user), 1},
    {"fullscreen", 0, SET_INT, FIELD(fullscreen), 1},
    {"frames", 0, COUNT, FIELD(frames), 0},
    {"no-vsync", 0, SET_INT, FIELD(vsync), 0},
    {"low-latency", 0, SET_INT, FIELD(low_latency), 1},
    {"overlay", 0, SET_INT, FIELD(overlay), 1},
    {"headless", 0, SET_INT, FIELD(headless_forced), 1},
    {"timeout", 0, SECONDS, FIELD(timeout), 0},
    {"stats", 0, SECONDS, FIELD(stats_interval), 0},
    {"screenshot-on-exit", 0, STRING, FIELD(screenshot_on_exit), 0},
    {"screenshot-dir", 0, STRING, FIELD(screenshot_dir), 0},
    {"version", 'V', VERSION, 0, 0},
    {"help", 'h', HELP, 0, 0},
};

#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static void defaults(struct viewer_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->bus = VIEWER_DEFAULT_BUS;
    o->transport = FBUS_TRANSPORT_ANY;
    o->policy = FBUS_POLICY_LATEST;
    o->vsync = 1;
    o->timeout = -1;
    o->stats_interval = -1;
    o->screenshot_dir = ".";
}

__attribute__((format(printf, 1, 2))) static int usage(const char *fmt, ...)
{
    va_list ap;

    fputs(VIEWER_NAME ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see --help)\n", stderr);
    return VIEWER_EXIT_USAGE;
}

void viewer_print_version(FILE *f)
{
    fprintf(f, VIEWER_NAME " %s (libframebus %d.%d, bus layout %u)\n", VIEWER_VERSION,
            FBUS_VERSION_MAJOR, FBUS_VERSION_MINOR, fbus_layout_version());
}

/* Apply one option. Returns VIEWER_RUN to go on, or an exit status. */
static int apply(const struct optdef *d, const char *arg, struct viewer_opts *o)
{
    char *field = (char *)o + d->offset;

    switch (d->kind) {
    case SET_INT:
        *(int *)(void *)field = d->value;
        break;
    case STRING:
        *(const char **)(void *)field = arg;
        break;
    case COUNT:
        if (tool_parse_u64(arg, 1, UINT64_MAX, (uint64_t *)(void *)field) < 0)
            return usage("--%s wants a count of 1 or more, not \"%s\"", d->name, arg);
        break;
    case SECONDS:
        if (tool_parse_seconds(arg, (double *)(void *)field) < 0)
            return usage("--%s wants seconds (0 or more), not \"%s\"", d->name, arg);
        break;
    case TRANSPORT:
        if (tool_parse_transport(arg, &o->transport) < 0)
            return usage("--%s: unknown transport \"%s\" (posix or sysv)", d->name, arg);
        break;
    case POLICY:
        o->policy = (fbus_policy)d->value;
        break;
    case HELP:
        viewer_print_help(stdout);
        return VIEWER_EXIT_OK;
    case VERSION:
        viewer_print_version(stdout);
        return VIEWER_EXIT_OK;
    }
    return VIEWER_RUN;
}

/* 1 after a message if the directory of a screenshot path is missing. */
static int dir_missing(const char *opt, const char *path, int is_dir)
{
    char dir[4096];
    int rc = viewer_screenshot_dir_check(path, is_dir, dir, sizeof(dir));

    if (rc == 0)
        return 0;
    if (rc == -ENOENT || rc == -ENOTDIR)
        fprintf(stderr, VIEWER_NAME ": %s: directory \"%s\" %s\n", opt, dir,
                rc == -ENOENT ? "does not exist" : "is not a directory");
    else
        fprintf(stderr, VIEWER_NAME ": %s: directory \"%s\": %s\n", opt, dir, strerror(-rc));
    return 1;
}

/* The checks that need every option: the positional bus and its name. */
static int finish(int argc, char **argv, int bus_given, struct viewer_opts *o)
{
    if (optind < argc) {
        if (optind + 1 < argc)
            return usage("unexpected argument \"%s\"", argv[optind + 1]);
        if (bus_given)
            return usage("the bus is named twice (--bus %s and %s)", o->bus, argv[optind]);
        o->bus = argv[optind];
    }
    o->headless = o->headless_forced;
    if (o->screenshot_on_exit && viewer_screenshot_kind(o->screenshot_on_exit) < 0)
        return usage("--screenshot-on-exit: \"%s\": unknown file type (use .png, .bmp or .ppm)",
                     o->screenshot_on_exit);
    if (fbus_name_check(o->bus) < 0) {
        /* A bad name is a runtime error, as in the framebus command. */
        fprintf(stderr, VIEWER_NAME ": bus \"%s\": %s\n", o->bus, fbus_strerror(FBUS_EBADNAME));
        return VIEWER_EXIT_ERROR;
    }
    /* Better now than after a long session: where screenshots go. */
    if (o->screenshot_on_exit && dir_missing("--screenshot-on-exit", o->screenshot_on_exit, 0))
        return VIEWER_EXIT_ERROR;
    if (dir_missing("--screenshot-dir", o->screenshot_dir, 1))
        return VIEWER_EXIT_ERROR;
    return VIEWER_RUN;
}

int viewer_parse_args(int argc, char **argv, struct viewer_opts *o)
{
    struct option longopts[NDEFS + 1];
    char shortopts[2 * NDEFS + 2] = ":";
    size_t ns = 1;
    int bus_given = 0, c, idx, rc;

    memset(longopts, 0, sizeof(longopts));
    for (size_t i = 0; i < NDEFS; i++) {
        int has_arg = defs[i].kind != SET_INT && defs[i].kind != POLICY && defs[i].kind != HELP &&
                      defs[i].kind != VERSION;
        longopts[i] = (struct option){defs[i].name, has_arg ? required_argument : no_argument, NULL,
                                      (int)(256 + i)};
        if (defs[i].short_name) {
            shortopts[ns++] = (char)defs[i].short_name;
            if (has_arg)
                shortopts[ns++] = ':';
        }
    }
    shortopts[ns] = '\0';

    defaults(o);
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (c == ':')
            return usage("option %s needs a value", argv[optind - 1]);
        idx = -1;
        for (size_t i = 0; i < NDEFS; i++)
            if (c == (int)(256 + i) || (defs[i].short_name && c == defs[i].short_name))
                idx = (int)i;
        if (idx < 0)
            return usage("unknown option %s", argv[optind - 1]);
        bus_given |= defs[idx].offset == FIELD(bus) && defs[idx].kind == STRING;
        rc = apply(&defs[idx], optarg, o);
        if (rc != VIEWER_RUN)
            return rc;
    }
    return finish(argc, argv, bus_given, o);
}
