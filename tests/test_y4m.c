/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of tools/y4m.c: the YUV4MPEG2 headers ffmpeg writes parse to the
 * right size, rate and pixel format; malformed ones give the exact message;
 * headers we write are what ffmpeg's muxer writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "y4m.h"

static int parse(const char *line, y4m_header *h, char *err, size_t errsz)
{
    return y4m_parse_header(line, strlen(line), h, err, errsz);
}

static void test_ffmpeg_headers(void **state)
{
    static const struct {
        const char *line;
        const char *pix_fmt;
    } cases[] = {
        {"YUV4MPEG2 W97 H61 F10:1 Ip A1:1 C420jpeg XYSCSS=420JPEG", "yuv420p"},
        {"YUV4MPEG2 W97 H61 F10:1 Ip A1:1 C420jpeg XYSCSS=420JPEG XCOLORRANGE=LIMITED", "yuv420p"},
        {"YUV4MPEG2 W97 H61 F10:1 Ip A1:1 C420jpeg XYSCSS=420JPEG XCOLORRANGE=FULL", "yuvj420p"},
        {"YUV4MPEG2 W97 H61 F10:1 Ip A1:1 C420mpeg2 XYSCSS=420MPEG2", "yuv420p"},
        {"YUV4MPEG2 W97 H61 F10:1 Ip A1:1 C420paldv XYSCSS=420PALDV", "yuv420p"},
        {"YUV4MPEG2 W97 H61 F10:1 Ip A1:1 C420", "yuv420p"},
        {"YUV4MPEG2 W97 H61 F10:1 Ip A1:1 C422 XYSCSS=422", "yuv422p"},
        {"YUV4MPEG2 W97 H61 F10:1 Ip A1:1 C422 XYSCSS=422 XCOLORRANGE=FULL", "yuvj422p"},
        {"YUV4MPEG2 W97 H61 F10:1 Ip A1:1 C444 XYSCSS=444", "yuv444p"},
        {"YUV4MPEG2 W97 H61 F10:1 Ip A1:1 C444alpha XYSCSS=444", "yuva444p"},
        {"YUV4MPEG2 W97 H61 F10:1 Ip A1:1 C411 XYSCSS=411", "yuv411p"},
        {"YUV4MPEG2 W97 H61 F10:1 Ip A1:1 Cmono", "gray"},
        {"YUV4MPEG2 W97 H61 F10:1 Ip A1:1 Cmono9", "gray9le"},
        {"YUV4MPEG2 W97 H61 F10:1 Ip A1:1 Cmono10", "gray10le"},
        {"YUV4MPEG2 W97 H61 F10:1 Ip A1:1 Cmono12", "gray12le"},
        {"YUV4MPEG2 W97 H61 F10:1 Ip A1:1 Cmono16", "gray16le"},
        {"YUV4MPEG2 W98 H61 F10:1 Ip A1:1 C420p10 XYSCSS=420P10", "yuv420p10le"},
        {"YUV4MPEG2 W98 H61 F10:1 Ip A1:1 C422p12 XYSCSS=422P12", "yuv422p12le"},
        {"YUV4MPEG2 W98 H61 F10:1 Ip A1:1 C444p16 XYSCSS=444P16", "yuv444p16le"},
        {"YUV4MPEG2 W98 H61 F10:1 Ip A1:1 C420p9 XYSCSS=420P9", "yuv420p9le"},
        {"YUV4MPEG2 W98 H61 F10:1 Ip A1:1 C444p14 XYSCSS=444P14", "yuv444p14le"},
        /* No C tag: the XYSCSS tag, else 4:2:0, as ffmpeg's demuxer does. */
        {"YUV4MPEG2 W97 H61 F10:1 XYSCSS=444", "yuv444p"},
        {"YUV4MPEG2 W97 H61 F10:1", "yuv420p"},
    };
    char err[128];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        y4m_header h;

        err[0] = '\0';
        assert_int_equal(parse(cases[i].line, &h, err, sizeof(err)), 0);
        assert_string_equal(err, "");
        assert_non_null(h.pixfmt);
        assert_string_equal(h.pixfmt->pix_fmt, cases[i].pix_fmt);
        assert_int_equal(h.height, 61);
        assert_int_equal(h.rate_num, 10);
        assert_int_equal(h.rate_den, 1);
    }
}

static void test_fields(void **state)
{
    y4m_header h;
    char err[128];

    (void)state;
    assert_int_equal(
        parse("YUV4MPEG2 W1920 H1080 F30000:1001 It A128:117 C422 XFOO=1", &h, err, sizeof(err)),
        0);
    assert_int_equal(h.width, 1920);
    assert_int_equal(h.height, 1080);
    assert_int_equal(h.rate_num, 30000);
    assert_int_equal(h.rate_den, 1001);
    assert_int_equal(h.aspect_num, 128);
    assert_int_equal(h.aspect_den, 117);
    assert_int_equal(h.interlace, 't');
    assert_int_equal(h.range, Y4M_RANGE_UNKNOWN);
    assert_string_equal(h.pixfmt->pix_fmt, "yuv422p");

    /* Unknown rate and aspect are 0:0; interlacing unknown is '?'. */
    assert_int_equal(parse("YUV4MPEG2 H2 W4 F0:0 A0:0", &h, err, sizeof(err)), 0);
    assert_int_equal(h.width, 4);
    assert_int_equal(h.height, 2);
    assert_int_equal(h.rate_num, 0);
    assert_int_equal(h.rate_den, 0);
    assert_int_equal(h.interlace, '?');

    /* Largest size the bus takes; extra spaces between tags are fine. */
    assert_int_equal(parse("YUV4MPEG2  W32768  H1 ", &h, err, sizeof(err)), 0);
    assert_int_equal(h.width, 32768);

    /* The frame rate's own parts. */
    assert_int_equal(parse("YUV4MPEG2 W2 H2 Ib F2147483647:1", &h, err, sizeof(err)), 0);
    assert_int_equal(h.rate_num, 2147483647);
    assert_int_equal(h.interlace, 'b');
}

static void test_errors(void **state)
{
    static const struct {
        const char *line;
        const char *err;
    } cases[] = {
        {"", "not a y4m stream (it does not start with \"YUV4MPEG2\")"},
        {"YUV4MPEG", "not a y4m stream (it does not start with \"YUV4MPEG2\")"},
        {"YUV4MPEG2W2 H2", "not a y4m stream (it does not start with \"YUV4MPEG2\")"},
        {"RIFF....", "not a y4m stream (it does not start with \"YUV4MPEG2\")"},
        {"YUV4MPEG2", "header has no width (W tag)"},
        {"YUV4MPEG2 W64", "header has no height (H tag)"},
        {"YUV4MPEG2 H64", "header has no width (W tag)"},
        {"YUV4MPEG2 W0 H2", "bad width \"W0\" (expected W1 to W32768)"},
        {"YUV4MPEG2 W32769 H2", "bad width \"W32769\" (expected W1 to W32768)"},
        {"YUV4MPEG2 W-4 H2", "bad width \"W-4\" (expected W1 to W32768)"},
        {"YUV4MPEG2 W4x H2", "bad width \"W4x\" (expected W1 to W32768)"},
        {"YUV4MPEG2 W H2", "bad width \"W\" (expected W1 to W32768)"},
        {"YUV4MPEG2 W4 Habc", "bad height \"Habc\" (expected H1 to H32768)"},
        {"YUV4MPEG2 W4 H99999999999999999999",
         "bad height \"H99999999999999999999\" (expected H1 to H32768)"},
        {"YUV4MPEG2 W4 H2 F30", "bad frame rate \"F30\" (expected F<num>:<den>)"},
        {"YUV4MPEG2 W4 H2 F30:0", "bad frame rate \"F30:0\" (expected F<num>:<den>)"},
        {"YUV4MPEG2 W4 H2 F:1", "bad frame rate \"F:1\" (expected F<num>:<den>)"},
        {"YUV4MPEG2 W4 H2 F3000000000:1",
         "bad frame rate \"F3000000000:1\" (expected F<num>:<den>)"},
        {"YUV4MPEG2 W4 H2 A1", "bad pixel aspect \"A1\" (expected A<num>:<den>)"},
        {"YUV4MPEG2 W4 H2 Ix", "bad interlacing \"Ix\" (expected Ip, It, Ib or I?)"},
        {"YUV4MPEG2 W4 H2 Ipp", "bad interlacing \"Ipp\" (expected Ip, It, Ib or I?)"},
        {"YUV4MPEG2 W4 H2 Im", "mixed interlacing (Im) is not supported"},
        {"YUV4MPEG2 W4 H2 C420foo", "unknown colour format \"C420foo\""},
        {"YUV4MPEG2 W4 H2 C", "unknown colour format \"C\""},
        {"YUV4MPEG2 W4 H2 Cnv12", "unknown colour format \"Cnv12\""},
        {"YUV4MPEG2 W4 H2 XYSCSS=NV12", "unknown colour format \"XYSCSS=NV12\""},
        {"YUV4MPEG2 W4 H2 Q1", "unknown tag \"Q1\""},
        {"YUV4MPEG2 W4 H2 w4", "unknown tag \"w4\""},
        {"YUV4MPEG2 W4 H2 Cmono\r", "header contains the byte 0x0d at offset 21"},
        {"YUV4MPEG2 W4 H2 C\xff", "header contains the byte 0xff at offset 17"},
        {"YUV4MPEG2 W4 H2 Cthisisaverylongcolourformatname",
         "unknown colour format \"Cthisisaverylongcolourfor...\""},
    };
    char err[128];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        y4m_header h;

        assert_int_equal(parse(cases[i].line, &h, err, sizeof(err)), -1);
        assert_string_equal(err, cases[i].err);
    }
}

static void test_binary_input(void **state)
{
    /* Embedded NUL bytes are data, not the end of the line. */
    static const char line[] = "YUV4MPEG2 W4\0H2";
    char err[128], big[Y4M_LINE_MAX + 8];
    y4m_header h;

    (void)state;
    assert_int_equal(y4m_parse_header(line, sizeof(line) - 1, &h, err, sizeof(err)), -1);
    assert_string_equal(err, "header contains the byte 0x00 at offset 12");

    memset(big, 'X', sizeof(big));
    memcpy(big, "YUV4MPEG2 W4 H4 ", 16);
    assert_int_equal(y4m_parse_header(big, sizeof(big), &h, err, sizeof(err)), -1);
    assert_string_equal(err, "header is longer than 255 bytes");

    /* A NULL or tiny error buffer is allowed. */
    assert_int_equal(y4m_parse_header("nope", 4, &h, NULL, 0), -1);
    assert_int_equal(y4m_parse_header("nope", 4, &h, err, 1), -1);
    assert_string_equal(err, "");
}

static void test_frame_header(void **state)
{
    char err[128];

    (void)state;
    assert_int_equal(y4m_parse_frame_header("FRAME", 5, err, sizeof(err)), 0);
    assert_int_equal(y4m_parse_frame_header("FRAME Ip XFOO=1", 15, err, sizeof(err)), 0);
    assert_int_equal(y4m_parse_frame_header("FRAMX", 5, err, sizeof(err)), -1);
    assert_string_equal(err, "bad frame header \"FRAMX\" (expected FRAME)");
    assert_int_equal(y4m_parse_frame_header("FRAMEX", 6, err, sizeof(err)), -1);
    assert_string_equal(err, "bad frame header \"FRAMEX\" (expected FRAME)");
    assert_int_equal(y4m_parse_frame_header("", 0, err, sizeof(err)), -1);
    assert_string_equal(err, "bad frame header \"\" (expected FRAME)");
    assert_int_equal(y4m_parse_frame_header("\x01\x02\xff", 3, err, sizeof(err)), -1);
    assert_string_equal(err, "bad frame header \"???\" (expected FRAME)");
    assert_int_equal(y4m_parse_frame_header("FRAME \x01", 7, err, sizeof(err)), -1);
    assert_string_equal(err, "frame header contains the byte 0x01");
}

static void test_format_header(void **state)
{
    /* What ffmpeg 5.1's yuv4mpegpipe muxer writes for each format (with a
     * 1:1 pixel aspect and no colour range tag of its own). */
    static const struct {
        const char *pix_fmt;
        const char *line;
    } cases[] = {
        {"yuv420p", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 C420jpeg XYSCSS=420JPEG\n"},
        {"yuvj420p",
         "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 C420jpeg XYSCSS=420JPEG XCOLORRANGE=FULL\n"},
        {"yuv422p", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 C422 XYSCSS=422\n"},
        {"yuvj422p", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 C422 XYSCSS=422 XCOLORRANGE=FULL\n"},
        {"yuv444p", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 C444 XYSCSS=444\n"},
        {"yuvj444p", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 C444 XYSCSS=444 XCOLORRANGE=FULL\n"},
        {"yuva444p", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 C444alpha XYSCSS=444\n"},
        {"yuv411p", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 C411 XYSCSS=411\n"},
        {"gray", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 Cmono\n"},
        {"gray9le", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 Cmono9\n"},
        {"gray10le", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 Cmono10\n"},
        {"gray12le", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 Cmono12\n"},
        {"gray16le", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 Cmono16\n"},
        {"yuv420p9le", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 C420p9 XYSCSS=420P9\n"},
        {"yuv422p10le", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 C422p10 XYSCSS=422P10\n"},
        {"yuv444p12le", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 C444p12 XYSCSS=444P12\n"},
        {"yuv420p14le", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 C420p14 XYSCSS=420P14\n"},
        {"yuv422p16le", "YUV4MPEG2 W97 H61 F30000:1001 Ip A1:1 C422p16 XYSCSS=422P16\n"},
    };
    char buf[Y4M_LINE_MAX], err[128];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        y4m_header h = {0}, back;
        int n;

        h.width = 97;
        h.height = 61;
        h.rate_num = 30000;
        h.rate_den = 1001;
        h.aspect_num = 1;
        h.aspect_den = 1;
        h.interlace = 'p';
        h.pixfmt = y4m_pixfmt_by_name(cases[i].pix_fmt);
        assert_non_null(h.pixfmt);
        n = y4m_format_header(buf, sizeof(buf), &h);
        assert_int_equal(n, (int)strlen(cases[i].line));
        assert_string_equal(buf, cases[i].line);
        /* And it parses back to the same format. */
        assert_int_equal(y4m_parse_header(buf, (size_t)n - 1, &back, err, sizeof(err)), 0);
        assert_ptr_equal(back.pixfmt, h.pixfmt);
        assert_int_equal(back.width, 97);
        assert_int_equal(back.rate_den, 1001);
    }
    /* Formats y4m cannot carry, and incomplete headers. */
    assert_null(y4m_pixfmt_by_name("nv12"));
    assert_null(y4m_pixfmt_by_name("rgb24"));
    assert_null(y4m_pixfmt_by_name("yuv420p10be"));
    {
        y4m_header h = {0};
        assert_int_equal(y4m_format_header(buf, sizeof(buf), &h), -1);
        h.width = h.height = 2;
        h.pixfmt = y4m_pixfmt_by_name("gray");
        assert_int_equal(y4m_format_header(buf, 8, &h), -1);
    }
}

static void test_plane_sizes(void **state)
{
    uint32_t row_bytes[4], rows[4];

    (void)state;
    /* Odd sizes round the chroma up, as libavutil does. */
    assert_int_equal(y4m_plane_sizes(y4m_pixfmt_by_name("yuv420p"), 97, 61, row_bytes, rows), 3);
    assert_int_equal(row_bytes[0], 97);
    assert_int_equal(rows[0], 61);
    assert_int_equal(row_bytes[1], 49);
    assert_int_equal(rows[1], 31);
    assert_int_equal(row_bytes[2], 49);
    assert_int_equal(rows[2], 31);
    assert_int_equal(y4m_frame_size(y4m_pixfmt_by_name("yuv420p"), 97, 61), 97 * 61 + 2 * 49 * 31);

    assert_int_equal(y4m_plane_sizes(y4m_pixfmt_by_name("yuv420p10le"), 98, 61, row_bytes, rows),
                     3);
    assert_int_equal(row_bytes[0], 196);
    assert_int_equal(row_bytes[1], 98);
    assert_int_equal(rows[1], 31);

    assert_int_equal(y4m_plane_sizes(y4m_pixfmt_by_name("yuv411p"), 97, 61, row_bytes, rows), 3);
    assert_int_equal(row_bytes[1], 25);
    assert_int_equal(rows[1], 61);

    assert_int_equal(y4m_plane_sizes(y4m_pixfmt_by_name("yuva444p"), 5, 3, row_bytes, rows), 4);
    assert_int_equal(row_bytes[3], 5);
    assert_int_equal(rows[3], 3);

    assert_int_equal(y4m_plane_sizes(y4m_pixfmt_by_name("gray16le"), 5, 3, row_bytes, rows), 1);
    assert_int_equal(row_bytes[0], 10);
    assert_int_equal(y4m_frame_size(y4m_pixfmt_by_name("gray16le"), 5, 3), 30);
}

/* Mutated headers (a fixed-seed stand-in for a fuzzer; run it under ASan):
 * never a crash or an out-of-bounds read, and every answer is whole: either
 * a header with sane fields or an error message. */
static void test_mutations(void **state)
{
    static const char *const seeds[] = {
        "YUV4MPEG2 W97 H61 F30000:1001 It A128:117 C420p10 XYSCSS=420P10 XCOLORRANGE=FULL",
        "YUV4MPEG2 W1 H1 Cmono16",
        "FRAME Ixyz",
    };
    uint64_t x = 0x9e3779b97f4a7c15u;
    char buf[Y4M_LINE_MAX + 16], err[128];

    (void)state;
    for (int it = 0; it < 200000; it++) {
        const char *seed = seeds[it % 3];
        size_t len = strlen(seed);
        y4m_header h;
        int edits;

        memcpy(buf, seed, len);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        edits = 1 + (int)(x % 4);
        for (int e = 0; e < edits; e++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            switch (x % 4) {
            case 0: /* replace a byte */
                buf[(x >> 8) % len] = (char)(x >> 24);
                break;
            case 1: /* cut the line short */
                len = (size_t)((x >> 8) % (len + 1));
                break;
            case 2: /* grow it with digits or letters */
                if (len + 8 < sizeof(buf)) {
                    memset(buf + len, (x >> 20) & 1 ? '9' : 'W', 8);
                    len += 8;
                }
                break;
            default: /* swap in a tag character */
                buf[(x >> 8) % len] = " WHFAICX:"[(x >> 32) % 9];
                break;
            }
            if (len == 0)
                break;
        }
        err[0] = '\0';
        if (y4m_parse_header(buf, len, &h, err, sizeof(err)) == 0) {
            assert_non_null(h.pixfmt);
            assert_true(h.width >= 1 && h.width <= Y4M_SIDE_MAX);
            assert_true(h.height >= 1 && h.height <= Y4M_SIDE_MAX);
            assert_true(h.rate_num >= 0 && h.rate_den >= 0);
        } else {
            assert_true(err[0] != '\0');
            assert_true(strlen(err) < sizeof(err));
        }
        err[0] = '\0';
        if (y4m_parse_frame_header(buf, len, err, sizeof(err)) < 0)
            assert_true(err[0] != '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ffmpeg_headers), cmocka_unit_test(test_fields),
        cmocka_unit_test(test_errors),         cmocka_unit_test(test_binary_input),
        cmocka_unit_test(test_frame_header),   cmocka_unit_test(test_format_header),
        cmocka_unit_test(test_plane_sizes),    cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
