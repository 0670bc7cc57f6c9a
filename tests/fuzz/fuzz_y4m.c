/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the YUV4MPEG2 parser of `framebus put` (tools/y4m.c): the
 * input is read like a stream, a header line and then FRAME lines each
 * followed by one picture. Besides not crashing, a parsed header must format
 * back into a header that parses to the same picture, and its frame size
 * must agree with the bus's plane table for the same format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framebus/framebus.h"
#include "y4m.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES 8

/* The next line of [*pos, size) without its '\n'; NULL at the end. */
static const char *next_line(const uint8_t *data, size_t size, size_t *pos, size_t *len)
{
    const uint8_t *start = data + *pos, *nl;

    if (*pos >= size)
        return NULL;
    nl = memchr(start, '\n', size - *pos);
    *len = nl ? (size_t)(nl - start) : size - *pos;
    *pos += *len + (nl ? 1 : 0);
    return (const char *)start;
}

static void check_roundtrip(const y4m_header *h)
{
    char line[Y4M_LINE_MAX], err[160];
    y4m_header again;
    int n = y4m_format_header(line, sizeof(line), h);

    if (n <= 0 || line[n - 1] != '\n') {
        fprintf(stderr, "fuzz_y4m: a parsed header does not format\n");
        abort();
    }
    if (y4m_parse_header(line, (size_t)n - 1, &again, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_y4m: formatted header does not parse: %s\n", err);
        abort();
    }
    if (again.width != h->width || again.height != h->height || again.pixfmt != h->pixfmt) {
        fprintf(stderr, "fuzz_y4m: header changed in a round trip: %.*s\n", n - 1, line);
        abort();
    }
    if (y4m_pixfmt_by_name(h->pixfmt->pix_fmt) != h->pixfmt) {
        fprintf(stderr, "fuzz_y4m: pixel format %s not found by name\n", h->pixfmt->pix_fmt);
        abort();
    }
}

/* The bus's plane table and y4m's plane sizes describe the same bytes. */
static void check_sizes(const y4m_header *h)
{
    uint32_t row_bytes[4], rows[4];
    uint64_t total = 0, bus = 0;
    fbus_format fmt;
    int n = y4m_plane_sizes(h->pixfmt, h->width, h->height, row_bytes, rows);

    if (n < 1 || n > 4)
        abort();
    for (int i = 0; i < n; i++) {
        if (row_bytes[i] == 0 || rows[i] == 0)
            abort();
        total += (uint64_t)row_bytes[i] * rows[i];
    }
    if (total != y4m_frame_size(h->pixfmt, h->width, h->height))
        abort();
    if (fbus_format_init(&fmt, h->pixfmt->pix_fmt, h->width, h->height, 0) != 0)
        return; /* a format or size the bus refuses; put says so */
    for (uint32_t i = 0; i < fmt.nb_planes; i++)
        bus += (uint64_t)fmt.planes[i].row_bytes * fmt.planes[i].rows;
    if ((int)fmt.nb_planes != n || bus != total) {
        fprintf(stderr, "fuzz_y4m: %s %ux%u: y4m %llu bytes in %d planes, bus %llu in %u\n",
                h->pixfmt->pix_fmt, h->width, h->height, (unsigned long long)total, n,
                (unsigned long long)bus, fmt.nb_planes);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[160];
    y4m_header h;
    size_t pos = 0, len;
    const char *line = next_line(data, size, &pos, &len);
    uint64_t frame;

    if (!line)
        return 0;
    if (y4m_parse_header(line, len, &h, err, sizeof(err)) != 0) {
        if (strlen(err) == 0 || strchr(err, '\n'))
            abort(); /* put prints it as one line */
        return 0;
    }
    if (!h.pixfmt || h.width == 0 || h.height == 0 || h.width > Y4M_SIDE_MAX ||
        h.height > Y4M_SIDE_MAX)
        abort();
    check_roundtrip(&h);
    check_sizes(&h);

    frame = y4m_frame_size(h.pixfmt, h.width, h.height);
    for (int i = 0; i < MAX_FRAMES; i++) {
        line = next_line(data, size, &pos, &len);
        if (!line || y4m_parse_frame_header(line, len, err, sizeof(err)) != 0)
            break;
        if (frame > size - pos)
            break;
        pos += (size_t)frame;
    }
    return 0;
}
