/* SPDX-License-Identifier: MIT */
/*
 * framebus cat: write a bus's frames to stdout, as YUV4MPEG2 or bare planes.
 * Lossless by default, so `framebus cat cam --y4m | ffmpeg -i - ...` records
 * every frame; --latest takes the newest frame instead and never slows the
 * producer down.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools.h"
#include "avplanes.h"
#include "frameio.h"
#include "y4m.h"

#define CMD                  "cat"
#define SLICE_NS             250000000LL  /* re-check the stop flag this often */
#define SECOND_FRAME_WAIT_NS 2000000000LL /* for a rate from pts deltas */
#define BAD_REGION_GRACE_NS  2000000000LL /* a region being created may look bad */
#define DEFAULT_RATE_NUM     25
#define DEFAULT_RATE_DEN     1

enum cat_mode { CAT_RAW, CAT_Y4M };

struct cat {
    /* options */
    const char *name;
    fbus_transport transport;
    enum cat_mode mode;
    uint64_t max_frames; /* 0: no limit */
    int latest;
    int64_t timeout_ns; /* -1: wait forever */
    int follow;
    int said_waiting; /* "waiting for a producer" was said */

    fbus_reader *reader;
    int started;            /* header (y4m) or hint (raw) written */
    fbus_format out;        /* the format the header describes */
    int rate_num, rate_den; /* and the rate it gives */
    int sar_num, sar_den;   /* pixel aspect of the first frame, 0:0 unknown */
    uint64_t written;       /* frames written */
    uint8_t *buf;           /* a private copy of a frame */
    uint64_t buf_size;
    int pending; /* buf holds a first frame not yet written */
    fbus_format pending_fmt;
    const uint8_t *pending_data[FBUS_MAX_PLANES];
    int64_t pending_pts;
    int32_t pending_tb_num, pending_tb_den;
    uint64_t pending_session;
};

/* Same picture geometry: what a y4m stream or a rawvideo reader fixes. */
static int same_layout(const fbus_format *a, const fbus_format *b)
{
    if (a->width != b->width || a->height != b->height || a->nb_planes != b->nb_planes ||
        strcmp(a->pix_fmt, b->pix_fmt) != 0)
        return 0;
    for (uint32_t i = 0; i < a->nb_planes; i++) {
        if (a->planes[i].row_bytes != b->planes[i].row_bytes ||
            a->planes[i].rows != b->planes[i].rows)
            return 0;
    }
    return 1;
}

/* A time base that counts frames (1/25, 1001/30000) rather than clock
 * ticks (1/90000, 1/1000): its inverse is the frame rate. */
static int tb_is_frame_rate(int32_t num, int32_t den)
{
    return num > 0 && den > 0 && (int64_t)den <= 240 * (int64_t)num;
}

static int ensure_buf(struct cat *c, uint64_t size)
{
    uint8_t *p;

    if (size <= c->buf_size)
        return 0;
    p = realloc(c->buf, size);
    if (!p)
        return -ENOMEM;
    c->buf = p;
    c->buf_size = size;
    return 0;
}

static const char *canonical_name(const char *pix_fmt)
{
    const char *name = fbav_pix_fmt_canonical(pix_fmt);
    return name ? name : pix_fmt;
}

/* Write the y4m header or print the rawvideo options for fmt. */
static int start_output(struct cat *c, const fbus_format *fmt, int rate_num, int rate_den)
{
    static const fbus_format no_picture;
    const char *pix_fmt = canonical_name(fmt->pix_fmt);
    char rate[32];

    if (c->mode == CAT_Y4M) {
        y4m_header h = {0};
        uint32_t row_bytes[4], rows[4];
        char line[Y4M_LINE_MAX];
        int n;

        h.pixfmt = y4m_pixfmt_by_name(pix_fmt);
        if (!h.pixfmt) {
            tool_error(CMD, "bus \"%s\": pixel format \"%s\" cannot be carried in y4m (use --raw)",
                       c->name, fmt->pix_fmt);
            return -1;
        }
        n = y4m_plane_sizes(h.pixfmt, fmt->width, fmt->height, row_bytes, rows);
        for (int i = 0; i < n; i++) {
            if ((uint32_t)n != fmt->nb_planes || fmt->planes[i].row_bytes != row_bytes[i] ||
                fmt->planes[i].rows != rows[i]) {
                tool_error(CMD, "bus \"%s\": frame planes do not match a %ux%u %s picture", c->name,
                           fmt->width, fmt->height, pix_fmt);
                return -1;
            }
        }
        h.width = fmt->width;
        h.height = fmt->height;
        h.rate_num = rate_num;
        h.rate_den = rate_den;
        h.interlace = 'p';
        /* An unknown aspect (0:0) is square pixels to every reader. */
        h.aspect_num = c->sar_num > 0 && c->sar_den > 0 ? c->sar_num : 1;
        h.aspect_den = c->sar_num > 0 && c->sar_den > 0 ? c->sar_den : 1;
        n = y4m_format_header(line, sizeof(line), &h);
        if (n < 0)
            return -1;
        n = frameio_write(STDOUT_FILENO, line, (size_t)n, NULL, &no_picture);
        if (n == -EPIPE)
            return -2;
        if (n < 0) {
            tool_error(CMD, "writing to stdout: %s", strerror(-n));
            return -1;
        }
    } else {
        fprintf(stderr, "%s: %s: ffmpeg reads this with: -f rawvideo -pix_fmt %s -s %ux%u -r %s\n",
                TOOL_NAME, CMD, pix_fmt, fmt->width, fmt->height,
                tool_rate_str(rate, sizeof(rate), rate_num, rate_den));
    }
    c->out = *fmt;
    c->rate_num = rate_num;
    c->rate_den = rate_den;
    c->started = 1;
    return 0;
}

/* Write one picture. Returns 0, -1 after printing an error, -2 when stdout
 * went away (the normal end of a pipe). */
static int output(struct cat *c, const uint8_t *const data[], const fbus_format *fmt)
{
    static const char frame_line[] = Y4M_FRAME_MAGIC "\n";
    int rc;

    if (!same_layout(fmt, &c->out)) {
        if (c->mode == CAT_Y4M) {
            tool_error(CMD,
                       "bus \"%s\": format changed from %ux%u %s to %ux%u %s; a y4m stream "
                       "cannot change (use --raw)",
                       c->name, c->out.width, c->out.height, c->out.pix_fmt, fmt->width,
                       fmt->height, fmt->pix_fmt);
            return -1;
        }
        /* Raw output goes on; tell the reader of stderr the new options. */
        rc = start_output(c, fmt, c->rate_num, c->rate_den);
        if (rc < 0)
            return rc;
    }
    if (c->mode == CAT_Y4M)
        rc = frameio_write(STDOUT_FILENO, frame_line, sizeof(frame_line) - 1, data, fmt);
    else
        rc = frameio_write(STDOUT_FILENO, NULL, 0, data, fmt);
    if (rc == -EPIPE)
        return -2;
    if (rc < 0) {
        tool_error(CMD, "writing to stdout: %s", strerror(-rc));
        return -1;
    }
    c->written++;
    return 0;
}

/* Start the output from the held-back first frame, with the rate its pts and
 * the next frame's give (or the default), and write it. */
static int flush_pending(struct cat *c, const fbus_frame *next)
{
    int64_t num = DEFAULT_RATE_NUM, den = DEFAULT_RATE_DEN;
    int rc;

    if (next && next->session == c->pending_session && next->pts != INT64_MIN &&
        c->pending_pts != INT64_MIN && next->pts > c->pending_pts &&
        next->tb_num == c->pending_tb_num && next->tb_den == c->pending_tb_den &&
        c->pending_tb_num > 0 && c->pending_tb_den > 0) {
        int64_t n = c->pending_tb_den,
                d = (int64_t)c->pending_tb_num * (next->pts - c->pending_pts);

        tool_reduce(&n, &d);
        if (n > 0 && d > 0 && n <= INT32_MAX && d <= INT32_MAX && n <= 1000 * d) {
            num = n;
            den = d;
        }
    }
    c->pending = 0;
    rc = start_output(c, &c->pending_fmt, (int)num, (int)den);
    if (rc < 0)
        return rc;
    return output(c, c->pending_data, &c->pending_fmt);
}

/* Handle one acquired frame and release it. */
static int take(struct cat *c, fbus_frame *f)
{
    const uint8_t *data[FBUS_MAX_PLANES];
    fbus_format fmt = f->format;
    int rc;

    for (int i = 0; i < FBUS_MAX_PLANES; i++)
        data[i] = f->data[i];

    if (!c->started && !c->pending) {
        c->sar_num = f->sar_num;
        c->sar_den = f->sar_den;
        if (f->rate_num > 0 && f->rate_den > 0) {
            /* The writer said the stream's rate: no guessing. */
            rc = start_output(c, &fmt, f->rate_num, f->rate_den);
        } else if (tb_is_frame_rate(f->tb_num, f->tb_den)) {
            int64_t n = f->tb_den, d = f->tb_num;

            tool_reduce(&n, &d);
            rc = start_output(c, &fmt, (int)n, (int)d);
        } else if (f->pts == INT64_MIN || f->tb_num <= 0 || f->tb_den <= 0 || c->max_frames == 1) {
            rc = start_output(c, &fmt, DEFAULT_RATE_NUM, DEFAULT_RATE_DEN);
        } else {
            /* The rate needs the next frame's pts: keep a copy of this one. */
            if (ensure_buf(c, frameio_picture_size(&fmt)) < 0) {
                fbus_reader_release(c->reader, f);
                tool_error(CMD, "out of memory");
                return -1;
            }
            frameio_pack(data, &fmt, c->buf, &c->pending_fmt, c->pending_data);
            rc = fbus_reader_release(c->reader, f);
            if (rc == FBUS_EOVERRUN)
                return 0; /* torn: wait for a clean one */
            c->pending = 1;
            c->pending_pts = f->pts;
            c->pending_tb_num = f->tb_num;
            c->pending_tb_den = f->tb_den;
            c->pending_session = f->session;
            return 0;
        }
        if (rc < 0) {
            fbus_reader_release(c->reader, f);
            return rc;
        }
    } else if (c->pending) {
        rc = flush_pending(c, f);
        if (rc < 0 || (c->max_frames && c->written >= c->max_frames)) {
            fbus_reader_release(c->reader, f);
            return rc;
        }
    }

    if (c->latest) {
        /* The writer may reuse a slot a latest reader holds: copy, then
         * write only if the release says the copy is whole. The pending
         * copy lives in the same buffer, but it was written above. */
        const uint8_t *copy[FBUS_MAX_PLANES];
        fbus_format packed;

        if (ensure_buf(c, frameio_picture_size(&fmt)) < 0) {
            fbus_reader_release(c->reader, f);
            tool_error(CMD, "out of memory");
            return -1;
        }
        frameio_pack(data, &fmt, c->buf, &packed, copy);
        if (fbus_reader_release(c->reader, f) == FBUS_EOVERRUN)
            return 0;
        return output(c, copy, &packed);
    }
    rc = output(c, data, &fmt);
    fbus_reader_release(c->reader, f);
    return rc;
}

/* Acquire the next frame, in slices so a signal is noticed, for at most
 * limit_ns (-1: no limit). */
static int acquire(struct cat *c, int64_t limit_ns, fbus_frame *f)
{
    int64_t deadline = limit_ns >= 0 ? fbus_now_ns() + limit_ns : -1;

    for (;;) {
        int64_t slice = SLICE_NS;
        int rc;

        if (tool_stop)
            return -EINTR;
        if (deadline >= 0) {
            int64_t left = deadline - fbus_now_ns();
            if (left < slice)
                slice = left > 0 ? left : 0;
        }
        rc = fbus_reader_acquire(c->reader, slice, f);
        if (rc != -ETIMEDOUT && rc != -EAGAIN && rc != -EINTR)
            return rc;
        /* Waiting with no end for a name nobody holds (misspelled?): say
         * so once, as the viewer does. */
        if (!c->said_waiting && c->timeout_ns < 0 && c->written == 0 &&
            !fbus_reader_attached(c->reader)) {
            tool_error(CMD, "bus \"%s\": no such bus yet; waiting for a producer", c->name);
            c->said_waiting = 1;
        }
        /* Out of time only after a last look (a zero timeout polls once). */
        if (deadline >= 0 && slice == 0)
            return -ETIMEDOUT;
    }
}

static int run(struct cat *c)
{
    int64_t bad_since = 0;

    for (;;) {
        int64_t limit = c->timeout_ns;
        fbus_frame f;
        int rc;

        if (tool_stop || (c->max_frames && c->written >= c->max_frames))
            return 0;
        if (c->pending && (limit < 0 || limit > SECOND_FRAME_WAIT_NS))
            limit = SECOND_FRAME_WAIT_NS;
        rc = acquire(c, limit, &f);
        if (rc == 0) {
            bad_since = 0;
            rc = take(c, &f);
            if (rc == -2)
                return 0; /* stdout closed: done */
            if (rc < 0)
                return -1;
            continue;
        }
        if (c->pending) {
            /* No second frame soon (or the stream ended): go on with the
             * default rate. */
            int frc = flush_pending(c, NULL);

            if (frc == -2)
                return 0;
            if (frc < 0)
                return -1;
            /* A timeout that was only the wait for a second frame is no
             * error. */
            if (rc == -ETIMEDOUT && limit != c->timeout_ns)
                continue;
        }
        switch (rc) {
        case -EINTR:
            return 0;
        case FBUS_EENDED:
            if (!c->follow)
                return 0;
            continue;
        case FBUS_EREPLACED:
            continue; /* the producer moved: the next acquire follows it */
        case FBUS_EPRODUCERGONE:
            if (c->follow)
                continue; /* the next acquire waits for the next producer */
            break;        /* a crash is not an end: say so and fail */
        case FBUS_EBADREGION:
            /* A region a producer is still creating looks bad for a moment,
             * longer on a loaded machine: believe it only if it lasts. */
            if (bad_since == 0)
                bad_since = fbus_now_ns();
            if (fbus_now_ns() - bad_since < BAD_REGION_GRACE_NS) {
                nanosleep(&(struct timespec){0, 20000000}, NULL);
                continue;
            }
            break;
        default:
            break;
        }
        if (rc == -ETIMEDOUT) {
            if (!fbus_reader_attached(c->reader) && c->written == 0)
                tool_error(CMD, "bus \"%s\": %s", c->name, tool_bus_strerror(-ENOENT));
            else
                tool_error(CMD, "bus \"%s\": no frame within %.3g s", c->name,
                           (double)c->timeout_ns / 1e9);
            return -1;
        }
        tool_error(CMD, "bus \"%s\": %s", c->name, tool_bus_strerror(rc));
        return -1;
    }
}

/* Fill c from the command line: -1 to go on, or the exit code. */
static int parse_args(int argc, char **argv, struct cat *c, int *same_user)
{
    static const struct option longopts[] = {
        {"y4m", no_argument, NULL, 'y'},
        {"raw", no_argument, NULL, 'r'},
        {"frames", required_argument, NULL, 'n'},
        {"latest", no_argument, NULL, 'l'},
        {"timeout", required_argument, NULL, 't'},
        {"follow", no_argument, NULL, 'f'},
        {"transport", required_argument, NULL, 'T'},
        {"same-user", no_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int transport_set = 0, y4m = 0, raw = 0, opt, rc;
    double seconds;

    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'y':
            y4m = 1;
            break;
        case 'r':
            raw = 1;
            break;
        case 'n':
            if (tool_parse_u64(optarg, 1, UINT64_MAX, &c->max_frames) < 0)
                return tool_usage_error(CMD, "--frames wants a positive count, not \"%s\"", optarg);
            break;
        case 'l':
            c->latest = 1;
            break;
        case 't':
            if (tool_parse_seconds(optarg, &seconds) < 0)
                return tool_usage_error(CMD, "--timeout wants seconds, not \"%s\"", optarg);
            c->timeout_ns = (int64_t)(seconds * 1e9);
            break;
        case 'f':
            c->follow = 1;
            break;
        case 'u':
            *same_user = 1;
            break;
        default:
            rc = tool_common_option(CMD, argv, opt, &c->transport, &transport_set);
            if (rc >= 0)
                return rc;
            break;
        }
    }
    if (y4m && raw)
        return tool_usage_error(CMD, "--y4m and --raw exclude each other");
    if (optind >= argc)
        return tool_usage_error(CMD, "which bus? (framebus cat NAME)");
    if (optind + 1 < argc)
        return tool_usage_error(CMD, "unexpected argument \"%s\"", argv[optind + 1]);
    c->name = argv[optind];
    c->mode = y4m ? CAT_Y4M : CAT_RAW;
    /* Without --transport, whichever transport holds the name, now or
     * when a producer makes it. */
    if (!transport_set)
        c->transport = FBUS_TRANSPORT_ANY;
    return -1;
}

int cmd_cat(int argc, char **argv)
{
    struct cat c = {.mode = CAT_RAW, .timeout_ns = -1};
    fbus_reader_opts ropts = {0};
    int same_user = 0, rc = parse_args(argc, argv, &c, &same_user);

    if (rc >= 0)
        return rc;
    if (fbus_name_check(c.name) < 0) {
        tool_error(CMD, "bus \"%s\": %s", c.name, tool_bus_strerror(FBUS_EBADNAME));
        return TOOL_EXIT_ERROR;
    }
    if (isatty(STDOUT_FILENO)) {
        tool_error(CMD, "refusing to write video to a terminal (pipe or redirect stdout)");
        return TOOL_EXIT_ERROR;
    }
    tool_signals(1);
    ropts.transport = c.transport;
    ropts.policy = c.latest ? FBUS_POLICY_LATEST : FBUS_POLICY_LOSSLESS;
    ropts.flags = FBUS_READER_WAIT | (same_user ? FBUS_READER_SAME_USER : 0);
    rc = fbus_reader_open(c.name, &ropts, &c.reader);
    if (rc < 0) {
        tool_error(CMD, "bus \"%s\": %s", c.name, tool_bus_strerror(rc));
        return TOOL_EXIT_ERROR;
    }
    rc = run(&c);
    fbus_reader_close(c.reader);
    free(c.buf);
    return rc < 0 ? TOOL_EXIT_ERROR : TOOL_EXIT_OK;
}
