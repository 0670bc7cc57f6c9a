/* SPDX-License-Identifier: MIT */
/*
 * Finding and removing the /dev/shm files that are not buses but block or
 * clutter bus names (leftovers.h). A file's maker holds an OFD lock on its
 * byte 0 while it lives; a free lock means the maker is gone.
 */
#include "leftovers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define POSIX_PREFIX "framebus."
#define SYSV_PREFIX  "framebus-sysv."
#define TEMP_PREFIX  "framebus-tmp."
#define RSV_PREFIX   "framebus-rsv."

struct lo_list {
    tool_leftover *v;
    size_t n, cap;
};

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* 1 if someone holds byte 0 of path, 0 if nobody does, -1 if unknown. */
static int lock_held(const char *path)
{
    struct flock fl;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK), rc;

    if (fd < 0)
        return -1;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    rc = fcntl(fd, F_OFD_GETLK, &fl) < 0 ? -1 : fl.l_type != F_UNLCK;
    close(fd);
    return rc;
}

static int64_t age_ns(const struct stat *st)
{
    struct timespec now;
    int64_t changed = (int64_t)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;

    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec - changed;
}

/* Whether bus file `file` (of bus `name` on t) holds no region the library
 * can show; fills l if so. */
static int broken_bus(const char *file, const char *name, fbus_transport t, const struct stat *st,
                      tool_leftover *l)
{
    fbus_stats *s = malloc(sizeof(*s));
    int rc;

    if (!s)
        return 0;
    /* The library calls a region it cannot see "no such bus": a file that
     * is there all the same is a broken one. */
    rc = fbus_stat(name, t, s);
    free(s);
    if (rc != -ENOENT)
        return 0;
    memset(l, 0, sizeof(*l));
    snprintf(l->file, sizeof(l->file), "%s", file);
    snprintf(l->name, sizeof(l->name), "%s", name);
    l->transport = t;
    l->kind = TOOL_LEFTOVER_BUS;
    l->why = t == FBUS_TRANSPORT_SYSV ? "key file without a bus segment"
             : st->st_size == 0       ? "empty file"
                                      : "never initialised";
    l->age_ns = age_ns(st);
    return 1;
}

/* The leftover a directory entry is, if it is one: 1 and *l, else 0. */
static int classify(const char *file, tool_leftover *l)
{
    char path[sizeof(TOOL_SHM_DIR) + 256];
    struct stat st;
    const char *rest;

    if (strlen(file) >= sizeof(l->file))
        return 0;
    snprintf(path, sizeof(path), TOOL_SHM_DIR "/%s", file);
    if (!starts_with(file, "framebus") || lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    if (starts_with(file, POSIX_PREFIX) || starts_with(file, SYSV_PREFIX)) {
        int sysv = starts_with(file, SYSV_PREFIX);
        const char *name = file + strlen(sysv ? SYSV_PREFIX : POSIX_PREFIX);

        if (fbus_name_check(name) != 0)
            return 0;
        return broken_bus(file, name, sysv ? FBUS_TRANSPORT_SYSV : FBUS_TRANSPORT_POSIX, &st, l);
    }
    if (starts_with(file, TEMP_PREFIX)) {
        if (lock_held(path) != 0)
            return 0;
        memset(l, 0, sizeof(*l));
        snprintf(l->file, sizeof(l->file), "%s", file);
        rest = strrchr(file, '.');
        l->transport =
            rest && strcmp(rest, ".sysv") == 0 ? FBUS_TRANSPORT_SYSV : FBUS_TRANSPORT_POSIX;
        l->kind = TOOL_LEFTOVER_TEMP;
        l->why = "left by a producer that died creating a bus";
        l->age_ns = age_ns(&st);
        return 1;
    }
    if (starts_with(file, RSV_PREFIX)) {
        /* framebus-rsv.NAME.T.TOKEN: the name may hold dots, the last two
         * fields do not. */
        const char *end = strrchr(file, '.');
        size_t len;

        if (!end || end - file < (ptrdiff_t)strlen(RSV_PREFIX) + 3 || end[-2] != '.' ||
            lock_held(path) != 0)
            return 0;
        len = (size_t)(end - 2 - (file + strlen(RSV_PREFIX)));
        if (len == 0 || len > FBUS_NAME_MAX)
            return 0;
        memset(l, 0, sizeof(*l));
        snprintf(l->file, sizeof(l->file), "%s", file);
        memcpy(l->name, file + strlen(RSV_PREFIX), len);
        l->transport = end[-1] == 'p'   ? FBUS_TRANSPORT_POSIX
                       : end[-1] == 's' ? FBUS_TRANSPORT_SYSV
                                        : FBUS_TRANSPORT_ANY;
        l->kind = TOOL_LEFTOVER_RESERVATION;
        l->why = "reservation of a lossless reader that died";
        l->age_ns = age_ns(&st);
        return 1;
    }
    return 0;
}

static int cmp_leftover(const void *a, const void *b)
{
    const tool_leftover *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : strcmp(x->file, y->file);
}

int tool_list_leftovers(tool_leftover **out, size_t *n)
{
    struct lo_list l = {0};
    DIR *d = opendir(TOOL_SHM_DIR);
    struct dirent *de;

    *out = NULL;
    *n = 0;
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    while ((de = readdir(d)) != NULL) {
        tool_leftover lo;

        if (!classify(de->d_name, &lo))
            continue;
        if (l.n == l.cap) {
            size_t cap = l.cap ? 2 * l.cap : 8;
            tool_leftover *v = realloc(l.v, cap * sizeof(*v));

            if (!v) {
                free(l.v);
                closedir(d);
                return -ENOMEM;
            }
            l.v = v;
            l.cap = cap;
        }
        l.v[l.n++] = lo;
    }
    closedir(d);
    if (l.n)
        qsort(l.v, l.n, sizeof(*l.v), cmp_leftover);
    *out = l.v;
    *n = l.n;
    return 0;
}

int tool_find_broken_bus(const char *name, fbus_transport t, tool_leftover *l)
{
    char file[256];

    if (fbus_name_check(name) != 0)
        return 0;
    if (t != FBUS_TRANSPORT_SYSV) {
        snprintf(file, sizeof(file), POSIX_PREFIX "%s", name);
        if (classify(file, l))
            return 1;
    }
    if (t != FBUS_TRANSPORT_POSIX) {
        snprintf(file, sizeof(file), SYSV_PREFIX "%s", name);
        if (classify(file, l))
            return 1;
    }
    return 0;
}

int tool_remove_leftover(const tool_leftover *l)
{
    char path[sizeof(TOOL_SHM_DIR) + 256];

    snprintf(path, sizeof(path), TOOL_SHM_DIR "/%s", l->file);
    if (l->kind == TOOL_LEFTOVER_TEMP && l->transport == FBUS_TRANSPORT_SYSV) {
        /* A SysV region in the making is named by its key file's key. */
        key_t key = ftok(path, 'F');
        int id = key == (key_t)-1 ? -1 : shmget(key, 0, 0);

        if (id >= 0)
            shmctl(id, IPC_RMID, NULL);
    }
    return unlink(path) < 0 ? -errno : 0;
}
