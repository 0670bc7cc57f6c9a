/* SPDX-License-Identifier: MIT */
/*
 * The transports as a table, and what every transport does the same way:
 * giving a complete region its bus name (link, or rename over an old one),
 * listing names, sweeping temporary regions whose maker died. Each
 * transport file exports one table entry and keeps its own calls.
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

static const struct fbus__transport *const transports[] = {
    &fbus__transport_posix, /* first: what FBUS_TRANSPORT_ANY and lists try first */
    &fbus__transport_sysv,
};

#define NB_TRANSPORTS (sizeof(transports) / sizeof(transports[0]))

const struct fbus__transport *fbus__transport_get(fbus_transport t)
{
    for (size_t i = 0; i < NB_TRANSPORTS; i++)
        if (transports[i]->id == t)
            return transports[i];
    return NULL;
}

int fbus__transport_link(const struct fbus__transport *tp, const char *name,
                         struct fbus__mapping *m)
{
    char dst[sizeof(m->path)];

    tp->file(name, dst, sizeof(dst));
    /* link(2) fails with EEXIST if the name is taken: creation stays
     * exclusive, and the region is complete before anyone sees it. */
    if (link(m->path, dst) < 0)
        return -errno;
    unlink(m->path);
    memcpy(m->path, dst, sizeof(dst));
    return 0;
}

int fbus__transport_rename(const struct fbus__transport *tp, const char *name,
                           struct fbus__mapping *m)
{
    char dst[sizeof(m->path)];

    tp->file(name, dst, sizeof(dst));
    if (rename(m->path, dst) < 0)
        return -errno;
    memcpy(m->path, dst, sizeof(dst));
    return 0;
}

FBUS_EXTERN int fbus_list(int (*fn)(const char *name, fbus_transport t, void *opaque), void *opaque)
{
    int rc = 0;

    if (!fn)
        return -EINVAL;
    for (size_t i = 0; i < NB_TRANSPORTS && rc == 0; i++)
        rc = fbus__list_names(transports[i]->prefix, transports[i]->id, fn, opaque);
    return rc;
}

#define TEMP_GRACE_NS (2 * 1000000000LL)

/* Whether the temporary file at path (lstat'ed into st) lost its maker. */
static int temp_orphaned(const char *path, const struct stat *st, long pid)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    int held = fbus__lock_held(fd, FBUS__LOCK_PRODUCER);

    if (fd >= 0)
        close(fd);
    /* Its maker holds byte 0 while it lives, in whatever pid namespace,
     * taken right after creating it: a file whose lock is free and that is
     * older than a moment has no maker any more. The pid in the name is
     * asked only if the lock cannot be tested. */
    if (held > 0 || (held < 0 && (pid == (long)getpid() || fbus__pid_alive((pid_t)pid, 0))))
        return 0;
    return fbus__age_ns(fbus__realtime_ns(), (int64_t)st->st_ctim.tv_sec * 1000000000LL +
                                                 st->st_ctim.tv_nsec) >= TEMP_GRACE_NS;
}

void fbus__sweep_temp(void)
{
    DIR *d = opendir(FBUS__SHM_DIR);
    struct dirent *de;
    size_t plen = strlen(FBUS__TEMP_PREFIX);

    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        char path[sizeof(FBUS__SHM_DIR) + sizeof(de->d_name)];
        const char *n = de->d_name;
        struct stat st;
        long pid;
        size_t i;

        if (strncmp(n, FBUS__TEMP_PREFIX, plen) != 0)
            continue;
        pid = strtol(n + plen, NULL, 10);
        if (pid <= 0)
            continue;
        snprintf(path, sizeof(path), FBUS__SHM_DIR "/%s", n);
        if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
            !temp_orphaned(path, &st, pid))
            continue;
        /* A transport whose temp files hold more than the file (a SysV
         * segment) removes that; the file goes in any case. */
        for (i = 0; i < NB_TRANSPORTS; i++)
            if (transports[i]->remove_temp && transports[i]->remove_temp(path))
                break;
        unlink(path);
    }
    closedir(d);
}
