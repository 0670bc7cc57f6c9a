/* SPDX-License-Identifier: MIT */
/*
 * A region's life outside the protocol: computing its geometry, creating and
 * initialising it, attaching to it with validation, and the protection that
 * keeps readers from writing into frames.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static uint64_t page_up(uint64_t v)
{
    return (v + FBUS__PAGE - 1) & ~(uint64_t)(FBUS__PAGE - 1);
}

/* Regions above this are refused before any arithmetic can overflow. */
#define MAX_CAPACITY (UINT64_C(1) << 36)

int fbus__geometry(uint32_t slots, uint32_t readers, uint64_t capacity, struct fbus__geometry *g)
{
    uint64_t payloads;

    if (slots < 1 || slots > FBUS_MAX_SLOTS || readers < 1 || readers > FBUS_MAX_READERS ||
        capacity == 0 || capacity > MAX_CAPACITY)
        return FBUS_ETOOBIG;
    g->readers_offset = sizeof(struct fbus__header);
    g->control_size =
        page_up(g->readers_offset + (uint64_t)readers * sizeof(struct fbus__reader_entry));
    g->slots_offset = g->control_size;
    g->payload_offset = page_up(g->slots_offset + (uint64_t)slots * FBUS__DESC_STRIDE);
    g->payload_stride = page_up(capacity);
    if (__builtin_mul_overflow(g->payload_stride, (uint64_t)slots, &payloads) ||
        __builtin_add_overflow(g->payload_offset, payloads, &g->total_size))
        return FBUS_ETOOBIG;
    return 0;
}

/*
 * A SysV mapping gets no fault-around: the first read of each 4 KiB page is
 * its own page fault (~24 us in a VM), so a reader's first 4K frame cost
 * 3,000 faults and a slot's first write as many. MADV_POPULATE_READ/WRITE
 * (Linux 5.14) fills the page tables in one call, 6x faster on SysV here;
 * on older kernels it fails with EINVAL and the faults happen as before.
 */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

int fbus__slot_map_in(struct fbus__region *rg, uint32_t i, uint64_t bytes, int write)
{
    if (i >= rg->slot_count || bytes <= rg->mapped_in[i])
        return 0;
    if (bytes > rg->slot_capacity)
        bytes = rg->slot_capacity;
    /* Payloads are page aligned (fbus__geometry, checked by validation). */
    if (madvise(fbus__payload(rg, i), page_up(bytes),
                write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) < 0) {
        /* EFAULT: touching these pages would raise SIGBUS. */
        if (errno == EFAULT)
            return FBUS_EBADREGION;
        /* Anything else (EINVAL on old kernels, EINTR, ENOMEM): leave it to
         * page faults, and do not try again for this slot. */
        bytes = rg->slot_capacity;
    }
    rg->mapped_in[i] = bytes;
    return 0;
}

static void fill_region(struct fbus__region *rg, const struct fbus__header *h)
{
    rg->hdr = (struct fbus__header *)rg->map.base;
    rg->readers = (struct fbus__reader_entry *)(rg->map.base + h->readers_offset);
    rg->descs = (struct fbus__slot_desc *)(rg->map.base + h->slots_offset);
    rg->payload = rg->map.base + h->payload_offset;
    rg->slot_count = h->slot_count;
    rg->reader_count = h->reader_count;
    rg->slot_capacity = h->slot_capacity;
    rg->payload_stride = h->payload_stride;
    rg->session = h->session;
    rg->created_ns = h->created_ns;
    rg->producer_pid = h->producer_pid;
    rg->producer_start = h->producer_start;
}

int fbus__region_create(const char *name, fbus_transport t, uint32_t slots, uint64_t capacity,
                        uint32_t mode, struct fbus__region *rg)
{
    struct fbus__geometry g;
    struct fbus__header h;
    int err;

    memset(rg, 0, sizeof(*rg));
    rg->map.fd = -1;
    rg->map.guard = -1;
    rg->map.lockfd = -1;
    rg->map.shmid = -1;
    rg->tp = fbus__transport_get(t);
    if (!rg->tp)
        return -EINVAL;
    err = fbus__geometry(slots, FBUS_MAX_READERS, capacity, &g);
    if (err < 0)
        return err;
    /* The transport takes the producer's lock on the new object at once:
     * it is held for the region's life, so it is never taken for dead
     * (nor swept, while it has no name yet) while its producer lives. */
    err = rg->tp->create(g.total_size, mode, &rg->map);
    if (err < 0)
        return err;

    memset(&h, 0, sizeof(h));
    h.version = FBUS__LAYOUT_VERSION;
    h.header_size = sizeof(struct fbus__header);
    h.total_size = g.total_size;
    h.slot_count = slots;
    h.reader_count = FBUS_MAX_READERS;
    h.slot_capacity = capacity;
    h.readers_offset = g.readers_offset;
    h.slots_offset = g.slots_offset;
    h.payload_offset = g.payload_offset;
    h.payload_stride = g.payload_stride;
    h.control_size = g.control_size;
    h.producer_pid = getpid();
    h.producer_uid = geteuid();
    h.producer_start = fbus__proc_start(getpid());
    h.session = fbus__random64();
    h.mode = mode;
    h.transport = (uint32_t)t;
    h.created_ns = fbus__realtime_ns();
    strncpy(h.name, name, sizeof(h.name) - 1);

    /* The object is new and zero-filled: atomics start at 0, which is what
     * every counter, cursor and futex word wants. Copy the identity, then
     * make it visible with the magic last. */
    memcpy(rg->map.base + sizeof(uint64_t), (uint8_t *)&h + sizeof(uint64_t),
           offsetof(struct fbus__header, cursor) - sizeof(uint64_t));
    fill_region(rg, &h);
    atomic_store_explicit(&rg->hdr->heartbeat_ns, fbus_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&rg->hdr->state, FBUS__STATE_LIVE, memory_order_relaxed);
    atomic_store_explicit((_Atomic uint64_t *)rg->map.base, FBUS__MAGIC, memory_order_release);
    return 0;
}

int fbus__region_attach(const char *name, fbus_transport t, int want_write, struct fbus__region *rg)
{
    struct fbus__header h;
    int err;

    memset(rg, 0, sizeof(*rg));
    rg->map.fd = -1;
    rg->map.guard = -1;
    rg->map.lockfd = -1;
    rg->map.shmid = -1;
    rg->tp = fbus__transport_get(t);
    if (!rg->tp)
        return -EINVAL;
    err = rg->tp->open(name, want_write, &rg->map);
    if (err < 0)
        return err;
    /* Validate a private copy: the shared bytes may change under us. The
     * magic is read with acquire so the rest of the identity is complete. */
    h.magic = atomic_load_explicit((_Atomic uint64_t *)rg->map.base, memory_order_acquire);
    memcpy((uint8_t *)&h + sizeof(uint64_t), rg->map.base + sizeof(uint64_t),
           offsetof(struct fbus__header, cursor) - sizeof(uint64_t));
    err = fbus__validate_header(&h, rg->map.size, name);
    if (err < 0)
        goto fail;
    fill_region(rg, &h);
    /* Readers write only the control part (header words, their own entry);
     * frames and descriptors become read-only so a buggy reader cannot
     * scribble on what others see. */
    if (rg->map.writable &&
        mprotect(rg->map.base + h.control_size, rg->map.size - h.control_size, PROT_READ) < 0) {
        err = -errno;
        goto fail;
    }
    return 0;

fail:
    rg->tp->close(&rg->map);
    return err;
}

#define TEMP_GRACE_NS (2 * 1000000000LL)

void fbus__sweep_temp(void)
{
    DIR *d = opendir(FBUS__SHM_DIR);
    struct dirent *de;
    size_t plen = strlen(FBUS__TEMP_PREFIX);

    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        char path[sizeof(FBUS__SHM_DIR) + sizeof(de->d_name)];
        const char *n = de->d_name;
        size_t len = strlen(n);
        struct stat st;
        long pid;
        int fd, held;

        if (strncmp(n, FBUS__TEMP_PREFIX, plen) != 0)
            continue;
        pid = strtol(n + plen, NULL, 10);
        if (pid <= 0)
            continue;
        snprintf(path, sizeof(path), FBUS__SHM_DIR "/%s", n);
        if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
            continue;
        /* Its maker holds byte 0 while it lives, in whatever pid namespace,
         * taken right after creating it: a file whose lock is free and that
         * is older than a moment has no maker any more. The pid in the name
         * is asked only if the lock cannot be tested. */
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        held = fbus__lock_held(fd, FBUS__LOCK_PRODUCER);
        if (fd >= 0)
            close(fd);
        if (held > 0 || (held < 0 && (pid == (long)getpid() || fbus__pid_alive((pid_t)pid, 0))))
            continue;
        if (fbus__age_ns(fbus__realtime_ns(), (int64_t)st.st_ctim.tv_sec * 1000000000LL +
                                                  st.st_ctim.tv_nsec) < TEMP_GRACE_NS)
            continue;
        if (len > 5 && strcmp(n + len - 5, ".sysv") == 0) {
            key_t key = ftok(path, 'F');
            int id = key == (key_t)-1 ? -1 : shmget(key, 0, 0);
            struct shmid_ds ds;
            if (id >= 0 && shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_perm.uid == geteuid())
                shmctl(id, IPC_RMID, NULL);
        }
        unlink(path);
    }
    closedir(d);
}

void fbus__region_detach(struct fbus__region *rg)
{
    if (rg->tp && rg->map.base)
        rg->tp->close(&rg->map);
    rg->hdr = NULL;
}
