/* SPDX-License-Identifier: MIT */
/*
 * The region layout: an ABI between processes that may run different builds.
 * Fixed-width fields, offsets instead of pointers, every size and offset
 * pinned with _Static_assert. Bump FBUS__LAYOUT_VERSION on any change.
 */
#ifndef FBUS_LAYOUT_H
#define FBUS_LAYOUT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "framebus/framebus.h"

#define FBUS__MAGIC          UINT64_C(0x3153554245524646) /* "FFREBUS1" little-endian */
#define FBUS__LAYOUT_VERSION 2u
#define FBUS__CACHELINE      64
#define FBUS__PAGE           4096

/* Header feature bits (`features`). */
#define FBUS__FEAT_HEADS_UP 0x1u /* the heads-up words below are kept */

/* Header state word. */
enum {
    FBUS__STATE_LIVE = 1,
    FBUS__STATE_ENDED = 2,
    FBUS__STATE_REPLACED = 3, /* a fresh region holds the name now */
    /* Never stored: what a reader calls a producer whose process lives but
     * whose heartbeat is older than the timeout (stopped, or we were). */
    FBUS__STATE_STALLED = 4,
};

/*
 * Reader entry state word: a kind in the low byte and, above it, a
 * generation that every claim raises. Whoever frees an entry does so with a
 * compare-and-swap of the whole word it judged, so an entry freed and taken
 * again meanwhile (the same kind, a new generation) is never freed by
 * mistake.
 */
enum {
    FBUS__ENTRY_FREE = 0,
    FBUS__ENTRY_CLAIMED = 1, /* being filled in by its reader */
    FBUS__ENTRY_ACTIVE = 2,  /* registered: the writer honours its cursor */
};
#define FBUS__ENTRY_KIND(st) ((st)&0xffu)
#define FBUS__ENTRY_GEN(st)  ((st) >> 8)
#define FBUS__DEMOTED(st)    (FBUS__ENTRY_GEN(st) | 0x80000000u)

/*
 * Liveness is held, not claimed: each process holds an open-file-description
 * lock (F_OFD_SETLK) on one byte of the file behind the region for as long
 * as it plays its part, and the kernel drops it when the process dies, in
 * whatever way and pid namespace. Byte 0 is the producer's; byte 1 + i is
 * reader entry i's.
 */
#define FBUS__LOCK_PRODUCER 0
#define FBUS__LOCK_ENTRY(i) (1 + (i))
/* Held by a writer while it takes the name over from a stale region (not a
 * liveness lock: readers never test it, so a dead producer stays dead). */
#define FBUS__LOCK_TAKEOVER (1 + FBUS_MAX_READERS)

/*
 * A cursor packs a frame's sequence number with the slot that holds it so
 * both travel in one atomic word: seq << 8 | slot. 0 means "none".
 */
#define FBUS__CURSOR(seq, slot) (((uint64_t)(seq) << 8) | (uint64_t)(slot))
#define FBUS__CURSOR_SEQ(c)     ((c) >> 8)
#define FBUS__CURSOR_SLOT(c)    ((uint32_t)((c)&0xffu))

/*
 * The header: identity and geometry first (written once by the creator before
 * the magic is stored with release order), then the producer's hot words,
 * then one cache line per futex so waiters on one do not bounce the other.
 */
struct fbus__header {
    /* Immutable after creation. */
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;
    uint64_t total_size;
    uint32_t slot_count;
    uint32_t reader_count;
    uint64_t slot_capacity;  /* usable bytes per slot */
    uint64_t readers_offset; /* reader table */
    uint64_t slots_offset;   /* slot descriptors */
    uint64_t payload_offset; /* first payload, page aligned */
    uint64_t payload_stride; /* bytes from one payload to the next */
    uint64_t control_size;   /* header + reader table, page aligned */
    int32_t producer_pid;
    uint32_t producer_uid;
    uint64_t producer_start; /* /proc/PID/stat starttime, against pid reuse */
    uint64_t session;        /* random, new for every region */
    uint32_t mode;
    uint32_t transport;
    int64_t created_ns; /* CLOCK_REALTIME */
    char name[FBUS_NAME_MAX + 8];
    /* FBUS__FEAT_* bits: what this region's writer does beyond layout
     * version 2's protocol. A reader uses a feature only if its bit is set,
     * so a reader of this build works with an older writer and the other
     * way round. */
    uint32_t features;
    uint8_t pad0[256 - 196];

    /* Written by the producer only. */
    alignas(FBUS__CACHELINE) _Atomic uint64_t cursor; /* newest published frame */
    _Atomic int64_t heartbeat_ns;                     /* CLOCK_MONOTONIC */
    _Atomic uint32_t state;
    _Atomic uint32_t readers_hw;   /* entries [0, hw) were ever claimed */
    _Atomic uint64_t frames;       /* published */
    _Atomic uint64_t writer_waits; /* waits for lossless readers */
    _Atomic uint64_t forced;       /* slots reused under a latest reader */
    _Atomic uint64_t fps_milli;    /* published frames per 1000 s, recent */
    _Atomic int64_t last_publish_ns;

    /* Readers wait here for a publish; the producer wakes them. Bit i of
     * the mask is set while entry i's reader sleeps on the futex: a mask
     * rather than a count, so the writer clears the bit of a reader that
     * died asleep instead of waking nobody forever. */
    alignas(FBUS__CACHELINE) _Atomic uint32_t publish_futex;
    uint32_t pad2;
    _Atomic uint64_t waiting_mask;
    /* The heads-up (FBUS__FEAT_HEADS_UP): the writer says when it begins a
     * frame, before it copies it in, so a low-latency reader can be awake
     * and spinning when the frame is published. It stores begun_ns,
     * begun_cpu and then begun_seq (the frame's number) at acquire, bumps
     * heads_up_futex and wakes it if heads_up_mask has bits (bit i: entry
     * i's reader sleeps there), and wakes it at the end. A cancelled frame
     * puts begun_seq back. */
    _Atomic uint32_t heads_up_futex;
    _Atomic uint32_t begun_cpu; /* the CPU the writer began it on */
    _Atomic uint64_t heads_up_mask;
    _Atomic uint64_t begun_seq; /* the newest frame begun */
    _Atomic int64_t begun_ns;   /* when, CLOCK_MONOTONIC */
    uint8_t pad3[FBUS__CACHELINE - 48];

    /* The producer waits here for a lossless reader; readers wake it. */
    alignas(FBUS__CACHELINE) _Atomic uint32_t release_futex;
    _Atomic uint32_t writer_waiting;
    uint8_t pad4[FBUS__CACHELINE - 8];

    /* Written by the producer, rarely. */
    alignas(FBUS__CACHELINE) _Atomic uint64_t end_seq; /* last frame, once ENDED */
    _Atomic uint64_t reserve_expired;                  /* reserved readers not waited for */
    _Atomic uint64_t demotions;                        /* lossless readers whose lease ran out */
    uint8_t pad5[FBUS__CACHELINE - 24];
};

_Static_assert(offsetof(struct fbus__header, magic) == 0, "magic first");
_Static_assert(offsetof(struct fbus__header, name) == 120, "header identity");
_Static_assert(offsetof(struct fbus__header, cursor) == 256, "hot line");
_Static_assert(offsetof(struct fbus__header, publish_futex) == 320, "futex line");
_Static_assert(offsetof(struct fbus__header, release_futex) == 384, "futex line");
_Static_assert(offsetof(struct fbus__header, waiting_mask) == 328, "waiting mask");
_Static_assert(offsetof(struct fbus__header, heads_up_futex) == 336, "heads-up futex");
_Static_assert(offsetof(struct fbus__header, begun_ns) == 360, "heads-up words");
_Static_assert(offsetof(struct fbus__header, features) == 192, "features");
_Static_assert(offsetof(struct fbus__header, end_seq) == 448, "rare line");
_Static_assert(sizeof(struct fbus__header) == 512, "header size");

/* One reader's entry, written only by that reader (and by the writer when it
 * frees the entry of a dead reader or demotes a stopped one). Two cache
 * lines. */
struct fbus__reader_entry {
    _Atomic uint32_t state; /* generation << 8 | FBUS__ENTRY_* */
    /* Identity: atomic only because the writer may read it while the entry
     * is being claimed again; relaxed order is enough. */
    _Atomic uint32_t policy;
    _Atomic int32_t pid;
    _Atomic uint32_t uid;
    _Atomic uint64_t start;    /* /proc/PID/stat starttime */
    _Atomic uint64_t session;  /* producer session it registered with */
    _Atomic uint64_t pin;      /* cursor of the held frame, 0 if none */
    _Atomic uint64_t consumed; /* last seq released (lossless) or taken */
    _Atomic int64_t heartbeat_ns;
    _Atomic uint64_t token; /* its reservation's token, 0 if none */
    /* Counters, read by stats. */
    _Atomic uint64_t frames;
    _Atomic uint64_t overruns;
    _Atomic uint64_t drops;
    /* Set by the writer when this lossless reader's lease ran out, to
     * FBUS__DEMOTED(generation of the entry it judged): the writer no longer
     * waits for it until the reader clears it. A newcomer in the entry has
     * another generation, so a demotion aimed at its predecessor misses it. */
    _Atomic uint32_t demoted;
    uint8_t pad1[FBUS__CACHELINE - 28];
};

_Static_assert(offsetof(struct fbus__reader_entry, pin) == 32, "entry pin");
_Static_assert(offsetof(struct fbus__reader_entry, token) == 56, "entry token");
_Static_assert(offsetof(struct fbus__reader_entry, frames) == 64, "entry counters");
_Static_assert(sizeof(struct fbus__reader_entry) == 128, "entry size");

/*
 * A slot descriptor. `lock` is a sequence word: 2*seq when the slot holds
 * frame seq, 2*seq+1 while frame seq is being written into it. The rest is
 * valid only while lock is even, and readers copy it before checking it.
 */
struct fbus__slot_desc {
    _Atomic uint64_t lock;
    int64_t pts;
    int32_t tb_num;
    int32_t tb_den;
    int64_t publish_ns;
    uint32_t flags;
    /* 1 while the writer considers this slot for reuse: readers do not pin
     * it then. The lock changes only once the writer is sure. */
    _Atomic uint32_t claim;
    int32_t rate_num;
    int32_t rate_den;
    int32_t sar_num;
    int32_t sar_den;
    fbus_color color;
    uint8_t pad1[FBUS__CACHELINE - 60];
    fbus_format format;
};

_Static_assert(sizeof(fbus_plane) == 24, "plane size");
_Static_assert(sizeof(fbus_color) == 4, "color size");
_Static_assert(offsetof(struct fbus__slot_desc, color) == 56, "desc color");
_Static_assert(sizeof(fbus_format) == 152, "format size");
_Static_assert(offsetof(struct fbus__slot_desc, format) == 64, "desc format");
_Static_assert(sizeof(struct fbus__slot_desc) == 216, "desc size");

/* Descriptors are spaced one cache-line multiple apart. */
#define FBUS__DESC_STRIDE 256u

/* Geometry of a region with n slots of `capacity` bytes each. */
struct fbus__geometry {
    uint64_t readers_offset;
    uint64_t slots_offset;
    uint64_t control_size;
    uint64_t payload_offset;
    uint64_t payload_stride;
    uint64_t total_size;
};

/* Compute the geometry; returns 0 or FBUS_ETOOBIG on overflow. */
int fbus__geometry(uint32_t slots, uint32_t readers, uint64_t capacity, struct fbus__geometry *g);

#endif /* FBUS_LAYOUT_H */
