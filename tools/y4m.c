/* SPDX-License-Identifier: MIT */
/*
 * YUV4MPEG2 header parsing and formatting. The tag names and the mapping of
 * colour formats to pixel formats follow ffmpeg's yuv4mpegpipe muxer (what
 * we write) and demuxer (what we accept), so streams round-trip with ffmpeg.
 */
#include "y4m.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The formats ffmpeg's muxer writes, with the tags it writes for them.
 * Order matters: for a tag shared by several names the first (limited
 * range) one is the one a header maps to, unless XCOLORRANGE=FULL. */
static const y4m_pixfmt pixfmts[] = {
    {"yuv420p", "420jpeg", "420JPEG", 0, 3, 1, 1, 1},
    {"yuvj420p", "420jpeg", "420JPEG", 1, 3, 1, 1, 1},
    {"yuv422p", "422", "422", 0, 3, 1, 0, 1},
    {"yuvj422p", "422", "422", 1, 3, 1, 0, 1},
    {"yuv444p", "444", "444", 0, 3, 0, 0, 1},
    {"yuvj444p", "444", "444", 1, 3, 0, 0, 1},
    {"yuva444p", "444alpha", "444", 0, 4, 0, 0, 1},
    {"yuv411p", "411", "411", 0, 3, 2, 0, 1},
    {"gray", "mono", NULL, 0, 1, 0, 0, 1},
    {"gray9le", "mono9", NULL, 0, 1, 0, 0, 2},
    {"gray10le", "mono10", NULL, 0, 1, 0, 0, 2},
    {"gray12le", "mono12", NULL, 0, 1, 0, 0, 2},
    {"gray16le", "mono16", NULL, 0, 1, 0, 0, 2},
    {"yuv420p9le", "420p9", "420P9", 0, 3, 1, 1, 2},
    {"yuv422p9le", "422p9", "422P9", 0, 3, 1, 0, 2},
    {"yuv444p9le", "444p9", "444P9", 0, 3, 0, 0, 2},
    {"yuv420p10le", "420p10", "420P10", 0, 3, 1, 1, 2},
    {"yuv422p10le", "422p10", "422P10", 0, 3, 1, 0, 2},
    {"yuv444p10le", "444p10", "444P10", 0, 3, 0, 0, 2},
    {"yuv420p12le", "420p12", "420P12", 0, 3, 1, 1, 2},
    {"yuv422p12le", "422p12", "422P12", 0, 3, 1, 0, 2},
    {"yuv444p12le", "444p12", "444P12", 0, 3, 0, 0, 2},
    {"yuv420p14le", "420p14", "420P14", 0, 3, 1, 1, 2},
    {"yuv422p14le", "422p14", "422P14", 0, 3, 1, 0, 2},
    {"yuv444p14le", "444p14", "444P14", 0, 3, 0, 0, 2},
    {"yuv420p16le", "420p16", "420P16", 0, 3, 1, 1, 2},
    {"yuv422p16le", "422p16", "422P16", 0, 3, 1, 0, 2},
    {"yuv444p16le", "444p16", "444P16", 0, 3, 0, 0, 2},
};

#define NB_PIXFMTS (sizeof(pixfmts) / sizeof(pixfmts[0]))

/* Other spellings the demuxer accepts for 4:2:0 (chroma siting differs, the
 * bytes do not). */
static const char *const tags_420[] = {"420jpeg", "420mpeg2", "420paldv", "420"};
static const char *const xyscss_420[] = {"420JPEG", "420MPEG2", "420PALDV"};

static void set_err(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;

    if (!err || errsz == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

/* Copy an untrusted token for a message: at most 24 bytes, anything that
 * is not printable ASCII shown as '?'. */
static const char *quote(char *out, size_t outsz, const char *tok, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len && n + 4 < outsz; i++) {
        unsigned char c = (unsigned char)tok[i];
        out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        if (i == 23 && i + 1 < len) {
            memcpy(out + n, "...", 3);
            n += 3;
            break;
        }
    }
    out[n] = '\0';
    return out;
}

static int token_is(const char *tok, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(tok, word, len) == 0;
}

/* Strict unsigned decimal: digits only, at most max. */
static int parse_uint(const char *s, size_t len, long max, long *out)
{
    long v = 0;

    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

/* "N:D", both unsigned decimals that fit an int. */
static int parse_ratio(const char *s, size_t len, int *num, int *den)
{
    const char *colon = memchr(s, ':', len);
    long n, d;

    if (!colon)
        return -1;
    if (parse_uint(s, (size_t)(colon - s), 0x7fffffff, &n) < 0 ||
        parse_uint(colon + 1, len - (size_t)(colon - s) - 1, 0x7fffffff, &d) < 0)
        return -1;
    *num = (int)n;
    *den = (int)d;
    return 0;
}

/* The table entry for tag (a C value, or an XYSCSS value when xyscss). */
static const y4m_pixfmt *find_tag(const char *tok, size_t len, int xyscss, int full)
{
    const char *const *alias = xyscss ? xyscss_420 : tags_420;
    size_t nb_alias = xyscss ? sizeof(xyscss_420) / sizeof(xyscss_420[0])
                             : sizeof(tags_420) / sizeof(tags_420[0]);
    const y4m_pixfmt *found = NULL;

    for (size_t i = 0; i < nb_alias; i++) {
        if (token_is(tok, len, alias[i])) {
            tok = xyscss ? "420JPEG" : "420jpeg";
            len = 7;
            break;
        }
    }
    for (size_t i = 0; i < NB_PIXFMTS; i++) {
        const char *t = xyscss ? pixfmts[i].xyscss : pixfmts[i].tag;
        if (!t || !token_is(tok, len, t))
            continue;
        if (!found)
            found = &pixfmts[i];
        if (pixfmts[i].full_range == full)
            return &pixfmts[i];
    }
    return found;
}

/* What the tags of a header said that needs all of them to resolve. */
struct tags {
    const char *ctag, *xtag; /* C... and XYSCSS=... values */
    size_t ctag_len, xtag_len;
    int have_w, have_h;
};

/* The header line must start with the magic, fit a line, and hold only
 * printable ASCII: 0, or -1 with err set. */
static int check_line(const char *buf, size_t len, char *err, size_t errsz)
{
    const size_t magic_len = sizeof(Y4M_MAGIC) - 1;

    if (len < magic_len || memcmp(buf, Y4M_MAGIC, magic_len) != 0 ||
        (len > magic_len && buf[magic_len] != ' ')) {
        set_err(err, errsz, "not a y4m stream (it does not start with \"%s\")", Y4M_MAGIC);
        return -1;
    }
    if (len >= Y4M_LINE_MAX) {
        set_err(err, errsz, "header is longer than %d bytes", Y4M_LINE_MAX - 1);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c < 0x20 || c >= 0x7f) {
            set_err(err, errsz, "header contains the byte 0x%02x at offset %zu", c, i);
            return -1;
        }
    }
    return 0;
}

/* One tag of tlen bytes at tok: 0, or -1 with err set. */
static int parse_tag(const char *tok, size_t tlen, y4m_header *h, struct tags *t, char *err,
                     size_t errsz)
{
    char q[32];
    long v;

    switch (tok[0]) {
    case 'W':
    case 'H':
        if (parse_uint(tok + 1, tlen - 1, Y4M_SIDE_MAX, &v) < 0 || v == 0) {
            set_err(err, errsz, "bad %s \"%s\" (expected %c1 to %c%u)",
                    tok[0] == 'W' ? "width" : "height", quote(q, sizeof(q), tok, tlen), tok[0],
                    tok[0], Y4M_SIDE_MAX);
            return -1;
        }
        if (tok[0] == 'W') {
            h->width = (uint32_t)v;
            t->have_w = 1;
        } else {
            h->height = (uint32_t)v;
            t->have_h = 1;
        }
        return 0;
    case 'F':
        if (parse_ratio(tok + 1, tlen - 1, &h->rate_num, &h->rate_den) < 0 ||
            (h->rate_num == 0) != (h->rate_den == 0)) {
            set_err(err, errsz, "bad frame rate \"%s\" (expected F<num>:<den>)",
                    quote(q, sizeof(q), tok, tlen));
            return -1;
        }
        return 0;
    case 'A':
        if (parse_ratio(tok + 1, tlen - 1, &h->aspect_num, &h->aspect_den) < 0) {
            set_err(err, errsz, "bad pixel aspect \"%s\" (expected A<num>:<den>)",
                    quote(q, sizeof(q), tok, tlen));
            return -1;
        }
        return 0;
    case 'I':
        if (tlen == 2 && tok[1] == 'm') {
            set_err(err, errsz, "mixed interlacing (Im) is not supported");
            return -1;
        }
        if (tlen != 2 || !strchr("ptb?", tok[1])) {
            set_err(err, errsz, "bad interlacing \"%s\" (expected Ip, It, Ib or I?)",
                    quote(q, sizeof(q), tok, tlen));
            return -1;
        }
        h->interlace = tok[1];
        return 0;
    case 'C':
        t->ctag = tok + 1;
        t->ctag_len = tlen - 1;
        return 0;
    case 'X':
        if (tlen > 7 && memcmp(tok, "XYSCSS=", 7) == 0) {
            t->xtag = tok + 7;
            t->xtag_len = tlen - 7;
        } else if (token_is(tok, tlen, "XCOLORRANGE=FULL")) {
            h->range = Y4M_RANGE_FULL;
        } else if (token_is(tok, tlen, "XCOLORRANGE=LIMITED")) {
            h->range = Y4M_RANGE_LIMITED;
        }
        /* Other vendor extensions carry nothing the bus keeps. */
        return 0;
    default:
        set_err(err, errsz, "unknown tag \"%s\"", quote(q, sizeof(q), tok, tlen));
        return -1;
    }
}

/* The pixel format the C (or, failing that, XYSCSS) tag names; 420jpeg if
 * neither is there. 0, or -1 with err set. */
static int resolve_pixfmt(y4m_header *h, const struct tags *t, char *err, size_t errsz)
{
    int full = h->range == Y4M_RANGE_FULL;
    char q[32];

    if (t->ctag) {
        h->pixfmt = find_tag(t->ctag, t->ctag_len, 0, full);
        if (!h->pixfmt) {
            set_err(err, errsz, "unknown colour format \"C%s\"",
                    quote(q, sizeof(q), t->ctag, t->ctag_len));
            return -1;
        }
    } else if (t->xtag) {
        h->pixfmt = find_tag(t->xtag, t->xtag_len, 1, full);
        if (!h->pixfmt) {
            set_err(err, errsz, "unknown colour format \"XYSCSS=%s\"",
                    quote(q, sizeof(q), t->xtag, t->xtag_len));
            return -1;
        }
    } else {
        h->pixfmt = find_tag("420jpeg", 7, 0, full);
    }
    return 0;
}

int y4m_parse_header(const char *buf, size_t len, y4m_header *h, char *err, size_t errsz)
{
    struct tags t = {0};
    size_t pos;

    memset(h, 0, sizeof(*h));
    h->interlace = Y4M_INTERLACE_UNKNOWN;
    if (check_line(buf, len, err, errsz) < 0)
        return -1;
    for (pos = sizeof(Y4M_MAGIC) - 1; pos < len;) {
        const char *tok;

        if (buf[pos] == ' ') {
            pos++;
            continue;
        }
        tok = buf + pos;
        while (pos < len && buf[pos] != ' ')
            pos++;
        if (parse_tag(tok, (size_t)(buf + pos - tok), h, &t, err, errsz) < 0)
            return -1;
    }
    if (!t.have_w || !t.have_h) {
        set_err(err, errsz, "header has no %s (%s tag)", t.have_w ? "height" : "width",
                t.have_w ? "H" : "W");
        return -1;
    }
    return resolve_pixfmt(h, &t, err, errsz);
}

int y4m_parse_frame_header(const char *buf, size_t len, char *err, size_t errsz)
{
    const size_t magic_len = sizeof(Y4M_FRAME_MAGIC) - 1;
    char q[32];

    if (len < magic_len || memcmp(buf, Y4M_FRAME_MAGIC, magic_len) != 0 ||
        (len > magic_len && buf[magic_len] != ' ')) {
        set_err(err, errsz, "bad frame header \"%s\" (expected FRAME)",
                quote(q, sizeof(q), buf, len));
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c < 0x20 || c >= 0x7f) {
            set_err(err, errsz, "frame header contains the byte 0x%02x", c);
            return -1;
        }
    }
    return 0;
}

int y4m_format_header(char *buf, size_t size, const y4m_header *h)
{
    const y4m_pixfmt *pf = h->pixfmt;
    int n;

    if (!pf || h->width == 0 || h->height == 0)
        return -1;
    n = snprintf(buf, size, "%s W%u H%u F%d:%d I%c A%d:%d C%s%s%s%s\n", Y4M_MAGIC, h->width,
                 h->height, h->rate_num, h->rate_den, h->interlace ? h->interlace : 'p',
                 h->aspect_num, h->aspect_den, pf->tag, pf->xyscss ? " XYSCSS=" : "",
                 pf->xyscss ? pf->xyscss : "", pf->full_range ? " XCOLORRANGE=FULL" : "");
    if (n < 0 || (size_t)n >= size)
        return -1;
    return n;
}

const y4m_pixfmt *y4m_pixfmt_by_name(const char *pix_fmt)
{
    for (size_t i = 0; i < NB_PIXFMTS; i++) {
        if (strcmp(pixfmts[i].pix_fmt, pix_fmt) == 0)
            return &pixfmts[i];
    }
    return NULL;
}

int y4m_plane_sizes(const y4m_pixfmt *pf, uint32_t w, uint32_t h, uint32_t row_bytes[4],
                    uint32_t rows[4])
{
    for (int i = 0; i < pf->nb_planes; i++) {
        int chroma = i == 1 || i == 2;
        uint32_t sw = chroma ? (w + (1u << pf->log2_chroma_w) - 1) >> pf->log2_chroma_w : w;
        uint32_t sh = chroma ? (h + (1u << pf->log2_chroma_h) - 1) >> pf->log2_chroma_h : h;

        row_bytes[i] = sw * (uint32_t)pf->bytes_per_sample;
        rows[i] = sh;
    }
    return pf->nb_planes;
}

uint64_t y4m_frame_size(const y4m_pixfmt *pf, uint32_t w, uint32_t h)
{
    uint32_t row_bytes[4], rows[4];
    uint64_t size = 0;
    int n = y4m_plane_sizes(pf, w, h, row_bytes, rows);

    for (int i = 0; i < n; i++)
        size += (uint64_t)row_bytes[i] * rows[i];
    return size;
}
