/* SPDX-License-Identifier: MIT */
/*
 * The region layout (white box, layout.h): fbus__geometry for many slot
 * counts and capacities, and the bytes a real writer lays down for both
 * transports, read through a second mapping: header identity and geometry,
 * cursor and slot descriptors after a publish, payload placement, reader
 * entries, object size and mode. Readers of the posix transport must not be
 * able to write into the payloads.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "layout.h"
#include "testutil.h"

_Static_assert(offsetof(struct fbus__header, name) == TU_HEADER_NAME_OFFSET,
               "testutil.h finds sysv regions by this offset");

struct ctx {
    char name[FBUS_NAME_MAX + 1];
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));

    if (!c)
        return -1;
    tu_bus_name(c->name, sizeof(c->name), "lay");
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;

    alarm(0);
    tu_kill_children();
    tu_bus_cleanup(c->name);
    free(c);
    return 0;
}

static int disjoint(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a + alen <= b || b + blen <= a;
}

static void check_geometry(uint32_t slots, uint32_t readers, uint64_t cap,
                           const struct fbus__geometry *g)
{
    uint64_t hdr = sizeof(struct fbus__header);
    uint64_t rd = (uint64_t)readers * sizeof(struct fbus__reader_entry);
    uint64_t ds = (uint64_t)slots * FBUS__DESC_STRIDE;
    uint64_t pl = (uint64_t)slots * g->payload_stride;

    assert_int_equal(g->readers_offset % FBUS__CACHELINE, 0);
    assert_int_equal(g->slots_offset % FBUS__CACHELINE, 0);
    assert_int_equal(g->control_size % FBUS__PAGE, 0);
    assert_int_equal(g->payload_offset % FBUS__PAGE, 0);
    assert_int_equal(g->payload_stride % FBUS__PAGE, 0);
    assert_true(g->payload_stride >= cap);
    /* Less than a page of padding per slot. */
    assert_true(g->payload_stride < cap + FBUS__PAGE);
    assert_true(g->readers_offset >= hdr);
    assert_true(disjoint(0, hdr, g->slots_offset, ds));
    assert_true(disjoint(g->readers_offset, rd, g->slots_offset, ds));
    assert_true(g->readers_offset + rd <= g->payload_offset);
    assert_true(g->slots_offset + ds <= g->payload_offset);
    assert_true(g->control_size <= g->payload_offset);
    assert_true(g->readers_offset + rd <= g->control_size);
    assert_int_equal(g->total_size, g->payload_offset + pl);
}

static void test_geometry(void **state)
{
    static const uint32_t slot_counts[] = {2, 3, 4, 8, 63, FBUS_MAX_SLOTS};
    static const uint64_t caps[] = {1, 64, 4095, 4096, 4097, 6144, 3110400, 8u << 20};
    struct fbus__geometry g;

    (void)state;
    for (size_t i = 0; i < sizeof(slot_counts) / sizeof(slot_counts[0]); i++)
        for (size_t j = 0; j < sizeof(caps) / sizeof(caps[0]); j++) {
            memset(&g, 0xee, sizeof(g));
            assert_int_equal(fbus__geometry(slot_counts[i], FBUS_MAX_READERS, caps[j], &g), 0);
            check_geometry(slot_counts[i], FBUS_MAX_READERS, caps[j], &g);
        }
    /* Sizes that overflow 64 bits are refused, not wrapped. */
    assert_int_equal(fbus__geometry(3, FBUS_MAX_READERS, UINT64_MAX, &g), FBUS_ETOOBIG);
    assert_int_equal(fbus__geometry(3, FBUS_MAX_READERS, UINT64_MAX - 4096, &g), FBUS_ETOOBIG);
    assert_int_equal(fbus__geometry(FBUS_MAX_SLOTS, FBUS_MAX_READERS, UINT64_C(1) << 58, &g),
                     FBUS_ETOOBIG);
}

static fbus_writer *open_writer(const char *name, fbus_transport t, uint32_t slots,
                                uint64_t slot_size, const fbus_format *fmt, uint32_t mode)
{
    fbus_writer_opts o = {0};
    fbus_writer *w = NULL;
    int rc;

    o.transport = t;
    o.slots = slots;
    o.slot_size = slot_size;
    o.format = fmt;
    o.mode = mode;
    rc = fbus_writer_open(name, &o, &w);
    if (rc != 0)
        fail_msg("fbus_writer_open(%s, %s) = %d (%s)", name, tu_transport_name(t), rc,
                 fbus_strerror(rc));
    return w;
}

static const struct fbus__header *hdr_of(const tu_region *reg)
{
    return (const struct fbus__header *)reg->base;
}

static struct fbus__slot_desc *desc_of(const tu_region *reg, uint32_t i)
{
    const struct fbus__header *h = hdr_of(reg);

    return (struct fbus__slot_desc *)(reg->base + h->slots_offset +
                                      (uint64_t)i * FBUS__DESC_STRIDE);
}

static struct fbus__reader_entry *entry_of(const tu_region *reg, uint32_t i)
{
    const struct fbus__header *h = hdr_of(reg);

    return (struct fbus__reader_entry *)(reg->base + h->readers_offset +
                                         (uint64_t)i * sizeof(struct fbus__reader_entry));
}

/* The entry of the only registered reader, or NULL. */
static struct fbus__reader_entry *only_entry(const tu_region *reg)
{
    struct fbus__reader_entry *found = NULL;

    for (uint32_t i = 0; i < hdr_of(reg)->reader_count; i++) {
        struct fbus__reader_entry *e = entry_of(reg, i);
        if (FBUS__ENTRY_KIND(atomic_load(&e->state)) != FBUS__ENTRY_FREE) {
            if (found)
                return NULL;
            found = e;
        }
    }
    return found;
}

static void test_header(void **state)
{
    struct ctx *c = *state;
    fbus_format fmt;

    assert_int_equal(fbus_format_init(&fmt, "yuv420p", 64, 64, 0), 0);
    for (int t = 0; t < 2; t++) {
        const struct fbus__header *h;
        struct fbus__geometry g;
        tu_region reg;
        int64_t now = tu_now_ns();
        fbus_writer *w;
        const mode_t old_umask = umask(022);

        /* The mode asked for is the mode set, whatever the umask. */
        w = open_writer(c->name, tu_transports[t], 4, 0, &fmt, 0660);
        umask(old_umask);

        assert_int_equal(tu_region_map(c->name, tu_transports[t], &reg), 0);
        h = hdr_of(&reg);
        assert_int_equal(h->magic, FBUS__MAGIC);
        assert_memory_equal(reg.base, "FFREBUS1", 8);
        assert_int_equal(h->version, FBUS__LAYOUT_VERSION);
        assert_int_equal(h->header_size, sizeof(struct fbus__header));
        assert_int_equal(h->total_size, reg.size);
        assert_int_equal(h->slot_count, 4);
        assert_int_equal(h->reader_count, FBUS_MAX_READERS);
        assert_true(h->slot_capacity >= fmt.size);
        assert_int_equal(fbus__geometry(h->slot_count, h->reader_count, h->slot_capacity, &g), 0);
        assert_int_equal(h->readers_offset, g.readers_offset);
        assert_int_equal(h->slots_offset, g.slots_offset);
        assert_int_equal(h->payload_offset, g.payload_offset);
        assert_int_equal(h->payload_stride, g.payload_stride);
        assert_int_equal(h->control_size, g.control_size);
        assert_int_equal(h->total_size, g.total_size);
        assert_int_equal(h->producer_pid, getpid());
        assert_int_equal(h->producer_uid, geteuid());
        assert_true(h->producer_start != 0);
        assert_int_equal(h->session, fbus_writer_session(w));
        assert_true(h->session != 0);
        assert_int_equal(h->mode & 0777, 0660);
        assert_int_equal(h->transport, tu_transports[t]);
        assert_string_equal(h->name, c->name);
        assert_int_equal(atomic_load(&h->state), FBUS__STATE_LIVE);
        assert_int_equal(atomic_load(&h->cursor), 0);
        assert_int_equal(atomic_load(&h->frames), 0);
        /* The heartbeat is set, and not in the future. */
        assert_true(atomic_load(&h->heartbeat_ns) <= tu_now_ns());
        assert_true(atomic_load(&h->heartbeat_ns) > now - 10 * TU_SEC);

        /* The object itself: its size and mode. */
        if (tu_transports[t] == FBUS_TRANSPORT_POSIX) {
            char path[128];
            struct stat st;

            snprintf(path, sizeof(path), "/dev/shm/framebus.%s", c->name);
            assert_int_equal(stat(path, &st), 0);
            assert_int_equal((uint64_t)st.st_size, h->total_size);
            assert_int_equal(st.st_mode & 0777, 0660);
            assert_int_equal(st.st_uid, geteuid());
        } else {
            char path[128];
            struct stat st;
            struct shmid_ds ds;

            snprintf(path, sizeof(path), "/dev/shm/framebus-sysv.%s", c->name);
            assert_int_equal(stat(path, &st), 0);
            assert_int_equal(shmctl(reg.shmid, IPC_STAT, &ds), 0);
            assert_int_equal(ds.shm_segsz, h->total_size);
            assert_int_equal(ds.shm_perm.mode & 0777, 0660);
            assert_int_equal(ds.shm_perm.uid, geteuid());
        }
        tu_region_unmap(&reg);
        fbus_writer_close(w);
    }
}

static void test_publish_bytes(void **state)
{
    struct ctx *c = *state;
    fbus_format fmt, small;

    assert_int_equal(fbus_format_init(&fmt, "yuv420p", 64, 48, 0), 0);
    assert_int_equal(fbus_format_init(&small, "rgb24", 20, 10, 1), 0);
    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c->name, tu_transports[t], 3, 0, &fmt, 0);
        fbus_meta meta = {
            .pts = 1234,
            .tb_num = 1,
            .tb_den = 90000,
            .flags = FBUS_FRAME_KEY,
            .rate_num = 30000,
            .rate_den = 1001,
            .sar_num = 64,
            .sar_den = 45,
            .color = {.matrix = 1, .range = FBUS_RANGE_LIMITED, .primaries = 1, .transfer = 1}};
        const struct fbus__header *h;
        struct fbus__slot_desc *d;
        fbus_slot slot;
        fbus_frame view;
        tu_region reg;
        uint64_t session, total;
        int64_t before, after;

        assert_int_equal(tu_region_map(c->name, tu_transports[t], &reg), 0);
        h = hdr_of(&reg);
        session = h->session;
        total = h->total_size;

        assert_int_equal(fbus_writer_acquire(w, &fmt, TU_SEC, &slot), 0);
        assert_int_equal(slot.seq, 1);
        assert_true(slot.index < 3);
        assert_memory_equal(&slot.format, &fmt, sizeof(fmt));
        tu_fill(&slot, slot.seq);
        before = tu_now_ns();
        assert_int_equal(fbus_writer_publish(w, &slot, &meta), 0);
        after = tu_now_ns();

        assert_int_equal(atomic_load(&h->cursor), FBUS__CURSOR(1, slot.index));
        assert_int_equal(atomic_load(&h->frames), 1);
        d = desc_of(&reg, slot.index);
        assert_int_equal(atomic_load(&d->lock), 2);
        assert_int_equal(d->pts, 1234);
        assert_int_equal(d->tb_num, 1);
        assert_int_equal(d->tb_den, 90000);
        assert_true(d->flags & FBUS_FRAME_KEY);
        assert_int_equal(d->rate_num, 30000);
        assert_int_equal(d->rate_den, 1001);
        assert_int_equal(d->sar_num, 64);
        assert_int_equal(d->sar_den, 45);
        assert_memory_equal(&d->color, &meta.color, sizeof(meta.color));
        assert_true(d->publish_ns >= before && d->publish_ns <= after);
        assert_memory_equal(&d->format, &fmt, sizeof(fmt));

        /* The pixels are where the layout says, 64-byte aligned rows. */
        memset(&view, 0, sizeof(view));
        view.format = fmt;
        for (uint32_t p = 0; p < fmt.nb_planes; p++) {
            uint64_t off =
                h->payload_offset + slot.index * h->payload_stride + fmt.planes[p].offset;
            assert_int_equal(off % 64, 0);
            assert_int_equal(fmt.planes[p].stride % 64, 0);
            assert_true(off + (uint64_t)fmt.planes[p].stride * fmt.planes[p].rows <= reg.size);
            view.data[p] = reg.base + off;
        }
        assert_true(tu_verify(&view, 1));

        /* A format that fits the slots is just a new descriptor. */
        assert_int_equal(fbus_writer_acquire(w, &small, TU_SEC, &slot), 0);
        assert_int_equal(slot.seq, 2);
        tu_fill(&slot, slot.seq);
        assert_int_equal(fbus_writer_publish(w, &slot, NULL), 0);
        assert_int_equal(atomic_load(&h->cursor), FBUS__CURSOR(2, slot.index));
        d = desc_of(&reg, slot.index);
        assert_int_equal(atomic_load(&d->lock), 4);
        assert_memory_equal(&d->format, &small, sizeof(small));
        assert_int_equal(d->pts, INT64_MIN);
        assert_int_equal(h->session, session);
        assert_int_equal(h->total_size, total);
        assert_int_equal(atomic_load(&h->state), FBUS__STATE_LIVE);
        tu_region_unmap(&reg);
        fbus_writer_close(w);
    }
}

static void test_reader_entry(void **state)
{
    struct ctx *c = *state;
    fbus_format fmt;

    assert_int_equal(fbus_format_init(&fmt, "gray", 64, 64, 0), 0);
    for (int t = 0; t < 2; t++) {
        fbus_writer *w = open_writer(c->name, tu_transports[t], 3, 0, &fmt, 0);
        fbus_reader_opts ro = {.transport = tu_transports[t], .policy = FBUS_POLICY_LOSSLESS};
        fbus_reader *r = NULL, *obs = NULL;
        struct fbus__reader_entry *e;
        fbus_frame fr;
        tu_region reg;
        uint64_t cursor;

        assert_int_equal(tu_region_map(c->name, tu_transports[t], &reg), 0);
        assert_null(only_entry(&reg));
        assert_int_equal(fbus_reader_open(c->name, &ro, &r), 0);
        e = only_entry(&reg);
        assert_non_null(e);
        assert_int_equal(FBUS__ENTRY_KIND(atomic_load(&e->state)), FBUS__ENTRY_ACTIVE);
        assert_int_equal(FBUS__ENTRY_GEN(atomic_load(&e->state)), 1);
        assert_int_equal(e->policy, FBUS_POLICY_LOSSLESS);
        {
            /* A lossless reader registers with its reservation's token, and
             * the reservation is a file under the bus's name. */
            char path[256];
            snprintf(path, sizeof(path), "/dev/shm/framebus-rsv.%s.%c.%016llx", c->name,
                     tu_transports[t] == FBUS_TRANSPORT_POSIX ? 'p' : 's',
                     (unsigned long long)atomic_load(&e->token));
            assert_true(atomic_load(&e->token) != 0);
            assert_int_equal(access(path, F_OK), 0);
        }
        assert_int_equal(e->pid, getpid());
        assert_int_equal(e->uid, geteuid());
        assert_int_equal(e->session, hdr_of(&reg)->session);
        assert_int_equal(atomic_load(&e->pin), 0);

        assert_int_equal(tu_publish(w, &fmt, TU_SEC, NULL), 0);
        cursor = atomic_load(&hdr_of(&reg)->cursor);
        assert_int_equal(fbus_reader_acquire(r, TU_SEC, &fr), 0);
        assert_int_equal(atomic_load(&e->pin), cursor);
        assert_int_equal(fbus_reader_release(r, &fr), 0);
        assert_int_equal(atomic_load(&e->pin), 0);
        assert_int_equal(atomic_load(&e->consumed), 1);
        assert_int_equal(atomic_load(&e->frames), 1);
        assert_int_equal(atomic_load(&e->overruns), 0);

        /* An observer takes no entry. */
        ro.policy = FBUS_POLICY_LATEST;
        ro.flags = FBUS_READER_OBSERVER;
        assert_int_equal(fbus_reader_open(c->name, &ro, &obs), 0);
        assert_true(only_entry(&reg) == e);
        fbus_reader_close(obs);

        fbus_reader_close(r);
        assert_int_equal(FBUS__ENTRY_KIND(atomic_load(&e->state)), FBUS__ENTRY_FREE);
        tu_region_unmap(&reg);
        fbus_writer_close(w);
    }
}

static void test_slot_sizes(void **state)
{
    struct ctx *c = *state;

    for (int t = 0; t < 2; t++) {
        fbus_writer *w;
        tu_region reg;

        /* Defaults: 3 slots of 8 MiB. */
        w = open_writer(c->name, tu_transports[t], 0, 0, NULL, 0);
        assert_int_equal(tu_region_map(c->name, tu_transports[t], &reg), 0);
        assert_int_equal(hdr_of(&reg)->slot_count, FBUS_DEFAULT_SLOTS);
        assert_true(hdr_of(&reg)->slot_capacity >= (8u << 20));
        assert_true(hdr_of(&reg)->slot_capacity < (8u << 20) + FBUS__PAGE);
        assert_int_equal(hdr_of(&reg)->mode & 0777, 0600);
        tu_region_unmap(&reg);
        fbus_writer_close(w);

        /* An explicit slot size. */
        w = open_writer(c->name, tu_transports[t], 2, 100000, NULL, 0);
        assert_int_equal(tu_region_map(c->name, tu_transports[t], &reg), 0);
        assert_int_equal(hdr_of(&reg)->slot_count, 2);
        assert_true(hdr_of(&reg)->slot_capacity >= 100000);
        assert_true(hdr_of(&reg)->slot_capacity < 100000 + FBUS__PAGE);
        tu_region_unmap(&reg);
        fbus_writer_close(w);
    }
}

static void on_segv(int sig)
{
    (void)sig;
    _exit(55);
}

static int child_scribble(void *arg)
{
    const char *name = arg;
    fbus_reader_opts ro = {.transport = FBUS_TRANSPORT_POSIX};
    fbus_reader *r = NULL;
    fbus_frame fr;
    struct sigaction sa;

    if (fbus_reader_open(name, &ro, &r) != 0)
        return 2;
    if (fbus_reader_acquire(r, 2 * TU_SEC, &fr) != 0)
        return 3;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_segv;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    *(volatile uint8_t *)fr.data[0] = 0x42;
    return 77; /* the write went through */
}

static void test_payload_read_only(void **state)
{
    struct ctx *c = *state;
    fbus_format fmt;
    fbus_writer *w;
    int rc;

    assert_int_equal(fbus_format_init(&fmt, "gray", 64, 64, 0), 0);
    w = open_writer(c->name, FBUS_TRANSPORT_POSIX, 3, 0, &fmt, 0);
    assert_int_equal(tu_publish(w, &fmt, TU_SEC, NULL), 0);
    rc = tu_wait(tu_fork(child_scribble, c->name, 10), 15000);
    if (rc == 77)
        fail_msg("a posix reader could write into a payload");
    assert_true(rc == 55 || rc == 128 + SIGSEGV || rc == 128 + SIGBUS || rc == 1);
    fbus_writer_close(w);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geometry),
        T(test_header),
        T(test_publish_bytes),
        T(test_reader_entry),
        T(test_slot_sizes),
        T(test_payload_read_only),
    };
#undef T

    /* FBUS_TEST_FILTER=test_name runs one test (cmocka pattern). */
    if (getenv("FBUS_TEST_FILTER"))
        cmocka_set_test_filter(getenv("FBUS_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
