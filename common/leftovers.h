/* SPDX-License-Identifier: MIT */
/*
 * Files in /dev/shm that block or clutter a bus name but that fbus_list() and
 * fbus_stat() do not show: a bus file that is empty or was never
 * initialised, a region a producer died while creating (framebus-tmp.*), a
 * reservation of a lossless reader that died (framebus-rsv.*). `framebus
 * list` shows them as broken, `framebus rm` removes them.
 */
#ifndef FBUS_COMMON_LEFTOVERS_H
#define FBUS_COMMON_LEFTOVERS_H

#include <stddef.h>
#include <stdint.h>

#include "framebus/framebus.h"

#define TOOL_SHM_DIR "/dev/shm"

typedef enum tool_leftover_kind {
    TOOL_LEFTOVER_BUS,         /* framebus.NAME / framebus-sysv.NAME, no region in it */
    TOOL_LEFTOVER_TEMP,        /* framebus-tmp.PID.*, its maker gone */
    TOOL_LEFTOVER_RESERVATION, /* framebus-rsv.NAME.*, its reader gone */
} tool_leftover_kind;

typedef struct tool_leftover {
    char file[256];               /* the entry's name in TOOL_SHM_DIR */
    char name[FBUS_NAME_MAX + 1]; /* the bus it is about; "" for TEMP */
    fbus_transport transport;     /* FBUS_TRANSPORT_ANY: either */
    tool_leftover_kind kind;
    const char *why; /* "empty file", ... */
    int64_t age_ns;  /* since the file last changed */
} tool_leftover;

/* Leftovers younger than this may still be in the hands of their maker (a
 * producer between creating a file and taking its lock): rm --stale leaves
 * them alone. */
#define TOOL_LEFTOVER_GRACE_NS 2000000000LL

/* Every leftover in TOOL_SHM_DIR, sorted by bus name (temporary regions,
 * which have none, first) then file name, into *out (free()
 * it). Returns 0 or a negative errno. */
int tool_list_leftovers(tool_leftover **out, size_t *n);

/* The broken bus file of `name` on transport t (ANY: either), if there is
 * one: 1 and *l, else 0. */
int tool_find_broken_bus(const char *name, fbus_transport t, tool_leftover *l);

/* Remove a leftover (and the SysV segment of a SysV temp region). Returns 0
 * or a negative errno. */
int tool_remove_leftover(const tool_leftover *l);

#endif /* FBUS_COMMON_LEFTOVERS_H */
