/* SPDX-License-Identifier: MIT */
/*
 * framebus put: read frames from stdin into a bus, straight into the slot the
 * writer hands out, so `ffmpeg ... -f yuv4mpegpipe - | framebus put cam --y4m`
 * makes any ffmpeg source a bus. Input is YUV4MPEG2 or bare planes of a size
 * and pixel format given on the command line.
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

#define CMD              "put"
#define SLICE_NS         250000000LL
#define DEFAULT_RATE_NUM 25 /* what ffmpeg assumes for rawvideo and y4m */
#define DEFAULT_RATE_DEN 1

struct put {
    /* options */
    const char *name;
    fbus_transport transport;
    int y4m;
    uint32_t width, height; /* 0: not given */
    const char *pix_fmt;    /* NULL: not given */
    int rate_num, rate_den; /* 0: not given */
    int sar_num, sar_den;   /* from the y4m header; 0:0 unknown */
    int range;              /* FBUS_RANGE_* from the y4m header */
    uint32_t slots;
    int wait_readers;

    fbus_format fmt;
    fbus_writer *writer;
    uint64_t frames;
};

/* Read and parse the y4m stream header; fill p->fmt from it. */
static int read_y4m_header(struct put *p)
{
    char line[Y4M_LINE_MAX + 1], err[160];
    y4m_header h;
    size_t len;
    ssize_t n = frameio_read_line(STDIN_FILENO, line, sizeof(line), &len);
    int rc;

    if (n == -1) {
        tool_error(CMD, "no input (expected a y4m stream on stdin)");
        return -1;
    }
    if (n < -3) {
        tool_error(CMD, "reading stdin: %s", strerror((int)-n));
        return -1;
    }
    rc = y4m_parse_header(line, len, &h, err, sizeof(err));
    /* For a line cut short or too long, a wrong signature still says more
     * than "truncated" or "too long". */
    if (n < 0 && !(rc < 0 && strncmp(err, "not a y4m", 9) == 0)) {
        if (n == -2)
            tool_error(CMD, "truncated y4m header (input ended before its end of line)");
        else
            tool_error(CMD, "bad y4m header: longer than %d bytes", Y4M_LINE_MAX - 1);
        return -1;
    }
    if (rc < 0) {
        tool_error(CMD, "bad y4m header: %s", err);
        return -1;
    }

    if ((p->width && (p->width != h.width || p->height != h.height)) ||
        (p->pix_fmt && strcmp(fbav_pix_fmt_canonical(p->pix_fmt), h.pixfmt->pix_fmt) != 0)) {
        tool_error(CMD, "input is %ux%u %s but the options say %ux%u %s", h.width, h.height,
                   h.pixfmt->pix_fmt, p->width ? p->width : h.width,
                   p->width ? p->height : h.height,
                   p->pix_fmt ? fbav_pix_fmt_canonical(p->pix_fmt) : h.pixfmt->pix_fmt);
        return -1;
    }
    rc = fbav_format_by_name(&p->fmt, h.pixfmt->pix_fmt, h.width, h.height, err, sizeof(err));
    if (rc < 0) {
        tool_error(CMD, "%s", err);
        return -1;
    }
    if (frameio_picture_size(&p->fmt) != y4m_frame_size(h.pixfmt, h.width, h.height)) {
        tool_error(CMD, "internal error: plane table of %s does not match y4m", h.pixfmt->pix_fmt);
        return -1;
    }
    if (!p->rate_num) {
        p->rate_num = h.rate_num > 0 ? h.rate_num : DEFAULT_RATE_NUM;
        p->rate_den = h.rate_num > 0 ? h.rate_den : DEFAULT_RATE_DEN;
    }
    if (h.aspect_num > 0 && h.aspect_den > 0) {
        p->sar_num = h.aspect_num;
        p->sar_den = h.aspect_den;
    }
    p->range = h.range == Y4M_RANGE_FULL      ? FBUS_RANGE_FULL
               : h.range == Y4M_RANGE_LIMITED ? FBUS_RANGE_LIMITED
               : h.pixfmt->full_range         ? FBUS_RANGE_FULL
                                              : FBUS_RANGE_UNKNOWN;
    return 0;
}

/* Read the next FRAME line. Returns 1 if a frame follows, 0 at the end of
 * the input, -1 after printing an error. */
static int read_frame_header(struct put *p)
{
    char line[Y4M_LINE_MAX + 1], err[160];
    size_t len;
    ssize_t n = frameio_read_line(STDIN_FILENO, line, sizeof(line), &len);

    if (n == -1)
        return 0;
    if (n < -3) {
        if (n == -EINTR && tool_stop)
            return 0;
        tool_error(CMD, "reading stdin: %s", strerror((int)-n));
        return -1;
    }
    if (n == -2) {
        tool_error(CMD, "frame %" PRIu64 ": truncated frame header", p->frames + 1);
        return -1;
    }
    if (y4m_parse_frame_header(line, len, err, sizeof(err)) < 0) {
        tool_error(CMD, "frame %" PRIu64 ": %s", p->frames + 1, err);
        return -1;
    }
    if (n == -3) {
        tool_error(CMD, "frame %" PRIu64 ": frame header is longer than %d bytes", p->frames + 1,
                   Y4M_LINE_MAX - 1);
        return -1;
    }
    return 1;
}

static int open_writer(struct put *p)
{
    fbus_writer_opts wopts = {0};
    int rc;

    wopts.transport = p->transport;
    wopts.slots = p->slots;
    wopts.format = &p->fmt;
    /* A producer that just crashed still looks alive until its heartbeat is
     * a little old; give a restart that moment before calling the name
     * busy. */
    for (int i = 0; i < 12; i++) {
        rc = fbus_writer_open(p->name, &wopts, &p->writer);
        if (rc != FBUS_EBUSY || tool_stop)
            break;
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    if (rc == FBUS_EBUSY) {
        tool_error(CMD, "bus \"%s\" is in use by a live producer", p->name);
        return -1;
    }
    if (rc == -EEXIST) {
        tool_error(CMD, "bus \"%s\" exists and is not ours to take over", p->name);
        return -1;
    }
    if (rc < 0) {
        tool_error(CMD, "bus \"%s\": %s", p->name, tool_bus_strerror(rc));
        return -1;
    }
    while (p->wait_readers > 0 && !tool_stop) {
        rc = fbus_writer_wait_readers(p->writer, p->wait_readers, SLICE_NS);
        if (rc == 0)
            break;
        if (rc != -ETIMEDOUT && rc != -EAGAIN && rc != -EINTR) {
            tool_error(CMD, "bus \"%s\": %s", p->name, fbus_strerror(rc));
            return -1;
        }
    }
    return 0;
}

/* Acquire a slot, read one frame into it and publish it. Returns 1 if a
 * frame was published, 0 at a clean end of input, -1 after an error. */
static int put_frame(struct put *p)
{
    fbus_meta meta = {0};
    fbus_slot slot;
    uint64_t got = 0, want = frameio_picture_size(&p->fmt);
    int rc;

    do {
        rc = fbus_writer_acquire(p->writer, &p->fmt, SLICE_NS, &slot);
    } while ((rc == -ETIMEDOUT || rc == -EAGAIN) && !tool_stop);
    if (rc == -ETIMEDOUT || rc == -EAGAIN)
        return 0;
    if (rc < 0) {
        tool_error(CMD, "bus \"%s\": %s", p->name, fbus_strerror(rc));
        return -1;
    }

    rc = frameio_read(STDIN_FILENO, slot.data, &slot.format, &got);
    if (rc != 0) {
        fbus_writer_cancel(p->writer, &slot);
        if (rc == -EINTR || (rc == 1 && got == 0 && !p->y4m))
            return 0;
        if (rc == 1) {
            tool_error(CMD,
                       "frame %" PRIu64 " is truncated: got %" PRIu64 " of %" PRIu64 " bytes%s",
                       p->frames + 1, got, want,
                       p->y4m ? "" : " (do --size and --pix-fmt match the input?)");
        } else {
            tool_error(CMD, "reading stdin: %s", strerror(-rc));
        }
        return -1;
    }
    meta.pts = (int64_t)p->frames;
    meta.tb_num = p->rate_den;
    meta.tb_den = p->rate_num;
    meta.flags = FBUS_FRAME_KEY;
    meta.rate_num = p->rate_num;
    meta.rate_den = p->rate_den;
    meta.sar_num = p->sar_num;
    meta.sar_den = p->sar_den;
    meta.color.range = (uint8_t)p->range;
    rc = fbus_writer_publish(p->writer, &slot, &meta);
    if (rc < 0) {
        tool_error(CMD, "bus \"%s\": %s", p->name, fbus_strerror(rc));
        return -1;
    }
    p->frames++;
    return 1;
}

static int run(struct put *p)
{
    char err[160];
    int rc;

    if (p->y4m) {
        if (read_y4m_header(p) < 0)
            return -1;
    } else {
        if (!p->width || !p->pix_fmt) {
            tool_usage_error(CMD, "raw input needs --size and --pix-fmt (or use --y4m)");
            return -2;
        }
        if (fbav_format_by_name(&p->fmt, p->pix_fmt, p->width, p->height, err, sizeof(err)) < 0) {
            tool_error(CMD, "%s", err);
            return -1;
        }
        if (!p->rate_num) {
            p->rate_num = DEFAULT_RATE_NUM;
            p->rate_den = DEFAULT_RATE_DEN;
        }
    }
    if (open_writer(p) < 0)
        return -1;

    while (!tool_stop) {
        if (p->y4m) {
            rc = read_frame_header(p);
            if (rc <= 0)
                return rc;
        }
        rc = put_frame(p);
        if (rc <= 0)
            return rc;
    }
    return 0;
}

int cmd_put(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"y4m", no_argument, NULL, 'y'},
        {"size", required_argument, NULL, 's'},
        {"pix-fmt", required_argument, NULL, 'p'},
        {"fps", required_argument, NULL, 'r'},
        {"slots", required_argument, NULL, 'S'},
        {"wait-readers", required_argument, NULL, 'w'},
        {"transport", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct put p = {0};
    uint64_t v;
    int opt, rc;

    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'y':
            p.y4m = 1;
            break;
        case 's':
            if (tool_parse_size(optarg, &p.width, &p.height) < 0)
                return tool_usage_error(CMD, "--size wants WIDTHxHEIGHT (1 to 32768), not \"%s\"",
                                        optarg);
            break;
        case 'p':
            if (!fbav_pix_fmt_canonical(optarg)) {
                tool_error(CMD, "unknown pixel format \"%s\"", optarg);
                return TOOL_EXIT_ERROR;
            }
            p.pix_fmt = optarg;
            break;
        case 'r':
            if (tool_parse_rate(optarg, &p.rate_num, &p.rate_den) < 0)
                return tool_usage_error(CMD, "--fps wants a rate like 30 or 30000/1001, not \"%s\"",
                                        optarg);
            break;
        case 'S':
            if (tool_parse_u64(optarg, 2, FBUS_MAX_SLOTS, &v) < 0)
                return tool_usage_error(CMD, "--slots wants 2 to %d, not \"%s\"", FBUS_MAX_SLOTS,
                                        optarg);
            p.slots = (uint32_t)v;
            break;
        case 'w':
            if (tool_parse_u64(optarg, 0, FBUS_MAX_READERS, &v) < 0)
                return tool_usage_error(CMD, "--wait-readers wants 0 to %d, not \"%s\"",
                                        FBUS_MAX_READERS, optarg);
            p.wait_readers = (int)v;
            break;
        default:
            rc = tool_common_option(CMD, argv, opt, &p.transport, NULL);
            if (rc >= 0)
                return rc;
            break;
        }
    }
    if (optind >= argc)
        return tool_usage_error(CMD, "which bus? (framebus put NAME)");
    if (optind + 1 < argc)
        return tool_usage_error(CMD, "unexpected argument \"%s\"", argv[optind + 1]);
    p.name = argv[optind];
    if (!p.y4m && (!p.width != !p.pix_fmt))
        return tool_usage_error(CMD, "raw input needs both --size and --pix-fmt");
    if (fbus_name_check(p.name) < 0) {
        tool_error(CMD, "bus \"%s\": %s", p.name, tool_bus_strerror(FBUS_EBADNAME));
        return TOOL_EXIT_ERROR;
    }

    tool_signals(0);
    rc = run(&p);
    /* Closing marks the stream ended; lossless readers still get every
     * frame published before it. */
    fbus_writer_close(p.writer);
    if (rc == -2)
        return TOOL_EXIT_USAGE;
    return rc < 0 ? TOOL_EXIT_ERROR : TOOL_EXIT_OK;
}
