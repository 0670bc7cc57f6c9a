/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the viewer's parts that need no window: key bindings,
 * letterboxing, the pixel-format table, the frame plane-table check that
 * guards uploads against a lying producer, option parsing, the stats line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "viewer.h"

static void test_keys(void **state)
{
    (void)state;
    assert_int_equal(viewer_key_action(SDLK_q, KMOD_NONE), VIEWER_ACTION_QUIT);
    assert_int_equal(viewer_key_action(SDLK_ESCAPE, KMOD_NONE), VIEWER_ACTION_QUIT);
    assert_int_equal(viewer_key_action(SDLK_f, KMOD_NONE), VIEWER_ACTION_FULLSCREEN);
    assert_int_equal(viewer_key_action(SDLK_SPACE, KMOD_NONE), VIEWER_ACTION_PAUSE);
    assert_int_equal(viewer_key_action(SDLK_s, KMOD_NONE), VIEWER_ACTION_SCREENSHOT);
    assert_int_equal(viewer_key_action(SDLK_o, KMOD_NONE), VIEWER_ACTION_OVERLAY);
    /* Shift and Caps Lock do not change the meaning of a key... */
    assert_int_equal(viewer_key_action(SDLK_q, KMOD_LSHIFT), VIEWER_ACTION_QUIT);
    assert_int_equal(viewer_key_action(SDLK_s, KMOD_CAPS), VIEWER_ACTION_SCREENSHOT);
    /* ...but window-manager shortcuts are left alone. */
    assert_int_equal(viewer_key_action(SDLK_q, KMOD_LCTRL), VIEWER_ACTION_NONE);
    assert_int_equal(viewer_key_action(SDLK_f, KMOD_LALT), VIEWER_ACTION_NONE);
    assert_int_equal(viewer_key_action(SDLK_a, KMOD_NONE), VIEWER_ACTION_NONE);
    assert_int_equal(viewer_key_action(SDLK_RETURN, KMOD_NONE), VIEWER_ACTION_NONE);
}

static void assert_rect(SDL_Rect r, int x, int y, int w, int h)
{
    assert_int_equal(r.x, x);
    assert_int_equal(r.y, y);
    assert_int_equal(r.w, w);
    assert_int_equal(r.h, h);
}

static void test_letterbox(void **state)
{
    (void)state;
    /* Same aspect: the whole area. */
    assert_rect(viewer_letterbox(1280, 720, 1920, 1080), 0, 0, 1280, 720);
    /* 4:3 in 16:9: bars left and right. */
    assert_rect(viewer_letterbox(1920, 1080, 640, 480), 240, 0, 1440, 1080);
    /* 16:9 in a square: bars top and bottom. */
    assert_rect(viewer_letterbox(1000, 1000, 1920, 1080), 0, 218, 1000, 563);
    /* Degenerate sizes never give an empty or negative rectangle. */
    assert_rect(viewer_letterbox(100, 1, 10, 1000), 50, 0, 1, 1);
    assert_rect(viewer_letterbox(0, 0, 640, 480), 0, 0, 0, 0);
    assert_rect(viewer_letterbox(640, 480, 0, 0), 0, 0, 640, 480);
}

static void test_display_size(void **state)
{
    int w, h;
    (void)state;

    /* PAL 16:9 anamorphic: 720x576 at 64:45 shows at 1024x576 (16:9). */
    viewer_display_size(720, 576, 64, 45, &w, &h);
    assert_int_equal(w, 1024);
    assert_int_equal(h, 576);
    assert_rect(viewer_letterbox(1280, 720, w, h), 0, 0, 1280, 720);
    /* PAL 4:3: 720x576 at 16:15 is 768x576. */
    viewer_display_size(720, 576, 16, 15, &w, &h);
    assert_int_equal(w, 768);
    assert_int_equal(h, 576);
    /* Tall pixels stretch the height. */
    viewer_display_size(640, 480, 1, 2, &w, &h);
    assert_int_equal(w, 640);
    assert_int_equal(h, 960);
    /* Unknown, square, invalid or absurd: as coded. */
    const int32_t sars[][2] = {{0, 0}, {1, 1}, {0, 1}, {1, 0}, {-4, 3}, {1000, 1}, {1, 1000}};
    for (size_t i = 0; i < sizeof(sars) / sizeof(sars[0]); i++) {
        viewer_display_size(720, 576, sars[i][0], sars[i][1], &w, &h);
        assert_int_equal(w, 720);
        assert_int_equal(h, 576);
    }
}

static void test_yuv_mode(void **state)
{
    const struct viewer_pixfmt *yuv = viewer_pixfmt_find("yuv420p");
    const struct viewer_pixfmt *yuvj = viewer_pixfmt_find("yuvj420p");
    SDL_YUV_CONVERSION_MODE m;
    (void)state;

    /* Untagged: by height (as SDL's AUTOMATIC), yuvj is JPEG. */
    assert_int_equal(viewer_yuv_mode(yuv, &(fbus_color){0, 0, 0, 0}, 576, &m), 0);
    assert_int_equal(m, SDL_YUV_CONVERSION_BT601);
    assert_int_equal(viewer_yuv_mode(yuv, &(fbus_color){0, 0, 0, 0}, 720, &m), 0);
    assert_int_equal(m, SDL_YUV_CONVERSION_BT709);
    assert_int_equal(viewer_yuv_mode(yuvj, &(fbus_color){0, 0, 0, 0}, 1080, &m), 0);
    assert_int_equal(m, SDL_YUV_CONVERSION_JPEG);
    /* Tagged: the tag wins over the height. */
    assert_int_equal(viewer_yuv_mode(yuv, &(fbus_color){1, FBUS_RANGE_LIMITED, 1, 1}, 360, &m), 0);
    assert_int_equal(m, SDL_YUV_CONVERSION_BT709);
    assert_int_equal(viewer_yuv_mode(yuv, &(fbus_color){6, FBUS_RANGE_LIMITED, 6, 6}, 1080, &m), 0);
    assert_int_equal(m, SDL_YUV_CONVERSION_BT601);
    assert_int_equal(viewer_yuv_mode(yuv, &(fbus_color){5, FBUS_RANGE_FULL, 5, 5}, 1080, &m), 0);
    assert_int_equal(m, SDL_YUV_CONVERSION_JPEG);
    assert_int_equal(viewer_yuv_mode(yuvj, &(fbus_color){0, FBUS_RANGE_LIMITED, 0, 0}, 1080, &m),
                     0);
    assert_int_equal(m, SDL_YUV_CONVERSION_BT709);
    /* What SDL2 cannot do goes through libswscale. */
    assert_int_equal(viewer_yuv_mode(yuv, &(fbus_color){1, FBUS_RANGE_FULL, 1, 1}, 1080, &m), -1);
    assert_int_equal(viewer_yuv_mode(yuv, &(fbus_color){9, FBUS_RANGE_LIMITED, 9, 16}, 2160, &m),
                     -1);
}

static void test_pixfmt_table(void **state)
{
    static const struct {
        const char *name;
        uint32_t sdl;
        enum viewer_upload up;
    } direct[] = {
        {"yuv420p", SDL_PIXELFORMAT_IYUV, VIEWER_UPLOAD_YUV},
        {"yuvj420p", SDL_PIXELFORMAT_IYUV, VIEWER_UPLOAD_YUV},
        {"nv12", SDL_PIXELFORMAT_NV12, VIEWER_UPLOAD_NV},
        {"nv21", SDL_PIXELFORMAT_NV21, VIEWER_UPLOAD_NV},
        {"yuyv422", SDL_PIXELFORMAT_YUY2, VIEWER_UPLOAD_PACKED},
        {"uyvy422", SDL_PIXELFORMAT_UYVY, VIEWER_UPLOAD_PACKED},
        {"rgb24", SDL_PIXELFORMAT_RGB24, VIEWER_UPLOAD_PACKED},
        {"bgr24", SDL_PIXELFORMAT_BGR24, VIEWER_UPLOAD_PACKED},
        {"rgba", SDL_PIXELFORMAT_RGBA32, VIEWER_UPLOAD_PACKED},
        {"bgra", SDL_PIXELFORMAT_BGRA32, VIEWER_UPLOAD_PACKED},
        {"argb", SDL_PIXELFORMAT_ARGB32, VIEWER_UPLOAD_PACKED},
        {"abgr", SDL_PIXELFORMAT_ABGR32, VIEWER_UPLOAD_PACKED},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(direct) / sizeof(direct[0]); i++) {
        const struct viewer_pixfmt *pf = viewer_pixfmt_find(direct[i].name);
        assert_non_null(pf->name);
        assert_string_equal(pf->name, direct[i].name);
        assert_int_equal(pf->sdl_format, direct[i].sdl);
        assert_int_equal(pf->upload, direct[i].up);
    }
    assert_true(viewer_pixfmt_find("yuvj420p")->full_range);
    assert_false(viewer_pixfmt_find("yuv420p")->full_range);
    /* The padded orders: 4 bytes a pixel, no alpha. */
    const char *padded[] = {"rgb0", "bgr0", "0rgb", "0bgr"};
    for (size_t i = 0; i < 4; i++) {
        const struct viewer_pixfmt *pf = viewer_pixfmt_find(padded[i]);
        assert_int_equal(pf->upload, VIEWER_UPLOAD_PACKED);
        assert_int_equal(SDL_BYTESPERPIXEL(pf->sdl_format), 4);
        assert_false(SDL_ISPIXELFORMAT_ALPHA(pf->sdl_format));
    }
    /* Everything else is converted, never refused. */
    assert_int_equal(viewer_pixfmt_find("yuv444p")->upload, VIEWER_UPLOAD_CONVERT);
    assert_int_equal(viewer_pixfmt_find("p010le")->upload, VIEWER_UPLOAD_CONVERT);
    assert_int_equal(viewer_pixfmt_find("no-such-format")->upload, VIEWER_UPLOAD_CONVERT);
}

static void test_frame_check(void **state)
{
    static const char *const names[] = {
        "gray", "gray16le", "yuv420p", "yuvj420p", "yuv422p", "yuv444p", "yuv420p10le", "nv12",
        "nv21", "p010le",   "yuyv422", "uyvy422",  "rgb24",   "bgr24",   "rgba",        "bgra",
        "argb", "abgr",     "rgb0",    "bgr0",     "0rgb",    "0bgr",
    };
    fbus_format f;
    (void)state;

    /* Every plane table the library makes passes, odd sizes included. */
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_int_equal(fbus_format_init(&f, names[i], 98, 34, 0), 0);
        assert_int_equal(viewer_frame_check(&f), 0);
        if (fbus_format_init(&f, names[i], 33, 17, 1) == 0)
            assert_int_equal(viewer_frame_check(&f), 0);
    }
    /* A producer that lies about its planes is refused before SDL or
     * libswscale reads a byte. */
    assert_int_equal(fbus_format_init(&f, "yuv420p", 640, 480, 0), 0);
    f.planes[0].rows = 10;
    assert_int_equal(viewer_frame_check(&f), FBUS_EFORMAT);
    assert_int_equal(fbus_format_init(&f, "yuv420p", 640, 480, 0), 0);
    f.planes[2].row_bytes = 100;
    f.planes[2].stride = 100;
    assert_int_equal(viewer_frame_check(&f), FBUS_EFORMAT);
    assert_int_equal(fbus_format_init(&f, "nv12", 640, 480, 0), 0);
    f.nb_planes = 1;
    assert_int_equal(viewer_frame_check(&f), FBUS_EFORMAT);
    assert_int_equal(fbus_format_init(&f, "rgb24", 640, 480, 0), 0);
    f.planes[0].stride = 0x80000000u;
    assert_int_equal(viewer_frame_check(&f), FBUS_EFORMAT);
    assert_int_equal(fbus_format_init(&f, "rgb24", 640, 480, 0), 0);
    snprintf(f.pix_fmt, sizeof(f.pix_fmt), "pal8");
    assert_int_equal(viewer_frame_check(&f), FBUS_EFORMAT); /* a palette is a second plane */
    snprintf(f.pix_fmt, sizeof(f.pix_fmt), "no-such-format");
    assert_int_equal(viewer_frame_check(&f), FBUS_EFORMAT);
}

static void test_options(void **state)
{
    struct viewer_opts o;
    (void)state;

    char *a1[] = {"framebus-viewer", NULL};
    assert_int_equal(viewer_parse_args(1, a1, &o), VIEWER_RUN);
    assert_string_equal(o.bus, "framebus");
    /* Without --transport, whichever transport holds the name. */
    assert_int_equal(o.transport, FBUS_TRANSPORT_ANY);
    assert_true(o.timeout < 0); /* wait forever */
    assert_int_equal(o.policy, FBUS_POLICY_LATEST);
    assert_int_equal(o.vsync, 1);
    assert_int_equal(o.frames, 0);
    assert_int_equal(o.fullscreen, 0);
    assert_int_equal(o.same_user, 0);

    char *a2[] = {"framebus-viewer", "--bus",       "cam",
                  "--transport",     "sysv",        "--lossless",
                  "--fullscreen",    "--frames",    "42",
                  "--no-vsync",      "--headless",  "--screenshot-on-exit",
                  "x.png",           "--same-user", NULL};
    assert_int_equal(viewer_parse_args(14, a2, &o), VIEWER_RUN);
    assert_int_equal(o.same_user, 1);
    assert_string_equal(o.bus, "cam");
    assert_int_equal(o.transport, FBUS_TRANSPORT_SYSV);
    assert_int_equal(o.policy, FBUS_POLICY_LOSSLESS);
    assert_int_equal(o.fullscreen, 1);
    assert_int_equal(o.frames, 42);
    assert_int_equal(o.vsync, 0);
    assert_int_equal(o.headless, 1);
    assert_string_equal(o.screenshot_on_exit, "x.png");

    char *a3[] = {"framebus-viewer", "cam2", NULL};
    assert_int_equal(viewer_parse_args(2, a3, &o), VIEWER_RUN);
    assert_string_equal(o.bus, "cam2");

    char *a4[] = {"framebus-viewer", "-t", "posix", "--timeout", "0", "--stats", "2.5", NULL};
    assert_int_equal(viewer_parse_args(7, a4, &o), VIEWER_RUN);
    assert_int_equal(o.transport, FBUS_TRANSPORT_POSIX);
    assert_true(o.timeout == 0.0);
    assert_true(o.stats_interval == 2.5);

    /* Errors print one line and return the exit status: 2 for the command
     * line, 1 for a bad bus name (as the framebus command). */
    char *b1[] = {"framebus-viewer", "--frames", "-3", NULL};
    assert_int_equal(viewer_parse_args(3, b1, &o), 2);
    char *b2[] = {"framebus-viewer", "--bus", "a b", NULL};
    assert_int_equal(viewer_parse_args(3, b2, &o), 1);
    char *b3[] = {"framebus-viewer", "--bus", NULL};
    assert_int_equal(viewer_parse_args(2, b3, &o), 2);
    char *b4[] = {"framebus-viewer", "one", "two", NULL};
    assert_int_equal(viewer_parse_args(3, b4, &o), 2);
    char *b5[] = {"framebus-viewer", "--frames", "0", NULL};
    assert_int_equal(viewer_parse_args(3, b5, &o), 2);
    char *b6[] = {"framebus-viewer", "--bus", "one", "two", NULL};
    assert_int_equal(viewer_parse_args(4, b6, &o), 2);
    char *b7[] = {"framebus-viewer", "--timeout", "-1", NULL};
    assert_int_equal(viewer_parse_args(3, b7, &o), 2);
    char *b8[] = {"framebus-viewer", "-t", "tcp", NULL};
    assert_int_equal(viewer_parse_args(3, b8, &o), 2);
}

static void test_screenshot_name(void **state)
{
    struct timespec t = {1700000000, 7 * 1000000 + 999};
    char buf[256];
    (void)state;

    setenv("TZ", "UTC", 1);
    tzset();
    assert_int_equal(viewer_screenshot_name(buf, sizeof(buf), "/tmp", "cam", &t), 0);
    /* Milliseconds are zero-padded, so names sort in time order. */
    assert_string_equal(buf, "/tmp/framebus-cam-20231114-221320.007.png");
    t.tv_nsec = 999999999;
    assert_int_equal(viewer_screenshot_name(buf, sizeof(buf), ".", "cam", &t), 0);
    assert_string_equal(buf, "./framebus-cam-20231114-221320.999.png");
    assert_int_equal(viewer_screenshot_name(buf, 20, ".", "cam", &t), -ENAMETOOLONG);
}

static void test_screenshot_kinds(void **state)
{
    char dir[64], path[128];
    (void)state;

    assert_int_equal(viewer_screenshot_kind("a.png"), VIEWER_SHOT_PNG);
    assert_int_equal(viewer_screenshot_kind("a.PNG"), VIEWER_SHOT_PNG);
    assert_int_equal(viewer_screenshot_kind("a.bmp"), VIEWER_SHOT_BMP);
    assert_int_equal(viewer_screenshot_kind("a.ppm"), VIEWER_SHOT_PPM);
    assert_int_equal(viewer_screenshot_kind("a.jpg"), -EINVAL);
    assert_int_equal(viewer_screenshot_kind("png"), -EINVAL);

    assert_int_equal(viewer_screenshot_dir_check("x.png", 0, dir, sizeof(dir)), 0);
    assert_string_equal(dir, ".");
    assert_int_equal(viewer_screenshot_dir_check("/x.png", 0, dir, sizeof(dir)), 0);
    assert_string_equal(dir, "/");
    assert_int_equal(viewer_screenshot_dir_check("/no/such/dir/x.png", 0, dir, sizeof(dir)),
                     -ENOENT);
    assert_string_equal(dir, "/no/such/dir");
    assert_int_equal(viewer_screenshot_dir_check("/no/such", 1, dir, sizeof(dir)), -ENOENT);
    assert_int_equal(viewer_screenshot_dir_check("/dev/null/x.png", 0, dir, sizeof(dir)), -ENOTDIR);

    /* Writing: a missing directory is ENOENT, an unknown type EINVAL. */
    uint8_t rgb[3 * 3 * 2];
    for (size_t i = 0; i < sizeof(rgb); i++)
        rgb[i] = (uint8_t)(i * 10);
    assert_int_equal(viewer_screenshot_write("/no/such/dir/x.png", rgb, 3, 2), -ENOENT);
    assert_int_equal(viewer_screenshot_write("/tmp/x.jpg", rgb, 3, 2), -EINVAL);

    /* A 3x2 BMP: 24-bit, bottom-up BGR rows padded to 4 bytes. */
    snprintf(path, sizeof(path), "/tmp/fbus-vwunit-%d.bmp", (int)getpid());
    assert_int_equal(viewer_screenshot_write(path, rgb, 3, 2), 0);
    uint8_t file[128];
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(file, 1, sizeof(file), f);
    fclose(f);
    unlink(path);
    assert_int_equal(n, 54 + 2 * 12);
    assert_memory_equal(file, "BM", 2);
    assert_int_equal(file[2], 54 + 24);
    assert_int_equal(file[10], 54);
    assert_int_equal(file[18], 3);
    assert_int_equal(file[22], 2);
    assert_int_equal(file[28], 24);
    for (int y = 0; y < 2; y++) {
        const uint8_t *row = file + 54 + (size_t)(1 - y) * 12;
        for (int x = 0; x < 3; x++) {
            const uint8_t *px = rgb + (y * 3 + x) * 3;
            assert_int_equal(row[x * 3], px[2]);
            assert_int_equal(row[x * 3 + 1], px[1]);
            assert_int_equal(row[x * 3 + 2], px[0]);
        }
        assert_int_equal(row[9] | row[10] | row[11], 0);
    }
}

static void test_stats_line(void **state)
{
    struct viewer_stats st = {0};
    fbus_format f;
    char buf[256];
    (void)state;

    viewer_stats_line(buf, sizeof(buf), "cam", "waiting for a producer", NULL, &st, 0);
    assert_string_equal(buf, "cam: waiting for a producer");

    assert_int_equal(fbus_format_init(&f, "nv12", 1920, 1080, 0), 0);
    st.shown = 60;
    st.skipped = 2;
    st.overruns = 1;
    st.latency_ns = 60 * 1500000LL;
    st.since_ns = 1000000000LL;
    viewer_stats_line(buf, sizeof(buf), "cam", NULL, &f, &st, 3000000000LL);
    assert_string_equal(buf,
                        "cam: 1920x1080 nv12, 30.0 fps, skipped 2, overruns 1, latency 1.5 ms");
    viewer_stats_line(buf, sizeof(buf), "cam", "paused", &f, &st, 3000000000LL);
    assert_string_equal(buf,
                        "cam: 1920x1080 nv12, 30.0 fps, skipped 2, overruns 1, latency 1.5 ms - "
                        "paused");
}

static void test_overlay_font(void **state)
{
    struct viewer_stats st = {0};
    fbus_format f;
    char buf[512];
    (void)state;

    /* Every character a stats line can hold has a glyph: any bus name
     * character, every pixel-format name, the words and the numbers. */
    const char *charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
                          " ,:;()/\"+>?";
    for (const char *c = charset; *c; c++) {
        if (!viewer_overlay_glyph(*c))
            fail_msg("no glyph for '%c'", *c);
    }
    assert_int_equal(fbus_format_init(&f, "yuyv422", 640, 480, 0), 0);
    st.shown = 10;
    viewer_stats_line(buf, sizeof(buf), "a.b_c-9",
                      "producer ended the stream; keeping the last "
                      "frame, waiting for a new producer",
                      &f, &st, 1000000000LL);
    for (const char *c = buf; *c; c++)
        assert_non_null(viewer_overlay_glyph(*c));
    /* Glyphs are 5 bits wide; letters are not blank. */
    for (const char *c = charset; *c; c++) {
        const uint8_t *g = viewer_overlay_glyph(*c);
        int bits = 0;
        for (int r = 0; r < 7; r++) {
            assert_int_equal(g[r] & ~0x1f, 0);
            bits |= g[r];
        }
        if (*c != ' ')
            assert_true(bits != 0);
    }
    assert_null(viewer_overlay_glyph('@'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_letterbox),
        cmocka_unit_test(test_pixfmt_table),
        cmocka_unit_test(test_frame_check),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_stats_line),
        cmocka_unit_test(test_overlay_font),
        cmocka_unit_test(test_screenshot_name),
        cmocka_unit_test(test_display_size),
        cmocka_unit_test(test_yuv_mode),
        cmocka_unit_test(test_screenshot_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
