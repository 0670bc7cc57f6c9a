/* SPDX-License-Identifier: MIT */
/*
 * Frame formats, names and error strings: fbus_format_init's plane order
 * and errors, fbus_format_check on broken tables, fbus_name_check,
 * fbus_strerror. Every table fbus_format_init makes is checked against
 * libavutil's in test_avplanes.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "testutil.h"

static void test_init_plane_order(void **state)
{
    fbus_format f;

    (void)state;
    /* Planes come in libavutil's data[] order: luma first, and for the
     * planar yuv formats the two chroma planes after it. */
    assert_int_equal(fbus_format_init(&f, "yuv420p", 640, 480, 64), 0);
    assert_int_equal(f.planes[0].row_bytes, 640);
    assert_int_equal(f.planes[0].rows, 480);
    assert_int_equal(f.planes[1].row_bytes, 320);
    assert_int_equal(f.planes[2].rows, 240);
    assert_int_equal(f.size, 640 * 480 + 2 * 320 * 240);
    assert_int_equal(fbus_format_init(&f, "nv12", 1920, 1080, 0), 0);
    assert_int_equal(f.planes[0].stride, 1920);
    assert_int_equal(f.planes[1].stride, 1920);
    assert_int_equal(f.planes[1].rows, 540);
    assert_int_equal(f.size, 1920 * 1080 * 3 / 2);
}

static void test_init_errors(void **state)
{
    fbus_format f;

    (void)state;
    assert_int_equal(fbus_format_init(&f, "nosuchfmt", 64, 64, 0), FBUS_EFORMAT);
    assert_int_equal(fbus_format_init(&f, "", 64, 64, 0), FBUS_EFORMAT);
    assert_int_equal(fbus_format_init(&f, "YUV420P", 64, 64, 0), FBUS_EFORMAT);
    assert_int_equal(fbus_format_init(&f, "yuv420p ", 64, 64, 0), FBUS_EFORMAT);
    assert_int_equal(fbus_format_init(&f, "gray", 0, 64, 0), -EINVAL);
    assert_int_equal(fbus_format_init(&f, "gray", 64, 0, 0), -EINVAL);
    assert_int_equal(fbus_format_init(&f, "yuv420p", 0, 0, 0), -EINVAL);
    assert_int_equal(fbus_format_init(&f, "gray", 32768, 1, 0), 0);
    assert_int_equal(fbus_format_init(&f, "gray", 32769, 64, 0), FBUS_ETOOBIG);
    assert_int_equal(fbus_format_init(&f, "gray", 64, 32769, 0), FBUS_ETOOBIG);
    assert_int_equal(fbus_format_init(&f, "rgba", UINT32_MAX, UINT32_MAX, 0), FBUS_ETOOBIG);
    assert_int_equal(fbus_format_init(&f, "gray", 64, 64, 3), -EINVAL);
    assert_int_equal(fbus_format_init(&f, "gray", 64, 64, 48), -EINVAL);
    assert_int_equal(fbus_format_init(&f, "gray", 64, 64, 0x80000001u), -EINVAL);
    /* A name longer than the field is simply unknown. */
    assert_int_equal(fbus_format_init(&f, "yuv420pyuv420pyuv420pyuv420pyuv420p", 64, 64, 0),
                     FBUS_EFORMAT);
}

/* A valid yuv420p table to break in the checks below. */
static fbus_format good(void)
{
    fbus_format f;

    assert_int_equal(fbus_format_init(&f, "yuv420p", 64, 48, 64), 0);
    assert_int_equal(fbus_format_check(&f, 0), 0);
    return f;
}

static void test_check_rejects(void **state)
{
    fbus_format f;

    (void)state;
    f = good();
    f.nb_planes = 0;
    assert_int_equal(fbus_format_check(&f, 0), FBUS_EFORMAT);
    f = good();
    f.nb_planes = FBUS_MAX_PLANES + 1;
    assert_int_equal(fbus_format_check(&f, 0), FBUS_EFORMAT);
    f = good();
    f.nb_planes = UINT32_MAX;
    assert_int_equal(fbus_format_check(&f, 0), FBUS_EFORMAT);
    f = good();
    f.width = 0;
    assert_int_equal(fbus_format_check(&f, 0), FBUS_EFORMAT);
    f = good();
    f.height = 0;
    assert_int_equal(fbus_format_check(&f, 0), FBUS_EFORMAT);
    f = good();
    f.planes[1].stride = f.planes[1].row_bytes - 1;
    assert_int_equal(fbus_format_check(&f, 0), FBUS_EFORMAT);
    f = good();
    f.planes[2].offset = f.size; /* the plane now ends past size */
    assert_int_equal(fbus_format_check(&f, 0), FBUS_EFORMAT);
    f = good();
    {
        /* One more row in the plane that ends last runs past size. */
        uint32_t last = 0;
        for (uint32_t i = 1; i < f.nb_planes; i++)
            if (f.planes[i].offset > f.planes[last].offset)
                last = i;
        f.planes[last].rows += 1;
    }
    assert_int_equal(fbus_format_check(&f, 0), FBUS_EFORMAT);
    f = good();
    f.size = 0;
    assert_int_equal(fbus_format_check(&f, 0), FBUS_EFORMAT);
    f = good();
    f.size -= 1;
    assert_int_equal(fbus_format_check(&f, 0), FBUS_EFORMAT);
    f = good();
    assert_int_equal(fbus_format_check(&f, f.size - 1), FBUS_EFORMAT);
    assert_int_equal(fbus_format_check(&f, 4096), FBUS_EFORMAT);
    /* offset + stride * rows overflows 64 bits: must not wrap into range. */
    f = good();
    f.planes[2].offset = UINT64_MAX - 100;
    assert_int_equal(fbus_format_check(&f, 0), FBUS_EFORMAT);
    f = good();
    f.planes[0].offset = UINT64_C(1) << 40;
    f.planes[0].stride = UINT32_MAX;
    f.planes[0].row_bytes = 64;
    f.planes[0].rows = UINT32_MAX;
    f.size = 4096;
    assert_int_equal(fbus_format_check(&f, 0), FBUS_EFORMAT);
    assert_int_equal(fbus_format_check(&f, UINT64_C(1) << 30), FBUS_EFORMAT);
    /* Pixel format names: empty or not NUL-terminated. */
    f = good();
    f.pix_fmt[0] = '\0';
    assert_int_equal(fbus_format_check(&f, 0), FBUS_EFORMAT);
    f = good();
    memset(f.pix_fmt, 'y', sizeof(f.pix_fmt));
    assert_int_equal(fbus_format_check(&f, 0), FBUS_EFORMAT);
}

static void test_check_accepts_custom(void **state)
{
    fbus_format f;

    (void)state;
    /* A format the library does not know, with a consistent table, as a
     * program with libavutil would fill it (gbrp, 3 full planes). */
    memset(&f, 0, sizeof(f));
    f.width = 100;
    f.height = 10;
    strcpy(f.pix_fmt, "gbrp");
    f.nb_planes = 3;
    for (uint32_t i = 0; i < 3; i++) {
        f.planes[i].offset = i * 1280;
        f.planes[i].stride = 128;
        f.planes[i].row_bytes = 100;
        f.planes[i].rows = 10;
    }
    f.size = 3 * 1280;
    assert_int_equal(fbus_format_check(&f, 0), 0);
    assert_int_equal(fbus_format_check(&f, 3 * 1280), 0);
    assert_int_equal(fbus_format_check(&f, 3 * 1280 - 1), FBUS_EFORMAT);
}

static void test_name_check(void **state)
{
    static const char *good_names[] = {"a", "cam0", "A-b_c.d", "0", "x.y", "-", "_"};
    static const char *bad_names[] = {"",     "/",      "a/b", "/cam", "cam/", "..",   "a b",
                                      "a\tb", "caméra", "a\n", "a:b",  "a*",   "a\\b", "~"};
    char name[80];

    (void)state;
    for (size_t i = 0; i < sizeof(good_names) / sizeof(good_names[0]); i++)
        if (fbus_name_check(good_names[i]) != 0)
            fail_msg("name \"%s\" refused", good_names[i]);
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
        if (fbus_name_check(bad_names[i]) != FBUS_EBADNAME)
            fail_msg("name \"%s\" accepted", bad_names[i]);
    memset(name, 'n', 64);
    name[64] = '\0';
    assert_int_equal(fbus_name_check(name), 0);
    name[64] = 'n';
    name[65] = '\0';
    assert_int_equal(fbus_name_check(name), FBUS_EBADNAME);
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(fbus_name_check(name), FBUS_EBADNAME);
    assert_int_equal(fbus_name_check(NULL), FBUS_EBADNAME);
    /* Every allowed character, one at a time. */
    for (int c = 1; c < 256; c++) {
        int allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
        name[0] = 'x';
        name[1] = (char)c;
        name[2] = '\0';
        if (fbus_name_check(name) != (allowed ? 0 : FBUS_EBADNAME))
            fail_msg("character 0x%02x %s", c, allowed ? "refused" : "accepted");
    }
}

static void test_strerror(void **state)
{
    static const int codes[] = {
        FBUS_EBADNAME,      FBUS_EBADREGION, FBUS_EVERSION, FBUS_EOVERRUN, FBUS_EENDED,
        FBUS_EPRODUCERGONE, FBUS_EREPLACED,  FBUS_EBUSY,    FBUS_EFULL,    FBUS_EFORMAT,
        FBUS_ETOOBIG,       FBUS_EOBSERVER,  FBUS_EOWNER,
    };
    const size_t n = sizeof(codes) / sizeof(codes[0]);
    const char *unknown = fbus_strerror(-10999);

    (void)state;
    assert_non_null(unknown);
    for (size_t i = 0; i < n; i++) {
        const char *s = fbus_strerror(codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 3);
        if (strcmp(s, unknown) == 0)
            fail_msg("code %d has no name of its own: \"%s\"", codes[i], s);
        for (size_t j = 0; j < i; j++)
            if (strcmp(s, fbus_strerror(codes[j])) == 0)
                fail_msg("codes %d and %d share \"%s\"", codes[i], codes[j], s);
    }
    /* Negative errnos have names too. */
    assert_true(strlen(fbus_strerror(-ENOENT)) > 3);
    assert_true(strlen(fbus_strerror(-EACCES)) > 3);
    assert_string_not_equal(fbus_strerror(-ENOENT), fbus_strerror(-EACCES));
    assert_non_null(fbus_strerror(0));
    assert_non_null(fbus_strerror(1));
    assert_non_null(fbus_strerror(-1000000));
    assert_non_null(fbus_strerror(INT32_MIN));
}

static void test_now(void **state)
{
    struct timespec ts;
    int64_t a, b, c;

    (void)state;
    a = fbus_now_ns();
    clock_gettime(CLOCK_MONOTONIC, &ts);
    b = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    c = fbus_now_ns();
    assert_true(a <= b);
    assert_true(b <= c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_plane_order),
        cmocka_unit_test(test_init_errors),
        cmocka_unit_test(test_check_rejects),
        cmocka_unit_test(test_check_accepts_custom),
        cmocka_unit_test(test_name_check),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_now),
    };

    /* FBUS_TEST_FILTER=test_name runs one test (cmocka pattern). */
    if (getenv("FBUS_TEST_FILTER"))
        cmocka_set_test_filter(getenv("FBUS_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
