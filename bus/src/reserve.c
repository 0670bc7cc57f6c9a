/* SPDX-License-Identifier: MIT */
/*
 * Reservations: how a lossless reader that is waiting for a bus makes the
 * writer wait for it. The reader keeps a small file under the bus's name,
 * /dev/shm/framebus-rsv.NAME.TOKEN, locked for its lifetime; before the first
 * frame of every session the writer waits (bounded) until each live one has
 * registered with its token. A dead reader's lock is free, and its file is
 * garbage anyone allowed to may remove.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define TOKEN_DIGITS 16

/* The letter a reservation's name carries for the transport its reader
 * waits on: a writer honours its own transport's and "any". */
static char transport_letter(fbus_transport t)
{
    return t == FBUS_TRANSPORT_POSIX ? 'p' : t == FBUS_TRANSPORT_SYSV ? 's' : 'a';
}

static int rsv_path(const char *name, char t, uint64_t token, char *buf, size_t len)
{
    int n = snprintf(buf, len, FBUS__SHM_DIR "/" FBUS__RSV_PREFIX "%s.%c.%016llx", name, t,
                     (unsigned long long)token);

    return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* The token of a directory entry that is a reservation of `name`, or 0;
 * *t gets its transport letter. */
static uint64_t token_of(const char *entry, const char *name, char *t)
{
    size_t plen = strlen(FBUS__RSV_PREFIX), nlen = strlen(name);
    const char *rest = entry + plen + nlen, *hex = rest + 3;
    char *end;
    uint64_t v;

    if (strncmp(entry, FBUS__RSV_PREFIX, plen) != 0 || strncmp(entry + plen, name, nlen) != 0 ||
        rest[0] != '.' || !strchr("psa", rest[1]) || !rest[1] || rest[2] != '.' ||
        strlen(hex) != TOKEN_DIGITS)
        return 0;
    for (int i = 0; i < TOKEN_DIGITS; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return 0;
    v = strtoull(hex, &end, 16);
    *t = rest[1];
    return *end ? 0 : v;
}

static int ignore_token(uint64_t token, int64_t created_ns, void *opaque)
{
    (void)token;
    (void)created_ns;
    (void)opaque;
    return 0;
}

int fbus__reserve_make(const char *name, fbus_transport t, struct fbus__reservation *rv)
{
    char tmp[sizeof(rv->path)];
    int err;

    /* Clear away what readers of this name that died left (ours only: the
     * directory is sticky). */
    fbus__reserve_each(name, FBUS_TRANSPORT_ANY, 0, ignore_token, NULL);
    rv->fd = -1;
    rv->token = fbus__random64();
    err = rsv_path(name, transport_letter(t), rv->token, rv->path, sizeof(rv->path));
    if (err < 0)
        return err;
    /* Made and locked under a name no one looks at, then renamed into
     * place: a reservation is never seen with its lock free while its
     * reader lives (a writer or another reader would take it for dead and
     * remove it). Mode 0644 so a writer of another user (a group bus) can
     * test the lock; the file is empty, nothing in it is secret. */
    snprintf(tmp, sizeof(tmp), FBUS__SHM_DIR "/" FBUS__TEMP_PREFIX "%d.rsv.%016llx", (int)getpid(),
             (unsigned long long)rv->token);
    rv->fd = open(tmp, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (rv->fd < 0)
        return -errno;
    /* Before the rename: a region made after the reservation became
     * visible has a later creation time than this. */
    rv->created_ns = fbus__realtime_ns();
    /* The time goes in the file too: a writer that closes its stream need
     * not wait for a reader that will not read a stream ended before it
     * reserved (see count_missing in writer.c). */
    if (pwrite(rv->fd, &rv->created_ns, sizeof(rv->created_ns), 0) !=
            (ssize_t)sizeof(rv->created_ns) ||
        fchmod(rv->fd, 0644) < 0 || (err = fbus__lock_take(rv->fd, 0)) < 0 ||
        rename(tmp, rv->path) < 0) {
        err = err < 0 ? err : -errno;
        unlink(tmp);
        close(rv->fd);
        rv->fd = -1;
        return err;
    }
    return 0;
}

void fbus__reserve_drop(struct fbus__reservation *rv)
{
    if (rv->fd < 0)
        return;
    /* Unlink first: a writer that finds the file afterwards sees its lock
     * held for a moment longer, and waits for a reader that is leaving;
     * the other order could not be wrong either, only slower. */
    unlink(rv->path);
    close(rv->fd);
    rv->fd = -1;
}

/* Whether a writer with bus permission bits `mode` should wait for a
 * reservation owned by uid: its own user's always; others only if the bus
 * lets others write, i.e. register at all. */
static int honoured(uid_t uid, uint32_t mode)
{
    return uid == geteuid() || (mode & 0022);
}

int fbus__reserve_each(const char *name, fbus_transport t, uint32_t mode,
                       int (*fn)(uint64_t token, int64_t created_ns, void *opaque), void *opaque)
{
    DIR *d = opendir(FBUS__SHM_DIR);
    struct dirent *de;
    int rc = 0;

    if (!d)
        return 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        char letter = 0;
        uint64_t token = token_of(de->d_name, name, &letter);
        char path[sizeof(((struct fbus__reservation *)0)->path)];
        struct stat st;
        int64_t created = 0;
        int fd, held;

        if (!token || rsv_path(name, letter, token, path, sizeof(path)) < 0)
            continue;
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            continue;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !honoured(st.st_uid, mode)) {
            close(fd);
            continue;
        }
        held = fbus__lock_held(fd, 0);
        /* 0 for a file of an older build, which holds no time. */
        if (pread(fd, &created, sizeof(created), 0) != (ssize_t)sizeof(created))
            created = 0;
        close(fd);
        if (held == 0) {
            unlink(path); /* its reader died; fails harmlessly if not ours */
            continue;
        }
        /* Live: honoured by a writer of its transport (or any). */
        if (held > 0 && (t == FBUS_TRANSPORT_ANY || letter == 'a' || letter == transport_letter(t)))
            rc = fn(token, created, opaque);
    }
    closedir(d);
    return rc;
}
