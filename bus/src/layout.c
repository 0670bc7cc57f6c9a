/* SPDX-License-Identifier: MIT */
/*
 * The layout's arithmetic and its checks together: where everything of a
 * region lies (fbus__geometry), and the attach-time validation that checks a
 * region's header field by field against that and the mapping's size before
 * any offset in it is used. Frames are checked one by one with
 * fbus_format_check() when they are acquired.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

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
        fbus__page_up(g->readers_offset + (uint64_t)readers * sizeof(struct fbus__reader_entry));
    g->slots_offset = g->control_size;
    g->payload_offset = fbus__page_up(g->slots_offset + (uint64_t)slots * FBUS__DESC_STRIDE);
    g->payload_stride = fbus__page_up(capacity);
    if (__builtin_mul_overflow(g->payload_stride, (uint64_t)slots, &payloads) ||
        __builtin_add_overflow(g->payload_offset, payloads, &g->total_size))
        return FBUS_ETOOBIG;
    return 0;
}

int fbus__validate_header(const struct fbus__header *h, uint64_t map_size, const char *name)
{
    struct fbus__geometry g;

    if (h->magic == 0)
        return -EAGAIN; /* being created: the magic is stored last */
    if (h->magic != FBUS__MAGIC)
        return FBUS_EBADREGION;
    if (h->version != FBUS__LAYOUT_VERSION)
        return FBUS_EVERSION;
    if (h->header_size != sizeof(struct fbus__header))
        return FBUS_EBADREGION;
    /* Recompute every offset from the three numbers that define them; any
     * disagreement means the region was not made by this layout. */
    if (fbus__geometry(h->slot_count, h->reader_count, h->slot_capacity, &g) < 0)
        return FBUS_EBADREGION;
    if (h->slot_count < 2 || h->readers_offset != g.readers_offset ||
        h->slots_offset != g.slots_offset || h->payload_offset != g.payload_offset ||
        h->payload_stride != g.payload_stride || h->control_size != g.control_size ||
        h->total_size != g.total_size || h->total_size > map_size)
        return FBUS_EBADREGION;
    if (strnlen(h->name, sizeof(h->name)) == sizeof(h->name))
        return FBUS_EBADREGION;
    if (name && strcmp(h->name, name) != 0)
        return FBUS_EBADREGION;
    return 0;
}
