/* SPDX-License-Identifier: MIT */
/*
 * bench_iceoryx: the workload of `framebus bench` through iceoryx (its C
 * binding), for a like-for-like comparison: a writer process copies the same
 * synthetic frames into loaned chunks, N forked readers checksum every one,
 * lossless (the publisher waits on a full subscriber queue) or latest, flat
 * out or paced (--fps). It starts its own RouDi, with a mempool sized for
 * the frame, unless one is running already.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <iceoryx_binding_c/api.h>

#include "cli.h"
#include "iceoryx_roudi.h"
#include "internal.h"

#define CMD             "bench_iceoryx"
#define LOCK_WAIT_S     300
#define ATTACH_WAIT_NS  (10 * 1000000000LL)
#define READERS_WAIT_NS (20 * 1000000000LL)
#define WAIT_SLICE_NS   (100 * 1000000L) /* a reader's waitset wait, then look again */
#define PAYLOAD_ALIGN   64u

/* What the processes of one round share besides their reports. */
struct ice_ctl {
    _Atomic int subscribed;     /* readers connected to the publisher */
    _Atomic int readers_done;   /* readers out of their loop */
    _Atomic uint64_t final_seq; /* the writer's last frame; UINT64_MAX: more to come */
};

/* Everything a child of a round needs (its forked copy). */
struct ice_job {
    const bench_config *cfg;
    const fbus_format *fmt;
    const struct bench_pool *pool;
    struct bench_shared *sh;
    struct ice_ctl *ctl;
    char event[48]; /* the service's event name, unique to the round */
    uint64_t queue; /* subscriber queue capacity */
    uint64_t warm;  /* frames sent before the clock starts */
    int index;      /* reader index */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", CMD);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void report_line(const char *line)
{
    say("%s", line);
}

static const char *alloc_name(enum iox_AllocationResult a)
{
    switch (a) {
    case AllocationResult_NO_MEMPOOLS_AVAILABLE:
        return "no mempool holds chunks that big";
    case AllocationResult_RUNNING_OUT_OF_CHUNKS:
        return "the mempool ran out of chunks";
    case AllocationResult_TOO_MANY_CHUNKS_ALLOCATED_IN_PARALLEL:
        return "too many chunks loaned at once";
    default:
        return "allocation failed";
    }
}

static int64_t ns_until(int64_t deadline)
{
    return deadline - fbus_now_ns();
}

static void sleep_ns(long ns)
{
    struct timespec ts = {0, ns};

    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ writer */

/* Loan a chunk, copy frame seq in as a producer copies a decoded frame into
 * its buffer (fbus_copy, as framebus bench's writer), stamp it and publish:
 * 0, or -1 with the reason in o. */
static int send_frame(const struct ice_job *j, iox_pub_t pub, struct bench_child_out *o,
                      uint64_t seq)
{
    uint8_t *planes[FBUS_MAX_PLANES];
    void *chunk = NULL;
    enum iox_AllocationResult a =
        iox_pub_loan_aligned_chunk(pub, &chunk, (uint32_t)j->fmt->size, PAYLOAD_ALIGN);

    if (a != AllocationResult_SUCCESS) {
        bench_child_fail(o, "writer: cannot loan a chunk of %" PRIu64 " bytes: %s", j->fmt->size,
                         alloc_name(a));
        return -1;
    }
    for (uint32_t p = 0; p < j->fmt->nb_planes; p++)
        planes[p] = (uint8_t *)chunk + j->fmt->planes[p].offset;
    bench_copy_frame(j->fmt, j->pool, seq, planes, 0);
    /* The publish time, as the bus takes it in fbus_writer_publish. */
    bench_stamp(planes[0], seq, fbus_now_ns());
    iox_pub_publish_chunk(pub, chunk);
    return 0;
}

static int ice_writer(struct ice_job *j)
{
    const bench_config *cfg = j->cfg;
    struct bench_child_out *o = &j->sh->writer;
    iox_pub_storage_t storage;
    iox_pub_options_t opts;
    iox_pub_t pub;
    char name[64];
    uint64_t seq = 0;
    int64_t t0, deadline, give_up;
    int rc = 1;

    snprintf(name, sizeof(name), "fbus-ice-w-%d", (int)getpid());
    iox_set_loglevel(Iceoryx_LogLevel_Warn);
    iox_runtime_init(name);
    iox_pub_options_init(&opts);
    opts.historyCapacity = 0;
    opts.subscriberTooSlowPolicy = cfg->policy == FBUS_POLICY_LOSSLESS
                                       ? ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER
                                       : ConsumerTooSlowPolicy_DISCARD_OLDEST_DATA;
    pub = iox_pub_init(&storage, "framebus", "bench", j->event, &opts);
    for (give_up = fbus_now_ns() + ATTACH_WAIT_NS;
         atomic_load(&j->ctl->subscribed) < cfg->readers;) {
        if (ns_until(give_up) < 0 || bench_stopped(cfg)) {
            bench_child_fail(o, "only %d of %d readers subscribed within 10 s",
                             atomic_load(&j->ctl->subscribed), cfg->readers);
            goto out;
        }
        sleep_ns(1000000L);
    }
    /* Warm-up: the chunks the run will cycle through get their pages
     * mapped in by the writer and the readers before the clock starts, as
     * framebus bench writes every slot first. */
    for (uint64_t k = 1; k <= j->warm; k++) {
        if (send_frame(j, pub, o, k) < 0)
            goto out;
        seq = k;
    }
    bench_loop_usage(o, 1);
    t0 = fbus_now_ns();
    deadline = t0 + (int64_t)(cfg->seconds * 1e9);
    atomic_store(&j->sh->t_start, t0);
    for (uint64_t n = 0; !bench_writer_done(cfg, j->fmt, n, deadline);) {
        bench_pace(cfg, cfg->fps, t0, n);
        if (send_frame(j, pub, o, j->warm + n + 1) < 0)
            goto out;
        seq = j->warm + ++n;
        atomic_store_explicit(&j->sh->progress, n, memory_order_relaxed);
    }
    o->t_last = fbus_now_ns();
    bench_loop_usage(o, 0);
    o->frames = seq - j->warm;
    rc = 0;
out:
    atomic_store(&j->ctl->final_seq, seq);
    /* The readers take what is queued before the publisher goes. */
    for (give_up = fbus_now_ns() + READERS_WAIT_NS;
         atomic_load(&j->ctl->readers_done) < cfg->readers && ns_until(give_up) > 0 &&
         !bench_stopped(cfg);)
        sleep_ns(1000000L);
    /* No iox_runtime_shutdown(): it only unblocks a publisher stuck on a
     * full queue, by a message its keep-alive thread sends to RouDi, which
     * can cross the runtime's own goodbye at exit (iceoryx 2.0.3: each then
     * gets the other's answer and one waits for ever). exit() says goodbye. */
    iox_pub_deinit(pub);
    return rc;
}

/* ------------------------------------------------------------ reader */

/* Wait until the subscription is up: 0, or -1 after 10 s. */
static int wait_subscribed(const bench_config *cfg, iox_sub_t sub)
{
    for (int64_t give_up = fbus_now_ns() + ATTACH_WAIT_NS;
         iox_sub_get_subscription_state(sub) != SubscribeState_SUBSCRIBED;) {
        if (ns_until(give_up) < 0 || bench_stopped(cfg))
            return -1;
        sleep_ns(1000000L);
    }
    return 0;
}

/* Check and count one frame; the caller releases it. */
static void take_frame(const struct ice_job *j, struct bench_child_out *o, const void *chunk,
                       int64_t now, uint64_t *last)
{
    const uint8_t *data[FBUS_MAX_PLANES];
    struct bench_frame_hdr hdr;
    int good;

    bench_plane_ptrs(j->fmt, chunk, data);
    memcpy(&hdr, data[0], sizeof(hdr));
    if (hdr.magic == BENCH_MAGIC && hdr.seq <= j->warm) {
        *last = hdr.seq; /* warm-up: not measured */
        return;
    }
    bench_record_latency(o, now - hdr.send_ns);
    good = bench_frame_ok(j->fmt, j->pool, data, hdr.seq, &hdr);
    if (j->cfg->policy == FBUS_POLICY_LOSSLESS ? hdr.seq != *last + 1 : hdr.seq <= *last)
        o->seq_errors++;
    /* Frames skipped, not counting warm-up ones (latest may skip those
     * too). */
    if (hdr.seq > *last + 1)
        o->drops += hdr.seq - (*last > j->warm ? *last : j->warm) - 1;
    if (!good)
        o->bad++;
    *last = hdr.seq;
    o->frames++;
    o->t_last = now;
}

static int ice_reader(struct ice_job *j)
{
    const bench_config *cfg = j->cfg;
    struct bench_child_out *o = &j->sh->readers[j->index];
    iox_sub_storage_t sub_storage;
    iox_ws_storage_t ws_storage;
    iox_sub_options_t opts;
    iox_sub_t sub;
    iox_ws_t ws;
    char name[64];
    uint64_t last = 0;
    int rc = 1;

    snprintf(name, sizeof(name), "fbus-ice-r%d-%d", j->index + 1, (int)getpid());
    iox_set_loglevel(Iceoryx_LogLevel_Warn);
    iox_runtime_init(name);
    iox_sub_options_init(&opts);
    opts.queueCapacity = j->queue;
    opts.historyRequest = 0;
    opts.queueFullPolicy = cfg->policy == FBUS_POLICY_LOSSLESS
                               ? QueueFullPolicy_BLOCK_PRODUCER
                               : QueueFullPolicy_DISCARD_OLDEST_DATA;
    sub = iox_sub_init(&sub_storage, "framebus", "bench", j->event, &opts);
    ws = iox_ws_init(&ws_storage);
    /* As an iceoryx user waits: a waitset on "the subscriber has data". */
    if (iox_ws_attach_subscriber_state(ws, sub, SubscriberState_HAS_DATA, 0, NULL) !=
        WaitSetResult_SUCCESS) {
        bench_child_fail(o, "reader %d: cannot attach its subscriber to a waitset", j->index + 1);
        goto out;
    }
    if (wait_subscribed(cfg, sub) < 0) {
        bench_child_fail(o, "reader %d: not subscribed to the writer within 10 s", j->index + 1);
        goto out;
    }
    atomic_fetch_add(&j->ctl->subscribed, 1);
    bench_loop_usage(o, 1);
    for (;;) {
        const void *chunk = NULL;
        enum iox_ChunkReceiveResult got = iox_sub_take_chunk(sub, &chunk);

        if (got == ChunkReceiveResult_SUCCESS) {
            take_frame(j, o, chunk, fbus_now_ns(), &last);
            iox_sub_release_chunk(sub, chunk);
        } else if (got == ChunkReceiveResult_NO_CHUNK_AVAILABLE) {
            iox_notification_info_t info[1];
            uint64_t missed = 0;

            if (last >= atomic_load(&j->ctl->final_seq) || bench_stopped(cfg))
                break;
            iox_ws_timed_wait(ws, (struct timespec){0, WAIT_SLICE_NS}, info, 1, &missed);
        } else {
            bench_child_fail(o, "reader %d: cannot take a chunk (iceoryx error %d)", j->index + 1,
                             (int)got);
            goto out;
        }
    }
    bench_loop_usage(o, 0);
    rc = 0;
out:
    atomic_fetch_add(&j->ctl->readers_done, 1);
    iox_ws_deinit(ws);
    iox_sub_deinit(sub);
    return rc;
}

/* ------------------------------------------------------------ rounds */

static pid_t spawn(int (*fn)(struct ice_job *), struct ice_job *j)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0)
        exit(fn(j)); /* not _exit: iceoryx's runtime leaves RouDi in its destructor */
    return pid;
}

/* One round: the writer and the readers, reaped and summed up into side. */
static int ice_round(const bench_config *cfg, const fbus_format *fmt, const struct bench_pool *pl,
                     uint64_t queue, uint64_t warm, int round, bench_side *side, char *err,
                     size_t errsz)
{
    struct ice_job j = {cfg, fmt, pl, NULL, NULL, "", queue, warm, 0};
    pid_t pids[1 + BENCH_MAX_READERS];
    char why[160] = "";
    size_t shsize;
    int n = 0, rc = -1;

    j.sh = bench_shared_new(cfg, &shsize);
    j.ctl = mmap(NULL, sizeof(*j.ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!j.sh || j.ctl == MAP_FAILED) {
        snprintf(err, errsz, "cannot map the results area: %s", strerror(errno));
        goto out;
    }
    atomic_store(&j.ctl->final_seq, UINT64_MAX);
    snprintf(j.event, sizeof(j.event), "frames-%d-%d", (int)getpid(), round);
    pids[n] = spawn(ice_writer, &j);
    if (pids[n] < 0)
        goto fail_fork;
    n++;
    for (int i = 0; i < cfg->readers; i++) {
        j.index = i;
        pids[n] = spawn(ice_reader, &j);
        if (pids[n] < 0)
            goto fail_fork;
        n++;
    }
    if (bench_reap(cfg, pids, n, "iceoryx", j.sh, why, sizeof(why)) != 0) {
        bench_child_error(cfg, j.sh, "iceoryx", why, err, errsz);
        goto out;
    }
    bench_side_of(cfg, j.sh, side);
    rc = 0;
    goto out;

fail_fork:
    snprintf(err, errsz, "fork: %s", strerror(errno));
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    bench_reap(cfg, pids, n, "iceoryx", j.sh, why, sizeof(why));
out:
    if (j.sh)
        munmap(j.sh, shsize);
    if (j.ctl && j.ctl != MAP_FAILED)
        munmap(j.ctl, sizeof(*j.ctl));
    return rc;
}

/* ------------------------------------------------------------ options */

struct ice_cli {
    bench_config cfg;
    uint64_t queue;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--size WxH] [--pix-fmt F] [--readers N] [--policy lossless|latest]\n"
            "       [--queue N] [--seconds S | --frames N] [--rounds N] [--fps F]\n"
            "framebus bench's workload through iceoryx: a writer copies frames into loaned\n"
            "chunks, N reader processes checksum every one (waiting with a waitset).\n"
            "  --size WxH       frame size (1920x1080)\n"
            "  --pix-fmt F      pixel format (yuv420p)\n"
            "  --readers N      reader processes, 1 to 64 (1)\n"
            "  --policy P       lossless: the publisher waits on a full subscriber queue\n"
            "                   (default); latest: the oldest queued frame is dropped\n"
            "  --queue N        subscriber queue capacity, 1 to 16 (2)\n"
            "  --seconds S      measured time, split over the rounds (2)\n"
            "  --frames N       frames per round instead of --seconds\n"
            "  --rounds N       rounds; the one with the highest writer rate is shown (3)\n"
            "  --fps F          pace the writer at F frames/s (latency at a camera's rate)\n"
            "Starts iox-roudi with a mempool for the frame size unless a RouDi is running.\n",
            CMD);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", CMD);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s --help')\n", CMD);
    return 2;
}

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

/* 0, 2 on a usage error, or -1 after --help. */
static int parse_options(struct ice_cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {{"size", required_argument, NULL, 's'},
                                             {"pix-fmt", required_argument, NULL, 'p'},
                                             {"readers", required_argument, NULL, 'r'},
                                             {"policy", required_argument, NULL, 'P'},
                                             {"queue", required_argument, NULL, 'q'},
                                             {"seconds", required_argument, NULL, 't'},
                                             {"frames", required_argument, NULL, 'n'},
                                             {"rounds", required_argument, NULL, 'R'},
                                             {"fps", required_argument, NULL, 'f'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    bench_config *cfg = &c->cfg;
    uint64_t v;
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (tool_parse_size(optarg, &cfg->width, &cfg->height) < 0)
                return usage_error("bad size \"%s\" (WxH, e.g. 1920x1080)", optarg);
            break;
        case 'p':
            if (strlen(optarg) >= sizeof(cfg->pix_fmt))
                return usage_error("unknown pixel format \"%s\"", optarg);
            strcpy(cfg->pix_fmt, optarg);
            break;
        case 'r':
            if (tool_parse_u64(optarg, 1, BENCH_MAX_READERS, &v) < 0)
                return usage_error("bad reader count \"%s\" (1 to %d)", optarg, BENCH_MAX_READERS);
            cfg->readers = (int)v;
            break;
        case 'P':
            if (strcmp(optarg, "lossless") == 0)
                cfg->policy = FBUS_POLICY_LOSSLESS;
            else if (strcmp(optarg, "latest") == 0)
                cfg->policy = FBUS_POLICY_LATEST;
            else
                return usage_error("unknown policy \"%s\" (lossless or latest)", optarg);
            break;
        case 'q':
            if (tool_parse_u64(optarg, 1, 16, &c->queue) < 0)
                return usage_error("bad queue capacity \"%s\" (1 to 16)", optarg);
            break;
        case 't':
            if (parse_positive(optarg, 3600, &cfg->seconds) < 0)
                return usage_error("bad duration \"%s\" (seconds, more than 0)", optarg);
            break;
        case 'n':
            if (tool_parse_u64(optarg, 1, UINT32_MAX, &cfg->frames) < 0)
                return usage_error("bad frame count \"%s\" (a positive number)", optarg);
            break;
        case 'R':
            if (tool_parse_u64(optarg, 1, BENCH_MAX_ROUNDS, &v) < 0)
                return usage_error("bad round count \"%s\" (1 to %d)", optarg, BENCH_MAX_ROUNDS);
            cfg->rounds = (int)v;
            break;
        case 'f':
            if (parse_positive(optarg, 1000000, &cfg->fps) < 0)
                return usage_error("bad writer rate \"%s\" (frames per second, more than 0)",
                                   optarg);
            break;
        case 'h':
            usage(stdout);
            return -1;
        case ':':
            return usage_error("option \"%s\" needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option \"%s\"", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (cfg->frames && cfg->seconds > 0)
        return usage_error("--frames and --seconds cannot be used together");
    return 0;
}

/* ------------------------------------------------------------ main */

static void print_table(const bench_config *cfg, const fbus_format *fmt, uint64_t queue,
                        const bench_side *s, double load)
{
    printf("bench_iceoryx: %" PRIu32 "x%" PRIu32 " %s (%" PRIu64 " bytes), %d reader%s, %s, "
           "queue %" PRIu64 ", ",
           cfg->width, cfg->height, cfg->pix_fmt, fmt->size, cfg->readers,
           cfg->readers == 1 ? "" : "s", bench_policy_name(cfg->policy), queue);
    if (cfg->frames)
        printf("%" PRIu64 " frames per round", cfg->frames);
    else
        printf("%.1f s", cfg->seconds);
    printf(", best of %d round%s, ", cfg->rounds, cfg->rounds == 1 ? "" : "s");
    if (cfg->fps > 0)
        printf("writer at most %g fps, ", cfg->fps);
    printf("load %.2f\n\n", load);
    bench_table_head(stdout);
    bench_table_side(stdout, "iceoryx", s);
    printf("\nlatency in us, publish -> take (readers wait on a waitset)\n");
    printf("iceoryx readers' CPU: %.2f%% of a core (mean)\n", s->reader_cpu_percent);
}

static int run(const struct ice_cli *c, const fbus_format *fmt)
{
    const bench_config *cfg = &c->cfg;
    bench_config round = *cfg;
    /* Lossless, every chunk in flight is within queue + 2 frames of the
     * writer; latest, each reader may hold a different old one. */
    uint64_t chunks = (uint64_t)cfg->readers * (c->queue + 1) + 4;
    bench_side *sides = calloc((size_t)cfg->rounds, sizeof(*sides));
    double fps[BENCH_MAX_ROUNDS], load[1];
    struct bench_pool pl;
    struct ice_roudi rd = {0};
    char err[400];
    int lock = -1, rc = 1, best;

    if (!sides || bench_pool_init(&pl, fmt) < 0) {
        say("out of memory for %d frames of %" PRIu64 " bytes", BENCH_POOL, fmt->size);
        free(sides);
        return 1;
    }
    lock = ice_roudi_lock(LOCK_WAIT_S, &stop, err, sizeof(err));
    if (lock < 0)
        goto fail;
    if (ice_roudi_running())
        say("using the RouDi that is running (its mempools must hold %" PRIu64 " chunks of %" PRIu64
            " bytes)",
            chunks, fmt->size);
    else if (ice_roudi_start(&rd, fmt->size, chunks, &stop, err, sizeof(err)) < 0)
        goto fail;
    if (!cfg->frames)
        round.seconds = cfg->seconds / cfg->rounds;
    for (int r = 0; r < cfg->rounds; r++) {
        if (stop) {
            snprintf(err, sizeof(err), "interrupted");
            goto fail;
        }
        if (ice_round(&round, fmt, &pl, c->queue, 2 * chunks, r, &sides[r], err, sizeof(err)) < 0)
            goto fail;
        fps[r] = sides[r].writer.fps;
    }
    best = bench_best_index(fps, cfg->rounds);
    print_table(cfg, fmt, c->queue, &sides[best], getloadavg(load, 1) == 1 ? load[0] : -1);
    fflush(stdout);
    rc = 0;
    for (int r = 0; r < cfg->rounds; r++) {
        const bench_side *s = &sides[r];

        if (s->bad || s->seq_errors ||
            (cfg->policy == FBUS_POLICY_LOSSLESS && (s->drops || s->writer.frames == 0))) {
            say("round %d: %" PRIu64 " bad checksums, %" PRIu64 " frames out of order, %" PRIu64
                " lost",
                r + 1, s->bad, s->seq_errors, s->drops);
            rc = 1;
        }
        for (int i = 0; i < s->nb_readers && cfg->policy == FBUS_POLICY_LOSSLESS; i++) {
            if (s->readers[i].frames != s->writer.frames) {
                say("round %d: reader %d got %" PRIu64 " of %" PRIu64 " frames", r + 1, i + 1,
                    s->readers[i].frames, s->writer.frames);
                rc = 1;
            }
        }
    }
    goto out;
fail:
    say("%s", err);
out:
    ice_roudi_stop(&rd);
    if (lock >= 0)
        close(lock);
    bench_pool_free(&pl);
    free(sides);
    return rc;
}

int main(int argc, char **argv)
{
    struct ice_cli c = {.cfg = {.width = 1920,
                                .height = 1080,
                                .pix_fmt = "yuv420p",
                                .readers = 1,
                                .policy = FBUS_POLICY_LOSSLESS,
                                .transport = FBUS_TRANSPORT_POSIX,
                                .slots = FBUS_DEFAULT_SLOTS,
                                .rounds = 3,
                                .stop = &stop,
                                .report = report_line},
                        .queue = 2};
    struct sigaction sa;
    fbus_format fmt;
    char err[320];
    int rc = parse_options(&c, argc, argv);

    if (rc)
        return rc < 0 ? 0 : rc;
    if (!c.cfg.frames && !(c.cfg.seconds > 0))
        c.cfg.seconds = 2.0;
    if (bench_format_of(&c.cfg, &fmt, err, sizeof(err)) < 0)
        return usage_error("%s", err);
    /* The children inherit the handler: Ctrl-C ends every loop, the
     * processes unwind, and RouDi is stopped last. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return run(&c, &fmt);
}
