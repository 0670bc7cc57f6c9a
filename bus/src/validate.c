/* SPDX-License-Identifier: MIT */
/*
 * Attach-time validation: a region's header is checked field by field against
 * the size of the mapping before any offset in it is used. Frames are checked
 * one by one with fbus_format_check() when they are acquired.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

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
