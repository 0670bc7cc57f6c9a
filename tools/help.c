/* SPDX-License-Identifier: MIT */
/*
 * Usage texts of the framebus command and its subcommands, with examples.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tools.h"

struct help {
    const char *cmd;
    const char *text;
};

static const char overview[] =
    "usage: framebus [--transport posix|sysv] COMMAND [ARGS]\n"
    "\n"
    "Look at and connect to framebus shared-memory video buses.\n"
    "\n"
    "commands:\n"
    "  list                 every bus on this host\n"
    "  stat NAME            one bus in detail (--watch refreshes it)\n"
    "  rm NAME | --stale    remove a bus, or every bus whose producer is gone\n"
    "  cat NAME             write a bus's frames to stdout (--y4m or --raw)\n"
    "  put NAME             read frames from stdin into a bus\n"
    "  bench                measure the bus\n"
    "  help [COMMAND]       this text, or a command's\n"
    "\n"
    "options:\n"
    "  --transport posix|sysv  which kind of shared memory (default: posix;\n"
    "                          stat, rm and cat find an existing bus by itself)\n"
    "  --help, --version\n"
    "\n"
    "examples:\n"
    "  framebus list\n"
    "  framebus cat cam --y4m | ffplay -\n"
    "  ffmpeg -i in.mp4 -f yuv4mpegpipe - | framebus put cam --y4m\n";

static const struct help helps[] = {
    {"list", "usage: framebus list [--json] [--transport posix|sysv]\n"
             "\n"
             "Every bus on this host, both transports: name, transport, producer\n"
             "state (live, ended, dead), format of the newest frame, slots, live\n"
             "readers and the publishing rate over the last second.\n"
             "\n"
             "  --json       one JSON array of objects, for scripts\n"
             "  --transport  only buses of that transport\n"
             "\n"
             "examples:\n"
             "  framebus list\n"
             "  framebus list --json | jq -r '.[] | select(.state == \"dead\") | .name'\n"},
    {"stat", "usage: framebus stat NAME [--watch] [--json] [--transport posix|sysv]\n"
             "\n"
             "One bus in detail: producer pid and session, format and plane table,\n"
             "frames published, rate, and per reader its pid, policy, frames, lag,\n"
             "overruns, drops and idle time.\n"
             "\n"
             "  --watch      redraw every second, like top, until Ctrl-C\n"
             "  --json       a JSON object (one line per second with --watch)\n"
             "\n"
             "examples:\n"
             "  framebus stat cam\n"
             "  framebus stat cam --watch\n"},
    {"rm", "usage: framebus rm NAME... [--force] [--transport posix|sysv]\n"
           "       framebus rm --stale [PATTERN...]\n"
           "\n"
           "Remove a bus's name. Readers attached keep their frames until they\n"
           "let go. A bus whose producer is alive is refused unless --force.\n"
           "\n"
           "  --force, -f  remove it even if its producer is alive\n"
           "  --stale      remove every bus whose producer died or ended (only\n"
           "               those matching the shell PATTERNs, if given)\n"
           "\n"
           "examples:\n"
           "  framebus rm cam\n"
           "  framebus rm --stale\n"
           "  framebus rm --stale 'cam*'\n"},
    {"cat", "usage: framebus cat NAME [--y4m | --raw] [--frames N] [--latest]\n"
            "                    [--timeout S] [--follow] [--same-user]\n"
            "                    [--transport posix|sysv]\n"
            "\n"
            "Write the bus's frames to stdout. Every frame, in order, by default\n"
            "(the producer waits for cat, like a pipe). Waits for the bus to appear\n"
            "on either transport, and gets its first frame even if started first.\n"
            "Ends (status 0) when the stream ends or the reader of stdout goes\n"
            "away; fails (status 1) if the producer dies, unless --follow.\n"
            "\n"
            "  --y4m        YUV4MPEG2: header with size, rate and colour format;\n"
            "               ffmpeg, ffplay, mpv and x264 read it from a pipe\n"
            "  --raw        bare planes (the default); stderr gets the ffmpeg\n"
            "               options that read them\n"
            "  --frames N   stop after N frames\n"
            "  --latest     only the newest frame each time; never slows the\n"
            "               producer, skips frames when cat is slow\n"
            "  --timeout S  give up after S seconds without a frame (default: wait)\n"
            "  --follow     when the stream ends or its producer dies, wait for\n"
            "               the next producer of the name and go on\n"
            "  --same-user  refuse a bus that belongs to another user (a name\n"
            "               squatted before the producer started)\n"
            "\n"
            "examples:\n"
            "  framebus cat cam --y4m | ffplay -\n"
            "  framebus cat cam --y4m | ffmpeg -i - -c:v libx264 out.mkv\n"
            "  framebus cat cam --raw --frames 1 > frame.yuv\n"
            "  framebus cat cam --y4m | ffmpeg -f yuv4mpegpipe -i - -c:v ffv1 \\\n"
            "      -f nut tcp://0.0.0.0:5000?listen        (see docs/tools.md)\n"},
    {"put", "usage: framebus put NAME --y4m [--slots N] [--wait-readers N]\n"
            "       framebus put NAME --size WxH --pix-fmt F [--fps R] [...]\n"
            "\n"
            "Read frames from stdin into a new bus NAME, straight into shared\n"
            "memory. The stream ends (readers see its end) when stdin does.\n"
            "\n"
            "  --y4m              stdin is YUV4MPEG2 (size, rate and format from\n"
            "                     its header)\n"
            "  --size WxH         raw input: frame size\n"
            "  --pix-fmt F        raw input: pixel format, as ffmpeg names it\n"
            "  --fps R            frame rate (30, 30000/1001, 29.97; default 25,\n"
            "                     or the y4m header's)\n"
            "  --slots N          frames the bus holds (2 to 64, default 3)\n"
            "  --wait-readers N   hold the first frame until N readers attached\n"
            "  --transport T      posix (default) or sysv\n"
            "\n"
            "examples:\n"
            "  ffmpeg -i in.mp4 -f yuv4mpegpipe - | framebus put cam --y4m\n"
            "  ffmpeg -i in.mp4 -f rawvideo -pix_fmt nv12 - |\n"
            "      framebus put cam --size 1280x720 --pix-fmt nv12 --fps 30\n"
            "  ffmpeg -i tcp://host:5000 -f yuv4mpegpipe - | framebus put cam --y4m\n"},
    {"bench", "usage: framebus bench [--size WxH] [--pix-fmt F] [--readers N]\n"
              "                      [--policy latest|lossless] [--transport posix|sysv]\n"
              "                      [--slots N] [--fps F] [--reader-fps F] [--low-latency]\n"
              "                      [--pin]\n"
              "                      [--frames N | --seconds S] [--rounds N] [--json]\n"
              "       framebus bench --sweep [--out DIR] [--pix-fmt F] [--frames N | --seconds S]\n"
              "                      [--rounds N] [--json]\n"
              "\n"
              "Spawns one writer and N reader processes over a fresh bus; the writer copies\n"
              "synthetic frames (a pool of 4, the sequence number stamped in) as fast as it\n"
              "can, the readers checksum every frame they get. The same run measures the\n"
              "same frames over one Unix pipe per reader, and the writer's copy into a ring\n"
              "of as many frames as the bus has slots, the readers reading them (no bus)\n"
              "(memcpy, the most a writer can do; memcpy warm: into cache-warm buffers).\n"
              "\n"
              "  --size WxH          frame size (default 1920x1080)\n"
              "  --pix-fmt F         pixel format (default yuv420p)\n"
              "  --readers N         reader processes, 1..64 (default 1)\n"
              "  --policy P          latest (default) or lossless\n"
              "  --transport T       posix (default) or sysv\n"
              "  --slots N           slots of the bus, 2..64 (default 3)\n"
              "  --fps F             the writer sends at most F frames/s, like a camera or a\n"
              "                      decoder at its frame rate (default: as fast as it can)\n"
              "  --reader-fps F      readers take at most F frames/s, like a display (default:\n"
              "                      as fast as they can)\n"
              "  --low-latency       readers wait with FBUS_READER_LOW_LATENCY (awake from\n"
              "                      when the writer begins a frame); try with --fps 60\n"
              "  --pin               the writer on the first CPU, each reader on another\n"
              "                      (as a latency-minded deployment would pin them)\n"
              "  --frames N          frames per measurement and round\n"
              "  --seconds S         seconds per measurement (default 2, sweep 1), split\n"
              "                      over the rounds\n"
              "  --rounds N          rounds of memcpy, bus, pipe in turn; each one's best\n"
              "                      round (highest writer rate) is reported (default 3)\n"
              "  --json              print JSON instead of a table\n"
              "  --sweep             sizes 640x360..3840x2160 x readers 1..8 x both policies\n"
              "                      x both transports; writes DIR/bench-sweep.csv and .png\n"
              "  --out DIR           where --sweep writes (default .)\n"
              "\n"
              "Exit status: 0, 1 on a failure or a bad checksum, 2 on bad usage.\n"
              "\n"
              "examples:\n"
              "  framebus bench\n"
              "  framebus bench --size 1280x720 --readers 4 --policy lossless --json\n"
              "  framebus bench --readers 8 --reader-fps 60\n"
              "  framebus bench --fps 60 --low-latency --pin\n"
              "  framebus bench --sweep --out docs   (see docs/benchmarks.md)\n"},
};

int tool_help(const char *cmd, void *fp)
{
    FILE *f = fp;

    if (!cmd) {
        fputs(overview, f);
        return 0;
    }
    for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++) {
        if (strcmp(helps[i].cmd, cmd) == 0) {
            fputs(helps[i].text, f);
            return 0;
        }
    }
    return -1;
}

int tool_common_option(const char *cmd, char **argv, int opt, fbus_transport *t, int *t_set)
{
    switch (opt) {
    case 'T':
        if (tool_parse_transport(optarg, t) < 0)
            return tool_usage_error(cmd, "unknown transport \"%s\" (posix or sysv)", optarg);
        if (t_set)
            *t_set = 1;
        return -1;
    case 'h':
        tool_help(cmd, stdout);
        return TOOL_EXIT_OK;
    default:
        return tool_bad_option(cmd, argv, opt);
    }
}

int tool_parse_flags(const char *cmd, int argc, char **argv, const tool_flag *flags,
                     fbus_transport *t, int *t_set)
{
    struct option longopts[16];
    char shorts[40] = ":h";
    size_t n = 0, ns = 2;
    int opt, rc;

    for (; flags[n].name && n < 13; n++) {
        longopts[n] = (struct option){flags[n].name, no_argument, NULL, 256 + (int)n};
        if (flags[n].c && ns < sizeof(shorts) - 1)
            shorts[ns++] = flags[n].c;
    }
    shorts[ns] = '\0';
    longopts[n++] = (struct option){"transport", required_argument, NULL, 'T'};
    longopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[n] = (struct option){NULL, 0, NULL, 0};
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
        const tool_flag *f = NULL;

        for (size_t i = 0; flags[i].name; i++)
            if (opt == 256 + (int)i || (flags[i].c && opt == flags[i].c))
                f = &flags[i];
        if (f) {
            *f->set = 1;
            continue;
        }
        rc = tool_common_option(cmd, argv, opt, t, t_set);
        if (rc >= 0)
            return rc;
    }
    return -1;
}
