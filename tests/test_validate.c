/* SPDX-License-Identifier: MIT */
/*
 * Corrupt and hostile regions (white box, layout.h). A real bus is created,
 * then its bytes are changed through a second read-write mapping: the header
 * (magic, version, sizes, offsets, counts, name), the posix object's size,
 * the published cursor, slot descriptors (plane offsets, strides, plane
 * count, unterminated pixel format) and reader entries. fbus_reader_open,
 * fbus_reader_acquire and fbus_stat must answer FBUS_EBADREGION (or
 * FBUS_EVERSION), never crash, never hang. Hand-made posix objects (garbage,
 * empty, all zero, a symlink) are refused too.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "layout.h"
#include "testutil.h"

#define SLOTS        3
#define HANG_GUARD_S 20 /* alarm() around calls that could spin forever */

struct ctx {
    char name[FBUS_NAME_MAX + 1];
    char craft[FBUS_NAME_MAX + 1];
    fbus_format fmt;
    uint8_t *scratch; /* a test's buffer, freed in teardown even on failure */
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));

    if (!c)
        return -1;
    tu_bus_name(c->name, sizeof(c->name), "val");
    tu_bus_name(c->craft, sizeof(c->craft), "craft");
    if (fbus_format_init(&c->fmt, "gray", 64, 64, 0) != 0) {
        free(c);
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    char path[128];

    tu_bus_cleanup(c->name);
    snprintf(path, sizeof(path), "/dev/shm/framebus.%s", c->craft);
    unlink(path);
    free(c->scratch);
    free(c);
    return 0;
}

/* ------------------------------------------------------------ patching */

/* Changes to a region, each with the bytes it replaced, undone in reverse. */
struct patch {
    size_t off, len;
    uint8_t old[FBUS_PIXFMT_MAX];
};

struct patches {
    tu_region *reg;
    struct patch p[8];
    int n;
};

static void poke(struct patches *ps, size_t off, const void *val, size_t len)
{
    struct patch *p = &ps->p[ps->n++];

    assert_true(ps->n <= 8 && len <= sizeof(p->old));
    assert_true(off + len <= ps->reg->size);
    p->off = off;
    p->len = len;
    memcpy(p->old, ps->reg->base + off, len);
    memcpy(ps->reg->base + off, val, len);
}

static void poke64(struct patches *ps, size_t off, uint64_t v)
{
    poke(ps, off, &v, 8);
}

static void poke32(struct patches *ps, size_t off, uint32_t v)
{
    poke(ps, off, &v, 4);
}

static void undo(struct patches *ps)
{
    while (ps->n > 0) {
        struct patch *p = &ps->p[--ps->n];
        memcpy(ps->reg->base + p->off, p->old, p->len);
    }
}

#define HDR(field) offsetof(struct fbus__header, field)

static const struct fbus__header *hdr(const struct patches *ps)
{
    return (const struct fbus__header *)ps->reg->base;
}

/* Offset of slot i's descriptor, and of a field of its format. */
static size_t desc_off(const struct patches *ps, uint32_t i)
{
    return (size_t)hdr(ps)->slots_offset + (size_t)i * FBUS__DESC_STRIDE;
}

#define FMT(field) (offsetof(struct fbus__slot_desc, format) + offsetof(fbus_format, field))

/* ---------------------------------------------------------- header cases */

struct header_case {
    const char *what;
    void (*apply)(struct patches *ps);
    int expect; /* FBUS_EBADREGION or FBUS_EVERSION */
    int also;   /* another acceptable answer, or 0 */
};

static void bad_magic(struct patches *ps)
{
    poke64(ps, HDR(magic), FBUS__MAGIC ^ 0x10000);
}
static void zero_magic(struct patches *ps)
{
    poke64(ps, HDR(magic), 0);
}
static void bad_version(struct patches *ps)
{
    poke32(ps, HDR(version), FBUS__LAYOUT_VERSION + 1);
}
static void header_size_zero(struct patches *ps)
{
    poke32(ps, HDR(header_size), 0);
}
static void header_size_huge(struct patches *ps)
{
    poke32(ps, HDR(header_size), 1u << 30);
}
static void total_size_bigger(struct patches *ps)
{
    poke64(ps, HDR(total_size), hdr(ps)->total_size + FBUS__PAGE);
}
static void total_size_max(struct patches *ps)
{
    poke64(ps, HDR(total_size), UINT64_MAX);
}
static void slot_count_zero(struct patches *ps)
{
    poke32(ps, HDR(slot_count), 0);
}
static void slot_count_one_more(struct patches *ps)
{
    /* The geometry no longer holds one more payload. */
    poke32(ps, HDR(slot_count), SLOTS + 1);
}
static void slot_count_huge(struct patches *ps)
{
    poke32(ps, HDR(slot_count), UINT32_MAX);
}
static void reader_count_huge(struct patches *ps)
{
    poke32(ps, HDR(reader_count), UINT32_MAX);
}
static void reader_count_1000(struct patches *ps)
{
    poke32(ps, HDR(reader_count), 1000);
}
static void slot_capacity_max(struct patches *ps)
{
    poke64(ps, HDR(slot_capacity), UINT64_MAX);
}
static void slot_capacity_over_stride(struct patches *ps)
{
    poke64(ps, HDR(slot_capacity), hdr(ps)->payload_stride + 1);
}
static void readers_offset_end(struct patches *ps)
{
    poke64(ps, HDR(readers_offset), hdr(ps)->total_size);
}
static void readers_offset_max(struct patches *ps)
{
    poke64(ps, HDR(readers_offset), UINT64_MAX - 64);
}
static void readers_offset_zero(struct patches *ps)
{
    poke64(ps, HDR(readers_offset), 0);
}
static void slots_offset_end(struct patches *ps)
{
    poke64(ps, HDR(slots_offset), hdr(ps)->total_size - 64);
}
static void slots_offset_max(struct patches *ps)
{
    poke64(ps, HDR(slots_offset), UINT64_MAX - 255);
}
static void payload_offset_end(struct patches *ps)
{
    poke64(ps, HDR(payload_offset), hdr(ps)->total_size);
}
static void payload_offset_max(struct patches *ps)
{
    poke64(ps, HDR(payload_offset), UINT64_MAX & ~(uint64_t)(FBUS__PAGE - 1));
}
static void payload_offset_page_more(struct patches *ps)
{
    poke64(ps, HDR(payload_offset), hdr(ps)->payload_offset + FBUS__PAGE);
}
static void payload_stride_zero(struct patches *ps)
{
    poke64(ps, HDR(payload_stride), 0);
}
static void payload_stride_wraps(struct patches *ps)
{
    /* stride * 3 wraps around 2^64 to something small. */
    poke64(ps, HDR(payload_stride), (UINT64_MAX / 3 + 1) & ~(uint64_t)(FBUS__PAGE - 1));
}
static void payload_stride_double(struct patches *ps)
{
    poke64(ps, HDR(payload_stride), hdr(ps)->payload_stride * 2);
}
static void control_size_max(struct patches *ps)
{
    poke64(ps, HDR(control_size), UINT64_MAX & ~(uint64_t)(FBUS__PAGE - 1));
}
static void other_name(struct patches *ps)
{
    char name[FBUS_PIXFMT_MAX] = "someone-else";

    poke(ps, HDR(name), name, sizeof(name));
}

static const struct header_case header_cases[] = {
    {"bad magic", bad_magic, FBUS_EBADREGION, 0},
    {"zero magic", zero_magic, FBUS_EBADREGION, -ENOENT}, /* or: not initialised yet */
    {"other layout version", bad_version, FBUS_EVERSION, 0},
    {"header_size 0", header_size_zero, FBUS_EBADREGION, 0},
    {"header_size 1 GiB", header_size_huge, FBUS_EBADREGION, 0},
    {"total_size beyond the object", total_size_bigger, FBUS_EBADREGION, 0},
    {"total_size UINT64_MAX", total_size_max, FBUS_EBADREGION, 0},
    {"slot_count 0", slot_count_zero, FBUS_EBADREGION, 0},
    {"slot_count one more than fits", slot_count_one_more, FBUS_EBADREGION, 0},
    {"slot_count UINT32_MAX", slot_count_huge, FBUS_EBADREGION, 0},
    {"reader_count UINT32_MAX", reader_count_huge, FBUS_EBADREGION, 0},
    {"reader_count 1000", reader_count_1000, FBUS_EBADREGION, 0},
    {"slot_capacity UINT64_MAX", slot_capacity_max, FBUS_EBADREGION, 0},
    {"slot_capacity above payload_stride", slot_capacity_over_stride, FBUS_EBADREGION, 0},
    {"readers_offset at the end", readers_offset_end, FBUS_EBADREGION, 0},
    {"readers_offset near UINT64_MAX", readers_offset_max, FBUS_EBADREGION, 0},
    {"readers_offset 0 (over the header)", readers_offset_zero, FBUS_EBADREGION, 0},
    {"slots_offset at the end", slots_offset_end, FBUS_EBADREGION, 0},
    {"slots_offset near UINT64_MAX", slots_offset_max, FBUS_EBADREGION, 0},
    {"payload_offset at the end", payload_offset_end, FBUS_EBADREGION, 0},
    {"payload_offset near UINT64_MAX", payload_offset_max, FBUS_EBADREGION, 0},
    {"payload_offset a page further", payload_offset_page_more, FBUS_EBADREGION, 0},
    {"payload_stride 0", payload_stride_zero, FBUS_EBADREGION, 0},
    {"payload_stride * slots wraps", payload_stride_wraps, FBUS_EBADREGION, 0},
    {"payload_stride doubled", payload_stride_double, FBUS_EBADREGION, 0},
    {"control_size huge", control_size_max, FBUS_EBADREGION, 0},
    {"another bus's name", other_name, FBUS_EBADREGION, 0},
};

static fbus_writer *open_writer(const struct ctx *c, fbus_transport t)
{
    /* No heartbeat thread: nothing touches the region behind our back while
     * it is corrupt. Each check refreshes the heartbeat before it starts. */
    fbus_writer_opts o = {
        .transport = t, .slots = SLOTS, .format = &c->fmt, .flags = FBUS_WRITER_NO_THREAD};
    fbus_writer *w = NULL;
    int rc = fbus_writer_open(c->name, &o, &w);

    if (rc != 0)
        fail_msg("fbus_writer_open(%s) = %d (%s)", tu_transport_name(t), rc, fbus_strerror(rc));
    return w;
}

/* Every way of looking at a corrupt region gives `expect`. */
static void expect_refused_or(const struct ctx *c, fbus_transport t, int expect, int also,
                              const char *what)
{
    static const struct {
        fbus_policy policy;
        uint32_t flags;
    } kinds[] = {
        {FBUS_POLICY_LATEST, 0},
        {FBUS_POLICY_LOSSLESS, 0},
        {FBUS_POLICY_LATEST, FBUS_READER_OBSERVER},
        {FBUS_POLICY_LATEST, FBUS_READER_WAIT},
    };
    fbus_stats st;
    int rc;

    alarm(HANG_GUARD_S);
    rc = fbus_stat(c->name, t, &st);
    if (rc != expect && !(also && rc == also))
        fail_msg("%s (%s): fbus_stat = %d (%s), expected %s", what, tu_transport_name(t), rc,
                 fbus_strerror(rc), fbus_strerror(expect));
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        fbus_reader_opts ro = {.transport = t, .policy = kinds[k].policy, .flags = kinds[k].flags};
        fbus_reader *r = NULL;
        fbus_frame fr;

        rc = fbus_reader_open(c->name, &ro, &r);
        if (rc == 0 && (kinds[k].flags & FBUS_READER_WAIT)) {
            /* A waiting reader may defer the check to acquire. */
            rc = fbus_reader_acquire(r, 100 * TU_MS, &fr);
            if (rc == 0)
                fbus_reader_release(r, &fr);
            fbus_reader_close(r);
            r = NULL;
            if (rc == -ETIMEDOUT || rc == -EAGAIN)
                rc = expect; /* still waiting for a valid region: fine */
        }
        if (rc != expect && !(also && rc == also))
            fail_msg("%s (%s): fbus_reader_open(kind %zu) = %d (%s), expected %s", what,
                     tu_transport_name(t), k, rc, fbus_strerror(rc), fbus_strerror(expect));
        assert_null(r);
    }
    alarm(0);
}

static void test_header_corruption(void **state)
{
    struct ctx *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t]);
        struct patches ps = {0};
        tu_region reg;

        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_int_equal(tu_region_map(c->name, tu_transports[t], &reg), 0);
        ps.reg = &reg;
        for (size_t i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]); i++) {
            fbus_writer_heartbeat(w);
            header_cases[i].apply(&ps);
            expect_refused_or(c, tu_transports[t], header_cases[i].expect, header_cases[i].also,
                              header_cases[i].what);
            undo(&ps);
        }
        /* Restored, the bus works. */
        {
            fbus_reader_opts ro = {.transport = tu_transports[t]};
            fbus_reader *r = NULL;
            fbus_frame fr;

            fbus_writer_heartbeat(w);
            assert_int_equal(fbus_reader_open(c->name, &ro, &r), 0);
            assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
            assert_true(tu_verify(&fr, 1));
            assert_int_equal(fbus_reader_release(r, &fr), 0);
            fbus_reader_close(r);
        }
        tu_region_unmap(&reg);
        fbus_writer_close(w);
    }
}

static void test_truncated(void **state)
{
    struct ctx *c = *state;
    fbus_writer *w = open_writer(c, FBUS_TRANSPORT_POSIX);
    tu_region reg;
    uint8_t *copy;
    uint64_t sizes[6];

    assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
    assert_int_equal(tu_region_map(c->name, FBUS_TRANSPORT_POSIX, &reg), 0);
    copy = c->scratch = malloc(reg.size);
    assert_non_null(copy);
    memcpy(copy, reg.base, reg.size);
    sizes[0] = reg.size - 1;
    sizes[1] = ((const struct fbus__header *)copy)->payload_offset;
    sizes[2] = FBUS__PAGE;
    sizes[3] = sizeof(struct fbus__header);
    sizes[4] = 100;
    sizes[5] = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char what[64];

        snprintf(what, sizeof(what), "truncated to %llu bytes", (unsigned long long)sizes[i]);
        fbus_writer_heartbeat(w);
        assert_int_equal(ftruncate(reg.fd, (off_t)sizes[i]), 0);
        /* An empty object may also read as one still being created. */
        expect_refused_or(c, FBUS_TRANSPORT_POSIX, FBUS_EBADREGION, sizes[i] ? 0 : -ENOENT, what);
        assert_int_equal(ftruncate(reg.fd, (off_t)reg.size), 0);
        memcpy(reg.base, copy, reg.size);
    }
    tu_region_unmap(&reg);
    fbus_writer_close(w);
}

/* ----------------------------------------------------------- frame cases */

struct frame_case {
    const char *what;
    void (*apply)(struct patches *ps, uint32_t slot);
};

static void cursor_slot_out(struct patches *ps, uint32_t slot)
{
    (void)slot;
    poke64(ps, HDR(cursor), FBUS__CURSOR(1, SLOTS));
}
static void cursor_slot_255(struct patches *ps, uint32_t slot)
{
    (void)slot;
    poke64(ps, HDR(cursor), FBUS__CURSOR(1, 255));
}
static void nb_planes_huge(struct patches *ps, uint32_t slot)
{
    poke32(ps, desc_off(ps, slot) + FMT(nb_planes), 1000);
}
static void nb_planes_max(struct patches *ps, uint32_t slot)
{
    poke32(ps, desc_off(ps, slot) + FMT(nb_planes), UINT32_MAX);
}
static void nb_planes_zero(struct patches *ps, uint32_t slot)
{
    poke32(ps, desc_off(ps, slot) + FMT(nb_planes), 0);
}
static void plane_offset_capacity(struct patches *ps, uint32_t slot)
{
    poke64(ps, desc_off(ps, slot) + FMT(planes[0].offset), hdr(ps)->slot_capacity);
}
static void plane_offset_max(struct patches *ps, uint32_t slot)
{
    poke64(ps, desc_off(ps, slot) + FMT(planes[0].offset), UINT64_MAX - 10);
}
static void plane_offset_past_size(struct patches *ps, uint32_t slot)
{
    /* Inside the slot, but the plane no longer fits in `size`. */
    poke64(ps, desc_off(ps, slot) + FMT(planes[0].offset), 64);
}
static void stride_huge(struct patches *ps, uint32_t slot)
{
    poke32(ps, desc_off(ps, slot) + FMT(planes[0].stride), UINT32_MAX);
}
static void stride_huge_size_too(struct patches *ps, uint32_t slot)
{
    /* A consistent table that is far bigger than the slot. */
    poke32(ps, desc_off(ps, slot) + FMT(planes[0].stride), 1u << 20);
    poke64(ps, desc_off(ps, slot) + FMT(size), (uint64_t)64 << 20);
}
static void stride_below_row(struct patches *ps, uint32_t slot)
{
    poke32(ps, desc_off(ps, slot) + FMT(planes[0].stride), 8);
}
static void rows_huge(struct patches *ps, uint32_t slot)
{
    poke32(ps, desc_off(ps, slot) + FMT(planes[0].rows), UINT32_MAX);
    poke64(ps, desc_off(ps, slot) + FMT(size), UINT64_MAX);
}
static void size_over_capacity(struct patches *ps, uint32_t slot)
{
    poke64(ps, desc_off(ps, slot) + FMT(size), hdr(ps)->slot_capacity + 1);
}
static void pix_fmt_unterminated(struct patches *ps, uint32_t slot)
{
    char junk[FBUS_PIXFMT_MAX];

    memset(junk, 'x', sizeof(junk));
    poke(ps, desc_off(ps, slot) + FMT(pix_fmt), junk, sizeof(junk));
}

static const struct frame_case frame_cases[] = {
    {"cursor slot = slot count", cursor_slot_out},
    {"cursor slot 255", cursor_slot_255},
    {"nb_planes 1000", nb_planes_huge},
    {"nb_planes UINT32_MAX", nb_planes_max},
    {"nb_planes 0", nb_planes_zero},
    {"plane offset = slot capacity", plane_offset_capacity},
    {"plane offset near UINT64_MAX", plane_offset_max},
    {"plane past the frame size", plane_offset_past_size},
    {"stride UINT32_MAX", stride_huge},
    {"consistent table bigger than the slot", stride_huge_size_too},
    {"stride below row bytes", stride_below_row},
    {"rows UINT32_MAX", rows_huge},
    {"size above slot capacity", size_over_capacity},
    {"pix_fmt without NUL", pix_fmt_unterminated},
};

/* A reader attached before the corruption must refuse the frame; one that
 * attaches during it may refuse to attach or refuse the frame; fbus_stat
 * may refuse, or must report a format that is itself valid. */
static void check_frame_case(const struct ctx *c, fbus_transport t, fbus_reader *pre[2],
                             const char *what)
{
    fbus_frame fr;
    fbus_stats st;
    int rc;

    alarm(HANG_GUARD_S);
    for (int k = 0; k < 2; k++) {
        rc = fbus_reader_acquire(pre[k], 200 * TU_MS, &fr);
        if (rc == 0)
            fbus_reader_release(pre[k], &fr);
        if (rc != FBUS_EBADREGION)
            fail_msg("%s (%s): acquire (%s) = %d (%s)", what, tu_transport_name(t),
                     k ? "observer" : "latest", rc, fbus_strerror(rc));
    }
    for (int k = 0; k < 2; k++) {
        fbus_reader_opts ro = {.transport = t, .flags = k ? FBUS_READER_OBSERVER : 0};
        fbus_reader *r = NULL;

        rc = fbus_reader_open(c->name, &ro, &r);
        if (rc == 0) {
            rc = fbus_reader_acquire(r, 200 * TU_MS, &fr);
            if (rc == 0)
                fbus_reader_release(r, &fr);
            fbus_reader_close(r);
        }
        if (rc != FBUS_EBADREGION)
            fail_msg("%s (%s): new reader = %d (%s)", what, tu_transport_name(t), rc,
                     fbus_strerror(rc));
    }
    rc = fbus_stat(c->name, t, &st);
    if (rc == 0) {
        assert_true(st.nb_readers <= FBUS_MAX_READERS);
        if (st.format.nb_planes != 0 && fbus_format_check(&st.format, st.slot_size) != 0)
            fail_msg("%s (%s): fbus_stat reports an invalid format", what, tu_transport_name(t));
    } else if (rc != FBUS_EBADREGION) {
        fail_msg("%s (%s): fbus_stat = %d (%s)", what, tu_transport_name(t), rc, fbus_strerror(rc));
    }
    alarm(0);
}

static void test_frame_corruption(void **state)
{
    struct ctx *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t]);
        struct patches ps = {0};
        tu_region reg;
        uint32_t slot;

        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_int_equal(tu_region_map(c->name, tu_transports[t], &reg), 0);
        ps.reg = &reg;
        slot = FBUS__CURSOR_SLOT(atomic_load(&hdr(&ps)->cursor));
        assert_true(slot < SLOTS);
        for (size_t i = 0; i < sizeof(frame_cases) / sizeof(frame_cases[0]); i++) {
            fbus_reader_opts ro = {.transport = tu_transports[t]};
            fbus_reader *pre[2] = {NULL, NULL};

            fbus_writer_heartbeat(w);
            assert_int_equal(fbus_reader_open(c->name, &ro, &pre[0]), 0);
            ro.flags = FBUS_READER_OBSERVER;
            assert_int_equal(fbus_reader_open(c->name, &ro, &pre[1]), 0);
            frame_cases[i].apply(&ps, slot);
            check_frame_case(c, tu_transports[t], pre, frame_cases[i].what);
            undo(&ps);
            fbus_reader_close(pre[0]);
            fbus_reader_close(pre[1]);
        }
        tu_region_unmap(&reg);
        fbus_writer_close(w);
    }
}

/* A frame is described by a private copy taken at acquire: changing the
 * descriptor in the region while the frame is held changes nothing the
 * reader already has, and release still answers sanely. */
static void test_descriptor_changes_while_held(void **state)
{
    struct ctx *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t]);
        fbus_reader_opts ro = {.transport = tu_transports[t]};
        struct patches ps = {0};
        fbus_reader *r = NULL;
        fbus_frame fr, copy;
        tu_region reg;
        uint32_t slot;
        int rc;

        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_int_equal(tu_region_map(c->name, tu_transports[t], &reg), 0);
        ps.reg = &reg;
        slot = FBUS__CURSOR_SLOT(atomic_load(&hdr(&ps)->cursor));
        for (int k = 0; k < 2; k++) {
            fbus_writer_heartbeat(w);
            ro.flags = k ? FBUS_READER_OBSERVER : 0;
            assert_int_equal(fbus_reader_open(c->name, &ro, &r), 0);
            assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
            copy = fr;
            nb_planes_huge(&ps, slot);
            stride_huge(&ps, slot);
            assert_memory_equal(&fr, &copy, sizeof(fr));
            assert_true(tu_verify(&fr, 1));
            rc = fbus_reader_release(r, &fr);
            if (rc != 0 && rc != FBUS_EOVERRUN && rc != FBUS_EBADREGION)
                fail_msg("release after the descriptor changed: %d (%s)", rc, fbus_strerror(rc));
            undo(&ps);
            fbus_reader_close(r);
        }
        tu_region_unmap(&reg);
        fbus_writer_close(w);
    }
}

/* A sequence word that never settles (a writer that died mid-frame, or a
 * cursor that names a frame the slot does not hold) must not make acquire
 * spin past its timeout. */
static void test_unsettled_slot(void **state)
{
    struct ctx *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t]);
        fbus_reader_opts ro = {.transport = tu_transports[t]};
        struct patches ps = {0};
        fbus_reader *r = NULL;
        fbus_frame fr;
        tu_region reg;
        uint32_t slot;
        int64_t t0;
        int rc;

        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_int_equal(tu_region_map(c->name, tu_transports[t], &reg), 0);
        ps.reg = &reg;
        slot = FBUS__CURSOR_SLOT(atomic_load(&hdr(&ps)->cursor));
        for (int k = 0; k < 2; k++) {
            fbus_writer_heartbeat(w);
            assert_int_equal(fbus_reader_open(c->name, &ro, &r), 0);
            if (k == 0)
                poke64(&ps, desc_off(&ps, slot), 3); /* seq 1 being written */
            else
                poke64(&ps, HDR(cursor), FBUS__CURSOR(7, slot)); /* slot holds seq 1 */
            alarm(HANG_GUARD_S);
            t0 = tu_now_ns();
            rc = fbus_reader_acquire(r, 200 * TU_MS, &fr);
            alarm(0);
            if (rc == 0)
                fail_msg("case %d (%s): a frame from an unsettled slot", k,
                         tu_transport_name(tu_transports[t]));
            if (rc != -ETIMEDOUT && rc != FBUS_EBADREGION && rc != -EAGAIN)
                fail_msg("case %d (%s): %d (%s)", k, tu_transport_name(tu_transports[t]), rc,
                         fbus_strerror(rc));
            assert_true(tu_now_ns() - t0 < 10 * TU_SEC);
            undo(&ps);
            fbus_reader_close(r);
        }
        tu_region_unmap(&reg);
        fbus_writer_close(w);
    }
}

/* A hostile reader entry (readers may be another user on a 0660 bus): the
 * writer and fbus_stat must bounds-check what they read from it. */
static void test_hostile_reader_entry(void **state)
{
    struct ctx *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c, tu_transports[t]);
        struct patches ps = {0};
        tu_region reg;
        size_t e;
        fbus_stats st;
        fbus_slot s;
        int rc;

        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        assert_int_equal(tu_region_map(c->name, tu_transports[t], &reg), 0);
        ps.reg = &reg;
        e = (size_t)hdr(&ps)->readers_offset + 7 * sizeof(struct fbus__reader_entry);
#define ENT(field) (e + offsetof(struct fbus__reader_entry, field))
        /* A live lossless reader (us) whose pin names a slot out of range. */
        poke32(&ps, ENT(policy), FBUS_POLICY_LOSSLESS);
        poke32(&ps, ENT(pid), (uint32_t)getpid());
        poke64(&ps, ENT(session), hdr(&ps)->session);
        poke64(&ps, ENT(pin), FBUS__CURSOR(1, 200));
        poke64(&ps, ENT(consumed), 0);
        poke64(&ps, ENT(frames), UINT64_MAX);
        poke32(&ps, ENT(state), FBUS__ENTRY_ACTIVE);
        alarm(HANG_GUARD_S);
        fbus_writer_heartbeat(w);
        for (int i = 0; i < 2 * SLOTS; i++) {
            rc = fbus_writer_acquire(w, &c->fmt, 50 * TU_MS, &s);
            if (rc == 0) {
                tu_fill(&s, s.seq);
                assert_int_equal(fbus_writer_publish(w, &s, NULL), 0);
            } else if (rc != -ETIMEDOUT) {
                fail_msg("writer acquire with a hostile entry: %d (%s)", rc, fbus_strerror(rc));
            }
        }
        rc = fbus_stat(c->name, tu_transports[t], &st);
        assert_true(rc == 0 || rc == FBUS_EBADREGION);
        if (rc == 0)
            assert_true(st.nb_readers <= FBUS_MAX_READERS);
        /* Garbage policy and a dead pid. */
        undo(&ps);
        poke32(&ps, ENT(policy), 77);
        poke32(&ps, ENT(pid), (uint32_t)-5);
        poke64(&ps, ENT(pin), UINT64_MAX);
        poke64(&ps, ENT(consumed), UINT64_MAX);
        poke32(&ps, ENT(state), 99);
        fbus_writer_heartbeat(w);
        rc = fbus_stat(c->name, tu_transports[t], &st);
        assert_true(rc == 0 || rc == FBUS_EBADREGION);
        if (rc == 0)
            assert_true(st.nb_readers <= FBUS_MAX_READERS);
        for (int i = 0; i < 2 * SLOTS; i++) {
            rc = fbus_writer_acquire(w, &c->fmt, 50 * TU_MS, &s);
            if (rc == 0) {
                tu_fill(&s, s.seq);
                assert_int_equal(fbus_writer_publish(w, &s, NULL), 0);
            } else if (rc != -ETIMEDOUT) {
                fail_msg("writer acquire with a garbage entry: %d (%s)", rc, fbus_strerror(rc));
            }
        }
        /* A reader-table high-water mark far past the table. */
        undo(&ps);
        poke32(&ps, HDR(readers_hw), UINT32_MAX);
        fbus_writer_heartbeat(w);
        for (int i = 0; i < 2 * SLOTS; i++)
            assert_int_equal(tu_publish(w, &c->fmt, 50 * TU_MS, NULL), 0);
        rc = fbus_stat(c->name, tu_transports[t], &st);
        assert_true(rc == 0 || rc == FBUS_EBADREGION);
        alarm(0);
#undef ENT
        undo(&ps);
        tu_region_unmap(&reg);
        fbus_writer_close(w);
    }
}

/* ------------------------------------------------- hand-made posix objects */

static void craft(const struct ctx *c, const void *bytes, size_t len)
{
    char path[128];
    int fd;

    snprintf(path, sizeof(path), "/dev/shm/framebus.%s", c->craft);
    unlink(path);
    fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
    assert_true(fd >= 0);
    if (len)
        assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    close(fd);
}

static void expect_craft_refused(const struct ctx *c, const char *what, int allow_enoent)
{
    fbus_reader_opts ro = {.transport = FBUS_TRANSPORT_POSIX};
    fbus_reader *r = NULL;
    fbus_stats st;
    int rc;

    alarm(HANG_GUARD_S);
    rc = fbus_reader_open(c->craft, &ro, &r);
    if (rc != FBUS_EBADREGION && !(allow_enoent && rc == -ENOENT))
        fail_msg("%s: fbus_reader_open = %d (%s)", what, rc, fbus_strerror(rc));
    assert_null(r);
    ro.flags = FBUS_READER_OBSERVER;
    rc = fbus_reader_open(c->craft, &ro, &r);
    if (rc != FBUS_EBADREGION && !(allow_enoent && rc == -ENOENT))
        fail_msg("%s: observer open = %d (%s)", what, rc, fbus_strerror(rc));
    rc = fbus_stat(c->craft, FBUS_TRANSPORT_POSIX, &st);
    if (rc != FBUS_EBADREGION && !(allow_enoent && rc == -ENOENT))
        fail_msg("%s: fbus_stat = %d (%s)", what, rc, fbus_strerror(rc));
    alarm(0);
}

/* A writer meeting a name it cannot make sense of refuses it or replaces
 * it; it never crashes. */
static void writer_on_craft(const struct ctx *c, const char *what)
{
    fbus_writer_opts wo = {.transport = FBUS_TRANSPORT_POSIX, .format = &c->fmt};
    fbus_writer *w = NULL;
    int rc;

    alarm(HANG_GUARD_S);
    rc = fbus_writer_open(c->craft, &wo, &w);
    alarm(0);
    if (rc != 0 && rc != -EEXIST && rc != FBUS_EBADREGION && rc != FBUS_EBUSY)
        fail_msg("%s: fbus_writer_open = %d (%s)", what, rc, fbus_strerror(rc));
    fbus_writer_close(w);
}

static void test_crafted_objects(void **state)
{
    struct ctx *c = *state;
    size_t len = 64 * 1024;
    uint8_t *buf = c->scratch = malloc(len);
    uint64_t x = 0x1234567;

    assert_non_null(buf);
    for (size_t i = 0; i < len; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)(x >> 56);
    }
    craft(c, buf, len);
    expect_craft_refused(c, "random bytes", 0);
    writer_on_craft(c, "random bytes");
    /* Random bytes behind a valid magic and version. */
    {
        uint64_t m = FBUS__MAGIC;
        uint32_t v = FBUS__LAYOUT_VERSION;
        memcpy(buf, &m, 8);
        memcpy(buf + 8, &v, 4);
    }
    craft(c, buf, len);
    expect_craft_refused(c, "random bytes after a valid magic", 0);
    /* Created but never initialised (a producer that died in between). */
    memset(buf, 0, len);
    craft(c, buf, len);
    expect_craft_refused(c, "all zero", 1);
    writer_on_craft(c, "all zero");
    craft(c, buf, 0);
    expect_craft_refused(c, "empty", 1);
    craft(c, buf, 7);
    expect_craft_refused(c, "7 bytes", 0);
    writer_on_craft(c, "7 bytes");
}

/* A copy of a real region, renamed, with the size cut or stretched. */
static void test_crafted_copies(void **state)
{
    struct ctx *c = *state;
    fbus_writer *w = open_writer(c, FBUS_TRANSPORT_POSIX);
    tu_region reg;
    uint8_t *copy;
    struct fbus__header *h;

    assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
    assert_int_equal(tu_region_map(c->name, FBUS_TRANSPORT_POSIX, &reg), 0);
    copy = c->scratch = calloc(1, reg.size + 8192);
    assert_non_null(copy);
    memcpy(copy, reg.base, reg.size);
    h = (struct fbus__header *)copy;
    memset(h->name, 0, sizeof(h->name));
    strcpy(h->name, c->craft);
    atomic_store(&h->heartbeat_ns, tu_now_ns());

    /* Sanity: the renamed copy itself is accepted by fbus_stat. */
    craft(c, copy, reg.size);
    {
        fbus_stats st;
        int rc = fbus_stat(c->craft, FBUS_TRANSPORT_POSIX, &st);
        if (rc != 0)
            fail_msg("renamed copy of a valid region: fbus_stat = %d (%s)", rc, fbus_strerror(rc));
        assert_int_equal(st.frames, 1);
    }
    craft(c, copy, sizeof(struct fbus__header) - 1);
    expect_craft_refused(c, "copy cut inside the header", 0);
    craft(c, copy, (size_t)h->payload_offset);
    expect_craft_refused(c, "copy without payloads", 0);
    craft(c, copy, reg.size - FBUS__PAGE);
    expect_craft_refused(c, "copy one page short", 0);
    tu_region_unmap(&reg);
    fbus_writer_close(w);
}

static void test_symlink(void **state)
{
    struct ctx *c = *state;
    char link_path[128], target[] = "/tmp/fbus-target-XXXXXX";
    fbus_writer_opts wo = {.transport = FBUS_TRANSPORT_POSIX, .format = &c->fmt};
    fbus_reader_opts ro = {.transport = FBUS_TRANSPORT_POSIX};
    fbus_writer *w = NULL;
    fbus_reader *r = NULL;
    struct stat st;
    int fd, rc;

    fd = mkstemp(target);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "precious", 8), 8);
    close(fd);
    snprintf(link_path, sizeof(link_path), "/dev/shm/framebus.%s", c->craft);
    unlink(link_path);
    assert_int_equal(symlink(target, link_path), 0);

    rc = fbus_reader_open(c->craft, &ro, &r);
    assert_true(rc != 0);
    assert_null(r);
    rc = fbus_writer_open(c->craft, &wo, &w);
    if (rc == 0) {
        /* Taken over: then the name must now be a real object. */
        assert_int_equal(lstat(link_path, &st), 0);
        assert_false(S_ISLNK(st.st_mode));
        fbus_writer_close(w);
    }
    /* Never written through the link. */
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_size, 8);
    unlink(link_path);
    unlink(target);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_header_corruption), T(test_truncated),
        T(test_frame_corruption),  T(test_descriptor_changes_while_held),
        T(test_unsettled_slot),    T(test_hostile_reader_entry),
        T(test_crafted_objects),   T(test_crafted_copies),
        T(test_symlink),
    };
#undef T

    /* FBUS_TEST_FILTER=test_name runs one test (cmocka pattern). */
    if (getenv("FBUS_TEST_FILTER"))
        cmocka_set_test_filter(getenv("FBUS_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
