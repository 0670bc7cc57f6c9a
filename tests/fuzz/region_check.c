/* SPDX-License-Identifier: MIT */
/*
 * Frame bounds checks against /proc/self/maps; see region_check.h.
 */
#include "region_check.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int rc_locate(const void *p, uint64_t len, uint64_t ino, uint64_t *offset)
{
    FILE *f = fopen("/proc/self/maps", "re");
    char line[512];
    uintptr_t a = (uintptr_t)p;
    int found = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        uintptr_t lo, hi;
        uint64_t off, inode;
        unsigned dmaj, dmin;
        char perms[8];

        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %" SCNx64 " %x:%x %" SCNu64, &lo, &hi,
                   perms, &off, &dmaj, &dmin, &inode) != 7)
            continue;
        if (inode != ino || a < lo || a >= hi)
            continue;
        if (!strstr(line, "/dev/shm/") && !strstr(line, "SYSV"))
            continue;
        if (len > hi - a)
            break; /* starts here but runs past the end of this mapping */
        *offset = off + (a - lo);
        found = 0;
        break;
    }
    fclose(f);
    return found;
}

const char *rc_check_frame(const fbus_frame *f, uint64_t ino, const rc_geom *g)
{
    const fbus_format *fmt = &f->format;
    volatile uint8_t sink = 0;

    if (fmt->nb_planes == 0 || fmt->nb_planes > FBUS_MAX_PLANES)
        return "plane count out of range";
    for (uint32_t p = 0; p < fmt->nb_planes; p++) {
        const fbus_plane *pl = &fmt->planes[p];
        uint64_t extent, off, slot, end;

        if (!f->data[p])
            return "plane pointer is NULL";
        if (pl->rows == 0 || pl->row_bytes == 0 || pl->row_bytes > pl->stride)
            return "plane with no rows, no bytes or row wider than stride";
        extent = (uint64_t)pl->stride * (pl->rows - 1) + pl->row_bytes;
        if (rc_locate(f->data[p], extent, ino, &off) < 0)
            return "plane is not inside one mapping of the bus object";
        if (off < g->payload_offset || off + extent > g->object_size)
            return "plane is outside the payload area of the object";
        slot = (off - g->payload_offset) / g->payload_stride;
        if (slot >= g->slot_count)
            return "plane is past the last slot";
        end = off + extent - (g->payload_offset + slot * g->payload_stride);
        if (end > g->slot_capacity)
            return "plane runs past the end of its slot";
        for (uint32_t r = 0; r < pl->rows; r++) {
            const uint8_t *row = f->data[p] + (size_t)r * pl->stride;
            for (uint32_t b = 0; b < pl->row_bytes; b += 64)
                sink ^= row[b];
            sink ^= row[pl->row_bytes - 1];
        }
    }
    (void)sink;
    return NULL;
}
