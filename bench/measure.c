/* SPDX-License-Identifier: MIT */
/*
 * framebus bench: the parent's side of a run. It forks the writer and reader
 * processes, watches their progress, reaps them and sums up what they
 * report, and runs the rounds of memcpy, bus and pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "internal.h"

#define STALL_NS           (20 * 1000000000LL) /* no progress: kill the run */
#define PROGRESS_PERIOD_NS (200 * 1000000LL)

static char progress_round[32];

static void progress(const bench_config *cfg, const char *what, const struct bench_shared *sh,
                     int64_t now)
{
    int64_t t0 = atomic_load(&sh->t_start);
    uint64_t n = atomic_load_explicit(&sh->progress, memory_order_relaxed);
    double s = t0 ? (double)(now - t0) / 1e9 : 0;

    fprintf(stderr, "\r\033[K%s%s%s: %5.1f s  %8" PRIu64 " frames  %9.1f fps", cfg->progress_prefix,
            progress_round, what, s, n, s > 0 ? (double)n / s : 0.0);
}

/*
 * Reap the n children in pids (pids[0] the writer), printing progress and
 * killing them all if the writer makes no progress for STALL_NS. Returns 0
 * if all exited 0.
 */
int bench_reap(const bench_config *cfg, pid_t *pids, int n, const char *what,
               const struct bench_shared *sh, char *why, size_t whysz)
{
    int left = n, failed = 0, tty = isatty(STDERR_FILENO);
    int64_t last_change = fbus_now_ns(), last_print = 0;
    uint64_t last_progress = 0;

    while (left > 0) {
        int64_t now;
        int reaped = 0;

        for (int i = 0; i < n; i++) {
            int st;
            pid_t p;

            if (pids[i] <= 0)
                continue;
            p = waitpid(pids[i], &st, WNOHANG);
            if (p == 0 || (p < 0 && errno == EINTR))
                continue;
            /* Keep 2 (stalled, all killed) once it is set. */
            if ((p != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) && !failed)
                failed = 1;
            /* A process killed by a signal is the likeliest root cause. */
            if (p == pids[i] && WIFSIGNALED(st) && !why[0] && !bench_stopped(cfg))
                snprintf(why, whysz, "%s %s%.0d killed by signal %d (%s)", what,
                         i ? "reader " : "writer", i, WTERMSIG(st), strsignal(WTERMSIG(st)));
            pids[i] = -1;
            left--;
            reaped = 1;
        }
        if (reaped)
            continue;
        now = fbus_now_ns();
        if (atomic_load_explicit(&sh->progress, memory_order_relaxed) != last_progress) {
            last_progress = atomic_load_explicit(&sh->progress, memory_order_relaxed);
            last_change = now;
        }
        if (now - last_change > STALL_NS && failed != 2) {
            for (int i = 0; i < n; i++)
                if (pids[i] > 0)
                    kill(pids[i], SIGKILL);
            if (!why[0])
                snprintf(why, whysz, "%s: no progress for %d s, stopped", what,
                         (int)(STALL_NS / 1000000000LL));
            failed = 2;
        }
        if (tty && now - last_print >= PROGRESS_PERIOD_NS) {
            progress(cfg, what, sh, now);
            last_print = now;
        }
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (tty)
        fputs("\r\033[K", stderr);
    return failed;
}

void bench_side_of(const bench_config *cfg, const struct bench_shared *sh, bench_side *side)
{
    int64_t t0 = atomic_load(&sh->t_start);
    uint64_t hist[BENCH_HIST_BUCKETS];
    int64_t max = 0;
    double fps_sum = 0, cpu_sum = 0, pct_sum = 0;

    memset(side, 0, sizeof(*side));
    memset(hist, 0, sizeof(hist));
    side->done = 1;
    side->writer.frames = sh->writer.frames;
    side->writer.seconds = (double)(sh->writer.t_last - t0) / 1e9;
    side->writer.fps =
        side->writer.seconds > 0 ? (double)sh->writer.frames / side->writer.seconds : 0;
    side->writer.vcsw = (uint64_t)sh->writer.vcsw;
    side->writer.ivcsw = (uint64_t)sh->writer.ivcsw;
    side->writer.cpu_us_per_frame =
        sh->writer.frames ? (double)sh->writer.cpu_ns / 1e3 / (double)sh->writer.frames : 0;
    side->writer.cpu_percent =
        side->writer.seconds > 0 ? (double)sh->writer.cpu_ns / 1e7 / side->writer.seconds : 0;
    side->nb_readers = cfg->readers;
    side->reader_fps_min = -1;
    for (int i = 0; i < cfg->readers; i++) {
        const struct bench_child_out *o = &sh->readers[i];
        bench_proc *p = &side->readers[i];

        p->frames = o->frames;
        p->drops = o->drops;
        p->overruns = o->overruns;
        p->bad = o->bad;
        p->seq_errors = o->seq_errors;
        p->seconds = o->t_last > t0 ? (double)(o->t_last - t0) / 1e9 : 0;
        p->fps = p->seconds > 0 ? (double)p->frames / p->seconds : 0;
        p->cpu_us_per_frame = p->frames ? (double)o->cpu_ns / 1e3 / (double)p->frames : 0;
        p->cpu_percent = p->seconds > 0 ? (double)o->cpu_ns / 1e7 / p->seconds : 0;
        p->vcsw = (uint64_t)o->vcsw;
        p->ivcsw = (uint64_t)o->ivcsw;
        bench_latency_of(o->hist, o->lat_max, &p->latency);
        for (int k = 0; k < BENCH_HIST_BUCKETS; k++)
            hist[k] += o->hist[k];
        if (o->lat_max > max)
            max = o->lat_max;
        side->drops += p->drops;
        side->overruns += p->overruns;
        side->bad += p->bad;
        side->seq_errors += p->seq_errors;
        fps_sum += p->fps;
        cpu_sum += p->cpu_us_per_frame;
        pct_sum += p->cpu_percent;
        if (side->reader_fps_min < 0 || p->fps < side->reader_fps_min)
            side->reader_fps_min = p->fps;
    }
    side->reader_fps_mean = fps_sum / cfg->readers;
    side->reader_cpu_us_per_frame = cpu_sum / cfg->readers;
    side->reader_cpu_percent = pct_sum / cfg->readers;
    bench_latency_of(hist, max, &side->latency);
}

/* The first child's error message, if any wrote one. */
void bench_child_error(const bench_config *cfg, const struct bench_shared *sh, const char *what,
                       const char *why, char *err, size_t errsz)
{
    if (why[0] && strstr(why, "signal")) {
        snprintf(err, errsz, "%s", why);
        return;
    }
    /* A reader's error first: a writer that waited in vain is its effect. */
    for (int i = 0; i < cfg->readers; i++) {
        if (sh->readers[i].msg[0]) {
            snprintf(err, errsz, "%s: %s", what, sh->readers[i].msg);
            return;
        }
    }
    if (sh->writer.msg[0]) {
        snprintf(err, errsz, "%s: %s", what, sh->writer.msg);
        return;
    }
    if (why[0])
        snprintf(err, errsz, "%s", why);
    else
        snprintf(err, errsz, "%s: a benchmark process failed", what);
}

struct bench_shared *bench_shared_new(const bench_config *cfg, size_t *size)
{
    void *p;

    *size = sizeof(struct bench_shared) + (size_t)cfg->readers * sizeof(struct bench_child_out);
    p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Run fn in a child that exits with its result; the child is the writer
 * (reader < 0) or reader `reader`, and --pin places it on its CPU first. */
static pid_t spawn(int (*fn)(struct bench_job *, const void *), struct bench_job *j,
                   const void *arg, int reader)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int err = bench_pin(j->cfg, reader);

        if (err < 0)
            _exit(bench_child_fail(reader < 0 ? &j->sh->writer : &j->sh->readers[reader],
                                   "cannot pin to a CPU: %s", strerror(-err)));
        _exit(fn(j, arg));
    }
    return pid;
}

static int run_bus_writer(struct bench_job *j, const void *arg)
{
    (void)arg;
    return bench_bus_writer(j);
}

static int run_bus_reader(struct bench_job *j, const void *arg)
{
    (void)arg;
    return bench_bus_reader(j);
}

static int measure_bus(const bench_config *cfg, const fbus_format *fmt, const struct bench_pool *pl,
                       bench_side *side, char *err, size_t errsz)
{
    static unsigned counter;
    struct bench_job j = {cfg, fmt, pl, NULL, "", 0};
    pid_t pids[1 + BENCH_MAX_READERS];
    char what[64], why[160] = "";
    size_t shsize;
    int n = 0, rc = -1;

    j.sh = bench_shared_new(cfg, &shsize);
    if (!j.sh) {
        snprintf(err, errsz, "cannot map the results area: %s", strerror(errno));
        return -1;
    }
    snprintf(j.name, sizeof(j.name), "fbus-bench-%d-%u", (int)getpid(), counter++);
    snprintf(what, sizeof(what), "bus %s %s", tool_transport_name(cfg->transport),
             bench_policy_name(cfg->policy));

    pids[n] = spawn(run_bus_writer, &j, NULL, -1);
    if (pids[n] < 0)
        goto fail_fork;
    n++;
    /* Readers attach once the bus exists; the writer waits for all of them
     * before its first frame, so lossless readers see every frame. */
    for (int64_t give_up = fbus_now_ns() + BENCH_ATTACH_WAIT_NS; !atomic_load(&j.sh->ready);) {
        struct timespec ts = {0, 1000000L};
        if (fbus_now_ns() > give_up || waitpid(pids[0], NULL, WNOHANG) != 0)
            break;
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&j.sh->ready)) {
        for (int i = 0; i < cfg->readers; i++) {
            j.index = i;
            pids[n] = spawn(run_bus_reader, &j, NULL, i);
            if (pids[n] < 0)
                goto fail_fork;
            n++;
        }
    }
    if (bench_reap(cfg, pids, n, what, j.sh, why, sizeof(why)) != 0 || n != 1 + cfg->readers) {
        bench_child_error(cfg, j.sh, what, why, err, errsz);
        goto out;
    }
    bench_side_of(cfg, j.sh, side);
    rc = 0;
    goto out;

fail_fork:
    snprintf(err, errsz, "%s: fork: %s", what, strerror(errno));
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    bench_reap(cfg, pids, n, what, j.sh, why, sizeof(why));
out:
    /* A writer that died would leave its name behind. */
    fbus_unlink(j.name, cfg->transport);
    munmap(j.sh, shsize);
    return rc;
}

struct pipe_arg {
    int *fds; /* [2 * readers]: read end, write end */
};

static int run_pipe_writer(struct bench_job *j, const void *arg)
{
    const struct pipe_arg *pa = arg;
    int wfds[BENCH_MAX_READERS];

    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < j->cfg->readers; i++) {
        close(pa->fds[2 * i]);
        wfds[i] = pa->fds[2 * i + 1];
    }
    return bench_pipe_writer(j, wfds);
}

static int run_pipe_reader(struct bench_job *j, const void *arg)
{
    const struct pipe_arg *pa = arg;

    /* Only our read end stays open, or the EOF would never come. */
    for (int i = 0; i < j->cfg->readers; i++) {
        close(pa->fds[2 * i + 1]);
        if (i != j->index)
            close(pa->fds[2 * i]);
    }
    return bench_pipe_reader(j, pa->fds[2 * j->index]);
}

static int measure_pipe(const bench_config *cfg, const fbus_format *fmt,
                        const struct bench_pool *pl, bench_side *side, char *err, size_t errsz)
{
    struct bench_job j = {cfg, fmt, pl, NULL, "", 0};
    int fds[2 * BENCH_MAX_READERS];
    struct pipe_arg pa = {fds};
    pid_t pids[1 + BENCH_MAX_READERS];
    size_t shsize;
    char why[160] = "";
    int n = 0, nfds = 0, rc = -1;

    j.sh = bench_shared_new(cfg, &shsize);
    if (!j.sh) {
        snprintf(err, errsz, "cannot map the results area: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < cfg->readers; i++) {
        if (pipe(fds + 2 * i) < 0) {
            snprintf(err, errsz, "pipe: %s", strerror(errno));
            goto out;
        }
        nfds += 2;
        /* As big as the system allows (fs.pipe-max-size, 1 MiB by default):
         * fewer wake-ups, the pipe's best case. */
        for (int sz = 1 << 20; sz >= 65536; sz /= 2)
            if (fcntl(fds[2 * i + 1], F_SETPIPE_SZ, sz) >= 0)
                break;
    }
    pids[n] = spawn(run_pipe_writer, &j, &pa, -1);
    if (pids[n] < 0)
        goto fail_fork;
    n++;
    for (int i = 0; i < cfg->readers; i++) {
        j.index = i;
        pids[n] = spawn(run_pipe_reader, &j, &pa, i);
        if (pids[n] < 0)
            goto fail_fork;
        n++;
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    nfds = 0;
    if (bench_reap(cfg, pids, n, "pipe", j.sh, why, sizeof(why)) != 0) {
        bench_child_error(cfg, j.sh, "pipe", why, err, errsz);
        goto out;
    }
    bench_side_of(cfg, j.sh, side);
    rc = 0;
    goto out;

fail_fork:
    snprintf(err, errsz, "pipe: fork: %s", strerror(errno));
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    bench_reap(cfg, pids, n, "pipe", j.sh, why, sizeof(why));
out:
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    munmap(j.sh, shsize);
    return rc;
}

void bench_ratios(bench_result *res)
{
    res->bus_pipe = res->bus.done && res->pipe.done && res->pipe.writer.fps > 0
                        ? res->bus.writer.fps / res->pipe.writer.fps
                        : 0;
    res->bus_memcpy = res->bus.done && res->memcpy_done && res->memcpy_fps > 0
                          ? res->bus.writer.fps / res->memcpy_fps
                          : 0;
    res->bus_memcpy_warm = res->bus.done && res->memcpy_done && res->memcpy_warm_fps > 0
                               ? res->bus.writer.fps / res->memcpy_warm_fps
                               : 0;
}

/* The index of the largest of v[0..n). */
int bench_best_index(const double *v, int n)
{
    int best = 0;

    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/*
 * Run the parts of `what` for cfg with fmt. res->cfg and res->fmt are set;
 * parts not in `what` are left as they are. Returns 0, or -1 with one
 * sentence in err.
 */
int bench_run(const bench_config *cfg, const fbus_format *fmt, unsigned what, bench_result *res,
              char *err, size_t errsz)
{
    bench_config round = *cfg;
    bench_side *bus = calloc((size_t)cfg->rounds, sizeof(*bus));
    bench_side *pipe = calloc((size_t)cfg->rounds, sizeof(*pipe));
    bench_result *mc = calloc(1, sizeof(*mc));
    double bus_fps[BENCH_MAX_ROUNDS], pipe_fps[BENCH_MAX_ROUNDS], mc_fps[BENCH_MAX_ROUNDS];
    double mc_s[BENCH_MAX_ROUNDS], mc_cpu[BENCH_MAX_ROUNDS];
    double mw_fps[BENCH_MAX_ROUNDS], mw_s[BENCH_MAX_ROUNDS], mw_cpu[BENCH_MAX_ROUNDS];
    uint64_t mc_n[BENCH_MAX_ROUNDS], mw_n[BENCH_MAX_ROUNDS];
    struct bench_pool pl;
    double load[1];
    int rc = -1, n = cfg->rounds;

    res->cfg = *cfg;
    res->fmt = *fmt;
    if (!bus || !pipe || !mc || bench_pool_init(&pl, fmt) < 0) {
        snprintf(err, errsz, "out of memory for %d frames of %" PRIu64 " bytes", BENCH_POOL,
                 fmt->size);
        free(bus);
        free(pipe);
        free(mc);
        return -1;
    }
    /* Rounds alternate memcpy, bus and pipe, so load from elsewhere on the
     * machine hits all three alike. Each one's best round (highest writer
     * rate) is reported, as timeit reports its fastest: interference only
     * ever slows a round down, so the best one is closest to the machine. */
    if (!cfg->frames)
        round.seconds = cfg->seconds / n;
    for (int r = 0; r < n && !bench_stopped(cfg); r++) {
        progress_round[0] = '\0';
        if (n > 1)
            snprintf(progress_round, sizeof(progress_round), "round %d/%d ", r + 1, n);
        if ((what & BENCH_DO_MEMCPY) && bench_measure_memcpy(&round, fmt, &pl, mc, err, errsz) < 0)
            goto out;
        mc_fps[r] = mc->memcpy_fps;
        mc_n[r] = mc->memcpy_frames;
        mc_s[r] = mc->memcpy_seconds;
        mc_cpu[r] = mc->memcpy_cpu_us_per_frame;
        mw_fps[r] = mc->memcpy_warm_fps;
        mw_n[r] = mc->memcpy_warm_frames;
        mw_s[r] = mc->memcpy_warm_seconds;
        mw_cpu[r] = mc->memcpy_warm_cpu_us_per_frame;
        if (!bench_stopped(cfg) && (what & BENCH_DO_BUS) &&
            measure_bus(&round, fmt, &pl, &bus[r], err, errsz) < 0)
            goto out;
        bus_fps[r] = bus[r].writer.fps;
        if (!bench_stopped(cfg) && (what & BENCH_DO_PIPE) &&
            measure_pipe(&round, fmt, &pl, &pipe[r], err, errsz) < 0)
            goto out;
        pipe_fps[r] = pipe[r].writer.fps;
    }
    if (bench_stopped(cfg)) {
        snprintf(err, errsz, "interrupted");
        goto out;
    }
    if (what & BENCH_DO_MEMCPY) {
        int m = bench_best_index(mc_fps, n);
        res->memcpy_done = 1;
        res->memcpy_fps = mc_fps[m];
        res->memcpy_frames = mc_n[m];
        res->memcpy_seconds = mc_s[m];
        res->memcpy_cpu_us_per_frame = mc_cpu[m];
        m = bench_best_index(mw_fps, n);
        res->memcpy_warm_fps = mw_fps[m];
        res->memcpy_warm_frames = mw_n[m];
        res->memcpy_warm_seconds = mw_s[m];
        res->memcpy_warm_cpu_us_per_frame = mw_cpu[m];
    }
    if (what & BENCH_DO_BUS)
        res->bus = bus[bench_best_index(bus_fps, n)];
    if (what & BENCH_DO_PIPE)
        res->pipe = pipe[bench_best_index(pipe_fps, n)];
    res->loadavg = getloadavg(load, 1) == 1 ? load[0] : -1;
    bench_ratios(res);
    rc = 0;
out:
    progress_round[0] = '\0';
    bench_pool_free(&pl);
    free(bus);
    free(pipe);
    free(mc);
    return rc;
}
