/* SPDX-License-Identifier: MIT */
/*
 * Resource limits, on both transports: slot sizes that overflow or exceed the
 * limit, slot counts of 0 (the default), 1, 2, 64, 65 and 10000, frame
 * formats whose plane tables overflow, a frame too large for any region, and a region larger than
 * /dev/shm can hold. Each is a clear error code with a message, and leaves nothing behind: no
 * /dev/shm entry, no SysV segment, no key file.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)

struct ctx {
    char name[FBUS_NAME_MAX + 1];
    fbus_format fmt;
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));

    if (!c)
        return -1;
    tu_bus_name(c->name, sizeof(c->name), "lim");
    if (fbus_format_init(&c->fmt, "gray", 32, 32, 0) != 0)
        return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;

    tu_bus_cleanup(c->name);
    free(c);
    return 0;
}

/* Whether anything of bus `name` exists: a /dev/shm entry of either
 * transport, or a SysV segment created by this process. */
static int leftovers(const char *name)
{
    char posix[FBUS_NAME_MAX + 32], sysv[FBUS_NAME_MAX + 32], line[512];
    FILE *f;
    int found = 0;

    snprintf(posix, sizeof(posix), "/dev/shm/framebus.%s", name);
    snprintf(sysv, sizeof(sysv), "/dev/shm/framebus-sysv.%s", name);
    if (access(posix, F_OK) == 0 || access(sysv, F_OK) == 0)
        found = 1;
    f = fopen("/proc/sysvipc/shm", "r");
    if (f && fgets(line, sizeof(line), f)) {
        while (fgets(line, sizeof(line), f)) {
            long long key, size;
            int id, perms, cpid;

            if (sscanf(line, "%lld %d %o %lld %d", &key, &id, &perms, &size, &cpid) == 5 &&
                cpid == (int)getpid())
                found = 1;
        }
    }
    if (f)
        fclose(f);
    return found;
}

static int try_open(const struct ctx *c, fbus_transport t, uint32_t slots, uint64_t slot_size,
                    const fbus_format *fmt, fbus_writer **out)
{
    fbus_writer_opts wo = {.transport = t, .slots = slots, .slot_size = slot_size, .format = fmt};

    *out = NULL;
    return fbus_writer_open(c->name, &wo, out);
}

static void expect_refused(const struct ctx *c, fbus_transport t, uint32_t slots,
                           uint64_t slot_size, const fbus_format *fmt, int want)
{
    fbus_writer *w;
    int rc = try_open(c, t, slots, slot_size, fmt, &w);

    if (rc != want)
        fail_msg("%s: slots %u, slot size %llu: got %d (%s), want %d (%s)", tu_transport_name(t),
                 slots, (unsigned long long)slot_size, rc, fbus_strerror(rc), want,
                 fbus_strerror(want));
    assert_null(w);
    assert_false(leftovers(c->name));
}

static void test_slot_sizes(void **state)
{
    struct ctx *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_transport tp = tu_transports[t];
        fbus_writer *w;
        fbus_stats st;

        /* Sizes whose page rounding or multiplication would wrap. */
        expect_refused(c, tp, 3, UINT64_MAX, NULL, FBUS_ETOOBIG);
        expect_refused(c, tp, 3, UINT64_MAX - 4095, NULL, FBUS_ETOOBIG);
        expect_refused(c, tp, 64, UINT64_MAX / 64 + 1, NULL, FBUS_ETOOBIG);
        expect_refused(c, tp, 3, (UINT64_C(1) << 36) + 1, NULL, FBUS_ETOOBIG);
        assert_non_null(strstr(fbus_strerror(FBUS_ETOOBIG), "size"));

        /* 0 means "fit the format", without one 8 MiB. */
        assert_int_equal(try_open(c, tp, 0, 0, NULL, &w), 0);
        assert_int_equal(fbus_stat(c->name, tp, &st), 0);
        assert_int_equal(st.slot_size, 8 * MIB);
        assert_int_equal(st.slots, FBUS_DEFAULT_SLOTS);
        fbus_writer_close(w);
        assert_int_equal(try_open(c, tp, 0, 0, &c->fmt, &w), 0);
        assert_int_equal(fbus_stat(c->name, tp, &st), 0);
        assert_int_equal(st.slot_size, c->fmt.size);
        fbus_writer_close(w);
        /* One byte is a valid (if useless) slot. */
        assert_int_equal(try_open(c, tp, 2, 1, NULL, &w), 0);
        assert_int_equal(fbus_stat(c->name, tp, &st), 0);
        assert_int_equal(st.slot_size, 1);
        fbus_writer_close(w);
        assert_false(leftovers(c->name));
    }
}

static void test_slot_counts(void **state)
{
    struct ctx *c = *state;
    static const uint32_t good[] = {0, 2, FBUS_MAX_SLOTS};
    static const uint32_t bad[] = {1, FBUS_MAX_SLOTS + 1, 10000, UINT32_MAX};

    for (int t = 0; t < 2; t++) {
        fbus_transport tp = tu_transports[t];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            expect_refused(c, tp, bad[i], 0, &c->fmt, -EINVAL);
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
            fbus_reader_opts ro = {.transport = tp};
            fbus_writer *w;
            fbus_reader *r;
            fbus_stats st;
            fbus_frame f;
            uint64_t seq = 0;

            assert_int_equal(try_open(c, tp, good[i], 0, &c->fmt, &w), 0);
            assert_int_equal(fbus_stat(c->name, tp, &st), 0);
            assert_int_equal(st.slots, good[i] ? good[i] : FBUS_DEFAULT_SLOTS);
            /* The bus works at that count: more frames than slots go round. */
            assert_int_equal(fbus_reader_open(c->name, &ro, &r), 0);
            for (uint32_t k = 0; k < st.slots + 2; k++)
                assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, &seq), 0);
            assert_int_equal(fbus_reader_acquire(r, TU_SEC, &f), 0);
            assert_int_equal(f.seq, seq);
            assert_true(tu_verify(&f, seq));
            assert_int_equal(fbus_reader_release(r, &f), 0);
            fbus_reader_close(r);
            fbus_writer_close(w);
        }
        assert_false(leftovers(c->name));
    }
}

static void test_bad_formats(void **state)
{
    struct ctx *c = *state;
    fbus_format f;

    assert_int_equal(fbus_format_init(&f, "rgba", 32769, 16, 0), FBUS_ETOOBIG);
    assert_int_equal(fbus_format_init(&f, "rgba", 16, UINT32_MAX, 0), FBUS_ETOOBIG);
    assert_int_equal(fbus_format_init(&f, "rgba", 0, 16, 0), -EINVAL);
    assert_int_equal(fbus_format_init(&f, "rgba", 16, 16, 3), -EINVAL);
    assert_int_equal(fbus_format_init(&f, "no-such-format", 16, 16, 0), FBUS_EFORMAT);

    for (int t = 0; t < 2; t++) {
        fbus_transport tp = tu_transports[t];
        fbus_writer *w;
        fbus_slot slot;

        /* Plane tables that wrap around or point past the frame. */
        f = c->fmt;
        f.planes[0].offset = UINT64_MAX - 8;
        expect_refused(c, tp, 3, 0, &f, FBUS_EFORMAT);
        f = c->fmt;
        f.planes[0].stride = UINT32_MAX;
        f.planes[0].rows = UINT32_MAX;
        expect_refused(c, tp, 3, 0, &f, FBUS_EFORMAT);
        f = c->fmt;
        f.size = UINT64_MAX;
        f.planes[0].offset = UINT64_MAX - 100;
        expect_refused(c, tp, 3, 0, &f, FBUS_EFORMAT);
        f = c->fmt;
        f.nb_planes = FBUS_MAX_PLANES + 1;
        expect_refused(c, tp, 3, 0, &f, FBUS_EFORMAT);

        /* The same tables at acquire: refused, the bus stays as it was. */
        assert_int_equal(try_open(c, tp, 3, 0, &c->fmt, &w), 0);
        f = c->fmt;
        f.planes[0].offset = UINT64_MAX - 8;
        assert_int_equal(fbus_writer_acquire(w, &f, 0, &slot), FBUS_EFORMAT);
        f = c->fmt;
        f.planes[0].row_bytes = f.planes[0].stride + 1;
        assert_int_equal(fbus_writer_acquire(w, &f, 0, &slot), FBUS_EFORMAT);
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, NULL), 0);
        fbus_writer_close(w);
        assert_false(leftovers(c->name));
    }
}

/* A frame larger than the largest slot: the writer must keep its bus. */
static void test_frame_too_big_for_any_region(void **state)
{
    struct ctx *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_transport tp = tu_transports[t];
        fbus_reader_opts ro = {.transport = tp};
        fbus_writer *w;
        fbus_reader *r, *late = NULL;
        fbus_format big = c->fmt;
        fbus_slot slot;
        fbus_frame f;
        uint64_t seq;
        int rc;

        /* 32768 rows of 4 GiB - 1 stride: about 2^47 bytes, over the limit. */
        big.width = 32768;
        big.height = 32768;
        big.planes[0].stride = UINT32_MAX;
        big.planes[0].row_bytes = 1;
        big.planes[0].rows = 32768;
        big.size = (uint64_t)UINT32_MAX * 32768;
        assert_int_equal(fbus_format_check(&big, 0), 0);

        assert_int_equal(try_open(c, tp, 3, 0, &c->fmt, &w), 0);
        assert_int_equal(fbus_reader_open(c->name, &ro, &r), 0);
        rc = fbus_writer_acquire(w, &big, 0, &slot);
        if (rc != FBUS_ETOOBIG && rc != -ENOSPC && rc != -ENOMEM)
            fail_msg("%s: acquire of a 2^47-byte frame: %d (%s)", tu_transport_name(tp), rc,
                     fbus_strerror(rc));
        /* The bus is still there under its name and still works. */
        assert_int_equal(tu_publish(w, &c->fmt, TU_SEC, &seq), 0);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &f), 0);
        assert_int_equal(f.seq, seq);
        assert_int_equal(fbus_reader_release(r, &f), 0);
        rc = fbus_reader_open(c->name, &ro, &late);
        if (rc != 0)
            fail_msg("%s: after a failed region move the bus name is gone: %d (%s)",
                     tu_transport_name(tp), rc, fbus_strerror(rc));
        fbus_reader_close(late);
        fbus_reader_close(r);
        fbus_writer_close(w);
        assert_false(leftovers(c->name));
    }
}

static int overcommit_always(void)
{
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    int mode = 0;

    if (f) {
        if (fscanf(f, "%d", &mode) != 1)
            mode = 0;
        fclose(f);
    }
    return mode == 1;
}

/* A region larger than /dev/shm: refused at creation, not SIGBUS later. */
static void test_larger_than_shm(void **state)
{
    struct ctx *c = *state;
    struct statvfs vfs;
    uint64_t shm_bytes, slot;
    fbus_writer *w;
    int rc;

    assert_int_equal(statvfs("/dev/shm", &vfs), 0);
    shm_bytes = (uint64_t)vfs.f_blocks * vfs.f_frsize;
    if (shm_bytes == 0) {
        /* An unlimited tmpfs would try to fill memory instead of refusing. */
        print_message("/dev/shm has no size limit: nothing to exceed\n");
        skip();
    }
    /* 64 slots of this size are more than /dev/shm holds (and than the
     * machine's memory, for SysV), without any one slot being over the
     * limit. */
    slot = shm_bytes / 32 + GIB;
    if (slot > (UINT64_C(1) << 36)) {
        print_message("/dev/shm is %llu bytes: too large to fill\n", (unsigned long long)shm_bytes);
        skip();
    }
    rc = try_open(c, FBUS_TRANSPORT_POSIX, FBUS_MAX_SLOTS, slot, NULL, &w);
    if (rc != -ENOSPC)
        fail_msg("posix region of %llu bytes on a %llu-byte /dev/shm: %d (%s)",
                 (unsigned long long)(slot * FBUS_MAX_SLOTS), (unsigned long long)shm_bytes, rc,
                 fbus_strerror(rc));
    assert_null(w);
    assert_false(leftovers(c->name));

    /* SysV segments do not live in /dev/shm; the kernel refuses one larger
     * than memory (or than shmmax / shmall) at shmget. */
    rc = try_open(c, FBUS_TRANSPORT_SYSV, FBUS_MAX_SLOTS, UINT64_C(1) << 36, NULL, &w);
    if (rc == 0 && overcommit_always()) {
        /* vm.overcommit_memory=1 promises any size; nothing to refuse. */
        print_message("sysv: 4 TiB segment accepted (vm.overcommit_memory is 1)\n");
        fbus_writer_close(w);
        w = NULL;
        rc = -ENOMEM;
    }
    if (rc != -ENOMEM && rc != -ENOSPC && rc != FBUS_ETOOBIG) {
        fbus_writer_close(w);
        fail_msg("sysv region of 4 TiB: %d (%s)", rc, fbus_strerror(rc));
    }
    assert_null(w);
    assert_false(leftovers(c->name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slot_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slot_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frame_too_big_for_any_region, setup, teardown),
        cmocka_unit_test_setup_teardown(test_larger_than_shm, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
