/* SPDX-License-Identifier: MIT */
/*
 * A region's life outside the protocol: computing its geometry, creating and
 * initialising it, attaching to it with validation, and the protection that
 * keeps readers from writing into frames.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

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
    if (madvise(fbus__payload(rg, i), fbus__page_up(bytes),
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

/* An empty handle for transport t: NULL if there is no such transport. */
static const struct fbus__transport *region_init(struct fbus__region *rg, fbus_transport t)
{
    memset(rg, 0, sizeof(*rg));
    rg->map.fd = -1;
    rg->map.guard = -1;
    rg->map.lockfd = -1;
    rg->map.shmid = -1;
    rg->tp = fbus__transport_get(t);
    return rg->tp;
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
    rg->features = h->features;
    rg->producer_pid = h->producer_pid;
    rg->producer_start = h->producer_start;
}

int fbus__region_create(const char *name, fbus_transport t, uint32_t slots, uint64_t capacity,
                        uint32_t mode, struct fbus__region *rg)
{
    struct fbus__geometry g;
    struct fbus__header h;
    int err;

    if (!region_init(rg, t))
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
    h.features = FBUS__FEAT_HEADS_UP;
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

    if (!region_init(rg, t))
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

void fbus__region_detach(struct fbus__region *rg)
{
    if (rg->tp && rg->map.base)
        rg->tp->close(&rg->map);
    rg->hdr = NULL;
}
