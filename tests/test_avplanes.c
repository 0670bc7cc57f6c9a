/* SPDX-License-Identifier: MIT */
/*
 * Plane tables against libavutil, for every pixel format libavutil knows:
 * the bus library's own tables (fbus_format_init) and the libav adapter's
 * (common/avplanes.c, what the producer, put and cat use) must describe the
 * bytes av_image_fill_linesizes() and av_image_fill_plane_sizes() give.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

#include "avplanes.h"

static const uint32_t sizes[][2] = {
    {1, 1},   {2, 2}, {64, 64}, {640, 480},   {1920, 1080}, {3840, 2160}, {63, 17},
    {17, 63}, {3, 2}, {2, 3},   {1921, 1081}, {1, 32768},   {32768, 2},
};

static const uint32_t aligns[] = {0, 1, 16, 64, 4096};

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

/* What libavutil says a w x h frame of desc is: bytes per row and the size
 * of each plane (the palette of a paletted format has no row size). */
struct av_planes {
    int nb;
    int linesize[4];
    size_t size[4];
};

static int av_planes_of(const AVPixFmtDescriptor *desc, uint32_t w, uint32_t h,
                        struct av_planes *ap)
{
    enum AVPixelFormat id = av_pix_fmt_desc_get_id(desc);
    ptrdiff_t ls[4];

    memset(ap, 0, sizeof(*ap));
    if (av_image_fill_linesizes(ap->linesize, id, (int)w) < 0)
        return -1;
    for (int i = 0; i < 4; i++)
        ls[i] = ap->linesize[i];
    if (av_image_fill_plane_sizes(ap->size, id, (int)h, ls) < 0)
        return -1;
    while (ap->nb < 4 && ap->size[ap->nb] > 0)
        ap->nb++;
    return 0;
}

/* fmt carries exactly the bytes libavutil describes, plane by plane. */
static void check_geometry(const char *who, const fbus_format *f, const struct av_planes *ap)
{
    if ((int)f->nb_planes != ap->nb)
        fail_msg("%s %s %ux%u: %u planes, libavutil has %d", who, f->pix_fmt, f->width, f->height,
                 f->nb_planes, ap->nb);
    for (int i = 0; i < ap->nb; i++) {
        const fbus_plane *p = &f->planes[i];
        uint64_t row = ap->linesize[i] > 0 ? (uint64_t)ap->linesize[i] : ap->size[i];

        if (p->row_bytes != row || (uint64_t)p->row_bytes * p->rows != ap->size[i])
            fail_msg(
                "%s %s %ux%u plane %d: %u bytes x %u rows, libavutil %" PRIu64 " bytes, %zu in all",
                who, f->pix_fmt, f->width, f->height, i, p->row_bytes, p->rows, row, ap->size[i]);
    }
}

/* The table is well formed: aligned, no overlap, no slack, and
 * fbus_format_check agrees about its size. */
static void check_layout(const fbus_format *f, uint32_t align)
{
    uint64_t a = align ? align : 64, end = 0, budget = 0;

    for (uint32_t i = 0; i < f->nb_planes; i++) {
        const fbus_plane *p = &f->planes[i];
        uint64_t pe = p->offset + (uint64_t)p->stride * p->rows;

        assert_int_equal(p->stride, align_up(p->row_bytes, a));
        assert_int_equal(p->offset % a, 0);
        if (pe > end)
            end = pe;
        budget += align_up((uint64_t)p->stride * p->rows, a);
        for (uint32_t j = 0; j < i; j++) {
            const fbus_plane *q = &f->planes[j];
            uint64_t qe = q->offset + (uint64_t)q->stride * q->rows;
            assert_true(pe <= q->offset || qe <= p->offset);
        }
    }
    assert_int_equal(f->size, end);
    assert_true(f->size <= budget);
    assert_int_equal(fbus_format_check(f, 0), 0);
    assert_int_equal(fbus_format_check(f, f->size), 0);
    if (f->size > 1)
        assert_int_equal(fbus_format_check(f, f->size - 1), FBUS_EFORMAT);
}

static int subsampled(const AVPixFmtDescriptor *desc)
{
    return desc->log2_chroma_w || desc->log2_chroma_h;
}

/* Every format the bus library knows by itself (it is asked every name
 * libavutil has), at every size and alignment: libavutil's bytes. */
static void test_library_tables(void **state)
{
    const AVPixFmtDescriptor *desc = NULL;
    int known = 0, odd_refused = 0;

    (void)state;
    while ((desc = av_pix_fmt_desc_next(desc))) {
        fbus_format f;
        int counted = 0;

        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            uint32_t w = sizes[s][0], h = sizes[s][1];
            struct av_planes ap;

            for (size_t al = 0; al < sizeof(aligns) / sizeof(aligns[0]); al++) {
                int rc = fbus_format_init(&f, desc->name, w, h, aligns[al]);

                if (rc == FBUS_EFORMAT)
                    break; /* not one of the library's formats */
                if (rc != 0 && subsampled(desc) && ((w & 1) || (h & 1))) {
                    /* The header allows refusing odd sizes where the
                     * format subsamples; it must say -EINVAL then. */
                    assert_int_equal(rc, -EINVAL);
                    odd_refused++;
                    continue;
                }
                if (rc != 0)
                    fail_msg("fbus_format_init(%s, %ux%u, align %u) = %d (%s)", desc->name, w, h,
                             aligns[al], rc, fbus_strerror(rc));
                counted = 1;
                assert_string_equal(f.pix_fmt, desc->name);
                assert_int_equal(f.width, w);
                assert_int_equal(f.height, h);
                assert_int_equal(av_planes_of(desc, w, h, &ap), 0);
                check_geometry("fbus_format_init", &f, &ap);
                check_layout(&f, aligns[al]);
            }
        }
        known += counted;
    }
    print_message("the library knows %d of libavutil's formats (%d odd sizes refused)\n", known,
                  odd_refused);
    /* yuv420p, nv12, p010le, the 8-bit packed rgb orders...: 23 when this
     * test was written; fewer means the library lost some. */
    assert_true(known >= 23);
}

/* The adapter makes a table for every format libavutil can lay out, and
 * refuses hardware formats, by value and by name alike. */
static void test_adapter_every_format(void **state)
{
    static const uint32_t asizes[][2] = {{1, 1}, {2, 2}, {33, 17}, {97, 61}, {640, 480}};
    const AVPixFmtDescriptor *desc = NULL;
    int made = 0, hw = 0;

    (void)state;
    while ((desc = av_pix_fmt_desc_next(desc))) {
        enum AVPixelFormat id = av_pix_fmt_desc_get_id(desc);

        for (size_t s = 0; s < sizeof(asizes) / sizeof(asizes[0]); s++) {
            uint32_t w = asizes[s][0], h = asizes[s][1];
            fbus_format f, byname, own;
            struct av_planes ap;
            char err[200] = "";
            int rc = fbav_format(&f, id, (int)w, (int)h);

            if (desc->flags & AV_PIX_FMT_FLAG_HWACCEL) {
                assert_int_equal(rc, FBUS_EFORMAT);
                assert_int_equal(fbav_format_by_name(&byname, desc->name, w, h, err, sizeof(err)),
                                 FBUS_EFORMAT);
                assert_non_null(strstr(err, "(hardware frames)"));
                hw += s == 0;
                continue;
            }
            if (rc != 0)
                fail_msg("fbav_format(%s, %ux%u) = %d (%s)", desc->name, w, h, rc,
                         fbus_strerror(rc));
            made += s == 0;
            assert_string_equal(f.pix_fmt, desc->name);
            assert_int_equal(av_planes_of(desc, w, h, &ap), 0);
            check_geometry("fbav_format", &f, &ap);
            check_layout(&f, FBAV_ALIGN);
            /* Where the library knows the format, its own table is used,
             * so readers without libav recognise it. */
            if (fbus_format_init(&own, desc->name, w, h, FBAV_ALIGN) == 0)
                assert_memory_equal(&f, &own, sizeof(f));
            assert_int_equal(fbav_format_by_name(&byname, desc->name, w, h, err, sizeof(err)), 0);
            assert_memory_equal(&f, &byname, sizeof(f));
        }
    }
    print_message("the adapter lays out %d formats and refuses %d hardware ones\n", made, hw);
    assert_true(made > 100);
}

static void test_adapter_errors(void **state)
{
    fbus_format f;
    char err[200];

    (void)state;
    assert_int_equal(fbav_format_by_name(&f, "foo", 64, 48, err, sizeof(err)), FBUS_EFORMAT);
    assert_string_equal(err, "unknown pixel format \"foo\"");
    assert_int_equal(fbav_format_by_name(&f, "vaapi", 64, 48, err, sizeof(err)), FBUS_EFORMAT);
    assert_string_equal(err, "pixel format \"vaapi\" is not supported (hardware frames)");
    assert_int_equal(fbav_format_by_name(&f, "yuv420p", 0, 48, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bad size 0x48");
    assert_int_equal(fbav_format_by_name(&f, "gray", 32769, 2, err, sizeof(err)), FBUS_ETOOBIG);
    assert_string_equal(err, "size 32769x2 is too big (at most 32768 a side)");
    assert_int_equal(fbav_format(&f, AV_PIX_FMT_NONE, 64, 48), FBUS_EFORMAT);
    assert_int_equal(fbav_format(&f, AV_PIX_FMT_YUV420P, -1, 48), -EINVAL);
    assert_int_equal(fbav_format(&f, AV_PIX_FMT_YUV420P, 64, 40000), FBUS_ETOOBIG);
    /* Aliases resolve to libavutil's own names. */
    assert_string_equal(fbav_pix_fmt_canonical("yuv420p10"),
                        av_get_pix_fmt_name(AV_PIX_FMT_YUV420P10));
    assert_null(fbav_pix_fmt_canonical("foo"));
    /* The same name by either route: the paletted format carries its
     * palette as plane 1. */
    assert_int_equal(fbav_format_by_name(&f, "pal8", 8, 8, err, sizeof(err)), 0);
    assert_int_equal(f.nb_planes, 2);
    assert_int_equal(f.planes[1].row_bytes, AVPALETTE_SIZE);
    assert_int_equal(f.planes[1].rows, 1);
}

/* A decoded frame, with libav's own padding in its rows, lands in the
 * slot's aligned rows byte for byte, palette included. */
static void test_copy_frame(void **state)
{
    static const enum AVPixelFormat fmts[] = {AV_PIX_FMT_YUV420P, AV_PIX_FMT_NV12,
                                              AV_PIX_FMT_RGB24,   AV_PIX_FMT_YUV420P10LE,
                                              AV_PIX_FMT_PAL8,    AV_PIX_FMT_GBRAP};

    (void)state;
    for (size_t k = 0; k < sizeof(fmts) / sizeof(fmts[0]); k++) {
        AVFrame *fr = av_frame_alloc();
        fbus_slot slot;
        uint8_t *buf;
        uint32_t seed = 12345;

        assert_non_null(fr);
        fr->format = fmts[k];
        fr->width = 37;
        fr->height = 23;
        assert_int_equal(av_frame_get_buffer(fr, 0), 0);
        memset(&slot, 0, sizeof(slot));
        assert_int_equal(fbav_format(&slot.format, fmts[k], fr->width, fr->height), 0);
        buf = malloc(slot.format.size);
        assert_non_null(buf);
        memset(buf, 0, slot.format.size);
        for (uint32_t i = 0; i < slot.format.nb_planes; i++) {
            const fbus_plane *p = &slot.format.planes[i];
            slot.data[i] = buf + p->offset;
            for (uint32_t y = 0; y < p->rows; y++) {
                uint8_t *row = fr->data[i] + (ptrdiff_t)y * fr->linesize[i];
                for (uint32_t x = 0; x < p->row_bytes; x++) {
                    seed = seed * 1103515245u + 12345u;
                    row[x] = (uint8_t)(seed >> 16);
                }
            }
        }
        fbav_copy_frame(&slot, fr);
        for (uint32_t i = 0; i < slot.format.nb_planes; i++) {
            const fbus_plane *p = &slot.format.planes[i];
            for (uint32_t y = 0; y < p->rows; y++)
                assert_memory_equal(slot.data[i] + (size_t)y * p->stride,
                                    fr->data[i] + (ptrdiff_t)y * fr->linesize[i], p->row_bytes);
        }
        free(buf);
        av_frame_free(&fr);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_library_tables),
        cmocka_unit_test(test_adapter_every_format),
        cmocka_unit_test(test_adapter_errors),
        cmocka_unit_test(test_copy_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
