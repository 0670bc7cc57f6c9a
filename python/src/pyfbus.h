/* SPDX-License-Identifier: MIT */
/*
 * Internal header of the framebus Python extension: the object layouts and
 * the helpers its files share (errors, pixel formats, shadow mappings).
 */
#ifndef FRAMEBUS_PYFBUS_H
#define FRAMEBUS_PYFBUS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API  NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL fbpy_ARRAY_API
#ifndef FBPY_IMPORT_ARRAY
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include <framebus/framebus.h>

/* Blocking calls wait in slices this long so that Ctrl-C (checked with the
 * GIL held between slices) and close() from another thread are noticed. */
#define FBPY_SLICE_NS (50 * 1000 * 1000LL)

/* ------------------------------------------------------------ errors */

extern PyObject *fbpy_Error;   /* framebus.Error(code, message) */
extern PyObject *fbpy_Timeout; /* framebus.Timeout, for -ETIMEDOUT/-EAGAIN */

/* Raise framebus.Error (or Timeout) for library code `err`, the message
 * prefixed with `what` (may be NULL). Always returns NULL. */
PyObject *fbpy_raise(int err, const char *what);
/* The same with the whole message given (a new reference, stolen). */
PyObject *fbpy_raise_text(int err, PyObject *msg);
int fbpy_init_errors(PyObject *module);

/* Convert a timeout in seconds (None: forever) to nanoseconds (-1: forever).
 * Returns 0, or -1 with ValueError/TypeError set. */
int fbpy_timeout_ns(PyObject *obj, int64_t *ns);

/* A Fraction (or None for 0/0) from num/den. */
PyObject *fbpy_fraction(int64_t num, int64_t den);
/* num/den from None, an int, a float, a Fraction or a (num, den) tuple. */
int fbpy_rational(PyObject *obj, const char *what, int32_t *num, int32_t *den);

/* ------------------------------------------------------------ formats */

/* Bytes per sample of a pixel format: 2 for the 10/12/14/16-bit formats,
 * else 1. */
int fbpy_sample_bytes(const char *pix_fmt);

/* For a one-plane format, the samples per pixel (C of the (H, W, C) view,
 * 1 for gray); 0 for planar formats or rows that are not whole pixels. */
uint32_t fbpy_components(const fbus_format *fmt);

/* Shapes as text, for error messages: plane i as a 2-D array, and the
 * frame's .array. */
void fbpy_plane_shape_text(const fbus_format *fmt, uint32_t i, char *buf, size_t size);
void fbpy_array_shape_text(const fbus_format *fmt, char *buf, size_t size);

/* Sum of rows * row_bytes over the planes: the size of a tightly packed
 * frame (ffmpeg's rawvideo with align 1). */
uint64_t fbpy_packed_size(const fbus_format *fmt);

/* ------------------------------------------------------------ shadows */

/*
 * A shadow is this module's own mapping of the pages a frame occupies,
 * through which every numpy array sees the frame. The library's mapping can
 * go away (close, region move) without invalidating an array, and at
 * release a shadow whose arrays are still alive is "detached": its pages
 * are replaced in place by a private copy, so those arrays keep their
 * pixels forever.
 *
 * A reader's shadow of a posix bus is a private (copy-on-write) mapping of
 * the same shared-memory object: a library that writes into an array numpy
 * marks read-only (OpenCV before 4.9 does, given it as an output) writes
 * into this process's own copy of the page instead of faulting on a
 * read-only mapping or scribbling on the bus; such pages are dropped at
 * release so the next frame in the slot shows the bus again. Elsewhere
 * (sysv, writers) it is a second shared mapping (mremap with old size 0).
 */
typedef struct fbpy_shadow {
    uint8_t *addr;      /* our mapping */
    size_t len;         /* bytes, whole pages */
    const uint8_t *src; /* the page of the library's mapping it shows */
    uint64_t session;   /* producer session the source belongs to */
    int refs;
    int detached; /* private copy; no longer follows the bus */
    int writable;
    int cow; /* private file mapping: written pages must be dropped */
} fbpy_shadow;

typedef struct fbpy_shadow_cache {
    fbpy_shadow *entry[FBUS_MAX_SLOTS];
    uint32_t count;
    uint64_t session;
    /* For copy-on-write shadows (posix readers): our own descriptor of the
     * object the library mapped, and where its offset 0 is in that mapping. */
    char object[FBUS_NAME_MAX + 16]; /* "/framebus.NAME", or "" */
    int fd;                          /* -1: none (yet) */
    int fd_state;                    /* 0 untried, 1 usable, -1 failed */
    uintptr_t map0;
    uint64_t object_size;
} fbpy_shadow_cache;

/* Prepare a cache; object is the posix shm name for copy-on-write reader
 * shadows, or NULL. */
void fbpy_shadow_cache_init(fbpy_shadow_cache *c, const char *object);

/* A referenced shadow covering [lo, hi) of the library's mapping, reused
 * from the cache when one fits. Returns NULL with an exception set. */
fbpy_shadow *fbpy_shadow_get(fbpy_shadow_cache *c, uint64_t session, const uint8_t *lo,
                             const uint8_t *hi, int writable);
/* Drop one reference; the mapping goes with the last. NULL-safe. */
void fbpy_shadow_put(fbpy_shadow *s);
/* Replace the shadow's pages by a private copy of their current content and
 * take it out of the cache. The source must still be mapped. Returns 0, or
 * -1 with an exception set (the shadow is then unchanged). */
int fbpy_shadow_detach(fbpy_shadow_cache *c, fbpy_shadow *s);
/* Drop every cached shadow (frames holding one keep it) and the descriptor. */
void fbpy_shadow_flush(fbpy_shadow_cache *c);
/* Drop pages of a copy-on-write shadow that something wrote into, so they
 * show the shared object again. */
void fbpy_shadow_clean(fbpy_shadow *s);

/* ------------------------------------------------------------ frames */

enum fbpy_frame_state {
    FBPY_FRAME_HELD = 0,     /* acquired from the library */
    FBPY_FRAME_RELEASED = 1, /* given back; pixels gone */
    FBPY_FRAME_COPIED = 2,   /* given back with arrays alive: private copy */
};

typedef struct fbpy_frame {
    PyObject_HEAD PyObject *owner; /* the Reader or Writer while held, else NULL */
    int writable;                  /* a writer's slot (Writer.frame()) */
    int state;                     /* enum fbpy_frame_state */
    int overrun;                   /* release said the writer reused the slot meanwhile */
    int viewed;                    /* arrays were made: a library may have written the pages */
    Py_ssize_t views;              /* numpy arrays alive that view the pixels */
    fbus_format format;
    uint8_t *data[FBUS_MAX_PLANES]; /* in `shadow` */
    fbpy_shadow *shadow;
    fbus_frame frame; /* reader: as acquired; writer: the metadata to be */
    fbus_slot slot;   /* writer only */
} fbpy_frame;

extern PyTypeObject fbpy_FrameType;
extern PyTypeObject fbpy_ViewBaseType;

/* A new held frame over `shadow` (stolen reference); data pointers are the
 * library's, translated into the shadow. */
fbpy_frame *fbpy_frame_new(PyObject *owner, int writable, const fbus_format *fmt,
                           uint8_t *const lib_data[FBUS_MAX_PLANES], fbpy_shadow *shadow);
/* Stop viewing the library's memory: copy the pixels aside if arrays are
 * alive (else just drop them) and clear the owner. The caller gives the
 * frame back to the library afterwards. Returns 0 or -1 with an exception. */
int fbpy_frame_detach(fbpy_frame *f, fbpy_shadow_cache *cache);

/* Lower and upper bounds of a frame's planes in memory. */
void fbpy_frame_bounds(const fbus_format *fmt, uint8_t *const data[FBUS_MAX_PLANES],
                       const uint8_t **lo, const uint8_t **hi);

/* ------------------------------------------------------------ reader/writer */

extern PyTypeObject fbpy_ReaderType;
extern PyTypeObject fbpy_WriterType;

/* Give a held frame back to its owner (Reader or Writer); used by Frame. */
int fbpy_reader_release_frame(PyObject *reader, fbpy_frame *f);
int fbpy_writer_finish_frame(PyObject *writer, fbpy_frame *f, int publish);

/* Parse "posix"/"sysv". */
int fbpy_transport(PyObject *obj, fbus_transport *t);
const char *fbpy_transport_name(fbus_transport t);

#endif /* FRAMEBUS_PYFBUS_H */
