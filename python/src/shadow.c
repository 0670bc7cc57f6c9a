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
#include <string.h>
#include <sys/mman.h>
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

void fbpy_shadow_flush(fbpy_shadow_cache *c)
{
    while (c->count > 0)
        cache_remove(c, c->count - 1);
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
        if (s->len >= len && s->writable == writable) {
            s->refs++;
            return s;
        }
        cache_remove(c, i); /* the slot now holds a bigger frame */
        break;
    }

    /* Old size 0 on a shared mapping: a second mapping of the same pages. */
    addr = mremap((void *)base, 0, len, MREMAP_MAYMOVE);
    if (addr == MAP_FAILED) {
        PyErr_SetFromErrno(PyExc_OSError);
        return NULL;
    }
    if (mprotect(addr, len, PROT_READ | (writable ? PROT_WRITE : 0)) < 0 ||
        (madvise(addr, len, writable ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) < 0 &&
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
