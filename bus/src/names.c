/* SPDX-License-Identifier: MIT */
/*
 * Names: what a bus may be called, and every name the library derives from
 * it in /dev/shm (the posix object, the SysV key file, temporary regions),
 * in one place.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

FBUS_EXTERN int fbus_name_check(const char *name)
{
    size_t n;

    if (!name)
        return FBUS_EBADNAME;
    n = strnlen(name, FBUS_NAME_MAX + 1);
    if (n == 0 || n > FBUS_NAME_MAX)
        return FBUS_EBADNAME;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return FBUS_EBADNAME;
    }
    /* "." and ".." would name directories, never a bus. */
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return FBUS_EBADNAME;
    return 0;
}

void fbus__posix_path(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "/" FBUS__POSIX_PREFIX "%s", name);
}

void fbus__temp_name(char *buf, size_t len)
{
    snprintf(buf, len, FBUS__TEMP_PREFIX "%d.%016llx", (int)getpid(),
             (unsigned long long)fbus__random64());
}

void fbus__posix_file(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, FBUS__SHM_DIR "/" FBUS__POSIX_PREFIX "%s", name);
}

void fbus__sysv_keyfile(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, FBUS__SHM_DIR "/" FBUS__SYSV_PREFIX "%s", name);
}

int fbus__list_names(const char *prefix, fbus_transport t,
                     int (*fn)(const char *, fbus_transport, void *), void *opaque)
{
    DIR *d = opendir(FBUS__SHM_DIR);
    struct dirent *de;
    size_t plen = strlen(prefix);
    int rc = 0;

    if (!d)
        return -errno;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strncmp(n, prefix, plen) != 0 || fbus_name_check(n + plen) != 0)
            continue;
        rc = fn(n + plen, t, opaque);
    }
    closedir(d);
    return rc;
}
