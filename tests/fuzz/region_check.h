/* SPDX-License-Identifier: MIT */
/*
 * Bounds checks for frames handed out by a reader, against what the kernel
 * says is mapped (/proc/self/maps) rather than what the library believes:
 * used by the region fuzz target and the hostile-region test to prove that no
 * plane pointer reaches outside its slot or its mapping.
 */
#ifndef FBUS_TESTS_REGION_CHECK_H
#define FBUS_TESTS_REGION_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "framebus/framebus.h"

/* The geometry a frame is checked against (from a header the test trusts). */
typedef struct rc_geom {
    uint64_t object_size;    /* bytes of the shared object */
    uint64_t payload_offset; /* first payload */
    uint64_t payload_stride; /* bytes from one payload to the next */
    uint64_t slot_capacity;  /* usable bytes per slot */
    uint32_t slot_count;
} rc_geom;

/*
 * Find the mapping of this process that holds [p, p + len) entirely and that
 * maps a shared object with inode `ino` (a /dev/shm file for posix, a SysV
 * segment, whose inode is its shmid). On success stores the offset of p
 * within the object and returns 0; returns -1 if no single mapping holds it.
 */
int rc_locate(const void *p, uint64_t len, uint64_t ino, uint64_t *offset);

/*
 * Check every plane of f: it lies in one mapping of object `ino`, inside the
 * payload of one slot (slot < slot_count, plane end <= slot capacity), and
 * then read every byte of it. Returns NULL when the frame is sound, else a
 * static sentence naming what is wrong.
 */
const char *rc_check_frame(const fbus_frame *f, uint64_t ino, const rc_geom *g);

#endif /* FBUS_TESTS_REGION_CHECK_H */
