/* SPDX-License-Identifier: MIT */
/*
 * framebus bench: the options, read through one table into a bench_config,
 * then the engine in bench/ does the run or the --sweep.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "tools.h"

#define CMD                   "bench"
#define DEFAULT_SECONDS       2.0
#define DEFAULT_SWEEP_SECONDS 1.0
#define DEFAULT_ROUNDS        3

/* What the options set besides the run's configuration. */
struct bench_cli {
    bench_config cfg;
    const char *out_dir;
    const char *matrix_opt; /* an option --sweep sets itself, if given (its name) */
    int json, sweep;
};

enum kind { K_SIZE, K_PIXFMT, K_COUNT, K_RATE, K_POLICY, K_TRANSPORT, K_FLAG, K_PATH };

/* One option: what kind of value, where it goes, its bounds, and the usage
 * error a bad value gets ("bad reader count \"0\" (1 to 64)"). */
struct bench_option {
    const char *name;
    enum kind kind;
    size_t offset; /* into struct bench_cli */
    size_t width;  /* of a K_COUNT field: sizeof(int), sizeof(uint32_t)... */
    uint64_t min, max;
    const char *bad;  /* the usage error before the value: "bad reader count" */
    const char *hint; /* after it: "(1 to 64)", or NULL */
    int matrix;       /* --sweep chooses this itself */
};

#define CFG(f) offsetof(struct bench_cli, cfg.f), sizeof(((bench_config *)0)->f)
#define CLI(f) offsetof(struct bench_cli, f), sizeof(((struct bench_cli *)0)->f)

static const struct bench_option options[] = {
    {"size", K_SIZE, CFG(width), 0, 0, "bad size", "(WxH, e.g. 1920x1080)", 1},
    {"pix-fmt", K_PIXFMT, CFG(pix_fmt), 0, 0, "unknown pixel format", NULL, 0},
    {"readers", K_COUNT, CFG(readers), 1, BENCH_MAX_READERS, "bad reader count", "(1 to 64)", 1},
    {"policy", K_POLICY, CFG(policy), 0, 0, "unknown policy", "(latest or lossless)", 1},
    {"transport", K_TRANSPORT, CFG(transport), 0, 0, "unknown transport", "(posix or sysv)", 1},
    {"slots", K_COUNT, CFG(slots), 2, FBUS_MAX_SLOTS, "bad slot count", "(2 to 64)", 0},
    {"rounds", K_COUNT, CFG(rounds), 1, BENCH_MAX_ROUNDS, "bad round count", "(1 to 64)", 0},
    {"fps", K_RATE, CFG(fps), 0, 1000000, "bad writer rate", "(frames per second, more than 0)", 0},
    {"reader-fps", K_RATE, CFG(reader_fps), 0, 1000000, "bad reader rate",
     "(frames per second, more than 0)", 0},
    {"frames", K_COUNT, CFG(frames), 1, UINT32_MAX, "bad frame count", "(a positive number)", 0},
    {"seconds", K_RATE, CFG(seconds), 0, 3600, "bad duration", "(seconds, more than 0)", 0},
    {"low-latency", K_FLAG, CFG(low_latency), 0, 0, NULL, NULL, 0},
    {"pin", K_FLAG, CFG(pin), 0, 0, NULL, NULL, 0},
    {"json", K_FLAG, CLI(json), 0, 0, NULL, NULL, 0},
    {"sweep", K_FLAG, CLI(sweep), 0, 0, NULL, NULL, 0},
    {"out", K_PATH, CLI(out_dir), 0, 0, NULL, NULL, 0},
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static void store_count(void *field, size_t width, uint64_t v)
{
    /* int and uint32_t fields alike: the bounds keep v in range of both. */
    if (width == sizeof(uint64_t))
        *(uint64_t *)field = v;
    else
        *(uint32_t *)field = (uint32_t)v;
}

/* A positive number up to max, in the spelling strtod takes. */
static int parse_positive(const char *s, double max, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Put the value of option o into b: 0, or -1 if it is not valid. */
static int set_option(struct bench_cli *b, const struct bench_option *o, const char *arg)
{
    void *field = (char *)b + o->offset;
    uint64_t v;

    switch (o->kind) {
    case K_SIZE:
        return tool_parse_size(arg, &b->cfg.width, &b->cfg.height);
    case K_PIXFMT:
        if (strlen(arg) >= o->width)
            return -1;
        strcpy(field, arg);
        return 0;
    case K_COUNT:
        if (tool_parse_u64(arg, o->min, o->max, &v) < 0)
            return -1;
        store_count(field, o->width, v);
        return 0;
    case K_RATE:
        return parse_positive(arg, (double)o->max, field);
    case K_POLICY:
        if (strcmp(arg, "latest") == 0)
            b->cfg.policy = FBUS_POLICY_LATEST;
        else if (strcmp(arg, "lossless") == 0)
            b->cfg.policy = FBUS_POLICY_LOSSLESS;
        else
            return -1;
        return 0;
    case K_TRANSPORT:
        return tool_parse_transport(arg, field);
    case K_FLAG:
        *(int *)field = 1;
        return 0;
    case K_PATH:
        *(const char **)field = arg;
        return 0;
    }
    return -1;
}

/* getopt_long over the table: 0, an exit code, or -1 after --help. */
static int parse_options(struct bench_cli *b, int argc, char **argv)
{
    struct option longopts[N_OPTIONS + 2];
    int opt;

    for (size_t i = 0; i < N_OPTIONS; i++)
        longopts[i] = (struct option){options[i].name,
                                      options[i].kind == K_FLAG ? no_argument : required_argument,
                                      NULL, (int)i + 256};
    longopts[N_OPTIONS] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[N_OPTIONS + 1] = (struct option){NULL, 0, NULL, 0};
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        const struct bench_option *o;

        if (opt == 'h') {
            tool_help(CMD, stdout);
            return -1;
        }
        if (opt < 256)
            return tool_bad_option(CMD, argv, opt);
        o = &options[opt - 256];
        if (set_option(b, o, optarg) < 0)
            return tool_usage_error(CMD, "%s \"%s\"%s%s", o->bad, optarg, o->hint ? " " : "",
                                    o->hint ? o->hint : "");
        if (o->matrix)
            b->matrix_opt = o->name;
    }
    if (optind < argc)
        return tool_usage_error(CMD, "unexpected argument \"%s\"", argv[optind]);
    return 0;
}

/* The options that do not go together: 0 or the exit code. */
static int check_options(struct bench_cli *b)
{
    if (b->cfg.frames && b->cfg.seconds > 0)
        return tool_usage_error(CMD, "--frames and --seconds cannot be used together");
    if (b->out_dir && !b->sweep)
        return tool_usage_error(CMD, "--out needs --sweep");
    if (b->sweep && b->matrix_opt)
        return tool_usage_error(CMD,
                                "--sweep runs its own matrix of sizes, readers, policies and "
                                "transports; drop --%s",
                                b->matrix_opt);
    if (b->sweep && b->cfg.fps > 0)
        return tool_usage_error(CMD, "--sweep measures the most each setup can do; drop --fps");
    return 0;
}

static void report(const char *line)
{
    tool_error(CMD, "%s", line);
}

int cmd_bench(int argc, char **argv)
{
    struct bench_cli b = {.cfg = {.width = 1920,
                                  .height = 1080,
                                  .pix_fmt = "yuv420p",
                                  .readers = 1,
                                  .policy = FBUS_POLICY_LATEST,
                                  .transport = FBUS_TRANSPORT_POSIX,
                                  .slots = FBUS_DEFAULT_SLOTS,
                                  .rounds = DEFAULT_ROUNDS,
                                  .stop = &tool_stop,
                                  .report = report}};
    bench_config first;
    fbus_format fmt;
    char err[320];
    int rc = parse_options(&b, argc, argv);

    if (rc)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    rc = check_options(&b);
    if (rc)
        return rc;
    if (!b.cfg.frames && !(b.cfg.seconds > 0))
        b.cfg.seconds = b.sweep ? DEFAULT_SWEEP_SECONDS : DEFAULT_SECONDS;
    /* A sweep checks the pixel format at its first size before its many
     * runs. */
    first = b.cfg;
    if (b.sweep) {
        first.width = 640;
        first.height = 360;
    }
    if (bench_format_of(&first, &fmt, err, sizeof(err)) < 0)
        return tool_usage_error(CMD, "%s", err);
    /* Children inherit the handlers: Ctrl-C stops every process of the run,
     * the writer ends the bus, the readers see the end, and we unwind. */
    tool_signals(0);
    if (b.sweep)
        return bench_sweep(&b.cfg, b.out_dir ? b.out_dir : ".", b.json);
    return bench_one(&b.cfg, &fmt, b.json);
}
