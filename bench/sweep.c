/* SPDX-License-Identifier: MIT */
/*
 * framebus bench --sweep: every size, reader count, policy and transport in
 * turn, as a table or JSON on stdout, a CSV, and a gnuplot script and PNG.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "internal.h"

static const uint32_t sizes[][2] = {{640, 360}, {1280, 720}, {1920, 1080}, {3840, 2160}};
static const int reader_counts[] = {1, 2, 4, 8};
static const fbus_policy policies[] = {FBUS_POLICY_LATEST, FBUS_POLICY_LOSSLESS};
static const fbus_transport transports[] = {FBUS_TRANSPORT_POSIX, FBUS_TRANSPORT_SYSV};

#define N_SIZES      (sizeof(sizes) / sizeof(sizes[0]))
#define N_READERS    (sizeof(reader_counts) / sizeof(reader_counts[0]))
#define N_POLICIES   2
#define N_TRANSPORTS 2

/* The CSV's columns, one row per bus configuration. */
static const char csv_header[] =
    "width,height,pix_fmt,frame_bytes,readers,policy,transport,writer_fps,reader_fps_min,"
    "reader_fps_mean,drops,overruns,bad_checksums,lat_p50_us,lat_p99_us,lat_max_us,"
    "writer_cpu_us_per_frame,reader_cpu_us_per_frame,pipe_fps,pipe_lat_p50_us,pipe_lat_p99_us,"
    "memcpy_fps,bus_pipe,bus_memcpy\n";

static void csv_row(FILE *f, const bench_result *r)
{
    const bench_side *b = &r->bus, *p = &r->pipe;

    fprintf(f,
            "%" PRIu32 ",%" PRIu32 ",%s,%" PRIu64 ",%d,%s,%s,%.1f,%.1f,%.1f,%" PRIu64 ",%" PRIu64
            ",%" PRIu64 ",%.2f,%.2f,%.2f,%.2f,%.2f,%.1f,%.2f,%.2f,%.1f,%.3f,%.3f\n",
            r->cfg.width, r->cfg.height, r->cfg.pix_fmt, r->fmt.size, r->cfg.readers,
            bench_policy_name(r->cfg.policy), tool_transport_name(r->cfg.transport), b->writer.fps,
            b->reader_fps_min, b->reader_fps_mean, b->drops, b->overruns, b->bad, b->latency.p50_us,
            b->latency.p99_us, b->latency.max_us, b->writer.cpu_us_per_frame,
            b->reader_cpu_us_per_frame, p->writer.fps, p->latency.p50_us, p->latency.p99_us,
            r->memcpy_fps, r->bus_pipe, r->bus_memcpy);
}

static void sweep_header(FILE *f)
{
    fprintf(f, "%-10s %3s %-8s %-5s %10s %10s %8s %8s %4s %8s %8s %9s %10s %8s %8s\n", "size", "rd",
            "policy", "trans", "writer fps", "reader fps", "drops", "overruns", "bad", "p50 us",
            "p99 us", "pipe fps", "memcpy fps", "bus/pipe", "bus/mcpy");
}

static void sweep_row(FILE *f, const bench_result *r)
{
    char size[24];

    snprintf(size, sizeof(size), "%" PRIu32 "x%" PRIu32, r->cfg.width, r->cfg.height);
    fprintf(f,
            "%-10s %3d %-8s %-5s %10.1f %10.1f %8" PRIu64 " %8" PRIu64 " %4" PRIu64
            " %8.1f %8.1f %9.1f %10.1f %8.2f %8.2f\n",
            size, r->cfg.readers, bench_policy_name(r->cfg.policy),
            tool_transport_name(r->cfg.transport), r->bus.writer.fps, r->bus.reader_fps_min,
            r->bus.drops, r->bus.overruns, r->bus.bad, r->bus.latency.p50_us, r->bus.latency.p99_us,
            r->pipe.writer.fps, r->memcpy_fps, r->bus_pipe, r->bus_memcpy);
}

/* What the plot needs of one sweep row. */
struct plot_row {
    uint32_t width;
    uint64_t bytes;
    int readers;
    fbus_policy policy;
    fbus_transport transport;
    double y[7];
};

enum { Y_FPS, Y_P50, Y_P99, Y_PIPE_FPS, Y_PIPE_P50, Y_PIPE_P99, Y_MEMCPY };

static void plot_row_of(const bench_result *r, struct plot_row *p)
{
    p->width = r->cfg.width;
    p->bytes = r->fmt.size;
    p->readers = r->cfg.readers;
    p->policy = r->cfg.policy;
    p->transport = r->cfg.transport;
    p->y[Y_FPS] = r->bus.writer.fps;
    p->y[Y_P50] = r->bus.latency.p50_us;
    p->y[Y_P99] = r->bus.latency.p99_us;
    p->y[Y_PIPE_FPS] = r->pipe.writer.fps;
    p->y[Y_PIPE_P50] = r->pipe.latency.p50_us;
    p->y[Y_PIPE_P99] = r->pipe.latency.p99_us;
    p->y[Y_MEMCPY] = r->memcpy_fps;
}

/*
 * One series as a gnuplot data block $NAME: x = frame size in MB over the
 * rows with one reader (by_readers 0), or x = readers over the 1920x1080
 * rows (by_readers 1), of one policy and transport.
 */
static void plot_block(FILE *f, const char *name, const struct plot_row *rows, int n,
                       int by_readers, fbus_policy pol, fbus_transport tr, int y)
{
    fprintf(f, "$%s << EOD\n", name);
    for (int i = 0; i < n; i++) {
        const struct plot_row *p = &rows[i];
        if (p->policy != pol || p->transport != tr)
            continue;
        if (by_readers ? p->width != 1920 : p->readers != 1)
            continue;
        if (by_readers)
            fprintf(f, "%d %.3f\n", p->readers, p->y[y]);
        else
            fprintf(f, "%.4f %.3f\n", (double)p->bytes / 1e6, p->y[y]);
    }
    fprintf(f, "EOD\n");
}

/* The gnuplot script, with its data inline so it can be re-run alone. */
static int write_plot_script(const char *path, const char *png, const bench_config *base,
                             const struct plot_row *rows, int n)
{
    static const char *const axis[2][2] = {{"vs frame size, 1 reader", "frame size (MB)"},
                                           {"vs readers, 1920x1080", "readers"}};
    static const char *const ysuffix[] = {"fps", "p50", "p99"};
    FILE *f = fopen(path, "w");

    if (!f)
        return -errno;
    fprintf(f, "# framebus bench --sweep plot (data inline); run: gnuplot %s\n", path);
    for (int b = 0; b < 2; b++) {
        for (int pol = 0; pol < N_POLICIES; pol++) {
            for (int t = 0; t < N_TRANSPORTS; t++) {
                for (int y = Y_FPS; y <= Y_P99; y++) {
                    char name[64];
                    snprintf(name, sizeof(name), "%s_%s_%s_%s", b ? "rd" : "sz",
                             bench_policy_name(policies[pol]), tool_transport_name(transports[t]),
                             ysuffix[y]);
                    plot_block(f, name, rows, n, b, policies[pol], transports[t], y);
                }
            }
        }
        /* Pipe and memcpy do not depend on policy or transport. */
        plot_block(f, b ? "rd_pipe_fps" : "sz_pipe_fps", rows, n, b, FBUS_POLICY_LATEST,
                   FBUS_TRANSPORT_POSIX, Y_PIPE_FPS);
        plot_block(f, b ? "rd_pipe_p50" : "sz_pipe_p50", rows, n, b, FBUS_POLICY_LATEST,
                   FBUS_TRANSPORT_POSIX, Y_PIPE_P50);
        plot_block(f, b ? "rd_pipe_p99" : "sz_pipe_p99", rows, n, b, FBUS_POLICY_LATEST,
                   FBUS_TRANSPORT_POSIX, Y_PIPE_P99);
        plot_block(f, b ? "rd_memcpy_fps" : "sz_memcpy_fps", rows, n, b, FBUS_POLICY_LATEST,
                   FBUS_TRANSPORT_POSIX, Y_MEMCPY);
    }
    fprintf(f, "set terminal pngcairo size 1200,900 font ',9'\n");
    fprintf(f, "set output '%s'\n", png);
    fprintf(f, "set key top right font ',8'\nset grid\nset logscale y\n");
    fprintf(f, "set multiplot layout 2,2 title 'framebus bench --sweep, %s, ", base->pix_fmt);
    if (base->frames)
        fprintf(f, "%" PRIu64 " frames per round", base->frames);
    else
        fprintf(f, "%.1f s per point", base->seconds);
    fprintf(f, ", best of %d round%s'\n", base->rounds, base->rounds == 1 ? "" : "s");
    for (int b = 0; b < 2; b++) {
        const char *pre = b ? "rd" : "sz";

        fprintf(f, "set xlabel '%s'\n%s\n", axis[b][1],
                b ? "unset logscale x\nset xtics (1, 2, 4, 8)" : "set logscale x\nset xtics auto");
        fprintf(f, "set title 'writer frames/s %s'\nset ylabel 'frames/s'\n", axis[b][0]);
        fprintf(f,
                "plot $%s_latest_posix_fps w lp t 'bus latest posix', "
                "$%s_lossless_posix_fps w lp t 'bus lossless posix', \\\n"
                "     $%s_latest_sysv_fps w lp t 'bus latest sysv', "
                "$%s_lossless_sysv_fps w lp t 'bus lossless sysv', \\\n"
                "     $%s_pipe_fps w lp dt 2 lw 2 t 'pipe', $%s_memcpy_fps w lp dt 3 t 'memcpy'\n",
                pre, pre, pre, pre, pre, pre);
        fprintf(f, "set title 'latency publish -> acquire %s'\nset ylabel 'microseconds'\n",
                axis[b][0]);
        fprintf(
            f,
            "plot $%s_latest_posix_p50 w lp t 'bus latest p50', "
            "$%s_latest_posix_p99 w lp dt 2 t 'bus latest p99', \\\n"
            "     $%s_lossless_posix_p50 w lp t 'bus lossless p50', "
            "$%s_lossless_posix_p99 w lp dt 2 t 'bus lossless p99', \\\n"
            "     $%s_pipe_p50 w lp lw 2 t 'pipe p50', $%s_pipe_p99 w lp dt 2 lw 2 t 'pipe p99'\n",
            pre, pre, pre, pre, pre, pre);
    }
    fprintf(f, "unset multiplot\n");
    if (fclose(f) != 0)
        return -errno;
    return 0;
}

/* Whether an executable `prog` is on PATH. */
static int on_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[4096];

    if (!path)
        return 0;
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n && n + strlen(prog) + 2 <= sizeof(buf)) {
            memcpy(buf, path, n);
            snprintf(buf + n, sizeof(buf) - n, "/%s", prog);
            if (access(buf, X_OK) == 0)
                return 1;
        }
        path += n;
        if (*path == ':')
            path++;
    }
    return 0;
}

/* Run gnuplot on script: 0 or -1. */
static int run_gnuplot(const char *script)
{
    pid_t pid;
    int st;

    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

#define N_POINTS (N_SIZES * N_READERS * N_POLICIES * N_TRANSPORTS)

/* One sweep in progress. */
struct sweep {
    const bench_config *base;
    int json, first, json_open;
    FILE *csv_f;
    char csv[4096], png[4096], gp[4096];
    bench_result *res;
    bench_result *cache; /* memcpy and pipe of the current size/readers */
    struct plot_row rows[N_POINTS];
    int nrows, done, failed;
    uint64_t bad;
};

/* Keep what a point measured once for the points of its size and readers
 * that do not measure it again, and give those points the cached figures. */
static void share_baselines(struct sweep *sw, unsigned what)
{
    bench_result *res = sw->res, *cache = sw->cache;

    if (what & BENCH_DO_MEMCPY) {
        cache->memcpy_done = 1;
        cache->memcpy_frames = res->memcpy_frames;
        cache->memcpy_seconds = res->memcpy_seconds;
        cache->memcpy_fps = res->memcpy_fps;
        cache->memcpy_cpu_us_per_frame = res->memcpy_cpu_us_per_frame;
        cache->memcpy_warm_frames = res->memcpy_warm_frames;
        cache->memcpy_warm_seconds = res->memcpy_warm_seconds;
        cache->memcpy_warm_fps = res->memcpy_warm_fps;
        cache->memcpy_warm_cpu_us_per_frame = res->memcpy_warm_cpu_us_per_frame;
    }
    if (what & BENCH_DO_PIPE)
        cache->pipe = res->pipe;
    res->memcpy_done = cache->memcpy_done;
    res->memcpy_frames = cache->memcpy_frames;
    res->memcpy_seconds = cache->memcpy_seconds;
    res->memcpy_fps = cache->memcpy_fps;
    res->memcpy_cpu_us_per_frame = cache->memcpy_cpu_us_per_frame;
    res->memcpy_warm_frames = cache->memcpy_warm_frames;
    res->memcpy_warm_seconds = cache->memcpy_warm_seconds;
    res->memcpy_warm_fps = cache->memcpy_warm_fps;
    res->memcpy_warm_cpu_us_per_frame = cache->memcpy_warm_cpu_us_per_frame;
    res->pipe = cache->pipe;
    bench_ratios(res);
}

/* The row of a measured point: in the plot, the CSV and on stdout. */
static void emit_point(struct sweep *sw)
{
    const bench_result *res = sw->res;

    sw->bad += res->bus.bad + res->pipe.bad + res->bus.seq_errors + res->pipe.seq_errors;
    plot_row_of(res, &sw->rows[sw->nrows++]);
    csv_row(sw->csv_f, res);
    fflush(sw->csv_f);
    if (sw->json) {
        fputs(sw->first ? "\n" : ",\n", stdout);
        bench_print_json(stdout, res);
        sw->first = 0;
    } else {
        sweep_row(stdout, res);
    }
    fflush(stdout);
}

/* Measure point (s, r, k): 0, or -1 if the sweep must stop (interrupted,
 * or the format cannot be laid out). A failed run is counted and skipped. */
static int sweep_point(struct sweep *sw, size_t s, size_t r, int k)
{
    bench_config cfg = *sw->base;
    unsigned what = BENCH_DO_BUS;
    fbus_format fmt;
    char err[320];
    int e;

    cfg.width = sizes[s][0];
    cfg.height = sizes[s][1];
    cfg.readers = reader_counts[r];
    cfg.policy = policies[k / N_TRANSPORTS];
    cfg.transport = transports[k % N_TRANSPORTS];
    e = fbus_format_init(&fmt, cfg.pix_fmt, cfg.width, cfg.height, 0);
    if (e < 0) {
        bench_say(&cfg, "%" PRIu32 "x%" PRIu32 " %s: %s", cfg.width, cfg.height, cfg.pix_fmt,
                  fbus_strerror(e));
        return -1;
    }
    /* The pipe does not depend on policy or transport, memcpy only on the
     * size: measure each once. */
    if (k == 0)
        what |= BENCH_DO_PIPE | (r == 0 ? BENCH_DO_MEMCPY : 0);
    memset(sw->res, 0, sizeof(*sw->res));
    snprintf(cfg.progress_prefix, sizeof(cfg.progress_prefix), "[%d/%d] ", sw->done + 1,
             (int)N_POINTS);
    sw->done++;
    if (bench_run(&cfg, &fmt, what, sw->res, err, sizeof(err)) < 0) {
        bench_say(&cfg, "%" PRIu32 "x%" PRIu32 ", %d readers, %s, %s: %s", cfg.width, cfg.height,
                  cfg.readers, bench_policy_name(cfg.policy), tool_transport_name(cfg.transport),
                  err);
        if (bench_stopped(&cfg))
            return -1;
        /* One failed point does not void the others. */
        sw->failed++;
        return 0;
    }
    share_baselines(sw, what);
    emit_point(sw);
    return 0;
}

/* The output directory, the CSV and the buffers: 0 or -1 (said). */
static int sweep_open(struct sweep *sw, const char *out_dir)
{
    if (mkdir(out_dir, 0777) < 0 && errno != EEXIST) {
        bench_say(sw->base, "cannot create \"%s\": %s", out_dir, strerror(errno));
        return -1;
    }
    {
        /* "results/" and "results" name the same files: no doubled slash. */
        size_t n = strlen(out_dir);
        const char *sep = n && out_dir[n - 1] == '/' ? "" : "/";
        snprintf(sw->csv, sizeof(sw->csv), "%s%sbench-sweep.csv", out_dir, sep);
        snprintf(sw->png, sizeof(sw->png), "%s%sbench-sweep.png", out_dir, sep);
        snprintf(sw->gp, sizeof(sw->gp), "%s%sbench-sweep.gp", out_dir, sep);
    }
    if (!on_path("gnuplot"))
        bench_say(sw->base,
                  "gnuplot not found: writing the CSV only (install gnuplot-nox for the plot)");
    sw->csv_f = fopen(sw->csv, "w");
    if (!sw->csv_f) {
        bench_say(sw->base, "cannot write \"%s\": %s", sw->csv, strerror(errno));
        return -1;
    }
    sw->res = calloc(1, sizeof(*sw->res));
    sw->cache = calloc(1, sizeof(*sw->cache));
    if (!sw->res || !sw->cache) {
        bench_say(sw->base, "out of memory");
        return -1;
    }
    fputs(csv_header, sw->csv_f);
    return 0;
}

/* Close the CSV, write the plot script, run gnuplot: the exit code. */
static int sweep_finish(struct sweep *sw)
{
    int rc = 0;

    if (fclose(sw->csv_f) != 0) {
        sw->csv_f = NULL;
        bench_say(sw->base, "cannot write \"%s\": %s", sw->csv, strerror(errno));
        return 1;
    }
    sw->csv_f = NULL;
    if (write_plot_script(sw->gp, sw->png, sw->base, sw->rows, sw->nrows) < 0) {
        bench_say(sw->base, "cannot write \"%s\": %s", sw->gp, strerror(errno));
        return 1;
    }
    if (!on_path("gnuplot")) {
        bench_say(sw->base,
                  "gnuplot not found: wrote %s and %s but no plot (install gnuplot-nox, then "
                  "run 'gnuplot %s')",
                  sw->csv, sw->gp, sw->gp);
    } else if (run_gnuplot(sw->gp) < 0) {
        bench_say(sw->base, "gnuplot failed on %s; the data is in %s", sw->gp, sw->csv);
        return 1;
    } else {
        bench_say(sw->base, "wrote %s and %s", sw->csv, sw->png);
    }
    if (sw->failed) {
        bench_say(sw->base, "%d of %d runs failed (see above); they are not in the CSV", sw->failed,
                  (int)N_POINTS);
        rc = 1;
    }
    if (sw->bad) {
        bench_say(sw->base, "%" PRIu64 " frames had a bad checksum or came out of order", sw->bad);
        rc = 1;
    }
    return rc;
}

int bench_sweep(const bench_config *base, const char *out_dir, int json)
{
    struct sweep *sw = calloc(1, sizeof(*sw));
    int rc = 1, stopped = 0;

    if (!sw) {
        bench_say(base, "out of memory");
        return 1;
    }
    sw->base = base;
    sw->json = json;
    sw->first = 1;
    if (sweep_open(sw, out_dir) < 0)
        goto out;
    if (json) {
        fputs("[", stdout);
        sw->json_open = 1;
    } else {
        sweep_header(stdout);
    }
    for (size_t s = 0; s < N_SIZES && !stopped; s++)
        for (size_t r = 0; r < N_READERS && !stopped; r++)
            for (int k = 0; k < N_POLICIES * N_TRANSPORTS && !stopped; k++)
                stopped = sweep_point(sw, s, r, k) < 0;
    if (stopped)
        goto out;
    if (json) {
        fputs("]\n", stdout);
        sw->json_open = 0;
    }
    rc = sweep_finish(sw);
out:
    /* Stopped early (Ctrl-C): what was measured is still valid JSON. */
    if (sw->json_open)
        fputs("]\n", stdout);
    if (sw->csv_f)
        fclose(sw->csv_f);
    free(sw->res);
    free(sw->cache);
    free(sw);
    return rc;
}
