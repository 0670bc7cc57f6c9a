/* SPDX-License-Identifier: MIT */
/*
 * YUV4MPEG2 stream and frame headers: parse them from a buffer and format
 * them, following ffmpeg's yuv4mpegpipe muxer and demuxer. Pure functions:
 * no I/O, no allocation, no libav, so a fuzz target can drive the parser.
 */
#ifndef FBUS_TOOLS_Y4M_H
#define FBUS_TOOLS_Y4M_H

#include <stddef.h>
#include <stdint.h>

#define Y4M_MAGIC       "YUV4MPEG2"
#define Y4M_FRAME_MAGIC "FRAME"
/* Longest header line accepted or written, '\n' included. */
#define Y4M_LINE_MAX 256
/* Largest width or height accepted (the bus's own limit). */
#define Y4M_SIDE_MAX 32768u

/* A colour format y4m can carry, and the bus pixel format it maps to. */
typedef struct y4m_pixfmt {
    const char *pix_fmt; /* libavutil name, e.g. "yuv420p10le" */
    const char *tag;     /* value of the C tag written, e.g. "420p10" */
    const char *xyscss;  /* value of the XYSCSS tag written, or NULL */
    int full_range;      /* write XCOLORRANGE=FULL (the yuvj formats) */
    int nb_planes;       /* 1 (mono), 3 (yuv) or 4 (yuva) */
    int log2_chroma_w;   /* chroma subsampling of planes 1 and 2 */
    int log2_chroma_h;
    int bytes_per_sample; /* 1 or 2 (little-endian) */
} y4m_pixfmt;

/* Interlacing as the I tag gives it. */
enum { Y4M_INTERLACE_UNKNOWN = '?' };

/* Colour range as the XCOLORRANGE tag gives it. */
enum { Y4M_RANGE_UNKNOWN = 0, Y4M_RANGE_LIMITED = 1, Y4M_RANGE_FULL = 2 };

/* A parsed stream header. */
typedef struct y4m_header {
    uint32_t width;
    uint32_t height;
    int rate_num; /* frames per second as a fraction; 0:0 when unknown */
    int rate_den;
    int aspect_num; /* pixel aspect; 0:0 when unknown */
    int aspect_den;
    char interlace; /* 'p', 't', 'b' or '?' */
    int range;      /* Y4M_RANGE_* */
    const y4m_pixfmt *pixfmt;
} y4m_header;

/*
 * Parse a stream header line. buf holds len bytes: the line without its
 * terminating '\n' (it may contain anything, NUL bytes included). On success
 * fills *h and returns 0. On failure returns -1 and writes one English
 * sentence (no trailing newline) to err, which must hold errsz bytes.
 * A missing C tag means 4:2:0 (or the XYSCSS tag's format), like ffmpeg; a
 * full colour range turns the 8-bit formats into their yuvj names.
 */
int y4m_parse_header(const char *buf, size_t len, y4m_header *h, char *err, size_t errsz);

/* Parse a frame header line (without '\n'): "FRAME" and optional tags,
 * which are ignored. Returns 0, or -1 with a message in err. */
int y4m_parse_frame_header(const char *buf, size_t len, char *err, size_t errsz);

/* Write the stream header line for h, '\n' included, into buf (size bytes,
 * at least Y4M_LINE_MAX). Returns its length, or -1 if h is incomplete. */
int y4m_format_header(char *buf, size_t size, const y4m_header *h);

/* The y4m colour format for a bus pixel-format name, or NULL if y4m cannot
 * carry it. */
const y4m_pixfmt *y4m_pixfmt_by_name(const char *pix_fmt);

/* Row bytes and rows of each plane of a w x h frame in pf, in y4m (and
 * ffmpeg rawvideo) order. Returns the number of planes. */
int y4m_plane_sizes(const y4m_pixfmt *pf, uint32_t w, uint32_t h, uint32_t row_bytes[4],
                    uint32_t rows[4]);

/* Bytes of one frame's picture data (not counting the FRAME line). */
uint64_t y4m_frame_size(const y4m_pixfmt *pf, uint32_t w, uint32_t h);

#endif /* FBUS_TOOLS_Y4M_H */
