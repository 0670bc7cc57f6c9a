/* SPDX-License-Identifier: MIT */
/*
 * Shadow mappings: this module's own mapping of the shared pages a frame
 * lives in, so that numpy arrays never point into the library's mapping
 * (which goes away at close or when the writer moves to a bigger region)
 * and can be switched to a private copy in place when their frame is given
 * back while they are still alive.
 */
#include "pyfbus.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static uintptr_t page_size(void)
{
    static uintptr_t size;

    if (!size) {
        long v = sysconf(_SC_PAGESIZE);
        size = v > 0 ? (uintptr_t)v : 4096;
    }
    return size;
}

void fbpy_shadow_put(fbpy_shadow *s)
{
    if (!s || --s->refs > 0)
        return;
    munmap(s->addr, s->len);
    PyMem_RawFree(s);
}

static void cache_remove(fbpy_shadow_cache *c, uint32_t i)
{
    fbpy_shadow *s = c->entry[i];

    memmove(&c->entry[i], &c->entry[i + 1], (c->count - i - 1) * sizeof(c->entry[0]));
    c->count--;
    fbpy_shadow_put(s);
}

void fbpy_shadow_cache_init(fbpy_shadow_cache *c, const char *object)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    if (object)
        snprintf(c->object, sizeof(c->object), "%s", object);
}

void fbpy_shadow_flush(fbpy_shadow_cache *c)
{
    while (c->count > 0)
        cache_remove(c, c->count - 1);
    if (c->fd_state == 1)
        close(c->fd);
    c->fd = -1;
    c->fd_state = 0;
}

/*
 * Open the posix object by name and make sure it is the very object the
 * library mapped at `addr` (the name may already belong to a newer writer):
 * /proc/self/maps names the device, inode and file offset of that mapping.
 */
static void open_object(fbpy_shadow_cache *c, const uint8_t *addr)
{
    unsigned long start, end, off, maj, min, ino;
    char line[512];
    struct stat st;
    FILE *maps;
    int fd, found = 0;

    c->fd_state = -1;
    if (!c->object[0])
        return;
    fd = shm_open(c->object, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
    if (fd < 0)
        return;
    maps = fopen("/proc/self/maps", "re");
    while (maps && fgets(line, sizeof(line), maps)) {
        if (sscanf(line, "%lx-%lx %*s %lx %lx:%lx %lu", &start, &end, &off, &maj, &min, &ino) ==
                6 &&
            (uintptr_t)addr >= start && (uintptr_t)addr < end) {
            found = 1;
            break;
        }
    }
    if (maps)
        fclose(maps);
    if (!found || fstat(fd, &st) < 0 || st.st_ino != ino || major(st.st_dev) != maj ||
        minor(st.st_dev) != min || start < off) {
        close(fd);
        return;
    }
    c->fd = fd;
    c->map0 = start - off;
    c->object_size = (uint64_t)st.st_size;
    c->fd_state = 1;
}

/* Flags of /proc/self/pagemap entries. */
#define PM_PRESENT     (1ULL << 63)
#define PM_FILE_SHARED (1ULL << 61)

/* /proc/self/pagemap of this process, opened once (reopened after a fork:
 * "self" was resolved when it was opened). Called with the GIL held. */
static int pagemap_fd(void)
{
    static int fd = -1;
    static pid_t owner;
    pid_t pid = getpid();

    if (fd >= 0 && owner != pid) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        owner = pid;
    }
    return fd;
}

void fbpy_shadow_clean(fbpy_shadow *s)
{
    uintptr_t pg = page_size();
    size_t pages = s->len / pg, i = 0;
    uint64_t buf[512];
    int fd;

    if (!s->cow || s->detached)
        return;
    fd = pagemap_fd();
    if (fd < 0) {
        /* Cannot tell which pages were written: drop them all. */
        madvise(s->addr, s->len, MADV_DONTNEED);
        return;
    }
    while (i < pages) {
        size_t n = pages - i < 512 ? pages - i : 512;
        ssize_t got = pread(fd, buf, n * 8, (off_t)(((uintptr_t)s->addr / pg + i) * 8));
        if (got <= 0) {
            madvise(s->addr + i * pg, (pages - i) * pg, MADV_DONTNEED);
            break;
        }
        n = (size_t)got / 8;
        for (size_t k = 0; k < n; k++) {
            /* A present page that is no longer the object's is our copy. */
            if ((buf[k] & PM_PRESENT) && !(buf[k] & PM_FILE_SHARED))
                madvise(s->addr + (i + k) * pg, pg, MADV_DONTNEED);
        }
        i += n;
    }
}

fbpy_shadow *fbpy_shadow_get(fbpy_shadow_cache *c, uint64_t session, const uint8_t *lo,
                             const uint8_t *hi, int writable)
{
    uintptr_t pg = page_size();
    uintptr_t base = (uintptr_t)lo & ~(pg - 1);
    uintptr_t end = ((uintptr_t)hi + pg - 1) & ~(pg - 1);
    size_t len = end - base;
    fbpy_shadow *s;
    void *addr;
    int cow = 0;

    if (hi <= lo) {
        PyErr_SetString(PyExc_ValueError, "frame has no bytes");
        return NULL;
    }
    /* A new session is a new region: nothing cached still shows it. */
    if (session != c->session) {
        fbpy_shadow_flush(c);
        c->session = session;
    }
    for (uint32_t i = 0; i < c->count; i++) {
        s = c->entry[i];
        if (s->src != (const uint8_t *)base)
            continue;
        if (s->len >= len && (s->writable == writable || s->cow)) {
            s->refs++;
            return s;
        }
        cache_remove(c, i); /* the slot now holds a bigger frame */
        break;
    }

    if (!writable && c->fd_state == 0)
        open_object(c, lo);
    if (!writable && c->fd_state == 1 && base >= c->map0 &&
        base - c->map0 + len <= c->object_size) {
        addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, c->fd, (off_t)(base - c->map0));
        cow = 1;
        writable = 1; /* the pages; numpy still marks the arrays read-only */
    } else {
        /* Old size 0 on a shared mapping: a second mapping of its pages. */
        addr = mremap((void *)base, 0, len, MREMAP_MAYMOVE);
    }
    if (addr == MAP_FAILED) {
        PyErr_SetFromErrno(PyExc_OSError);
        return NULL;
    }
    if (mprotect(addr, len, PROT_READ | (writable ? PROT_WRITE : 0)) < 0 ||
        (madvise(addr, len, writable && !cow ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) < 0 &&
         errno == EFAULT)) {
        /* EFAULT: the object is smaller than its header says; touching
         * these pages would raise SIGBUS. */
        int err = errno;
        munmap(addr, len);
        if (err == EFAULT)
            fbpy_raise(FBUS_EBADREGION, "mapping a frame");
        else {
            errno = err;
            PyErr_SetFromErrno(PyExc_OSError);
        }
        return NULL;
    }
    s = PyMem_RawCalloc(1, sizeof(*s));
    if (!s) {
        munmap(addr, len);
        PyErr_NoMemory();
        return NULL;
    }
    s->addr = addr;
    s->len = len;
    s->src = (const uint8_t *)base;
    s->session = session;
    s->writable = writable;
    s->cow = cow;
    s->refs = 2; /* the cache's and the caller's */
    if (c->count == FBUS_MAX_SLOTS)
        cache_remove(c, 0);
    c->entry[c->count++] = s;
    return s;
}

int fbpy_shadow_detach(fbpy_shadow_cache *c, fbpy_shadow *s)
{
    void *copy, *moved;

    if (s->detached)
        return 0;
    copy = mmap(NULL, s->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (copy == MAP_FAILED) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    memcpy(copy, s->addr, s->len);
    if (!s->writable)
        mprotect(copy, s->len, PROT_READ);
    /* A copy-on-write shadow's copy stays writable, like the shadow was:
     * a library ignoring numpy's read-only flag keeps writing harmlessly. */
    /* One atomic step: an array read by another thread (numpy and OpenCV
     * release the GIL) sees either the shared page or its copy, never a
     * hole. */
    moved = mremap(copy, s->len, s->len, MREMAP_MAYMOVE | MREMAP_FIXED, s->addr);
    if (moved == MAP_FAILED) {
        int err = errno;
        munmap(copy, s->len);
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    s->detached = 1;
    for (uint32_t i = 0; c && i < c->count; i++) {
        if (c->entry[i] == s) {
            cache_remove(c, i);
            break;
        }
    }
    return 0;
}
