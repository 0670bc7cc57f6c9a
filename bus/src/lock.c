/* SPDX-License-Identifier: MIT */
/*
 * Liveness the kernel vouches for: open-file-description locks, which the
 * kernel drops when the last descriptor of their open file goes, so when the
 * process that holds them dies in any way, in any pid namespace. And the
 * fork rule that keeps that true: a child closes its copies of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static int lock_op(int fd, int cmd, short type, uint32_t byte, struct flock *fl)
{
    memset(fl, 0, sizeof(*fl)); /* l_pid must be 0 for OFD locks */
    fl->l_type = type;
    fl->l_whence = SEEK_SET;
    fl->l_start = (off_t)byte;
    fl->l_len = 1;
    return fcntl(fd, cmd, fl) < 0 ? -errno : 0;
}

int fbus__lock_take(int fd, uint32_t byte)
{
    struct flock fl;
    int err;

    if (fd < 0)
        return -EBADF;
    err = lock_op(fd, F_OFD_SETLK, F_WRLCK, byte, &fl);
    return err == -EACCES ? -EAGAIN : err;
}

void fbus__lock_drop(int fd, uint32_t byte)
{
    struct flock fl;

    if (fd >= 0)
        (void)lock_op(fd, F_OFD_SETLK, F_UNLCK, byte, &fl);
}

int fbus__lock_held(int fd, uint32_t byte)
{
    struct flock fl;

    /* Testing needs no write access: a read-only descriptor can ask. */
    if (fd < 0 || lock_op(fd, F_OFD_GETLK, F_WRLCK, byte, &fl) < 0)
        return -1;
    return fl.l_type != F_UNLCK;
}

/*
 * A forked child shares its parent's open files, and with them the locks:
 * a child that outlived its parent would keep a dead producer or reader
 * looking alive. The child therefore closes every descriptor that carries a
 * lock (the parent keeps the lock) and raises fbus__fork_gen, so handles it
 * inherited refuse to act. The table is small: a few descriptors a handle.
 */
#define MAX_TRACKED 256

_Atomic unsigned fbus__fork_gen;

static pthread_mutex_t tracked_lock = PTHREAD_MUTEX_INITIALIZER;
/* Held while a handle makes or ends a region (fbus__fork_hold): a fork
 * waits for it, so no child is forked between a lock descriptor's open and
 * its tracking, or its untracking and its close. */
static pthread_mutex_t fork_gate = PTHREAD_MUTEX_INITIALIZER;
static int *tracked[MAX_TRACKED];
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
    pthread_mutex_lock(&fork_gate);
    pthread_mutex_lock(&tracked_lock);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&tracked_lock);
    pthread_mutex_unlock(&fork_gate);
}

static void fork_child(void)
{
    atomic_fetch_add_explicit(&fbus__fork_gen, 1, memory_order_relaxed);
    fbus__guard_forget_fds();
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i] && *tracked[i] >= 0) {
            close(*tracked[i]);
            *tracked[i] = -1;
        }
        tracked[i] = NULL;
    }
    pthread_mutex_unlock(&tracked_lock);
    pthread_mutex_unlock(&fork_gate);
}

static void register_handlers(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void fbus__fork_hold(void)
{
    pthread_once(&atfork_once, register_handlers);
    pthread_mutex_lock(&fork_gate);
}

void fbus__fork_release(void)
{
    pthread_mutex_unlock(&fork_gate);
}

void fbus__fd_track(int *fdp)
{
    pthread_once(&atfork_once, register_handlers);
    pthread_mutex_lock(&tracked_lock);
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (!tracked[i]) {
            tracked[i] = fdp;
            break;
        }
    }
    /* A full table (over a hundred open handles) only costs the rest their
     * fork safety; nothing else depends on it. */
    pthread_mutex_unlock(&tracked_lock);
}

void fbus__fd_untrack(int *fdp)
{
    pthread_mutex_lock(&tracked_lock);
    for (int i = 0; i < MAX_TRACKED; i++)
        if (tracked[i] == fdp)
            tracked[i] = NULL;
    pthread_mutex_unlock(&tracked_lock);
}

void (*fbus__test_hook)(const char *where);
