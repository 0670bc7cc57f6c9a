/* SPDX-License-Identifier: MIT */
/*
 * framebus-producer: decode a video (or draw the built-in test pattern) and
 * publish every frame on a bus. This file parses the options and installs
 * the signal handlers; publish.c is the pipeline.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>
#include <libavutil/parseutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include <framebus/framebus.h>

#include "cli.h"
#include "publish.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: " PROG " [INPUT] [options]\n"
            "Decode INPUT (any file or URL libavformat opens, - for standard input) and\n"
            "publish every video frame on a framebus bus. Without INPUT, play a moving test\n"
            "pattern.\n"
            "\n"
            "Options:\n"
            "  -b, --bus NAME           bus name, [A-Za-z0-9._-]{1,64} (default \"" DEFAULT_BUS
            "\")\n"
            "      --transport T        posix (default) or sysv\n"
            "      --slots N            frame slots in the bus, 2..64 (default 3, plus as\n"
            "                           many as the decoder keeps frames)\n"
            "      --copy               copy each decoded frame into the bus (default:\n"
            "                           the decoder decodes straight into its slots)\n"
            "      --fps native|max|N   pace by the stream's timestamps (default), as\n"
            "                           fast as possible, or at N frames per second\n"
            "      --loop               start over at the end, timestamps keep increasing\n"
            "      --pix-fmt F          convert to pixel format F (e.g. rgb24, nv12)\n"
            "      --size WxH           scale to W x H (test pattern: its size)\n"
            "      --no-autorotate      publish frames as stored, not turned or mirrored\n"
            "                           upright by the stream's display matrix\n"
            "      --frames N           stop after N frames\n"
            "      --mode MODE          permission bits of the bus, octal (default 0600)\n"
            "      --wait-readers N     hold the first frame until N readers attach\n"
            "  -q, --quiet              no status line and no summary\n"
            "  -v, --verbose            show libav's own log messages\n"
            "  -V, --version            print the version and exit\n"
            "  -h, --help               this help\n"
            "\n"
            "Examples:\n"
            "  " PROG "                                  test pattern on bus \"" DEFAULT_BUS "\"\n"
            "  " PROG " movie.mkv --bus cam --loop       a file, forever, in real time\n"
            "  " PROG " movie.mkv --fps max --wait-readers 1 --bus enc\n"
            "                                   as fast as the slowest lossless reader\n"
            "  " PROG " rtsp://host/stream --pix-fmt rgb24 --size 640x360\n"
            "  " PROG " --size 1920x1080 --fps 60 --mode 0640   pattern for a group\n"
            "\n"
            "Readers: framebus-viewer --bus NAME, framebus cat NAME --y4m | ffplay -\n"
            "Signals: SIGINT/SIGTERM end the stream cleanly and remove the bus.\n"
            "Exit status: 0 done, 1 runtime error (including a bad bus name),\n"
            "2 bad command line.\n");
}

static int bad_value(const char *opt, const char *val, const char *expected)
{
    fprintf(stderr, PROG ": invalid %s \"%s\" (expected %s)\n", opt, val, expected);
    return -1;
}

static int parse_option(struct prod_options *o, int c, const char *arg)
{
    uint64_t v;

    switch (c) {
    case 'b':
        o->bus = arg;
        return 0;
    case 'T':
        if (strcmp(arg, "posix") == 0)
            o->transport = FBUS_TRANSPORT_POSIX;
        else if (strcmp(arg, "sysv") == 0)
            o->transport = FBUS_TRANSPORT_SYSV;
        else
            return bad_value("--transport", arg, "posix or sysv");
        return 0;
    case 'S':
        if (tool_parse_u64(arg, 2, FBUS_MAX_SLOTS, &v) < 0)
            return bad_value("--slots", arg, "a number from 2 to 64");
        o->slots = (uint32_t)v;
        return 0;
    case 'r':
        if (strcmp(arg, "native") == 0) {
            o->pace = PROD_PACE_NATIVE;
        } else if (strcmp(arg, "max") == 0) {
            o->pace = PROD_PACE_MAX;
        } else if (av_parse_video_rate(&o->rate, arg) < 0 || o->rate.num <= 0 || o->rate.den <= 0 ||
                   av_q2d(o->rate) > 10000.0) {
            return bad_value("--fps", arg, "native, max or frames per second, e.g. 25");
        } else {
            o->pace = PROD_PACE_RATE;
        }
        return 0;
    case 'l':
        o->loop = 1;
        return 0;
    case 'p':
        o->pix_fmt = av_get_pix_fmt(arg);
        if (o->pix_fmt == AV_PIX_FMT_NONE)
            return bad_value("--pix-fmt", arg, "a pixel format name, e.g. rgb24 or nv12");
        if (!sws_isSupportedOutput(o->pix_fmt) ||
            (av_pix_fmt_desc_get(o->pix_fmt)->flags &
             (AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_HWACCEL)))
            return bad_value("--pix-fmt", arg, "a pixel format libswscale can write");
        return 0;
    case 's':
        if (av_parse_video_size(&o->width, &o->height, arg) < 0 || o->width > 32768 ||
            o->height > 32768)
            return bad_value("--size", arg, "WIDTHxHEIGHT, e.g. 1280x720");
        return 0;
    case 'n':
        if (tool_parse_u64(arg, 1, UINT64_MAX, &v) < 0)
            return bad_value("--frames", arg, "a number of frames, 1 or more");
        o->frames = v;
        return 0;
    case 'm': {
        char *end;
        unsigned long m;

        errno = 0;
        m = strtoul(arg, &end, 8);
        if (!*arg || *arg == '-' || *arg == '+' || errno || *end || m > 0777)
            return bad_value("--mode", arg, "octal permission bits, e.g. 0640");
        o->mode = (uint32_t)m;
        return 0;
    }
    case 'w':
        if (tool_parse_u64(arg, 0, FBUS_MAX_READERS, &v) < 0)
            return bad_value("--wait-readers", arg, "a number from 0 to 64");
        o->wait_readers = (int)v;
        return 0;
    case 'q':
        o->quiet = 1;
        return 0;
    case 'R':
        o->no_autorotate = 1;
        return 0;
    case 'C':
        o->copy = 1;
        return 0;
    case 'v':
        o->verbose = 1;
        return 0;
    }
    return -1;
}

#ifndef FBUS_PRODUCER_VERSION
#define FBUS_PRODUCER_VERSION "0.1.0"
#endif

/* Returns 0 to run, 1 after --help or --version, -1 on a bad command line,
 * -2 on a bad bus name (a runtime error, as in the framebus command). */
static int parse_args(struct prod_options *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"bus", required_argument, NULL, 'b'},
        {"transport", required_argument, NULL, 'T'},
        {"slots", required_argument, NULL, 'S'},
        {"fps", required_argument, NULL, 'r'},
        {"loop", no_argument, NULL, 'l'},
        {"pix-fmt", required_argument, NULL, 'p'},
        {"size", required_argument, NULL, 's'},
        {"frames", required_argument, NULL, 'n'},
        {"mode", required_argument, NULL, 'm'},
        {"wait-readers", required_argument, NULL, 'w'},
        {"quiet", no_argument, NULL, 'q'},
        {"no-autorotate", no_argument, NULL, 'R'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"copy", no_argument, NULL, 'C'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->bus = DEFAULT_BUS;
    o->pix_fmt = AV_PIX_FMT_NONE;
    o->mode = 0600;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":b:qvhV", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 1;
        }
        if (c == 'V') {
            printf(PROG " %s (libframebus %d.%d, bus layout %u)\n", FBUS_PRODUCER_VERSION,
                   FBUS_VERSION_MAJOR, FBUS_VERSION_MINOR, fbus_layout_version());
            return 1;
        }
        if (c == ':') {
            fprintf(stderr, PROG ": option %s needs a value\n", argv[optind - 1]);
            return -1;
        }
        if (c == '?') {
            fprintf(stderr, PROG ": unknown option \"%s\" (see --help)\n", argv[optind - 1]);
            return -1;
        }
        if (parse_option(o, c, optarg) < 0)
            return -1;
    }
    if (optind < argc)
        o->input = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, PROG ": more than one input (\"%s\" and \"%s\")\n", o->input, argv[optind]);
        return -1;
    }
    if (fbus_name_check(o->bus) < 0) {
        fprintf(stderr, PROG ": bus \"%s\": %s\n", o->bus, fbus_strerror(FBUS_EBADNAME));
        return -2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct prod_options o;
    struct sigaction sa;
    int ret;

    ret = parse_args(&o, argc, argv);
    if (ret > 0) {
        /* --help, --version: their output must have arrived. */
        int err = tool_stdout_error();

        if (err)
            fprintf(stderr, PROG ": writing to stdout: %s\n", strerror(err));
        return err ? 1 : 0;
    }
    if (ret < 0)
        return ret == -2 ? 1 : 2;

    av_log_set_level(o.verbose ? AV_LOG_INFO : AV_LOG_QUIET);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return prod_run(&o, &stop_requested);
}
