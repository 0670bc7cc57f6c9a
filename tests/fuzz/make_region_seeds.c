/* SPDX-License-Identifier: MIT */
/*
 * Writes the seed corpus of fuzz_region: the bytes real writers lay down
 * (several formats, slot counts, both transports, with and without reader
 * entries), each prefixed with the flag byte fuzz_region.c reads.
 * Usage: fuzz_region_seeds DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

enum { /* as in fuzz_region.c */
       FZ_KEEP_LIVENESS = 0x02,
       FZ_FIX_GEOMETRY = 0x04,
       FZ_OBSERVER = 0x08,
       FZ_LOSSLESS = 0x10,
       FZ_SHORT = 0x20,
       FZ_SYSV = 0x40,
       FZ_READERS = 0x80,
};

static const char *dir;
static int written;

static int save(const char *file, uint8_t flags, const uint8_t *base, uint32_t slots)
{
    const struct fbus__header *h = (const void *)base;
    char path[4096];
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    f = fopen(path, "wb");
    if (!f)
        return -1;
    ok = fwrite(&flags, 1, 1, f) == 1 && fwrite(base, sizeof(*h), 1, f) == 1;
    if (flags & FZ_READERS)
        ok = ok && fwrite(base + h->readers_offset, 1024, 1, f) == 1;
    ok = ok && fwrite(base + h->slots_offset, FBUS__DESC_STRIDE, slots, f) == slots;
    ok = fclose(f) == 0 && ok;
    written += ok;
    return ok ? 0 : -1;
}

/* A bus with `frames` frames of pix_fmt w x h published, then the seeds. */
static int seeds_for(const char *tag, fbus_transport t, const char *pix_fmt, uint32_t w,
                     uint32_t hgt, uint32_t slots, int frames, int with_reader)
{
    char name[FBUS_NAME_MAX + 1], file[128];
    fbus_writer_opts wo = {0};
    fbus_reader_opts ro = {0};
    fbus_writer *wr = NULL;
    fbus_reader *rd = NULL;
    fbus_format fmt;
    tu_region reg;
    uint8_t sysv = t == FBUS_TRANSPORT_SYSV ? FZ_SYSV : 0;
    int rc = -1;

    tu_bus_name(name, sizeof(name), "seed");
    if (fbus_format_init(&fmt, pix_fmt, w, hgt, 0) != 0)
        return -1;
    wo.transport = t;
    wo.slots = slots;
    wo.format = &fmt;
    wo.flags = FBUS_WRITER_NO_THREAD;
    if (fbus_writer_open(name, &wo, &wr) != 0)
        return -1;
    ro.transport = t;
    ro.policy = FBUS_POLICY_LATEST; /* lossless would hold the writer back */
    if (with_reader && fbus_reader_open(name, &ro, &rd) != 0)
        goto out;
    for (int i = 0; i < frames; i++)
        if (tu_publish(wr, &fmt, 0, NULL) != 0)
            goto out;
    if (tu_region_map(name, t, &reg) != 0)
        goto out;
    snprintf(file, sizeof(file), "%s-latest", tag);
    rc = save(file, sysv | (with_reader ? FZ_READERS : 0), reg.base, slots);
    snprintf(file, sizeof(file), "%s-lossless", tag);
    rc |= save(file, sysv | FZ_LOSSLESS, reg.base, slots);
    snprintf(file, sizeof(file), "%s-observer", tag);
    rc |= save(file, sysv | FZ_OBSERVER, reg.base, slots);
    tu_region_unmap(&reg);
out:
    fbus_reader_close(rd);
    fbus_writer_close(wr);
    tu_bus_cleanup(name);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_region_seeds DIR\n");
        return 2;
    }
    dir = argv[1];
    rc |= seeds_for("gray-3slots", FBUS_TRANSPORT_POSIX, "gray", 64, 48, 3, 2, 0);
    rc |= seeds_for("yuv420p-2slots", FBUS_TRANSPORT_POSIX, "yuv420p", 32, 16, 2, 5, 1);
    rc |= seeds_for("nv12-8slots", FBUS_TRANSPORT_POSIX, "nv12", 16, 16, 8, 11, 0);
    rc |= seeds_for("rgba-empty", FBUS_TRANSPORT_POSIX, "rgba", 8, 8, 3, 0, 0);
    rc |= seeds_for("sysv-yuyv422", FBUS_TRANSPORT_SYSV, "yuyv422", 32, 8, 3, 4, 1);

    /* Variants: a dead producer, an object shorter than its header says,
     * offsets that only the geometry fixup makes right. */
    {
        char name[FBUS_NAME_MAX + 1];
        fbus_writer_opts wo = {0};
        fbus_writer *wr = NULL;
        fbus_format fmt;
        tu_region reg;

        tu_bus_name(name, sizeof(name), "seed");
        fbus_format_init(&fmt, "gray", 16, 16, 0);
        wo.format = &fmt;
        wo.flags = FBUS_WRITER_NO_THREAD;
        if (fbus_writer_open(name, &wo, &wr) == 0 && tu_publish(wr, &fmt, 0, NULL) == 0 &&
            tu_region_map(name, FBUS_TRANSPORT_POSIX, &reg) == 0) {
            struct fbus__header *h = (void *)reg.base;
            rc |= save("gray-dead-producer", FZ_KEEP_LIVENESS, reg.base, 3);
            rc |= save("gray-short-object", FZ_SHORT, reg.base, 3);
            h->payload_offset += 4096;
            h->total_size += 4096;
            rc |= save("gray-fixed-geometry", FZ_FIX_GEOMETRY, reg.base, 3);
            tu_region_unmap(&reg);
        } else {
            rc = -1;
        }
        fbus_writer_close(wr);
        tu_bus_cleanup(name);
    }
    printf("%d seeds written to %s\n", written, dir);
    return rc ? 1 : 0;
}
