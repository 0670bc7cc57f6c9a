/* SPDX-License-Identifier: MIT */
/*
 * Surviving a shrunk object. Anyone who may open a posix bus read-write can
 * ftruncate it, and a process touching the lost pages of its mapping gets
 * SIGBUS: a group reader could kill the writer. While a posix region is
 * mapped, the library keeps a SIGBUS handler that, for a fault inside one of
 * its mappings, grows the object back to the mapping's size (or, without
 * write access, puts zero pages under the mapping) and lets the access go
 * on; faults anywhere else go to the handler that was there before. The
 * writer then notices the repair and moves to a fresh region.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define MAX_GUARDED 128

/* Read by the signal handler: atomics only, base stored last. */
struct guarded {
    _Atomic uintptr_t base;
    _Atomic size_t size;
    _Atomic int fd;
    _Atomic unsigned repairs;
};

static struct guarded table[MAX_GUARDED];
static struct sigaction previous;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

/* Hand a fault that is not ours to whoever was there before us. */
static void pass_on(int sig, siginfo_t *si, void *ctx)
{
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, si, ctx);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
    } else {
        /* The default action: restore it, and the faulting access, run
         * again on return, raises it (a core dump, as without us). */
        signal(sig, SIG_DFL);
    }
}

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
    uintptr_t a = (uintptr_t)si->si_addr;
    int saved = errno;

    for (int i = 0; i < MAX_GUARDED; i++) {
        uintptr_t base = atomic_load_explicit(&table[i].base, memory_order_acquire);
        size_t size = atomic_load_explicit(&table[i].size, memory_order_relaxed);
        int fd = atomic_load_explicit(&table[i].fd, memory_order_relaxed);

        if (!base || a < base || a - base >= size)
            continue;
        /* ftruncate and mmap are plain system calls here, safe in a
         * handler. Growing the object back gives the lost pages again (as
         * zeros); failing that, private zero pages keep this process alive
         * while the region is given up. */
        if ((fd >= 0 && ftruncate(fd, (off_t)size) == 0) ||
            mmap((void *)base, size, PROT_READ | PROT_WRITE,
                 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED) {
            atomic_fetch_add_explicit(&table[i].repairs, 1, memory_order_relaxed);
            errno = saved;
            return;
        }
        break;
    }
    errno = saved;
    pass_on(sig, si, ctx);
}

/* Put our handler in place unless it is there, keeping the one it replaces
 * for the faults that are not ours. Checked at every new mapping, not once:
 * a program (or a test harness) that installed its own handler since, or a
 * forked child that reset its signals, gets the guard back, and its own
 * handler still gets every other SIGBUS. Under table_lock. */
static void install(void)
{
    struct sigaction sa, cur;

    if (sigaction(SIGBUS, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
        cur.sa_sigaction == on_sigbus)
        return;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &previous);
}

int fbus__guard_add(void *base, size_t size, int fd)
{
    int slot = -1;

    pthread_mutex_lock(&table_lock);
    install();
    for (int i = 0; i < MAX_GUARDED; i++) {
        if (!atomic_load_explicit(&table[i].base, memory_order_relaxed)) {
            atomic_store_explicit(&table[i].size, size, memory_order_relaxed);
            atomic_store_explicit(&table[i].fd, fd, memory_order_relaxed);
            atomic_store_explicit(&table[i].repairs, 0, memory_order_relaxed);
            atomic_store_explicit(&table[i].base, (uintptr_t)base, memory_order_release);
            slot = i;
            break;
        }
    }
    pthread_mutex_unlock(&table_lock);
    return slot; /* -1: table full, this mapping goes unguarded */
}

void fbus__guard_remove(int slot)
{
    if (slot < 0 || slot >= MAX_GUARDED)
        return;
    pthread_mutex_lock(&table_lock);
    atomic_store_explicit(&table[slot].base, 0, memory_order_release);
    atomic_store_explicit(&table[slot].fd, -1, memory_order_relaxed);
    pthread_mutex_unlock(&table_lock);
}

unsigned fbus__guard_repairs(int slot)
{
    if (slot < 0 || slot >= MAX_GUARDED)
        return 0;
    return atomic_load_explicit(&table[slot].repairs, memory_order_relaxed);
}

void fbus__guard_forget_fds(void)
{
    /* A forked child closed the descriptors (lock.c); their numbers may be
     * reused for anything, so the handler must never truncate through them. */
    for (int i = 0; i < MAX_GUARDED; i++)
        atomic_store_explicit(&table[i].fd, -1, memory_order_relaxed);
}
