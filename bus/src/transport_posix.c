/* SPDX-License-Identifier: MIT */
/*
 * POSIX shared memory transport: one shm_open object per bus, named
 * "/framebus.NAME", sized with ftruncate, its size learnt with fstat.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static int map_fd(int fd, uint64_t size, int writable, struct fbus__mapping *m)
{
    void *p = mmap(NULL, size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);

    if (p == MAP_FAILED)
        return -errno;
    m->base = p;
    m->size = size;
    m->writable = writable;
    m->fd = fd;
    m->shmid = -1;
    /* A posix object can be shrunk under us by anyone who may write it:
     * survive that instead of dying of SIGBUS (guard.c). */
    m->guard = fbus__guard_add(p, size, fd);
    return 0;
}

static void unmap(struct fbus__mapping *m)
{
    if (!m->base)
        return;
    fbus__guard_remove(m->guard);
    m->guard = -1;
    munmap(m->base, m->size);
    m->base = NULL;
}

/*
 * A second open file description of the object behind fd, for the liveness
 * locks. Not the mapped one: a mapping holds a reference to the open file it
 * was made from, and an OFD lock lasts as long as its open file does, so a
 * forked child that inherited the mapping (but closed its descriptors, see
 * lock.c) would keep a dead parent's lock held. The name is opened again, so
 * check that it still names the same object: -EAGAIN if it names another one
 * now, -ENOENT if none.
 */
static int open_lockfd(const char *path, int fd, int writable)
{
    struct stat a, b;
    int lfd = shm_open(path, (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC, 0);

    if (lfd < 0)
        return -errno; /* -ENOENT: the name went away meanwhile */
    if (fstat(fd, &a) < 0 || fstat(lfd, &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
        close(lfd);
        return -EAGAIN;
    }
    return lfd;
}

static int posix_create(uint64_t size, uint32_t mode, struct fbus__mapping *m)
{
    char path[96], t[64];
    int fd, lfd = -1, err;
    struct stat st;

    fbus__temp_name(t, sizeof(t));
    snprintf(path, sizeof(path), "/%s", t);
    fd = shm_open(path, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    /* The producer's lock, at once: a sweeper sees a temp object with its
     * lock free only if its maker died (see fbus__sweep_temp). The temp
     * name is ours alone, so the second open finds the same object. */
    lfd = open_lockfd(path, fd, 1);
    if (lfd < 0) {
        errno = lfd == -EAGAIN || lfd == -ENOENT ? EEXIST : -lfd;
        lfd = -1;
        goto fail;
    }
    if ((err = fbus__lock_take(lfd, FBUS__LOCK_PRODUCER)) < 0) {
        errno = -err;
        goto fail;
    }
    /* shm_open's mode is filtered by the umask; the user asked for `mode`. */
    if (fchmod(fd, mode) < 0 || ftruncate(fd, (off_t)size) < 0 || fstat(fd, &st) < 0)
        goto fail;
    /* ftruncate does not reserve tmpfs pages: claim them now, so a region
     * larger than /dev/shm fails here rather than with SIGBUS later. */
    err = posix_fallocate(fd, 0, (off_t)size);
    if (err) {
        errno = err == EFBIG ? ENOSPC : err;
        goto fail;
    }
    err = map_fd(fd, size, 1, m);
    if (err < 0) {
        errno = -err;
        goto fail;
    }
    m->lockfd = lfd;
    m->uid = st.st_uid;
    m->mode = mode;
    m->ident = st.st_ino;
    snprintf(m->path, sizeof(m->path), FBUS__SHM_DIR "%s", path);
    return 0;

fail:
    err = -errno;
    if (lfd >= 0)
        close(lfd);
    close(fd);
    shm_unlink(path);
    return err;
}

static int posix_open(const char *name, int want_write, struct fbus__mapping *m)
{
    char path[FBUS_NAME_MAX + 16];
    int fd = -1, writable = want_write, err;
    struct stat st;

    fbus__posix_path(name, path, sizeof(path));
    if (want_write)
        fd = shm_open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0 && (!want_write || errno == EACCES || errno == EPERM)) {
        writable = 0;
        fd = shm_open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
    }
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0)
        goto fail_errno;
    if (!S_ISREG(st.st_mode)) {
        err = FBUS_EBADREGION;
        goto fail;
    }
    if ((uint64_t)st.st_size < sizeof(struct fbus__header)) {
        /* Between shm_open and ftruncate a new region is empty: the caller
         * retries for a moment before calling it bad. */
        err = st.st_size == 0 ? -EAGAIN : FBUS_EBADREGION;
        goto fail;
    }
    err = map_fd(fd, (uint64_t)st.st_size, writable, m);
    if (err < 0)
        goto fail;
    FBUS__HOOK("attach:mapped");
    m->lockfd = open_lockfd(path, fd, writable);
    if (m->lockfd < 0) {
        err = m->lockfd;
        unmap(m);
        m->fd = m->lockfd = -1;
        goto fail;
    }
    m->uid = st.st_uid;
    m->mode = st.st_mode & 07777;
    m->ident = st.st_ino;
    return 0;

fail_errno:
    err = -errno;
fail:
    close(fd);
    return err;
}

static int posix_unlink(const char *name, const struct fbus__mapping *m)
{
    char path[FBUS_NAME_MAX + 16];

    fbus__posix_path(name, path, sizeof(path));
    if (m) {
        /* Only remove the name while it is still ours: a new producer may
         * already have taken it over. */
        char file[FBUS_NAME_MAX + 32];
        struct stat st;

        snprintf(file, sizeof(file), FBUS__SHM_DIR "%s", path);
        if (lstat(file, &st) < 0)
            return -errno;
        if ((uint64_t)st.st_ino != m->ident)
            return -ENOENT;
        FBUS__HOOK("unlink:checked");
    }
    if (shm_unlink(path) < 0)
        return -errno;
    return 0;
}

static int posix_owns(const char *name, const struct fbus__mapping *m)
{
    char file[sizeof(m->path)];
    struct stat st;

    fbus__posix_file(name, file, sizeof(file));
    return lstat(file, &st) == 0 && (uint64_t)st.st_ino == m->ident;
}

static void posix_close(struct fbus__mapping *m)
{
    unmap(m);
    if (m->fd >= 0)
        close(m->fd);
    if (m->lockfd >= 0)
        close(m->lockfd);
    m->base = NULL;
    m->fd = -1;
    m->lockfd = -1;
}

static void posix_destroy(struct fbus__mapping *m)
{
    unlink(m->path);
    posix_close(m);
}

const struct fbus__transport fbus__transport_posix = {
    .name = "posix",
    .id = FBUS_TRANSPORT_POSIX,
    .prefix = FBUS__POSIX_PREFIX,
    .file = fbus__posix_file,
    .create = posix_create,
    .owns = posix_owns,
    .destroy = posix_destroy,
    .open = posix_open,
    .unlink = posix_unlink,
    .close = posix_close,
};
