/* SPDX-License-Identifier: MIT */
/*
 * Private declarations shared by the library's files: the transport table,
 * the attached-region handle, liveness and futex helpers.
 */
#ifndef FBUS_INTERNAL_H
#define FBUS_INTERNAL_H

#include <errno.h>
#include <stdint.h>
#include <sys/types.h>

#include "layout.h"

/* A mapping of a bus region, as a transport hands it out. */
struct fbus__mapping {
    uint8_t *base;
    uint64_t size;
    int writable;
    uid_t uid;      /* owner of the object */
    uint32_t mode;  /* its permission bits */
    int fd;         /* posix: the object's descriptor, else -1 */
    int lockfd;     /* the file liveness locks live on: the object (posix,
                     * a second open of it, never the mapped one: a mapping
                     * keeps its open file, and so its locks, alive in a
                     * forked child) or its key file (sysv); -1 if it could
                     * not be opened */
    int shmid;      /* sysv: the segment id, else -1 */
    int guard;      /* posix: its slot in guard.c's table, else -1 */
    uint64_t ident; /* inode (posix) or shmid (sysv): names this object */
    char path[128]; /* file behind it: the object (posix) or key file (sysv) */
};

/*
 * A transport gives shared mappings for names. Everything else (layout,
 * protocol, validation) is the same for all of them.
 */
struct fbus__transport {
    const char *name;
    fbus_transport id;
    const char *prefix; /* of the names in /dev/shm that carry its buses */
    /* The file in /dev/shm that carries bus `name`: the object (posix) or
     * its key file (sysv). Linking or renaming a temp region's file there
     * gives the region the name (fbus__transport_link/_rename). */
    void (*file)(const char *name, char *buf, size_t len);
    /* Create an object under a private temporary name and map it
     * read-write, the producer's liveness lock taken at once. */
    int (*create)(uint64_t size, uint32_t mode, struct fbus__mapping *m);
    /* Whether the bus name still refers to the object behind m. */
    int (*owns)(const char *name, const struct fbus__mapping *m);
    /* Remove the object behind m, whatever its name now, and unmap it. */
    void (*destroy)(struct fbus__mapping *m);
    /* Map an existing object, read-write if allowed and want_write, else
     * read-only: 0, -ENOENT, -EACCES, -EAGAIN (still empty: being made). */
    int (*open)(const char *name, int want_write, struct fbus__mapping *m);
    /* Remove the name; if m is not NULL only while it still names m. */
    int (*unlink)(const char *name, const struct fbus__mapping *m);
    void (*close)(struct fbus__mapping *m);
    /* Optional: if path is one of its temp files whose maker died, remove
     * what it holds besides the file, and say 1. */
    int (*remove_temp)(const char *path);
};

extern const struct fbus__transport fbus__transport_posix;
extern const struct fbus__transport fbus__transport_sysv;

/* transport.c: the transport for t, or NULL; naming a complete region. */
const struct fbus__transport *fbus__transport_get(fbus_transport t);
/* Give the temp region behind m the name: 0 or -EEXIST (taken). */
int fbus__transport_link(const struct fbus__transport *tp, const char *name,
                         struct fbus__mapping *m);
/* The same, replacing whatever held the name, atomically. */
int fbus__transport_rename(const struct fbus__transport *tp, const char *name,
                           struct fbus__mapping *m);
/* Remove temporary regions left by producers that died while making them. */
void fbus__sweep_temp(void);

/* Region geometry and the per-frame view of it, kept privately after the
 * header was validated once: nothing below is re-read from shared memory. */
struct fbus__region {
    struct fbus__mapping map;
    const struct fbus__transport *tp;
    struct fbus__header *hdr;
    struct fbus__reader_entry *readers;
    struct fbus__slot_desc *descs; /* read-only for readers */
    uint8_t *payload;
    uint32_t slot_count;
    uint32_t reader_count;
    uint64_t slot_capacity;
    uint64_t payload_stride;
    uint64_t session;
    int64_t created_ns; /* CLOCK_REALTIME */
    uint32_t features;  /* FBUS__FEAT_* */
    int32_t producer_pid;
    uint64_t producer_start;
    uint64_t mapped_in[FBUS_MAX_SLOTS]; /* bytes of each slot fbus__slot_map_in did */
};

static inline uint64_t fbus__page_up(uint64_t v)
{
    return (v + FBUS__PAGE - 1) & ~(uint64_t)(FBUS__PAGE - 1);
}

static inline struct fbus__slot_desc *fbus__desc(const struct fbus__region *rg, uint32_t i)
{
    return (struct fbus__slot_desc *)((uint8_t *)rg->descs + (uint64_t)i * FBUS__DESC_STRIDE);
}

static inline uint8_t *fbus__payload(const struct fbus__region *rg, uint32_t i)
{
    return rg->payload + (uint64_t)i * rg->payload_stride;
}

/* How many reader entries the writer's per-frame scans must look at: those
 * ever claimed, bounded by the table size whatever the region says. */
static inline uint32_t fbus__readers_hw(const struct fbus__region *rg)
{
    uint32_t hw = atomic_load_explicit(&rg->hdr->readers_hw, memory_order_seq_cst);

    return hw < rg->reader_count ? hw : rg->reader_count;
}

/* region.c */
/* Map in the first `bytes` of slot i with one system call rather than a page
 * fault a page; once per slot and size. 0, or FBUS_EBADREGION if the object
 * is shorter than its header says (a posix object shrunk under us). */
int fbus__slot_map_in(struct fbus__region *rg, uint32_t i, uint64_t bytes, int write);
/* Make a complete region for bus `name` under a temporary name. */
int fbus__region_create(const char *name, fbus_transport t, uint32_t slots, uint64_t capacity,
                        uint32_t mode, struct fbus__region *rg);
int fbus__region_attach(const char *name, fbus_transport t, int want_write,
                        struct fbus__region *rg);
void fbus__region_detach(struct fbus__region *rg);

/* layout.c: check a private copy of a header against the mapping size. */
int fbus__validate_header(const struct fbus__header *h, uint64_t map_size, const char *name);

/* lock.c: one-byte OFD write locks (FBUS__LOCK_*). take: 0, -EAGAIN if
 * another open file holds it, or -errno. held: 1 if another open file holds
 * it, 0 if free, -1 if the kernel cannot tell (no descriptor). */
int fbus__lock_take(int fd, uint32_t byte);
void fbus__lock_drop(int fd, uint32_t byte);
int fbus__lock_held(int fd, uint32_t byte);
/* Raised in every forked child: a handle opened under another value belongs
 * to an ancestor and refuses to act (-ECHILD). */
extern _Atomic unsigned fbus__fork_gen;
/* Close *fdp in forked children (and set it to -1), so a child never keeps
 * its parent's locks alive. */
void fbus__fd_track(int *fdp);
void fbus__fd_untrack(int *fdp);
/* Keep fork() in other threads waiting (it waits in an atfork handler)
 * while a handle opens or closes descriptors that hold locks, and tracks
 * or untracks them: a child forked in between would inherit a lock and
 * keep a dead producer looking alive (found by a tester). Not nested. */
void fbus__fork_hold(void);
void fbus__fork_release(void);

/* guard.c: SIGBUS from a posix object shrunk under a mapping is repaired
 * (object grown back, or zero pages) instead of killing the process. add
 * returns a slot (-1: unguarded); repairs counts the repairs of a slot. */
int fbus__guard_add(void *base, size_t size, int fd);
void fbus__guard_remove(int slot);
unsigned fbus__guard_repairs(int slot);
void fbus__guard_forget_fds(void); /* in a forked child */

/* reserve.c: a lossless reader's standing claim on a bus name, kept for the
 * reader's lifetime: /dev/shm/framebus-rsv.NAME.TOKEN, locked. */
struct fbus__reservation {
    int fd; /* -1: none */
    uint64_t token;
    int64_t created_ns; /* CLOCK_REALTIME, comparable with a header's */
    char path[128];
};
/* A reservation for a reader waiting on transport t (or FBUS_TRANSPORT_ANY). */
int fbus__reserve_make(const char *name, fbus_transport t, struct fbus__reservation *rv);
void fbus__reserve_drop(struct fbus__reservation *rv);
/* Call fn for the token and creation time (CLOCK_REALTIME; 0 if the file
 * holds none) of every live reservation of `name` that a writer on
 * transport t with permission bits `mode` honours; removes dead ones where
 * allowed. Returns what fn returned if non-zero, else 0. */
int fbus__reserve_each(const char *name, fbus_transport t, uint32_t mode,
                       int (*fn)(uint64_t token, int64_t created_ns, void *opaque), void *opaque);

/* namewait.c: wake up when a name may have appeared in /dev/shm. */
int fbus__name_watch_open(void); /* an inotify descriptor, or -1 */
/* Sleep until something is created or renamed in /dev/shm or ns pass (a
 * plain sleep of at most 20 ms without a watch). */
void fbus__name_watch_wait(int fd, int64_t ns);

/* Test hook (white-box tests only): called at named points of the
 * protocol, e.g. between claiming and activating a reader entry. */
extern void (*fbus__test_hook)(const char *where);
#define FBUS__HOOK(where)                                                                          \
    do {                                                                                           \
        if (fbus__test_hook)                                                                       \
            fbus__test_hook(where);                                                                \
    } while (0)

/* liveness.c */
uint64_t fbus__proc_start(pid_t pid); /* 0 if gone, a zombie, or /proc cannot tell */
/* Whether pid runs (with that start time; 0: any). When /proc cannot tell,
 * it asks kill(pid, 0): "cannot tell" is never "dead". */
int fbus__pid_alive(pid_t pid, uint64_t start);
/* FBUS__STATE_* for a live, ended, replaced or stalled producer, or 0 if its
 * process is gone. */
int fbus__producer_status(const struct fbus__region *rg, int64_t timeout_ns, int64_t now);
/* Whether the owner of reader entry i still runs: its lock says so (its
 * pid is asked only where the lock cannot be tested). */
int fbus__entry_alive(const struct fbus__region *rg, uint32_t i);

/* latency.c: a FBUS_READER_LOW_LATENCY reader's wait for a publish. What it
 * learnt of the stream (zeroed at open; it starts over by itself on a new
 * session). Times are CLOCK_MONOTONIC ns. */
#define FBUS__LL_KEEP 16 /* samples kept of each kind */
struct fbus__lowlat {
    uint64_t seen_seq; /* newest frame seen published, and when */
    int64_t seen_ns;
    uint64_t begun_seq; /* the frame seen begun, and when */
    int64_t begun_ns;
    int64_t spun;                    /* spun for it so far, over every call */
    int64_t interval[FBUS__LL_KEEP]; /* between two publishes, recent */
    int64_t fill[FBUS__LL_KEEP];     /* from a frame's heads-up to its publish */
    int64_t over[FBUS__LL_KEEP];     /* how late timed sleeps came back */
    uint32_t nintervals, nfills, novers;
};
/* Sleep on the publish futex, with `bit` in the waiting mask so that the
 * writer wakes us, until a frame after last_seq is published, the writer
 * ends, or ns passes: a plain reader's wait (latency.c). */
void fbus__sleep_publish(struct fbus__header *h, uint64_t last_seq, uint64_t bit, int64_t ns);
/* Wait until a frame after last_seq is published, the writer ends, or
 * `left` (> 0) passes: asleep until the writer begins the next frame (the
 * heads-up, layout.h), then spinning until it is published, at most 1/32 of
 * the frame interval, then on the publish futex (with `bit` in the waiting
 * mask). Only for a region with FBUS__FEAT_HEADS_UP. */
void fbus__lowlat_wait(struct fbus__lowlat *ll, struct fbus__header *h, uint64_t last_seq,
                       uint64_t bit, int64_t left);

/* futex.c: wait while *word == val, at most timeout_ns (>= 0). */
int fbus__futex_wait(_Atomic uint32_t *word, uint32_t val, int64_t timeout_ns);
/* The same for at most one FBUS__WAIT_CHUNK_NS of the left_ns left, so the
 * caller looks at liveness between sleeps. */
int fbus__futex_wait_chunk(_Atomic uint32_t *word, uint32_t val, int64_t left_ns);
void fbus__futex_wake(_Atomic uint32_t *word, int n);

/* util.c */
uint64_t fbus__random64(void);
int64_t fbus__realtime_ns(void);
/* now - then for a time read from the region, which may hold anything:
 * saturates instead of overflowing; a time in the future is age 0. */
int64_t fbus__age_ns(int64_t now, int64_t then);
void fbus__sleep_ns(int64_t ns);
/* The CLOCK_MONOTONIC time a wait of timeout_ns ends (negative: never). */
int64_t fbus__deadline(int64_t timeout_ns);
/* What a wait that reached its deadline returns: -EAGAIN for a poll. */
static inline int fbus__timed_out(int64_t timeout_ns)
{
    return timeout_ns == 0 ? -EAGAIN : -ETIMEDOUT;
}
/* names.c */
void fbus__posix_path(const char *name, char *buf, size_t len); /* "/framebus.NAME" */
void fbus__posix_file(const char *name, char *buf, size_t len); /* "/dev/shm/framebus.NAME" */
/* Call fn for every valid bus name behind prefix in /dev/shm. */
int fbus__list_names(const char *prefix, fbus_transport t,
                     int (*fn)(const char *, fbus_transport, void *), void *opaque);
void fbus__temp_name(char *buf, size_t len); /* "framebus-tmp.PID.RANDOM" */
void fbus__sysv_keyfile(const char *name, char *buf,
                        size_t len); /* "/dev/shm/framebus-sysv.NAME" */

#define FBUS__SHM_DIR      "/dev/shm"
#define FBUS__POSIX_PREFIX "framebus."
#define FBUS__SYSV_PREFIX  "framebus-sysv."
#define FBUS__TEMP_PREFIX  "framebus-tmp." /* regions not yet given a name */
#define FBUS__RSV_PREFIX   "framebus-rsv." /* lossless readers' reservations */

/* Timing of the liveness protocol. */
#define FBUS__HEARTBEAT_NS        (50 * 1000000LL)  /* producer refresh period */
#define FBUS__STALE_NS            (250 * 1000000LL) /* then check the pid */
#define FBUS__PRODUCER_TIMEOUT_NS 1000000000LL      /* default: gone even if pid lives */
#define FBUS__WAIT_CHUNK_NS       (50 * 1000000LL)  /* longest single futex sleep */
#define FBUS__LOOK_EVERY_NS       (10 * 1000000LL)  /* liveness system calls, at most */
#define FBUS__RESERVE_NS          2000000000LL      /* default wait for reserved readers */
#define FBUS__LEASE_NS            10000000000LL     /* default lease of a lossless reader */

#endif /* FBUS_INTERNAL_H */
