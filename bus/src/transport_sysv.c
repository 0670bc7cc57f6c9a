/* SPDX-License-Identifier: MIT */
/*
 * System V shared memory transport. The key comes from ftok() on a key file
 * "/dev/shm/framebus-sysv.NAME" that the producer creates exclusively; the
 * file also makes SysV buses visible to `framebus list`. Size and owner come
 * from shmctl(IPC_STAT); IPC_RMID on close.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define PROJ_ID 'F'

static int key_of(const char *path, key_t *key)
{
    *key = ftok(path, PROJ_ID);
    return *key == (key_t)-1 ? -errno : 0;
}

static int attach(int id, int writable, struct fbus__mapping *m)
{
    struct shmid_ds ds;
    void *p;

    if (shmctl(id, IPC_STAT, &ds) < 0)
        return -errno;
    p = shmat(id, NULL, writable ? 0 : SHM_RDONLY);
    if (p == (void *)-1)
        return -errno;
    m->base = p;
    m->size = ds.shm_segsz;
    m->writable = writable;
    m->uid = ds.shm_perm.uid;
    m->mode = ds.shm_perm.mode & 0777;
    m->fd = -1;
    m->lockfd = -1;
    m->shmid = id;
    m->ident = (uint64_t)id;
    return 0;
}

/* Create a key file and a segment under its key. -EEXIST if the key is
 * taken by a live segment (ftok keeps only 16 bits of the inode, so keys of
 * different files can collide). */
static int create_keyed(const char *path, uint64_t size, uint32_t mode, struct fbus__mapping *m)
{
    key_t key;
    int fd, id = -1, err;

    /* The key file stays open: the producer's liveness lock lives on it. */
    fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    /* The producer's lock, at once (see fbus__sweep_temp). */
    if ((err = fbus__lock_take(fd, FBUS__LOCK_PRODUCER)) < 0)
        goto fail;
    if (fchmod(fd, mode) < 0)
        goto fail_errno;
    err = key_of(path, &key);
    if (err < 0)
        goto fail;
    id = shmget(key, size, IPC_CREAT | IPC_EXCL | (int)(mode & 0777));
    if (id < 0 && errno == EEXIST) {
        /* A segment nobody is attached to under our new key is a leftover
         * of a producer that crashed: remove it if it is ours. */
        struct shmid_ds ds;
        int old = shmget(key, 0, 0);
        if (old >= 0 && shmctl(old, IPC_STAT, &ds) == 0 && ds.shm_perm.uid == geteuid() &&
            ds.shm_nattch == 0)
            shmctl(old, IPC_RMID, NULL);
        id = shmget(key, size, IPC_CREAT | IPC_EXCL | (int)(mode & 0777));
    }
    if (id < 0) {
        err = errno == EINVAL ? FBUS_ETOOBIG : -errno;
        goto fail;
    }
    err = attach(id, 1, m);
    if (err < 0)
        goto fail;
    m->lockfd = fd;
    memcpy(m->path, path, sizeof(m->path));
    return 0;

fail_errno:
    err = -errno;
fail:
    if (fd >= 0)
        close(fd);
    if (id >= 0)
        shmctl(id, IPC_RMID, NULL);
    unlink(path);
    return err;
}

static int sysv_create(uint64_t size, uint32_t mode, struct fbus__mapping *m)
{
    char path[sizeof(m->path)];
    int err = -EEXIST;

    /* A temporary key file whose key collides with a live bus's is simply
     * replaced by another one, with another inode. */
    for (int attempt = 0; attempt < 16 && err == -EEXIST; attempt++) {
        char t[64];
        fbus__temp_name(t, sizeof(t));
        snprintf(path, sizeof(path), FBUS__SHM_DIR "/%s.sysv", t);
        err = create_keyed(path, size, mode, m);
    }
    return err;
}

static int sysv_open(const char *name, int want_write, struct fbus__mapping *m)
{
    char path[FBUS_NAME_MAX + 32];
    struct stat st, cur;
    key_t key;
    int fd, id, err;

    fbus__sysv_keyfile(name, path, sizeof(path));
    /* Open the key file first and keep it: liveness locks live on it. A
     * reader that may write registers, and so needs to lock, i.e. to open
     * it read-write; the segment is then attached the same way. */
    fd = open(path, (want_write ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && want_write && errno == EACCES) {
        want_write = 0;
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    }
    if (fd < 0)
        return errno == ELOOP ? FBUS_EBADREGION : -errno;
    if (fstat(fd, &st) < 0) {
        err = -errno;
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        err = FBUS_EBADREGION;
        goto fail;
    }
    err = key_of(path, &key);
    if (err < 0)
        goto fail; /* -ENOENT if the key file went away meanwhile */
    /* The key came from the file we hold only if the name still names it. */
    if (lstat(path, &cur) < 0 || cur.st_ino != st.st_ino || cur.st_dev != st.st_dev) {
        err = -ENOENT;
        goto fail;
    }
    id = shmget(key, 0, 0);
    if (id < 0) {
        err = -errno;
        goto fail;
    }
    err = attach(id, want_write, m);
    if (err == -EACCES && want_write)
        err = attach(id, 0, m);
    /* The segment was removed between shmget and shmat (a producer taking
     * over a dead one's name): there is no bus, for now. */
    if (err == -EINVAL || err == -EIDRM)
        err = -ENOENT;
    if (err < 0)
        goto fail;
    if (m->size < sizeof(struct fbus__header)) {
        shmdt(m->base);
        m->base = NULL;
        err = FBUS_EBADREGION;
        goto fail;
    }
    m->lockfd = fd;
    return 0;

fail:
    close(fd);
    return err;
}

static int sysv_unlink(const char *name, const struct fbus__mapping *m)
{
    char path[FBUS_NAME_MAX + 32];
    key_t key;
    int id, err;

    fbus__sysv_keyfile(name, path, sizeof(path));
    err = key_of(path, &key);
    if (err < 0) {
        /* The key file was removed by hand: the name is gone, but our
         * segment must still go, or it leaks until reboot. */
        if (m)
            shmctl(m->shmid, IPC_RMID, NULL);
        return err;
    }
    id = shmget(key, 0, 0);
    if (m && id != m->shmid) {
        /* The name belongs to someone else now; still drop our segment. */
        shmctl(m->shmid, IPC_RMID, NULL);
        return -ENOENT;
    }
    if (m)
        FBUS__HOOK("unlink:checked");
    if (id >= 0 && shmctl(id, IPC_RMID, NULL) < 0)
        return errno == EPERM ? -EACCES : -errno;
    if (unlink(path) < 0)
        return errno == EPERM ? -EACCES : -errno;
    return 0;
}

/* The key follows the key file's inode, so renaming the file moves the name
 * to our segment in one step. The segment it named before stays for its
 * owner to remove. */
static void sysv_close(struct fbus__mapping *m);

static int sysv_owns(const char *name, const struct fbus__mapping *m)
{
    char path[sizeof(m->path)];
    key_t key;

    fbus__sysv_keyfile(name, path, sizeof(path));
    return key_of(path, &key) == 0 && shmget(key, 0, 0) == m->shmid;
}

static void sysv_destroy(struct fbus__mapping *m)
{
    shmctl(m->shmid, IPC_RMID, NULL);
    unlink(m->path);
    sysv_close(m);
}

static void sysv_close(struct fbus__mapping *m)
{
    if (m->base)
        shmdt(m->base);
    if (m->lockfd >= 0)
        close(m->lockfd);
    m->base = NULL;
    m->lockfd = -1;
}

/* A temp key file whose maker died may still have its segment. */
static int sysv_remove_temp(const char *path)
{
    size_t len = strlen(path);
    struct shmid_ds ds;
    key_t key;
    int id;

    if (len < 5 || strcmp(path + len - 5, ".sysv") != 0)
        return 0;
    key = ftok(path, PROJ_ID);
    id = key == (key_t)-1 ? -1 : shmget(key, 0, 0);
    if (id >= 0 && shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_perm.uid == geteuid())
        shmctl(id, IPC_RMID, NULL);
    return 1;
}

const struct fbus__transport fbus__transport_sysv = {
    .name = "sysv",
    .id = FBUS_TRANSPORT_SYSV,
    .prefix = FBUS__SYSV_PREFIX,
    .file = fbus__sysv_keyfile,
    .create = sysv_create,
    .owns = sysv_owns,
    .destroy = sysv_destroy,
    .open = sysv_open,
    .unlink = sysv_unlink,
    .close = sysv_close,
    .remove_temp = sysv_remove_temp,
};
