/* SPDX-License-Identifier: MIT */
/*
 * fbus_copy and fbus_copy_plane: every byte lands, nothing outside the
 * destination is touched, for sizes and alignments on both sides of the
 * streaming-store threshold, padded and negative strides; and a lossless
 * reader in another process sees every 1080p frame a writer copied with
 * them, bit for bit.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#define GUARD      64
#define GUARD_BYTE 0xA5

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint8_t next_byte(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint8_t)(rng >> 24);
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = next_byte();
}

/* Index of the first byte of p[0..n) that is not b, or n. */
static size_t first_not(const uint8_t *p, size_t n, uint8_t b)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != b)
            return i;
    return n;
}

static void copy_sizes_and_alignments(void **state)
{
    /* Around 16 and 64 (the store width and the unrolled step) and around
     * 256 KiB (where streaming starts), and a 1080p yuv420p frame. */
    static const size_t sizes[] = {0,      1,      15,          16,      17,
                                   63,     64,     65,          1000,    262143,
                                   262144, 262145, 262144 + 77, 3110400, 3110400 + 13};
    static const size_t offsets[] = {0, 1, 7, 8, 15, 16, 33};
    size_t cap = 3110400 + 13 + 2 * GUARD + 64;
    uint8_t *src = malloc(cap), *dst = malloc(cap);

    (void)state;
    assert_non_null(src);
    assert_non_null(dst);
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        size_t n = sizes[si];

        for (size_t d = 0; d < sizeof(offsets) / sizeof(offsets[0]); d++) {
            /* Source offsets differ from destination ones so the loads are
             * unaligned while the stores are aligned, and the other way. */
            size_t doff = GUARD + offsets[d];
            size_t soff = offsets[(d + 3) % (sizeof(offsets) / sizeof(offsets[0]))];
            size_t bad;

            fill_random(src + soff, n);
            memset(dst, GUARD_BYTE, cap);
            fbus_copy(dst + doff, src + soff, n);
            if (memcmp(dst + doff, src + soff, n) != 0)
                fail_msg("size %zu dst+%zu src+%zu: bytes differ", n, offsets[d], soff);
            bad = first_not(dst, doff, GUARD_BYTE);
            if (bad != doff)
                fail_msg("size %zu dst+%zu: byte %zu before the copy written", n, offsets[d], bad);
            bad = first_not(dst + doff + n, GUARD, GUARD_BYTE);
            if (bad != GUARD)
                fail_msg("size %zu dst+%zu: byte %zu after the copy written", n, offsets[d], bad);
        }
    }
    free(src);
    free(dst);
}

/* Copy a rows x row_bytes plane with the given strides and check every
 * row and every padding byte. A negative src_stride starts at the last row
 * of the buffer, as libav does for bottom-up images. */
static void check_plane(size_t row_bytes, size_t rows, size_t dst_stride, ptrdiff_t src_stride)
{
    size_t sabs = (size_t)(src_stride < 0 ? -src_stride : src_stride);
    size_t slen = sabs * rows + 32, dlen = dst_stride * rows + GUARD;
    uint8_t *sbuf = malloc(slen), *dbuf = malloc(dlen);
    const uint8_t *s0;

    assert_non_null(sbuf);
    assert_non_null(dbuf);
    fill_random(sbuf, slen);
    memset(dbuf, GUARD_BYTE, dlen);
    s0 = src_stride < 0 ? sbuf + sabs * (rows - 1) + 3 : sbuf + 3;
    fbus_copy_plane(dbuf, (ptrdiff_t)dst_stride, s0, src_stride, row_bytes, rows);
    for (size_t y = 0; y < rows; y++) {
        const uint8_t *srow = s0 + (ptrdiff_t)y * src_stride;
        const uint8_t *drow = dbuf + y * dst_stride;

        if (memcmp(drow, srow, row_bytes) != 0)
            fail_msg("%zux%zu dst stride %zu src stride %td: row %zu differs", row_bytes, rows,
                     dst_stride, src_stride, y);
        if (first_not(drow + row_bytes, dst_stride - row_bytes, GUARD_BYTE) !=
            dst_stride - row_bytes)
            fail_msg("%zux%zu dst stride %zu: padding of row %zu written", row_bytes, rows,
                     dst_stride, y);
    }
    if (first_not(dbuf + dst_stride * rows, GUARD, GUARD_BYTE) != GUARD)
        fail_msg("%zux%zu: written past the last row", row_bytes, rows);
    free(sbuf);
    free(dbuf);
}

static void copy_plane_strides(void **state)
{
    (void)state;
    /* Small planes (plain copies) and 1080p ones (streamed row by row). */
    check_plane(64, 48, 64, 64);          /* contiguous: one copy */
    check_plane(61, 47, 64, 70);          /* padded rows, odd width */
    check_plane(61, 47, 64, -70);         /* bottom-up source */
    check_plane(1920, 1080, 1920, 1920);  /* contiguous, streamed */
    check_plane(1920, 1080, 1984, 2048);  /* padded, streamed per row */
    check_plane(1917, 1080, 1920, -1925); /* odd, bottom-up, streamed */
    check_plane(5760, 50, 5760, 5760);    /* 288,000 bytes: just streamed */

    /* Nothing to copy: nothing touched, even through NULL. */
    fbus_copy_plane(NULL, 16, NULL, 16, 0, 10);
    fbus_copy_plane(NULL, 16, NULL, 16, 16, 0);
    fbus_copy(NULL, NULL, 0);
}

/* ------------------------------------------------------ across processes */

#define XFRAMES 120

struct xarg {
    const char *name;
    const fbus_format *fmt;
};

/* The content of frame seq at byte i: changes with both, so a stale or
 * half-written frame is caught anywhere in it. */
static uint8_t xbyte(uint64_t seq, size_t i)
{
    return (uint8_t)((i * 2654435761u >> 7) ^ (seq * 73));
}

/* Frame seq's bytes base .. base + n into buf. */
static void xfill(uint8_t *buf, size_t base, size_t n, uint64_t seq)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = xbyte(seq, base + i);
}

/* Child: a lossless reader checking every byte of XFRAMES frames. */
static int xreader(void *arg)
{
    const struct xarg *a = arg;
    fbus_reader_opts ro = {.policy = FBUS_POLICY_LOSSLESS,
                           .producer_timeout_ns = TU_PRODUCER_TIMEOUT};
    fbus_reader *r = NULL;
    int rc = 1;

    if (fbus_reader_open(a->name, &ro, &r) < 0)
        return 2;
    for (uint64_t want = 1; want <= XFRAMES; want++) {
        fbus_frame f;
        int err = fbus_reader_acquire(r, 20 * TU_SEC, &f);

        if (err < 0 || f.seq != want) {
            rc = 3;
            goto out;
        }
        for (uint32_t p = 0; p < f.format.nb_planes; p++) {
            size_t n = (size_t)f.format.planes[p].stride * f.format.planes[p].rows;
            size_t base = (size_t)f.format.planes[p].offset;

            for (size_t i = 0; i < n; i++)
                if (f.data[p][i] != xbyte(f.seq, base + i)) {
                    rc = 4;
                    goto out;
                }
        }
        if (fbus_reader_release(r, &f) < 0) {
            rc = 5;
            goto out;
        }
    }
    rc = 0;
out:
    fbus_reader_close(r);
    return rc;
}

static void copy_across_processes(void **state)
{
    struct tu_fixture *fx = *state;
    fbus_format fmt;
    fbus_writer_opts wo = {.format = &fmt};
    fbus_writer *w = NULL;
    uint8_t *luma, *chroma;
    struct xarg a = {fx->name, &fmt};
    size_t pad_stride;
    pid_t pid;

    assert_int_equal(fbus_format_init(&fmt, "yuv420p", 1920, 1080, 0), 0);
    /* The chroma planes come from rows wider than the slot's, so they take
     * the row-by-row path (each is 518,400 bytes: streamed). */
    pad_stride = fmt.planes[1].stride + 32;
    luma = malloc((size_t)fmt.planes[0].stride * fmt.planes[0].rows);
    chroma = malloc(pad_stride * fmt.planes[1].rows);
    assert_non_null(luma);
    assert_non_null(chroma);
    assert_int_equal(fbus_writer_open(fx->name, &wo, &w), 0);
    pid = tu_fork(xreader, &a, 120);
    assert_true(pid > 0);
    assert_int_equal(fbus_writer_wait_readers(w, 1, 20 * TU_SEC), 0);
    for (uint64_t seq = 1; seq <= XFRAMES; seq++) {
        fbus_slot slot;

        assert_int_equal(fbus_writer_acquire(w, &fmt, 20 * TU_SEC, &slot), 0);
        assert_int_equal(slot.seq, seq);
        xfill(luma, 0, (size_t)fmt.planes[0].stride * fmt.planes[0].rows, seq);
        fbus_copy(slot.data[0], luma, (size_t)fmt.planes[0].stride * fmt.planes[0].rows);
        for (uint32_t p = 1; p < fmt.nb_planes; p++) {
            const fbus_plane *pl = &fmt.planes[p];

            for (uint32_t y = 0; y < pl->rows; y++)
                xfill(chroma + y * pad_stride, pl->offset + (size_t)y * pl->stride, pl->stride,
                      seq);
            fbus_copy_plane(slot.data[p], pl->stride, chroma, (ptrdiff_t)pad_stride, pl->stride,
                            pl->rows);
        }
        assert_int_equal(fbus_writer_publish(w, &slot, NULL), 0);
    }
    assert_int_equal(tu_wait(pid, 60000), 0);
    fbus_writer_close(w);
    free(luma);
    free(chroma);
}

static int setup(void **state)
{
    return tu_fixture_setup(state, "copy");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(copy_sizes_and_alignments),
        cmocka_unit_test(copy_plane_strides),
        cmocka_unit_test_setup_teardown(copy_across_processes, setup, tu_fixture_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
