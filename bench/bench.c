/* SPDX-License-Identifier: MIT */
/*
 * framebus bench: the memcpy rate of one frame, then one writer and N reader
 * processes over a fresh bus, then the same frames over one Unix pipe per
 * reader; a table or JSON of the result, or the --sweep matrix as CSV and a
 * gnuplot PNG. Children report back through a shared anonymous mapping.
 * This file is the command line; bench_internal.h says which file does what.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

volatile sig_atomic_t bench_stop;

void bench_error(const char *fmt, ...)
{
    va_list ap;

    fputs("framebus: bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

#define DEFAULT_SECONDS       2.0
#define DEFAULT_SWEEP_SECONDS 1.0
#define DEFAULT_ROUNDS        3

static const char usage_text[] =
    "usage: framebus bench [--size WxH] [--pix-fmt F] [--readers N]\n"
    "                      [--policy latest|lossless] [--transport posix|sysv]\n"
    "                      [--slots N] [--fps F] [--reader-fps F]\n"
    "                      [--frames N | --seconds S] [--rounds N] [--json]\n"
    "       framebus bench --sweep [--out DIR] [--pix-fmt F] [--frames N | --seconds S]\n"
    "                      [--rounds N] [--json]\n"
    "\n"
    "Spawns one writer and N reader processes over a fresh bus; the writer copies\n"
    "synthetic frames (a pool of 4, the sequence number stamped in) as fast as it\n"
    "can, the readers checksum every frame they get. The same run measures the\n"
    "same frames over one Unix pipe per reader and the memcpy rate of one frame.\n"
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
    "Exit status: 0, 1 on a failure or a bad checksum, 2 on bad usage.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("framebus: bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see 'framebus bench --help')\n", stderr);
    return 2;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_size(const char *s, uint32_t *w, uint32_t *h)
{
    char buf[32], *x;
    uint64_t vw, vh;

    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    x = strchr(buf, 'x');
    if (!x)
        return -1;
    *x = '\0';
    if (parse_u64(buf, 1, 32768, &vw) < 0 || parse_u64(x + 1, 1, 32768, &vh) < 0)
        return -1;
    *w = (uint32_t)vw;
    *h = (uint32_t)vh;
    return 0;
}

static void on_stop(int sig)
{
    (void)sig;
    bench_stop = 1;
}

/* The frame format of cfg, with the checks that need it; 0 or exit code. */
static int format_of(const bench_config *cfg, fbus_format *fmt)
{
    int err = fbus_format_init(fmt, cfg->pix_fmt, cfg->width, cfg->height, 0);

    if (err == FBUS_EFORMAT)
        return usage_error("unknown pixel format \"%s\"", cfg->pix_fmt);
    if (err < 0)
        return usage_error("%" PRIu32 "x%" PRIu32 " is not a valid size for %s: %s", cfg->width,
                           cfg->height, cfg->pix_fmt, fbus_strerror(err));
    if ((uint64_t)fmt->planes[0].stride * fmt->planes[0].rows < 2 * BENCH_HDR_BYTES)
        return usage_error("%" PRIu32 "x%" PRIu32 " is too small: the first plane must hold at "
                           "least %d bytes",
                           cfg->width, cfg->height, 2 * BENCH_HDR_BYTES);
    return 0;
}

static int run_one(const bench_config *cfg, int json)
{
    bench_result *res = calloc(1, sizeof(*res));
    fbus_format fmt;
    char err[320];
    int rc;

    if (!res) {
        bench_error("out of memory");
        return 1;
    }
    rc = format_of(cfg, &fmt);
    if (rc)
        goto out;
    if (bench_run(cfg, &fmt, BENCH_DO_ALL, res, err, sizeof(err)) < 0) {
        bench_error("%s", err);
        rc = 1;
        goto out;
    }
    if (json)
        bench_print_json(stdout, res);
    else
        bench_print_table(stdout, res);
    fflush(stdout);
    if (res->bus.bad || res->pipe.bad) {
        bench_error("%" PRIu64 " frames had a bad checksum", res->bus.bad + res->pipe.bad);
        rc = 1;
    } else if (res->bus.seq_errors || res->pipe.seq_errors) {
        bench_error("%" PRIu64 " frames came out of order",
                    res->bus.seq_errors + res->pipe.seq_errors);
        rc = 1;
    }
out:
    free(res);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"size", required_argument, NULL, 's'},
        {"pix-fmt", required_argument, NULL, 'p'},
        {"readers", required_argument, NULL, 'r'},
        {"policy", required_argument, NULL, 'P'},
        {"transport", required_argument, NULL, 'T'},
        {"slots", required_argument, NULL, 'S'},
        {"rounds", required_argument, NULL, 'R'},
        {"fps", required_argument, NULL, 'f'},
        {"reader-fps", required_argument, NULL, 'F'},
        {"frames", required_argument, NULL, 'n'},
        {"seconds", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"sweep", no_argument, NULL, 'w'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bench_config cfg = {.width = 1920,
                        .height = 1080,
                        .pix_fmt = "yuv420p",
                        .readers = 1,
                        .policy = FBUS_POLICY_LATEST,
                        .transport = FBUS_TRANSPORT_POSIX,
                        .slots = FBUS_DEFAULT_SLOTS,
                        .rounds = DEFAULT_ROUNDS};
    const char *out_dir = NULL, *matrix_opt = NULL;
    struct sigaction sa;
    int json = 0, sweep = 0, opt, rc;
    uint64_t v;
    char *end;

    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (parse_size(optarg, &cfg.width, &cfg.height) < 0)
                return usage_error("bad size \"%s\" (WxH, e.g. 1920x1080)", optarg);
            matrix_opt = "--size";
            break;
        case 'p':
            if (strlen(optarg) >= sizeof(cfg.pix_fmt))
                return usage_error("unknown pixel format \"%s\"", optarg);
            strcpy(cfg.pix_fmt, optarg);
            break;
        case 'r':
            if (parse_u64(optarg, 1, BENCH_MAX_READERS, &v) < 0)
                return usage_error("bad reader count \"%s\" (1 to %d)", optarg, BENCH_MAX_READERS);
            cfg.readers = (int)v;
            matrix_opt = "--readers";
            break;
        case 'P':
            if (strcmp(optarg, "latest") == 0)
                cfg.policy = FBUS_POLICY_LATEST;
            else if (strcmp(optarg, "lossless") == 0)
                cfg.policy = FBUS_POLICY_LOSSLESS;
            else
                return usage_error("unknown policy \"%s\" (latest or lossless)", optarg);
            matrix_opt = "--policy";
            break;
        case 'T':
            if (strcmp(optarg, "posix") == 0)
                cfg.transport = FBUS_TRANSPORT_POSIX;
            else if (strcmp(optarg, "sysv") == 0)
                cfg.transport = FBUS_TRANSPORT_SYSV;
            else
                return usage_error("unknown transport \"%s\" (posix or sysv)", optarg);
            matrix_opt = "--transport";
            break;
        case 'S':
            if (parse_u64(optarg, 2, FBUS_MAX_SLOTS, &v) < 0)
                return usage_error("bad slot count \"%s\" (2 to %d)", optarg, FBUS_MAX_SLOTS);
            cfg.slots = (uint32_t)v;
            break;
        case 'R':
            if (parse_u64(optarg, 1, BENCH_MAX_ROUNDS, &v) < 0)
                return usage_error("bad round count \"%s\" (1 to %d)", optarg, BENCH_MAX_ROUNDS);
            cfg.rounds = (int)v;
            break;
        case 'F':
            errno = 0;
            cfg.reader_fps = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(cfg.reader_fps > 0) || cfg.reader_fps > 1e6)
                return usage_error("bad reader rate \"%s\" (frames per second, more than 0)",
                                   optarg);
            break;
        case 'f':
            errno = 0;
            cfg.fps = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(cfg.fps > 0) || cfg.fps > 1e6)
                return usage_error("bad writer rate \"%s\" (frames per second, more than 0)",
                                   optarg);
            break;
        case 'n':
            if (parse_u64(optarg, 1, UINT32_MAX, &v) < 0)
                return usage_error("bad frame count \"%s\" (a positive number)", optarg);
            cfg.frames = v;
            break;
        case 't':
            errno = 0;
            cfg.seconds = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(cfg.seconds > 0) || cfg.seconds > 3600)
                return usage_error("bad duration \"%s\" (seconds, more than 0)", optarg);
            break;
        case 'j':
            json = 1;
            break;
        case 'w':
            sweep = 1;
            break;
        case 'o':
            out_dir = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case ':':
            return usage_error("option \"%s\" needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option \"%s\"", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (cfg.frames && cfg.seconds > 0)
        return usage_error("--frames and --seconds cannot be used together");
    if (out_dir && !sweep)
        return usage_error("--out needs --sweep");
    if (sweep && matrix_opt)
        return usage_error("--sweep runs its own matrix of sizes, readers, policies and "
                           "transports; drop %s",
                           matrix_opt);
    if (sweep && cfg.fps > 0)
        return usage_error("--sweep measures the most each setup can do; drop --fps");
    if (!cfg.frames && !(cfg.seconds > 0))
        cfg.seconds = sweep ? DEFAULT_SWEEP_SECONDS : DEFAULT_SECONDS;

    /* Children inherit the handlers: Ctrl-C stops every process of the run,
     * the writer ends the bus, the readers see the end, and we unwind. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    bench_stop = 0;

    if (sweep) {
        fbus_format fmt;
        bench_config first = cfg;

        /* Check the pixel format before the first of many runs. */
        first.width = 640;
        first.height = 360;
        rc = format_of(&first, &fmt);
        if (rc)
            return rc;
        rc = bench_sweep(&cfg, out_dir ? out_dir : ".", json);
    } else {
        rc = run_one(&cfg, json);
    }
    return rc;
}
