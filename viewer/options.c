/* SPDX-License-Identifier: MIT */
/* Command-line options of framebus-viewer and its --help text. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "viewer.h"

void viewer_print_help(FILE *f)
{
    fprintf(f, "Usage: " VIEWER_NAME " [OPTIONS] [BUS]\n"
               "Show the newest frame of a framebus bus in an SDL2 window.\n"
               "\n"
               "Options:\n"
               "  -b, --bus NAME            bus to watch (default \"" VIEWER_DEFAULT_BUS "\")\n"
               "  -t, --transport T         posix (default) or sysv\n"
               "      --lossless            show every frame in order (the producer waits\n"
               "                            for this viewer); default: always the newest\n"
               "      --same-user           refuse a bus that belongs to another user (a\n"
               "                            name squatted before the producer started)\n"
               "      --fullscreen          start fullscreen\n"
               "      --frames N            quit after showing N frames\n"
               "      --no-vsync            present frames as soon as they arrive\n"
               "      --overlay             start with the stats drawn over the picture\n"
               "      --headless            render off screen and print stats on stderr\n"
               "                            (automatic without DISPLAY/WAYLAND_DISPLAY)\n"
               "      --timeout SECONDS     give up if no producer appears in time\n"
               "                            (default: wait forever)\n"
               "      --stats SECONDS       print a stats line on stderr this often\n"
               "                            (default 1 when headless, else never)\n"
               "      --screenshot-on-exit FILE\n"
               "                            save the last frame shown to FILE on exit\n"
               "                            (.png, .bmp or .ppm)\n"
               "      --screenshot-dir DIR  where the s key saves screenshots (default .)\n"
               "  -h, --help                show this help\n"
               "\n"
               "Keys: q/Esc quit, f fullscreen, space pause, s screenshot (PNG),\n"
               "o stats overlay on/off.\n"
               "The title shows bus, size, pixel format, displayed fps, frames skipped,\n"
               "overruns and the latency from publish to present. The viewer waits for\n"
               "a producer that is not there yet and follows producer restarts.\n"
               "\n"
               "Examples:\n"
               "  framebus-producer --bus cam & " VIEWER_NAME " --bus cam\n"
               "  " VIEWER_NAME " --bus cam --lossless --frames 100\n"
               "  " VIEWER_NAME " --headless --frames 300 --screenshot-on-exit last.png\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;

    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int parse_seconds(const char *s, double *out)
{
    char *end;

    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0 && v < 1e9))
        return -1;
    *out = v;
    return 0;
}

enum {
    OPT_LOSSLESS = 256,
    OPT_FULLSCREEN,
    OPT_FRAMES,
    OPT_NO_VSYNC,
    OPT_HEADLESS,
    OPT_TIMEOUT,
    OPT_STATS,
    OPT_SHOT_EXIT,
    OPT_SHOT_DIR,
    OPT_OVERLAY,
    OPT_SAME_USER,
};

int viewer_parse_args(int argc, char **argv, struct viewer_opts *o)
{
    static const struct option longopts[] = {
        {"bus", required_argument, NULL, 'b'},
        {"transport", required_argument, NULL, 't'},
        {"lossless", no_argument, NULL, OPT_LOSSLESS},
        {"same-user", no_argument, NULL, OPT_SAME_USER},
        {"fullscreen", no_argument, NULL, OPT_FULLSCREEN},
        {"frames", required_argument, NULL, OPT_FRAMES},
        {"no-vsync", no_argument, NULL, OPT_NO_VSYNC},
        {"overlay", no_argument, NULL, OPT_OVERLAY},
        {"headless", no_argument, NULL, OPT_HEADLESS},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"stats", required_argument, NULL, OPT_STATS},
        {"screenshot-on-exit", required_argument, NULL, OPT_SHOT_EXIT},
        {"screenshot-dir", required_argument, NULL, OPT_SHOT_DIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->bus = VIEWER_DEFAULT_BUS;
    o->transport = FBUS_TRANSPORT_POSIX;
    o->policy = FBUS_POLICY_LATEST;
    o->vsync = 1;
    o->stats_interval = -1;
    o->screenshot_dir = ".";

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":b:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o->bus = optarg;
            break;
        case 't':
            if (!strcmp(optarg, "posix")) {
                o->transport = FBUS_TRANSPORT_POSIX;
            } else if (!strcmp(optarg, "sysv")) {
                o->transport = FBUS_TRANSPORT_SYSV;
            } else {
                fprintf(stderr, VIEWER_NAME ": --transport: \"%s\" is not posix or sysv\n", optarg);
                return -1;
            }
            break;
        case OPT_LOSSLESS:
            o->policy = FBUS_POLICY_LOSSLESS;
            break;
        case OPT_SAME_USER:
            o->same_user = 1;
            break;
        case OPT_FULLSCREEN:
            o->fullscreen = 1;
            break;
        case OPT_FRAMES:
            if (parse_u64(optarg, &o->frames) < 0) {
                fprintf(stderr, VIEWER_NAME ": --frames: \"%s\" is not a frame count\n", optarg);
                return -1;
            }
            break;
        case OPT_NO_VSYNC:
            o->vsync = 0;
            break;
        case OPT_OVERLAY:
            o->overlay = 1;
            break;
        case OPT_HEADLESS:
            o->headless = o->headless_forced = 1;
            break;
        case OPT_TIMEOUT:
            if (parse_seconds(optarg, &o->timeout) < 0) {
                fprintf(stderr, VIEWER_NAME ": --timeout: \"%s\" is not a number of seconds\n",
                        optarg);
                return -1;
            }
            break;
        case OPT_STATS:
            if (parse_seconds(optarg, &o->stats_interval) < 0) {
                fprintf(stderr, VIEWER_NAME ": --stats: \"%s\" is not a number of seconds\n",
                        optarg);
                return -1;
            }
            break;
        case OPT_SHOT_EXIT:
            o->screenshot_on_exit = optarg;
            break;
        case OPT_SHOT_DIR:
            o->screenshot_dir = optarg;
            break;
        case 'h':
            viewer_print_help(stdout);
            return 1;
        case ':':
            fprintf(stderr, VIEWER_NAME ": option %s needs a value (see --help)\n",
                    argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, VIEWER_NAME ": unknown option %s (see --help)\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        if (optind + 1 < argc) {
            fprintf(stderr, VIEWER_NAME ": unexpected argument \"%s\" (see --help)\n",
                    argv[optind + 1]);
            return -1;
        }
        o->bus = argv[optind];
    }
    if (fbus_name_check(o->bus) < 0) {
        fprintf(stderr, VIEWER_NAME ": bus \"%s\": %s\n", o->bus, fbus_strerror(FBUS_EBADNAME));
        return -1;
    }
    return 0;
}
