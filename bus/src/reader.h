/* SPDX-License-Identifier: MIT */
/*
 * The reader handle, shared by the reader's two halves: attach.c (finding a
 * region, reserving the name, registering, following restarts) and reader.c
 * (the per-frame path: pin, take, release, wait).
 */
#ifndef FBUS_READER_H
#define FBUS_READER_H

#include "internal.h"

struct fbus_reader {
    char name[FBUS_NAME_MAX + 1];
    fbus_transport transport; /* asked for; ANY: whichever holds the name */
    fbus_policy policy;
    int64_t producer_timeout;
    uint32_t flags;
    unsigned fork_gen; /* fbus__fork_gen at open: a child's copy refuses */
    int attached;
    int observer;
    struct fbus__region rg;
    struct fbus__reader_entry *entry; /* NULL for observers */
    uint32_t entry_index;
    uint32_t entry_state;         /* the state word we set: ours while it stays */
    struct fbus__reservation rsv; /* lossless readers: fd -1 if none */
    int watch_fd;                 /* inotify on /dev/shm, -1 until needed */
    uint64_t done_session;        /* the last session we saw end */
    uint64_t last_seq;            /* last frame taken in this session */
    int from_start;               /* drops count from frame 1 */
    /* Our own watch of a heartbeat that stopped moving: when we first saw
     * this value, and how many times we looked since. */
    int64_t hb_value;
    int64_t hb_since;
    int64_t hb_looks;
    int64_t looked_ns; /* the last liveness and size check (system calls) */
    int new_session;   /* next frame is the first of a session */
    int holding;
    uint64_t held_seq;
    uint32_t held_slot;
    /* Observers keep their own counters. */
    uint64_t frames, overruns, drops;
    struct fbus__lowlat ll; /* FBUS_READER_LOW_LATENCY: latency.c */
};

static inline int fbus__reader_forked(const struct fbus_reader *r)
{
    return r->fork_gen != atomic_load_explicit(&fbus__fork_gen, memory_order_relaxed);
}

/* attach.c */
/* One attempt to attach: 0, -ENOENT (nothing to read yet), or an error. */
int fbus__reader_attach(struct fbus_reader *r);
/* Unregister and unmap. */
void fbus__reader_detach(struct fbus_reader *r);
/* Make sure our entry is still ours and clear a demotion: 0 or FBUS_EFULL. */
int fbus__reader_keep_entry(struct fbus_reader *r);

#endif /* FBUS_READER_H */
