/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the reader's attach and per-frame validation: the input
 * becomes the bytes of a real shared object (posix or SysV), a reader attaches
 * to it through the public API, takes a few frames and releases them, and
 * fbus_stat reads it. Every frame handed out is checked against what the
 * kernel has mapped (region_check.c); any plane outside its slot aborts.
 *
 * Input: byte 0 holds FZ_* flags, then up to 448 bytes of header, then
 * (with FZ_READERS) 1024 bytes for the first 8 reader entries, then the slot
 * descriptors, written where the header says they are. Fixups (unless turned
 * off by a flag) give the header this process's name, a live heartbeat and
 * producer, so that random bytes reach the per-frame path at all.
 */
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
#include "region_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    FZ_KEEP_NAME = 0x01,     /* leave the header's name as given */
    FZ_KEEP_LIVENESS = 0x02, /* leave heartbeat, producer and state as given */
    FZ_FIX_GEOMETRY = 0x04,  /* magic, version and offsets made consistent */
    FZ_OBSERVER = 0x08,      /* attach as an observer */
    FZ_LOSSLESS = 0x10,      /* lossless policy */
    FZ_SHORT = 0x20,         /* object one page shorter than the header says */
    FZ_SYSV = 0x40,          /* SysV transport */
    FZ_READERS = 0x80,       /* 1024 bytes of reader table follow the header */
};

#define HDR_BYTES     sizeof(struct fbus__header)
#define READER_BYTES  1024u
#define MAX_OBJECT    (UINT64_C(16) << 20) /* larger claims get a small object */
#define SMALL_OBJECT  (UINT64_C(64) << 10)
#define ACQUIRE_TRIES 4

/* A shared object made from the input, under `name`. */
struct object {
    fbus_transport transport;
    uint8_t *base;
    uint64_t size;
    uint64_t ino;
    int shmid;
    char keyfile[128];
};

static char bus_name[FBUS_NAME_MAX + 1];

static int make_posix(struct object *o)
{
    char path[FBUS_NAME_MAX + 16];
    struct stat st;
    int fd;

    snprintf(path, sizeof(path), "/framebus.%s", bus_name);
    shm_unlink(path);
    fd = shm_open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)o->size) < 0 || fstat(fd, &st) < 0) {
        close(fd);
        shm_unlink(path);
        return -1;
    }
    o->base = mmap(NULL, o->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (o->base == MAP_FAILED) {
        o->base = NULL;
        shm_unlink(path);
        return -1;
    }
    o->ino = (uint64_t)st.st_ino;
    return 0;
}

static int make_sysv(struct object *o)
{
    key_t key;
    int fd;

    snprintf(o->keyfile, sizeof(o->keyfile), "/dev/shm/framebus-sysv.%s", bus_name);
    unlink(o->keyfile);
    fd = open(o->keyfile, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    close(fd);
    key = ftok(o->keyfile, 'F');
    o->shmid = key == (key_t)-1 ? -1 : shmget(key, o->size, IPC_CREAT | IPC_EXCL | 0600);
    if (o->shmid < 0) {
        unlink(o->keyfile);
        return -1;
    }
    o->base = shmat(o->shmid, NULL, 0);
    if (o->base == (void *)-1) {
        o->base = NULL;
        shmctl(o->shmid, IPC_RMID, NULL);
        unlink(o->keyfile);
        return -1;
    }
    o->ino = (uint64_t)o->shmid;
    return 0;
}

static void destroy(struct object *o)
{
    char path[FBUS_NAME_MAX + 16];

    if (o->transport == FBUS_TRANSPORT_SYSV) {
        if (o->base)
            shmdt(o->base);
        shmctl(o->shmid, IPC_RMID, NULL);
        unlink(o->keyfile);
    } else {
        if (o->base)
            munmap(o->base, o->size);
        snprintf(path, sizeof(path), "/framebus.%s", bus_name);
        shm_unlink(path);
    }
}

/* Make the header say what a live producer of this bus would say. */
static void fix_header(struct fbus__header *h, unsigned flags)
{
    if (flags & FZ_FIX_GEOMETRY) {
        struct fbus__geometry g;

        h->magic = FBUS__MAGIC;
        h->version = FBUS__LAYOUT_VERSION;
        h->header_size = sizeof(struct fbus__header);
        if (fbus__geometry(h->slot_count, h->reader_count, h->slot_capacity, &g) == 0) {
            h->readers_offset = g.readers_offset;
            h->slots_offset = g.slots_offset;
            h->payload_offset = g.payload_offset;
            h->payload_stride = g.payload_stride;
            h->control_size = g.control_size;
            h->total_size = g.total_size;
        }
    }
    if (!(flags & FZ_KEEP_NAME)) {
        memset(h->name, 0, sizeof(h->name));
        strcpy(h->name, bus_name);
    }
    if (!(flags & FZ_KEEP_LIVENESS)) {
        atomic_store(&h->heartbeat_ns, fbus_now_ns());
        atomic_store(&h->state, FBUS__STATE_LIVE);
        h->producer_pid = getpid();
        h->producer_start = fbus__proc_start(getpid());
    }
}

/* Read the frames a reader gets and check each one. */
static int read_frames(fbus_reader *r, const struct object *o, const struct fbus__header *h)
{
    rc_geom g = {o->size, h->payload_offset, h->payload_stride, h->slot_capacity, h->slot_count};
    uint64_t last = 0;
    int got = 0;

    for (int i = 0; i < ACQUIRE_TRIES; i++) {
        fbus_frame f;
        const char *why;
        /* Poll, or wait a microsecond (the futex path). */
        int rc = fbus_reader_acquire(r, i % 2 ? 1000 : 0, &f);

        if (rc != 0) {
            if (rc > 0 || fbus_strerror(rc) == NULL)
                abort();
            continue;
        }
        why = rc_check_frame(&f, o->ino, &g);
        if (why) {
            fprintf(stderr, "fuzz_region: frame %llu: %s\n", (unsigned long long)f.seq, why);
            abort();
        }
        /* The sequence never goes back, and only the first is "new". */
        if (f.seq == 0 || f.seq <= last || (last && (f.flags & FBUS_FRAME_NEW_SESSION))) {
            fprintf(stderr, "fuzz_region: bad sequence %llu after %llu\n",
                    (unsigned long long)f.seq, (unsigned long long)last);
            abort();
        }
        last = f.seq;
        got++;
        rc = fbus_reader_release(r, &f);
        if (rc != 0 && rc != FBUS_EOVERRUN)
            abort();
    }
    return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fbus__header h;
    struct object o;
    const uint8_t *rest;
    size_t nrest, nhdr;
    unsigned flags;
    fbus_reader_opts ro = {0};
    fbus_reader *r = NULL;
    fbus_stats *st;
    int open_rc = 0, stat_rc, frames = 0;
    uint32_t given_state;

    if (size < 1)
        return 0;
    if (!bus_name[0])
        snprintf(bus_name, sizeof(bus_name), "fuzz-%d", (int)getpid());
    flags = data[0];
    data++;
    size--;

    memset(&h, 0, sizeof(h));
    nhdr = size < HDR_BYTES ? size : HDR_BYTES;
    memcpy(&h, data, nhdr);
    rest = data + nhdr;
    nrest = size - nhdr;
    given_state = atomic_load(&h.state);
    fix_header(&h, flags);

    memset(&o, 0, sizeof(o));
    o.shmid = -1;
    o.transport = (flags & FZ_SYSV) ? FBUS_TRANSPORT_SYSV : FBUS_TRANSPORT_POSIX;
    o.size = h.total_size >= HDR_BYTES && h.total_size <= MAX_OBJECT ? h.total_size : SMALL_OBJECT;
    if ((flags & FZ_SHORT) && o.size > FBUS__PAGE)
        o.size -= FBUS__PAGE;
    if ((o.transport == FBUS_TRANSPORT_SYSV ? make_sysv(&o) : make_posix(&o)) < 0) {
        destroy(&o);
        return 0;
    }

    memcpy(o.base, &h, HDR_BYTES);
    if ((flags & FZ_READERS) && nrest) {
        size_t n = nrest < READER_BYTES ? nrest : READER_BYTES;
        memcpy(o.base + HDR_BYTES, rest, n);
        rest += n;
        nrest -= n;
    }
    if (nrest && h.slots_offset >= HDR_BYTES && h.slots_offset < o.size) {
        size_t n = o.size - h.slots_offset < nrest ? (size_t)(o.size - h.slots_offset) : nrest;
        memcpy(o.base + h.slots_offset, rest, n);
    }

    /* A zero magic means "being created": attach would wait 200 ms for it,
     * which is only slow, so leave that to fbus_stat (which does not wait). */
    if (h.magic != 0) {
        ro.transport = o.transport;
        ro.policy = (flags & FZ_LOSSLESS) ? FBUS_POLICY_LOSSLESS : FBUS_POLICY_LATEST;
        ro.flags = (flags & FZ_OBSERVER) ? FBUS_READER_OBSERVER : 0;
        open_rc = fbus_reader_open(bus_name, &ro, &r);
        if (open_rc == 0 && !r)
            abort();
        /* Once attached, the state word is the input's again: ended,
         * replaced or garbage, as the reader finds out while it waits. */
        if (open_rc == 0)
            atomic_store(&((struct fbus__header *)o.base)->state, given_state);
        if (open_rc == 0)
            frames = read_frames(r, &o, &h);
        fbus_reader_close(r);
    }

    st = malloc(sizeof(*st));
    if (st) {
        stat_rc = fbus_stat(bus_name, o.transport, st);
        if (stat_rc == 0 && (st->nb_readers > FBUS_MAX_READERS ||
                             (st->format.nb_planes != 0 && fbus_format_check(&st->format, 0) != 0)))
            abort();
        free(st);
        /* FUZZ_VERBOSE=1 shows how far each input got. */
        if (getenv("FUZZ_VERBOSE"))
            fprintf(stderr, "fuzz_region: open %s, %d frames, stat %s\n",
                    open_rc ? fbus_strerror(open_rc) : "ok", frames,
                    stat_rc ? fbus_strerror(stat_rc) : "ok");
    }
    destroy(&o);
    return 0;
}
