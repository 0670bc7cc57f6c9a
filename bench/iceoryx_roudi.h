/* SPDX-License-Identifier: MIT */
/*
 * bench_iceoryx's RouDi, iceoryx's broker (one per machine): whether one is
 * running, starting one with a private configuration whose mempool fits the
 * frames, stopping it, and the lock that keeps our runs from meeting.
 */
#ifndef FBUS_BENCH_ICEORYX_ROUDI_H
#define FBUS_BENCH_ICEORYX_ROUDI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A RouDi we started; all zero: none. */
struct ice_roudi {
    pid_t pid;
    char dir[64]; /* its configuration and log */
    char config[96];
    char log[96];
};

/* Hold the lock of our runs (/tmp/framebus-iceoryx.lock) for the life of
 * the process, waiting up to wait_s seconds (or until *stop) for another
 * run to end: the descriptor, or -1 with one sentence in err. */
int ice_roudi_lock(int wait_s, volatile sig_atomic_t *stop, char *err, size_t errsz);

/* Whether a RouDi is running (it holds /tmp/iox-unique-roudi.lock). */
int ice_roudi_running(void);

/* Start iox-roudi with one mempool of `count` chunks that hold frame_size
 * bytes at 64-byte alignment, monitoring off, and wait until it takes
 * clients: 0, or -1 with one sentence in err and nothing left behind. */
int ice_roudi_start(struct ice_roudi *rd, uint64_t frame_size, uint64_t count,
                    volatile sig_atomic_t *stop, char *err, size_t errsz);

/* Stop it (SIGTERM, SIGKILL after 10 s) and remove its files. Safe on a
 * zeroed struct. */
void ice_roudi_stop(struct ice_roudi *rd);

#endif /* FBUS_BENCH_ICEORYX_ROUDI_H */
