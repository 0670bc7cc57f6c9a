/* SPDX-License-Identifier: MIT */
/*
 * framebus.Reader: attaches to a bus and hands out Frames. Waits release
 * the GIL and run in short slices, so Ctrl-C and close() from another
 * thread end them; the one frame the library lets a reader hold is given
 * back (copied aside if arrays still view it) before the next is taken.
 */
#include "pyfbus.h"

#include <errno.h>
#include <string.h>

typedef struct reader_obj {
    PyObject_HEAD fbus_reader *r;
    char name[FBUS_NAME_MAX + 1];
    fbus_transport transport;
    int lossless;
    int busy;            /* a thread is waiting inside read() */
    int close_requested; /* close() came while busy: the reader closes */
    int64_t timeout_ns;  /* default of read() and iteration; -1 forever */
    fbpy_frame *current; /* the held frame (borrowed; it references us) */
    fbpy_shadow_cache cache;
    uint64_t frames, copies, overruns;
} reader_obj;

static int check_open(reader_obj *self)
{
    if (!self->r) {
        PyErr_SetString(PyExc_ValueError, "reader is closed");
        return -1;
    }
    return 0;
}

static PyObject *raise_bus(reader_obj *self, int err, int64_t timeout_ns)
{
    if (err == -ENOENT)
        return fbpy_raise_text(err,
                               PyUnicode_FromFormat("bus \"%s\": no such bus (is a writer running? "
                                                    "Reader(..., wait=True) waits for one)",
                                                    self->name));
    if (err == -ETIMEDOUT || err == -EAGAIN) {
        char secs[32];
        snprintf(secs, sizeof(secs), "%g", (double)timeout_ns / 1e9);
        return fbpy_raise_text(
            err, PyUnicode_FromFormat("bus \"%s\": no frame within %s s", self->name, secs));
    }
    return fbpy_raise_text(err,
                           PyUnicode_FromFormat("bus \"%s\": %s", self->name, fbus_strerror(err)));
}

int fbpy_reader_release_frame(PyObject *reader, fbpy_frame *f)
{
    reader_obj *self = (reader_obj *)reader;
    int rc;

    if (f->state != FBPY_FRAME_HELD)
        return 0;
    if (f->views > 0)
        self->copies++;
    if (fbpy_frame_detach(f, &self->cache) < 0) {
        if (f->views > 0)
            self->copies--;
        return -1;
    }
    rc = self->r ? fbus_reader_release(self->r, &f->frame) : 0;
    if (rc == FBUS_EOVERRUN) {
        f->overrun = 1;
        self->overruns++;
    }
    if (self->current == f)
        self->current = NULL;
    Py_CLEAR(f->owner); /* may free the reader: nothing after this */
    return 0;
}

/* Give the held frame back; on failure to copy it aside, keep going with
 * the arrays still on the shared pages (valid memory, but they may change)
 * only if `force`. */
static int drop_current(reader_obj *self, int force)
{
    fbpy_frame *f = self->current;
    int rc;

    if (!f)
        return 0;
    Py_INCREF(self); /* the frame's reference to us goes in the release */
    rc = fbpy_reader_release_frame((PyObject *)self, f);
    if (rc < 0 && force) {
        PyErr_WriteUnraisable((PyObject *)f);
        f->state = FBPY_FRAME_COPIED; /* keeps its shadow; no new copies */
        if (self->r)
            fbus_reader_release(self->r, &f->frame);
        self->current = NULL;
        Py_CLEAR(f->owner);
        rc = 0;
    }
    Py_DECREF(self);
    return rc;
}

static void do_close(reader_obj *self)
{
    fbus_reader *r = self->r;

    drop_current(self, 1);
    if (r) {
        PyThreadState *ts = PyEval_SaveThread();
        fbus_reader_close(r);
        PyEval_RestoreThread(ts);
    }
    self->r = NULL;
    fbpy_shadow_flush(&self->cache);
}

static int reader_init(reader_obj *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name",      "lossless",  "wait",        "timeout",
                             "transport", "same_user", "low_latency", NULL};
    const char *name;
    int lossless = 0, wait = 1, same_user = 0, low_latency = 0;
    PyObject *timeout = Py_None, *tobj = NULL;
    fbus_reader_opts opts;
    PyThreadState *ts;
    int rc;

    if (self->r) {
        PyErr_SetString(PyExc_RuntimeError, "Reader is already open");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|ppOOpp:Reader", kwlist, &name, &lossless, &wait,
                                     &timeout, &tobj, &same_user, &low_latency))
        return -1;
    memset(&opts, 0, sizeof(opts));
    if (fbpy_transport(tobj, &opts.transport) < 0 ||
        fbpy_timeout_ns(timeout, &self->timeout_ns) < 0)
        return -1;
    opts.policy = lossless ? FBUS_POLICY_LOSSLESS : FBUS_POLICY_LATEST;
    opts.flags = (wait ? FBUS_READER_WAIT : 0) | (same_user ? FBUS_READER_SAME_USER : 0) |
                 (low_latency ? FBUS_READER_LOW_LATENCY : 0);
    snprintf(self->name, sizeof(self->name), "%s", name);
    self->transport = opts.transport;
    if (opts.transport == FBUS_TRANSPORT_POSIX) {
        char object[FBUS_NAME_MAX + 16];
        snprintf(object, sizeof(object), "/framebus.%s", name);
        fbpy_shadow_cache_init(&self->cache, object);
    } else {
        fbpy_shadow_cache_init(&self->cache, NULL);
    }
    self->lossless = lossless;
    ts = PyEval_SaveThread();
    rc = fbus_reader_open(name, &opts, &self->r);
    PyEval_RestoreThread(ts);
    if (rc < 0) {
        self->r = NULL;
        raise_bus(self, rc, 0);
        return -1;
    }
    return 0;
}

static void reader_dealloc(reader_obj *self)
{
    /* A held frame references its reader, so none is held here. */
    do_close(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The next frame: a new Frame, Py_None at end of stream, or NULL with an
 * exception. */
static PyObject *do_read(reader_obj *self, int64_t timeout_ns)
{
    int64_t start = fbus_now_ns();
    fbpy_shadow *shadow;
    const uint8_t *lo, *hi;
    fbus_frame fr;
    fbpy_frame *f;
    int rc;

    if (check_open(self) < 0)
        return NULL;
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "another thread is reading from this Reader");
        return NULL;
    }
    if (drop_current(self, 0) < 0)
        return NULL;
    self->busy = 1;
    for (;;) {
        int64_t slice = FBPY_SLICE_NS;
        PyThreadState *ts;

        if (timeout_ns >= 0) {
            int64_t left = timeout_ns - (fbus_now_ns() - start);
            if (left < slice)
                slice = left > 0 ? left : 0;
        }
        ts = PyEval_SaveThread();
        rc = fbus_reader_acquire(self->r, slice, &fr);
        PyEval_RestoreThread(ts);
        if (rc == 0)
            break;
        if (rc == FBUS_EREPLACED)
            continue; /* the writer moved to a bigger region: follow it */
        if (rc != -ETIMEDOUT && !(rc == -EAGAIN && slice > 0)) {
            self->busy = 0;
            if (rc == FBUS_EENDED)
                Py_RETURN_NONE;
            if (rc == -EAGAIN && timeout_ns != 0)
                rc = -ETIMEDOUT;
            return raise_bus(self, rc, timeout_ns);
        }
        if (PyErr_CheckSignals() < 0) {
            self->busy = 0;
            return NULL;
        }
        if (self->close_requested) {
            self->busy = 0;
            do_close(self);
            Py_RETURN_NONE;
        }
        if (timeout_ns >= 0 && fbus_now_ns() - start >= timeout_ns) {
            self->busy = 0;
            return raise_bus(self, -ETIMEDOUT, timeout_ns);
        }
    }
    self->busy = 0;
    if (self->close_requested) {
        fbus_reader_release(self->r, &fr);
        do_close(self);
        Py_RETURN_NONE;
    }
    fbpy_frame_bounds(&fr.format, (uint8_t *const *)fr.data, &lo, &hi);
    shadow = fbpy_shadow_get(&self->cache, fr.session, lo, hi, 0);
    if (!shadow) {
        fbus_reader_release(self->r, &fr);
        return NULL;
    }
    f = fbpy_frame_new((PyObject *)self, 0, &fr.format, (uint8_t *const *)fr.data, shadow);
    if (!f) {
        fbus_reader_release(self->r, &fr);
        return NULL;
    }
    f->frame = fr;
    self->current = f;
    self->frames++;
    return (PyObject *)f;
}

static PyObject *reader_read(reader_obj *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout = NULL;
    int64_t ns = self->timeout_ns;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:read", kwlist, &timeout))
        return NULL;
    if (timeout && fbpy_timeout_ns(timeout, &ns) < 0)
        return NULL;
    return do_read(self, ns);
}

static PyObject *reader_next(reader_obj *self)
{
    PyObject *f = do_read(self, self->timeout_ns);

    if (f == Py_None) {
        Py_DECREF(f);
        return NULL; /* StopIteration */
    }
    return f;
}

static PyObject *reader_close(reader_obj *self, PyObject *unused)
{
    if (self->busy)
        self->close_requested = 1; /* the waiting thread closes */
    else
        do_close(self);
    Py_RETURN_NONE;
}

static PyObject *reader_enter(reader_obj *self, PyObject *unused)
{
    if (check_open(self) < 0)
        return NULL;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *reader_exit(reader_obj *self, PyObject *args)
{
    reader_close(self, NULL);
    Py_RETURN_FALSE;
}

static PyObject *reader_repr(reader_obj *self)
{
    return PyUnicode_FromFormat("<framebus.Reader \"%s\" %s %s%s>", self->name,
                                fbpy_transport_name(self->transport),
                                self->lossless ? "lossless" : "latest", self->r ? "" : " closed");
}

static PyObject *get_name(reader_obj *self, void *c)
{
    return PyUnicode_FromString(self->name);
}

static PyObject *get_transport(reader_obj *self, void *c)
{
    return PyUnicode_FromString(fbpy_transport_name(self->transport));
}

static PyObject *get_lossless(reader_obj *self, void *c)
{
    return PyBool_FromLong(self->lossless);
}

static PyObject *get_closed(reader_obj *self, void *c)
{
    return PyBool_FromLong(self->r == NULL);
}

static PyObject *get_attached(reader_obj *self, void *c)
{
    return PyBool_FromLong(self->r && fbus_reader_attached(self->r));
}

static PyObject *get_frames(reader_obj *self, void *c)
{
    return PyLong_FromUnsignedLongLong(self->frames);
}

static PyObject *get_copies(reader_obj *self, void *c)
{
    return PyLong_FromUnsignedLongLong(self->copies);
}

static PyObject *get_overruns(reader_obj *self, void *c)
{
    return PyLong_FromUnsignedLongLong(self->overruns);
}

static PyGetSetDef reader_getset[] = {
    {"name", (getter)get_name, NULL, "The bus name.", NULL},
    {"transport", (getter)get_transport, NULL, "\"posix\" or \"sysv\".", NULL},
    {"lossless", (getter)get_lossless, NULL, "True for a lossless reader.", NULL},
    {"closed", (getter)get_closed, NULL, "True after close().", NULL},
    {"attached", (getter)get_attached, NULL,
     "True while attached to a live writer, False while waiting for one.", NULL},
    {"frames", (getter)get_frames, NULL, "Frames read so far.", NULL},
    {"copies", (getter)get_copies, NULL,
     "Frames copied at release because arrays still viewed them (copy-on-release).\n"
     "Zero in a loop that lets go of its arrays before the next read.",
     NULL},
    {"overruns", (getter)get_overruns, NULL,
     "Releases that found the slot reused by the writer (see Frame.overrun).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef reader_methods[] = {
    {"read", (PyCFunction)(void (*)(void))reader_read, METH_VARARGS | METH_KEYWORDS,
     "read(timeout=<the Reader's>) -> Frame or None\n\n"
     "The next frame: the newest one (latest reader) or the one after the last\n"
     "(lossless). Gives back the previous frame first (arrays still viewing it get\n"
     "a private copy). Returns None at the end of the stream (the writer closed the\n"
     "bus); called again, waits for the next writer of the name. timeout in seconds,\n"
     "None waits forever, 0 polls. Raises framebus.Timeout when it expires,\n"
     "framebus.Error(framebus.EPRODUCERGONE) when the writer died (read again to\n"
     "wait for its restart), KeyboardInterrupt on Ctrl-C. The GIL is released while\n"
     "waiting."},
    {"close", (PyCFunction)reader_close, METH_NOARGS,
     "close()\n\nLeave the bus. A held frame is given back (its live arrays keep a\n"
     "private copy). From another thread, ends a waiting read(), which returns None.\n"
     "Idempotent."},
    {"__enter__", (PyCFunction)reader_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)reader_exit, METH_VARARGS, "close()"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject fbpy_ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "framebus.Reader",
    .tp_basicsize = sizeof(reader_obj),
    .tp_dealloc = (destructor)reader_dealloc,
    .tp_repr = (reprfunc)reader_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Reader(name, lossless=False, wait=True, timeout=None, transport=\"posix\",\n"
              "       same_user=False, low_latency=False)\n\n"
              "Attach to bus `name` and read its frames.\n\n"
              "lossless: False gives the newest frame at each read and never slows the\n"
              "  writer (preview); True gives every frame in order and the writer waits for\n"
              "  this reader (recording, encoding). A lossless reader opened with wait=True\n"
              "  before its writer starts gets frame 1 (the library's start-order guarantee).\n"
              "wait: True succeeds even if the bus does not exist yet (read() waits for\n"
              "  it); False raises framebus.Error(-errno.ENOENT) at once.\n"
              "timeout: default of read() and iteration, in seconds; None waits forever.\n"
              "transport: \"posix\" (shm_open) or \"sysv\" (shmget).\n"
              "same_user: refuse a bus owned by another user (framebus.EOWNER).\n"
              "low_latency: wake within microseconds of a publish (awake from when the\n"
              "  writer begins a frame: ~1-2% of a core at 1080p60).\n\n"
              "Iterating yields Frames until the writer closes the bus. A context manager:\n"
              "the with block closes it. Create it in the process that uses it.",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)reader_next,
    .tp_methods = reader_methods,
    .tp_getset = reader_getset,
    .tp_init = (initproc)reader_init,
    .tp_new = PyType_GenericNew,
};
