/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the framebus tests: unique bus names, forked
 * children with bounded lifetimes, frame contents derived from a sequence
 * number, pipes between processes, and a second read-write view of a bus's
 * region for tests that inspect or corrupt it.
 */
#ifndef FBUS_TESTUTIL_H
#define FBUS_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "framebus/framebus.h"

/* Whether this build runs under ThreadSanitizer (everything is ~10x slower:
 * stress tests do fewer rounds). */
#if defined(__SANITIZE_THREAD__)
#define TU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TU_TSAN 1
#endif
#endif
#ifndef TU_TSAN
#define TU_TSAN 0
#endif

/* Both transports, for tests that loop over them. */
extern const fbus_transport tu_transports[2];
const char *tu_transport_name(fbus_transport t);

/* Write a bus name unique to this process and call, "PREFIX-PID-N", into buf
 * (at least FBUS_NAME_MAX + 1 bytes) and return buf. */
char *tu_bus_name(char *buf, size_t size, const char *prefix);

/* Remove bus `name` on both transports, ignoring errors (teardown). */
void tu_bus_cleanup(const char *name);

/* Clocks. */
int64_t tu_now_ns(void);
/* CPU time this process used so far (user + system), ns. */
int64_t tu_cpu_ns(void);
void tu_sleep_ms(int ms);
#define TU_MS  (1000000LL)
#define TU_SEC (1000000000LL)

/* producer_timeout_ns for readers in tests that are not about liveness: a
 * busy machine can stall a whole process for seconds, and a dead producer is
 * still found at once through its pid. */
#define TU_PRODUCER_TIMEOUT (60 * TU_SEC)

/* Fill every plane of an acquired slot with bytes derived from seq and the
 * position of each byte (so misplaced planes and rows are caught too). */
void tu_fill(fbus_slot *slot, uint64_t seq);
/* Whether a frame holds exactly what tu_fill wrote for seq. */
bool tu_verify(const fbus_frame *frame, uint64_t seq);
/* FNV-1a over the picture bytes of every row of every plane. */
uint64_t tu_checksum(const uint8_t *const *data, const fbus_format *fmt);
/* The checksum tu_fill's contents for seq would give. */
uint64_t tu_pattern_checksum(const fbus_format *fmt, uint64_t seq);

/* Acquire, fill with seq's pattern and publish one frame: 0 or the code of
 * the failing call. *seq_out (may be NULL) gets the published seq. */
int tu_publish(fbus_writer *w, const fbus_format *fmt, int64_t timeout_ns, uint64_t *seq_out);

/*
 * Run fn(arg) in a forked child that exits with fn's return value (use
 * 0 for success) and is killed by SIGALRM after timeout_s seconds.
 * Children must not use cmocka asserts. Returns the pid or -1.
 */
typedef int (*tu_child_fn)(void *arg);
pid_t tu_fork(tu_child_fn fn, void *arg, unsigned timeout_s);

/* SIGKILL and reap every child of tu_fork not yet reaped by tu_wait (call
 * it in teardown, so a failed test leaves no process behind). */
void tu_kill_children(void);

/* The fixture most bus tests share: a unique bus name and a 64x64 gray
 * format. tu_fixture_setup/teardown are cmocka setup/teardown bodies; the
 * teardown also stops timers, kills children and removes the bus. */
struct tu_fixture {
    char name[FBUS_NAME_MAX + 1];
    fbus_format fmt;
};
int tu_fixture_setup(void **state, const char *prefix);
int tu_fixture_teardown(void **state);

/* Wait for a child at most timeout_ms: its exit status, 128 + the signal
 * that killed it, or -1 if it had to be killed (SIGKILL) on timeout. */
int tu_wait(pid_t pid, int timeout_ms);

/* Drop root to uid/gid with the given supplementary groups: 0 or -errno. */
int tu_become(uid_t uid, gid_t gid, const gid_t *groups, int ngroups);

/* Pipes: write all of buf, or read exactly len bytes within timeout_ms.
 * 0, -ETIMEDOUT, -EPIPE (the other end closed) or -errno. */
int tu_send(int fd, const void *buf, size_t len);
int tu_recv(int fd, void *buf, size_t len, int timeout_ms);

/*
 * A second read-write mapping of a bus's region (posix: shm_open of
 * "/framebus.NAME"; sysv: the segment whose header names the bus).
 */
typedef struct tu_region {
    uint8_t *base;
    size_t size;
    fbus_transport transport;
    int fd;    /* posix descriptor, else -1 */
    int shmid; /* sysv segment, else -1 */
} tu_region;

/* Where layout.h keeps the bus name in the header; test_layout checks it. */
#define TU_HEADER_NAME_OFFSET 120

int tu_region_map(const char *name, fbus_transport t, tu_region *reg);
void tu_region_unmap(tu_region *reg);

#endif /* FBUS_TESTUTIL_H */
