/* SPDX-License-Identifier: MIT */
/*
 * Frame pictures to and from file descriptors with scatter/gather I/O. A
 * 640x360 yuv420p frame with contiguous rows is three iovecs; padded rows
 * cost one iovec each, batched up to IOV_MAX per system call.
 */
#include "frameio.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cli.h"

#define BATCH 1024 /* IOV_MAX on Linux */

struct iovbatch {
    int fd;
    int is_read;
    int n;
    uint64_t done;
    struct iovec v[BATCH];
};

/* Transfer everything queued. Returns 0, 1 at end of input, or -errno. */
static int flush(struct iovbatch *b)
{
    int i = 0;

    while (i < b->n) {
        ssize_t r =
            b->is_read ? readv(b->fd, b->v + i, b->n - i) : writev(b->fd, b->v + i, b->n - i);
        if (r < 0) {
            int err = errno;
            /* A write is finished even when asked to stop, so the output
             * never ends inside a frame; a read gives up. */
            if (err == EINTR && (!b->is_read || !tool_stop))
                continue;
            b->n = 0;
            return -err;
        }
        if (r == 0 && b->is_read) {
            b->n = 0;
            return 1;
        }
        b->done += (uint64_t)r;
        while (r > 0 && i < b->n) {
            if ((size_t)r >= b->v[i].iov_len) {
                r -= (ssize_t)b->v[i].iov_len;
                i++;
            } else {
                b->v[i].iov_base = (uint8_t *)b->v[i].iov_base + r;
                b->v[i].iov_len -= (size_t)r;
                r = 0;
            }
        }
    }
    b->n = 0;
    return 0;
}

static int queue(struct iovbatch *b, const void *p, size_t len)
{
    int rc = 0;

    if (len == 0)
        return 0;
    if (b->n == BATCH)
        rc = flush(b);
    if (rc != 0)
        return rc;
    b->v[b->n].iov_base = (void *)(uintptr_t)p;
    b->v[b->n].iov_len = len;
    b->n++;
    return 0;
}

static int transfer(struct iovbatch *b, const void *prefix, size_t prefix_len,
                    const uint8_t *const data[], const fbus_format *fmt)
{
    int rc = queue(b, prefix, prefix_len);

    for (uint32_t i = 0; rc == 0 && i < fmt->nb_planes; i++) {
        const fbus_plane *p = &fmt->planes[i];

        if (p->stride == p->row_bytes) {
            rc = queue(b, data[i], (size_t)p->row_bytes * p->rows);
            continue;
        }
        for (uint32_t r = 0; rc == 0 && r < p->rows; r++)
            rc = queue(b, data[i] + (size_t)r * p->stride, p->row_bytes);
    }
    if (rc == 0)
        rc = flush(b);
    return rc;
}

uint64_t frameio_picture_size(const fbus_format *fmt)
{
    uint64_t size = 0;

    for (uint32_t i = 0; i < fmt->nb_planes && i < FBUS_MAX_PLANES; i++)
        size += (uint64_t)fmt->planes[i].row_bytes * fmt->planes[i].rows;
    return size;
}

int frameio_write(int fd, const void *prefix, size_t prefix_len, const uint8_t *const data[],
                  const fbus_format *fmt)
{
    static struct iovbatch b;

    b.fd = fd;
    b.is_read = 0;
    b.n = 0;
    b.done = 0;
    return transfer(&b, prefix, prefix_len, data, fmt);
}

int frameio_read(int fd, uint8_t *const data[], const fbus_format *fmt, uint64_t *got)
{
    static struct iovbatch b;
    int rc;

    b.fd = fd;
    b.is_read = 1;
    b.n = 0;
    b.done = 0;
    rc = transfer(&b, NULL, 0, (const uint8_t *const *)data, fmt);
    *got = b.done;
    return rc;
}

ssize_t frameio_read_line(int fd, char *buf, size_t size, size_t *len_out)
{
    size_t n = 0;

    *len_out = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);

        if (r < 0) {
            if (errno == EINTR && !tool_stop)
                continue;
            return -errno < -3 ? -errno : -EIO;
        }
        if (r == 0) {
            buf[n] = '\0';
            *len_out = n;
            return n == 0 ? -1 : -2;
        }
        if (c == '\n') {
            buf[n] = '\0';
            *len_out = n;
            return (ssize_t)n;
        }
        if (n + 1 >= size) {
            buf[n] = '\0';
            *len_out = n;
            return -3;
        }
        buf[n++] = c;
    }
}

void frameio_pack(const uint8_t *const data[], const fbus_format *fmt, uint8_t *buf,
                  fbus_format *packed, const uint8_t *pdata[FBUS_MAX_PLANES])
{
    uint64_t off = 0;

    *packed = *fmt;
    for (uint32_t i = 0; i < fmt->nb_planes; i++) {
        const fbus_plane *p = &fmt->planes[i];

        packed->planes[i].offset = off;
        packed->planes[i].stride = p->row_bytes;
        pdata[i] = buf + off;
        for (uint32_t r = 0; r < p->rows; r++)
            memcpy(buf + off + (uint64_t)r * p->row_bytes, data[i] + (size_t)r * p->stride,
                   p->row_bytes);
        off += (uint64_t)p->row_bytes * p->rows;
    }
    packed->size = off;
}
