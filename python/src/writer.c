/* SPDX-License-Identifier: MIT */
/*
 * framebus.Writer: creates a bus and publishes frames, either copied from
 * numpy arrays / bytes (write) or filled in place (frame). Shapes and
 * dtypes are checked before a slot is taken; waits for slow lossless
 * readers release the GIL and can be interrupted.
 */
#include "pyfbus.h"

#include <errno.h>
#include <string.h>

typedef struct writer_obj {
    PyObject_HEAD fbus_writer *w;
    char name[FBUS_NAME_MAX + 1];
    fbus_format fmt;
    fbus_transport transport;
    int32_t rate_num, rate_den; /* 0/0: unknown */
    int32_t tb_num, tb_den;     /* of pts; default 1/fps */
    int busy;
    int close_requested;
    int64_t timeout_ns;
    fbpy_frame *current; /* the slot of frame(), borrowed */
    fbpy_shadow_cache cache;
    uint64_t frames; /* published */
} writer_obj;

static PyObject *raise_bus(writer_obj *self, int err)
{
    if (err == -ETIMEDOUT || err == -EAGAIN)
        return fbpy_raise_text(err,
                               PyUnicode_FromFormat("bus \"%s\": timed out waiting for a free slot "
                                                    "(a lossless reader is not keeping up)",
                                                    self->name));
    if (err == FBUS_EBUSY)
        return fbpy_raise_text(err,
                               PyUnicode_FromFormat("bus \"%s\": %s (another writer is running)",
                                                    self->name, fbus_strerror(err)));
    return fbpy_raise_text(err,
                           PyUnicode_FromFormat("bus \"%s\": %s", self->name, fbus_strerror(err)));
}

static int check_open(writer_obj *self)
{
    if (!self->w) {
        PyErr_SetString(PyExc_ValueError, "writer is closed");
        return -1;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "another thread is writing to this Writer");
        return -1;
    }
    return 0;
}

static int set_format(writer_obj *self, const char *pix_fmt, long width, long height)
{
    fbus_format fmt;
    int rc;

    if (width <= 0 || height <= 0 || width > UINT32_MAX || height > UINT32_MAX) {
        PyErr_Format(PyExc_ValueError, "width and height must be positive, got %ldx%ld", width,
                     height);
        return -1;
    }
    rc = fbus_format_init(&fmt, pix_fmt, (uint32_t)width, (uint32_t)height, 0);
    if (rc < 0) {
        char what[96];
        snprintf(what, sizeof(what), "%s %ldx%ld", pix_fmt, width, height);
        fbpy_raise(rc, what);
        return -1;
    }
    self->fmt = fmt;
    return 0;
}

static void do_close(writer_obj *self);

/* Wait for a slot in slices: 0, or -1 with an exception set. */
static int acquire_slot(writer_obj *self, int64_t timeout_ns, fbus_slot *slot)
{
    int64_t start = fbus_now_ns();
    int rc;

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
        rc = fbus_writer_acquire(self->w, &self->fmt, slice, slot);
        PyEval_RestoreThread(ts);
        if (rc == 0)
            break;
        if (rc != -ETIMEDOUT && !(rc == -EAGAIN && slice > 0)) {
            self->busy = 0;
            if (rc == -EAGAIN && timeout_ns != 0)
                rc = -ETIMEDOUT;
            raise_bus(self, rc);
            return -1;
        }
        if (PyErr_CheckSignals() < 0)
            goto fail;
        if (self->close_requested) {
            PyErr_SetString(PyExc_ValueError, "writer was closed while waiting");
            goto fail;
        }
        if (timeout_ns >= 0 && fbus_now_ns() - start >= timeout_ns) {
            raise_bus(self, -ETIMEDOUT);
            goto fail;
        }
    }
    self->busy = 0;
    if (self->close_requested) {
        fbus_writer_cancel(self->w, slot);
        PyErr_SetString(PyExc_ValueError, "writer was closed while waiting");
        do_close(self);
        return -1;
    }
    return 0;
fail:
    self->busy = 0;
    if (self->close_requested)
        do_close(self);
    return -1;
}

static void fill_meta(writer_obj *self, PyObject *pts, fbus_meta *meta, int *err)
{
    memset(meta, 0, sizeof(*meta));
    meta->rate_num = self->rate_num;
    meta->rate_den = self->rate_den;
    meta->tb_num = self->tb_num;
    meta->tb_den = self->tb_den;
    meta->flags = FBUS_FRAME_KEY;
    *err = 0;
    if (pts && pts != Py_None) {
        long long v = PyLong_AsLongLong(pts);
        if (v == -1 && PyErr_Occurred()) {
            *err = -1;
            return;
        }
        meta->pts = v;
    } else if (self->tb_den && self->rate_num) {
        /* Frame index in the time base: n * (1/fps) / tb. */
        double t = (double)self->frames * self->rate_den / self->rate_num;
        meta->pts = (int64_t)(t * self->tb_den / self->tb_num + 0.5);
    } else {
        meta->pts = INT64_MIN;
    }
}

/* ------------------------------------------------------------ write() */

/* How to copy one plane into the slot. */
struct plane_src {
    const uint8_t *ptr;   /* first row, or NULL: use `array` */
    ptrdiff_t stride;     /* bytes between rows (may be negative) */
    PyArrayObject *array; /* strided source copied by numpy */
};

struct copy_plan {
    struct plane_src plane[FBUS_MAX_PLANES];
    PyObject *keep[FBUS_MAX_PLANES]; /* references held during the copy */
    Py_buffer view;                  /* bytes-like source */
    int has_view;
    int slow; /* some plane needs numpy (keep the GIL) */
};

static void plan_free(struct copy_plan *p)
{
    for (int i = 0; i < FBUS_MAX_PLANES; i++)
        Py_XDECREF(p->keep[i]);
    if (p->has_view)
        PyBuffer_Release(&p->view);
}

static int expected_dtype(writer_obj *self)
{
    return fbpy_sample_bytes(self->fmt.pix_fmt) == 2 ? NPY_UINT16 : NPY_UINT8;
}

static PyObject *shape_error(writer_obj *self, PyArrayObject *a, const char *expected)
{
    PyObject *shape = PyObject_GetAttrString((PyObject *)a, "shape");
    PyObject *dtype = PyObject_GetAttrString((PyObject *)a, "dtype");

    if (shape && dtype)
        PyErr_Format(PyExc_ValueError,
                     "Writer \"%s\" (%ux%u %s) expects %s, got a %S array of shape %S", self->name,
                     self->fmt.width, self->fmt.height, self->fmt.pix_fmt, expected, dtype, shape);
    Py_XDECREF(shape);
    Py_XDECREF(dtype);
    return NULL;
}

/* Check array `a` for plane i. A frame array of a one-plane format with
 * `comp` samples per pixel is (H, W, comp), or (H, W) when comp is 1; a
 * plane of a list is (rows, samples) or any (rows, n, samples / n). */
static int plan_plane(writer_obj *self, struct copy_plan *p, uint32_t i, PyArrayObject *a,
                      uint32_t comp, const char *expected)
{
    const fbus_plane *pl = &self->fmt.planes[i];
    int bps = fbpy_sample_bytes(self->fmt.pix_fmt);
    npy_intp samples = pl->row_bytes / bps;
    int nd = PyArray_NDIM(a);
    npy_intp *dims = PyArray_DIMS(a), *st = PyArray_STRIDES(a);
    int ok;

    ok = PyArray_TYPE(a) == expected_dtype(self) && PyArray_ISNOTSWAPPED(a) && nd >= 2 && nd <= 3 &&
         dims[0] == pl->rows;
    if (ok && nd == 2)
        ok = dims[1] == samples && comp <= 1;
    if (ok && nd == 3)
        ok = dims[1] * dims[2] == samples && dims[2] > 0 && (comp == 0 || dims[2] == comp);
    if (!ok) {
        shape_error(self, a, expected);
        return -1;
    }
    p->plane[i].array = a;
    /* Rows whose samples are contiguous go through fbus_copy_plane. */
    if (st[nd - 1] == bps && (nd == 2 || st[1] == dims[2] * bps)) {
        p->plane[i].ptr = (const uint8_t *)PyArray_BYTES(a);
        p->plane[i].stride = st[0];
    } else {
        p->slow = 1;
    }
    return 0;
}

static PyArrayObject *as_array(PyObject *obj)
{
    return (PyArrayObject *)PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
}

static void expected_text(writer_obj *self, char *buf, size_t size)
{
    const char *dt = expected_dtype(self) == NPY_UINT16 ? "uint16" : "uint8";
    char shape[64];
    size_t n;

    if (self->fmt.nb_planes == 1) {
        fbpy_array_shape_text(&self->fmt, shape, sizeof(shape));
        snprintf(buf, size, "a %s array of shape %s", dt, shape);
        return;
    }
    n = (size_t)snprintf(buf, size, "a list of %u %s planes [", self->fmt.nb_planes, dt);
    for (uint32_t i = 0; i < self->fmt.nb_planes && n < size; i++) {
        fbpy_plane_shape_text(&self->fmt, i, shape, sizeof(shape));
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", shape);
    }
    if (n < size)
        snprintf(buf + n, size - n, "] or %llu packed bytes",
                 (unsigned long long)fbpy_packed_size(&self->fmt));
}

static int plan_packed(writer_obj *self, struct copy_plan *p, const uint8_t *src)
{
    for (uint32_t i = 0; i < self->fmt.nb_planes; i++) {
        p->plane[i].ptr = src;
        p->plane[i].stride = self->fmt.planes[i].row_bytes;
        src += (size_t)self->fmt.planes[i].rows * self->fmt.planes[i].row_bytes;
    }
    return 0;
}

static int make_plan(writer_obj *self, PyObject *data, struct copy_plan *p)
{
    char expected[256];
    uint64_t packed = fbpy_packed_size(&self->fmt);

    memset(p, 0, sizeof(*p));
    expected_text(self, expected, sizeof(expected));
    if (PyList_Check(data) || PyTuple_Check(data)) {
        PyObject *seq = PySequence_Fast(data, "planes");
        Py_ssize_t n = seq ? PySequence_Fast_GET_SIZE(seq) : -1;

        if (!seq)
            return -1;
        if (n != self->fmt.nb_planes) {
            Py_DECREF(seq);
            PyErr_Format(PyExc_ValueError, "Writer \"%s\" (%ux%u %s) expects %s, got %zd planes",
                         self->name, self->fmt.width, self->fmt.height, self->fmt.pix_fmt, expected,
                         n);
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyArrayObject *a = as_array(PySequence_Fast_GET_ITEM(seq, i));
            if (!a) {
                Py_DECREF(seq);
                return -1;
            }
            p->keep[i] = (PyObject *)a;
            if (plan_plane(self, p, (uint32_t)i, a, 0, expected) < 0) {
                Py_DECREF(seq);
                return -1;
            }
        }
        Py_DECREF(seq);
        return 0;
    }
    if (PyArray_Check(data)) {
        PyArrayObject *a = (PyArrayObject *)data;
        Py_INCREF(a);
        p->keep[0] = (PyObject *)a;
        if (self->fmt.nb_planes == 1) {
            return plan_plane(self, p, 0, a, fbpy_components(&self->fmt), expected);
        }
        /* One array for a planar format: its bytes, tightly packed, as
         * cv2.cvtColor(..., COLOR_BGR2YUV_I420) makes them. */
        if (PyArray_TYPE(a) == expected_dtype(self) && PyArray_ISNOTSWAPPED(a) &&
            PyArray_IS_C_CONTIGUOUS(a) && (uint64_t)PyArray_NBYTES(a) == packed)
            return plan_packed(self, p, (const uint8_t *)PyArray_BYTES(a));
        shape_error(self, a, expected);
        return -1;
    }
    if (PyObject_CheckBuffer(data)) {
        if (PyObject_GetBuffer(data, &p->view, PyBUF_C_CONTIGUOUS) < 0)
            return -1;
        p->has_view = 1;
        if ((uint64_t)p->view.len != packed) {
            PyErr_Format(PyExc_ValueError, "Writer \"%s\" (%ux%u %s) expects %s, got %zd bytes",
                         self->name, self->fmt.width, self->fmt.height, self->fmt.pix_fmt, expected,
                         p->view.len);
            return -1;
        }
        return plan_packed(self, p, p->view.buf);
    }
    PyErr_Format(PyExc_TypeError,
                 "Writer.write() takes a numpy array, a list of planes or bytes, not %.100s",
                 Py_TYPE(data)->tp_name);
    return -1;
}

/* A writable array over plane i of the slot with the source's shape. */
static int slow_copy(writer_obj *self, fbus_slot *slot, uint32_t i, PyArrayObject *src)
{
    const fbus_plane *pl = &slot->format.planes[i];
    int bps = fbpy_sample_bytes(self->fmt.pix_fmt);
    int nd = PyArray_NDIM(src);
    npy_intp *dims = PyArray_DIMS(src);
    npy_intp strides[3] = {pl->stride, bps, bps};
    PyArrayObject *dst;
    int rc;

    if (nd == 3)
        strides[1] = dims[2] * bps;
    dst = (PyArrayObject *)PyArray_NewFromDescr(
        &PyArray_Type, PyArray_DescrFromType(expected_dtype(self)), nd, dims, strides,
        slot->data[i], NPY_ARRAY_WRITEABLE | NPY_ARRAY_ALIGNED, NULL);
    if (!dst)
        return -1;
    rc = PyArray_CopyInto(dst, src);
    Py_DECREF(dst);
    return rc;
}

static void fast_copy(writer_obj *self, fbus_slot *slot, const struct copy_plan *p)
{
    for (uint32_t i = 0; i < self->fmt.nb_planes; i++) {
        const fbus_plane *pl = &slot->format.planes[i];
        if (p->plane[i].ptr)
            fbus_copy_plane(slot->data[i], pl->stride, p->plane[i].ptr, p->plane[i].stride,
                            pl->row_bytes, pl->rows);
    }
}

static PyObject *writer_write(writer_obj *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"data", "pts", "timeout", NULL};
    PyObject *data, *pts = NULL, *timeout = NULL;
    int64_t ns = self->timeout_ns;
    struct copy_plan plan;
    fbus_slot slot;
    fbus_meta meta;
    int rc, err;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO:write", kwlist, &data, &pts, &timeout) ||
        check_open(self) < 0 || (timeout && fbpy_timeout_ns(timeout, &ns) < 0))
        return NULL;
    if (self->current) {
        PyErr_SetString(PyExc_RuntimeError,
                        "a frame from Writer.frame() is still open: publish or cancel it first");
        return NULL;
    }
    if (make_plan(self, data, &plan) < 0) {
        plan_free(&plan);
        return NULL;
    }
    fill_meta(self, pts, &meta, &err);
    if (err < 0 || acquire_slot(self, ns, &slot) < 0) {
        plan_free(&plan);
        return NULL;
    }
    if (!plan.slow) {
        PyThreadState *ts = PyEval_SaveThread();
        fast_copy(self, &slot, &plan);
        PyEval_RestoreThread(ts);
    } else {
        fast_copy(self, &slot, &plan);
        for (uint32_t i = 0; i < self->fmt.nb_planes; i++) {
            if (!plan.plane[i].ptr && slow_copy(self, &slot, i, plan.plane[i].array) < 0) {
                fbus_writer_cancel(self->w, &slot);
                plan_free(&plan);
                return NULL;
            }
        }
    }
    plan_free(&plan);
    rc = fbus_writer_publish(self->w, &slot, &meta);
    if (rc < 0)
        return raise_bus(self, rc);
    self->frames++;
    return PyLong_FromUnsignedLongLong(slot.seq);
}

/* ------------------------------------------------------------ frame() */

int fbpy_writer_finish_frame(PyObject *writer, fbpy_frame *f, int publish)
{
    writer_obj *self = (writer_obj *)writer;
    fbus_meta meta;
    int rc = 0;

    if (f->state != FBPY_FRAME_HELD)
        return 0;
    if (fbpy_frame_detach(f, &self->cache) < 0)
        return -1;
    if (self->w) {
        if (publish) {
            memset(&meta, 0, sizeof(meta));
            meta.pts = f->frame.pts;
            meta.tb_num = f->frame.tb_num;
            meta.tb_den = f->frame.tb_den;
            meta.rate_num = f->frame.rate_num;
            meta.rate_den = f->frame.rate_den;
            meta.flags = f->frame.flags;
            rc = fbus_writer_publish(self->w, &f->slot, &meta);
            if (rc == 0)
                self->frames++;
        } else {
            fbus_writer_cancel(self->w, &f->slot);
        }
    }
    if (self->current == f)
        self->current = NULL;
    if (rc < 0) {
        raise_bus(self, rc);
        Py_CLEAR(f->owner);
        return -1;
    }
    Py_CLEAR(f->owner); /* may free the writer */
    return 0;
}

static PyObject *writer_frame(writer_obj *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"pts", "timeout", NULL};
    PyObject *pts = NULL, *timeout = NULL;
    int64_t ns = self->timeout_ns;
    const uint8_t *lo, *hi;
    fbpy_shadow *shadow;
    fbus_slot slot;
    fbus_meta meta;
    fbpy_frame *f;
    int err;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO:frame", kwlist, &pts, &timeout) ||
        check_open(self) < 0 || (timeout && fbpy_timeout_ns(timeout, &ns) < 0))
        return NULL;
    if (self->current) {
        PyErr_SetString(PyExc_RuntimeError,
                        "a frame from Writer.frame() is still open: publish or cancel it first");
        return NULL;
    }
    fill_meta(self, pts, &meta, &err);
    if (err < 0 || acquire_slot(self, ns, &slot) < 0)
        return NULL;
    fbpy_frame_bounds(&slot.format, slot.data, &lo, &hi);
    shadow = fbpy_shadow_get(&self->cache, fbus_writer_session(self->w), lo, hi, 1);
    if (!shadow) {
        fbus_writer_cancel(self->w, &slot);
        return NULL;
    }
    f = fbpy_frame_new((PyObject *)self, 1, &slot.format, slot.data, shadow);
    if (!f) {
        fbus_writer_cancel(self->w, &slot);
        return NULL;
    }
    f->slot = slot;
    f->frame.seq = slot.seq;
    f->frame.session = fbus_writer_session(self->w);
    f->frame.pts = meta.pts;
    f->frame.tb_num = meta.tb_num;
    f->frame.tb_den = meta.tb_den;
    f->frame.rate_num = meta.rate_num;
    f->frame.rate_den = meta.rate_den;
    f->frame.flags = meta.flags;
    self->current = f;
    return (PyObject *)f;
}

/* ------------------------------------------------------------ the rest */

static void do_close(writer_obj *self)
{
    fbus_writer *w = self->w;

    if (self->current) {
        fbpy_frame *f = self->current;
        Py_INCREF(self);
        if (fbpy_writer_finish_frame((PyObject *)self, f, 0) < 0) {
            /* Could not copy the arrays aside: they keep our mapping of
             * the shared pages, which stays valid. */
            PyErr_WriteUnraisable((PyObject *)f);
            f->state = FBPY_FRAME_COPIED;
            fbus_writer_cancel(w, &f->slot);
            self->current = NULL;
            Py_CLEAR(f->owner);
        }
        Py_DECREF(self);
    }
    self->w = NULL;
    if (w) {
        PyThreadState *ts = PyEval_SaveThread();
        fbus_writer_close(w);
        PyEval_RestoreThread(ts);
    }
    fbpy_shadow_flush(&self->cache);
}

static int writer_init(writer_obj *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name",      "width", "height",  "pix_fmt",   "fps", "slots",
                             "transport", "mode",  "timeout", "time_base", NULL};
    const char *name, *pix_fmt = "bgr24";
    long width, height;
    unsigned int slots = FBUS_DEFAULT_SLOTS, mode = 0600;
    PyObject *fps = NULL, *tobj = NULL, *timeout = Py_None, *tb = Py_None;
    fbus_writer_opts opts;
    PyThreadState *ts;
    int rc;

    if (self->w) {
        PyErr_SetString(PyExc_RuntimeError, "Writer is already open");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sll|sOIOIOO:Writer", kwlist, &name, &width, &height,
                                     &pix_fmt, &fps, &slots, &tobj, &mode, &timeout, &tb))
        return -1;
    snprintf(self->name, sizeof(self->name), "%s", name);
    fbpy_shadow_cache_init(&self->cache, NULL);
    if (!fps) {
        self->rate_num = 30;
        self->rate_den = 1;
    } else if (fbpy_rational(fps, "fps", &self->rate_num, &self->rate_den) < 0) {
        return -1;
    }
    if (fbpy_rational(tb, "time_base", &self->tb_num, &self->tb_den) < 0)
        return -1;
    if (self->tb_den == 0 && self->rate_num) {
        self->tb_num = self->rate_den;
        self->tb_den = self->rate_num;
    }
    if (slots < 2 || slots > FBUS_MAX_SLOTS) {
        PyErr_Format(PyExc_ValueError, "slots must be 2..%d, got %u", FBUS_MAX_SLOTS, slots);
        return -1;
    }
    if (mode > 0777) {
        PyErr_Format(PyExc_ValueError, "mode must be permission bits like 0o600, got %#o", mode);
        return -1;
    }
    memset(&opts, 0, sizeof(opts));
    if (fbpy_transport(tobj, &opts.transport) < 0 ||
        fbpy_timeout_ns(timeout, &self->timeout_ns) < 0 ||
        set_format(self, pix_fmt, width, height) < 0)
        return -1;
    self->transport = opts.transport;
    opts.slots = slots;
    opts.format = &self->fmt;
    opts.mode = mode;
    ts = PyEval_SaveThread();
    rc = fbus_writer_open(name, &opts, &self->w);
    PyEval_RestoreThread(ts);
    if (rc < 0) {
        self->w = NULL;
        raise_bus(self, rc);
        return -1;
    }
    return 0;
}

static void writer_dealloc(writer_obj *self)
{
    do_close(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *writer_close(writer_obj *self, PyObject *unused)
{
    if (self->busy)
        self->close_requested = 1;
    else
        do_close(self);
    Py_RETURN_NONE;
}

static PyObject *writer_resize(writer_obj *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"width", "height", "pix_fmt", NULL};
    long width, height;
    const char *pix_fmt = NULL;
    char current[FBUS_PIXFMT_MAX];

    if (!PyArg_ParseTupleAndKeywords(args, kw, "ll|s:resize", kwlist, &width, &height, &pix_fmt) ||
        check_open(self) < 0)
        return NULL;
    if (self->current) {
        PyErr_SetString(PyExc_RuntimeError, "a frame from Writer.frame() is still open");
        return NULL;
    }
    snprintf(current, sizeof(current), "%s", self->fmt.pix_fmt);
    if (set_format(self, pix_fmt ? pix_fmt : current, width, height) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *writer_wait_readers(writer_obj *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"n", "timeout", NULL};
    int n = 1;
    PyObject *timeout = Py_None;
    int64_t ns, start = fbus_now_ns();
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|iO:wait_readers", kwlist, &n, &timeout) ||
        fbpy_timeout_ns(timeout, &ns) < 0 || check_open(self) < 0)
        return NULL;
    for (;;) {
        int64_t slice = FBPY_SLICE_NS;
        PyThreadState *ts;

        if (ns >= 0) {
            int64_t left = ns - (fbus_now_ns() - start);
            if (left < slice)
                slice = left > 0 ? left : 0;
        }
        ts = PyEval_SaveThread();
        rc = fbus_writer_wait_readers(self->w, n, slice);
        PyEval_RestoreThread(ts);
        if (rc == 0)
            Py_RETURN_NONE;
        if (rc != -ETIMEDOUT && rc != -EAGAIN)
            return raise_bus(self, rc);
        if (PyErr_CheckSignals() < 0)
            return NULL;
        if (ns >= 0 && fbus_now_ns() - start >= ns)
            return fbpy_raise_text(-ETIMEDOUT,
                                   PyUnicode_FromFormat("bus \"%s\": fewer than %d readers "
                                                        "attached before the timeout",
                                                        self->name, n));
    }
}

static PyObject *writer_enter(writer_obj *self, PyObject *unused)
{
    if (!self->w) {
        PyErr_SetString(PyExc_ValueError, "writer is closed");
        return NULL;
    }
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *writer_exit(writer_obj *self, PyObject *args)
{
    writer_close(self, NULL);
    Py_RETURN_FALSE;
}

static PyObject *writer_repr(writer_obj *self)
{
    return PyUnicode_FromFormat("<framebus.Writer \"%s\" %ux%u %s %s%s>", self->name,
                                self->fmt.width, self->fmt.height, self->fmt.pix_fmt,
                                fbpy_transport_name(self->transport), self->w ? "" : " closed");
}

static PyObject *get_name(writer_obj *self, void *c)
{
    return PyUnicode_FromString(self->name);
}

static PyObject *get_width(writer_obj *self, void *c)
{
    return PyLong_FromUnsignedLong(self->fmt.width);
}

static PyObject *get_height(writer_obj *self, void *c)
{
    return PyLong_FromUnsignedLong(self->fmt.height);
}

static PyObject *get_pix_fmt(writer_obj *self, void *c)
{
    return PyUnicode_FromString(self->fmt.pix_fmt);
}

static PyObject *get_fps(writer_obj *self, void *c)
{
    return fbpy_fraction(self->rate_num, self->rate_den);
}

static PyObject *get_transport(writer_obj *self, void *c)
{
    return PyUnicode_FromString(fbpy_transport_name(self->transport));
}

static PyObject *get_closed(writer_obj *self, void *c)
{
    return PyBool_FromLong(self->w == NULL);
}

static PyObject *get_frames(writer_obj *self, void *c)
{
    return PyLong_FromUnsignedLongLong(self->frames);
}

static PyObject *get_readers(writer_obj *self, void *c)
{
    return PyLong_FromLong(self->w ? fbus_writer_readers(self->w) : 0);
}

static PyObject *get_session(writer_obj *self, void *c)
{
    return PyLong_FromUnsignedLongLong(self->w ? fbus_writer_session(self->w) : 0);
}

static PyObject *shape_tuple(const fbus_format *fmt, uint32_t i)
{
    int bps = fbpy_sample_bytes(fmt->pix_fmt);
    return Py_BuildValue("(II)", fmt->planes[i].rows, fmt->planes[i].row_bytes / bps);
}

static PyObject *get_shape(writer_obj *self, void *c)
{
    uint32_t comp = fbpy_components(&self->fmt);

    if (comp > 1)
        return Py_BuildValue("(III)", self->fmt.height, self->fmt.width, comp);
    if (comp == 1)
        return Py_BuildValue("(II)", self->fmt.height, self->fmt.width);
    if (self->fmt.nb_planes == 1)
        return shape_tuple(&self->fmt, 0);
    Py_RETURN_NONE;
}

static PyObject *get_plane_shapes(writer_obj *self, void *c)
{
    PyObject *list = PyList_New(self->fmt.nb_planes);

    for (uint32_t i = 0; list && i < self->fmt.nb_planes; i++) {
        PyObject *t = shape_tuple(&self->fmt, i);
        if (!t) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, t);
    }
    return list;
}

static PyObject *get_dtype(writer_obj *self, void *c)
{
    return (PyObject *)PyArray_DescrFromType(expected_dtype(self));
}

static PyObject *get_frame_size(writer_obj *self, void *c)
{
    return PyLong_FromUnsignedLongLong(fbpy_packed_size(&self->fmt));
}

static PyGetSetDef writer_getset[] = {
    {"name", (getter)get_name, NULL, "The bus name.", NULL},
    {"width", (getter)get_width, NULL, "Frame width in pixels.", NULL},
    {"height", (getter)get_height, NULL, "Frame height in pixels.", NULL},
    {"pix_fmt", (getter)get_pix_fmt, NULL, "Pixel format name.", NULL},
    {"fps", (getter)get_fps, NULL, "Nominal frame rate as a Fraction, or None.", NULL},
    {"transport", (getter)get_transport, NULL, "\"posix\" or \"sysv\".", NULL},
    {"closed", (getter)get_closed, NULL, "True after close().", NULL},
    {"frames", (getter)get_frames, NULL, "Frames published so far.", NULL},
    {"readers", (getter)get_readers, NULL, "Live registered readers now.", NULL},
    {"session", (getter)get_session, NULL, "This writer's session id (new per region).", NULL},
    {"shape", (getter)get_shape, NULL,
     "Shape write() takes as one array: (H, W, C) or (H, W); None for planar formats.", NULL},
    {"plane_shapes", (getter)get_plane_shapes, NULL,
     "Shape of each plane as a 2-D array, e.g. [(720, 1280), (360, 640), (360, 640)].", NULL},
    {"dtype", (getter)get_dtype, NULL, "numpy dtype of the samples: uint8 or uint16.", NULL},
    {"frame_size", (getter)get_frame_size, NULL,
     "Bytes of a tightly packed frame (what write() takes as bytes).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef writer_methods[] = {
    {"write", (PyCFunction)(void (*)(void))writer_write, METH_VARARGS | METH_KEYWORDS,
     "write(data, pts=None, timeout=<the Writer's>) -> int\n\n"
     "Publish one frame, copied once into the next slot; returns its sequence number.\n"
     "data is a numpy array of .shape and .dtype (uint8; uint16 for the 10/12/16-bit\n"
     "formats), C-contiguous or strided; or a list of one 2-D array per plane\n"
     "(.plane_shapes); or one contiguous array or bytes-like object of .frame_size\n"
     "bytes, the planes packed one after the other (cv2.cvtColor's I420/NV12 output).\n"
     "A wrong shape, dtype or size raises ValueError naming what was expected.\n"
     "pts: in time_base units; default the frame's index at fps. Waits (GIL released)\n"
     "while every slot is needed by a lossless reader; raises framebus.Timeout after\n"
     "timeout seconds, KeyboardInterrupt on Ctrl-C."},
    {"frame", (PyCFunction)(void (*)(void))writer_frame, METH_VARARGS | METH_KEYWORDS,
     "frame(pts=None, timeout=<the Writer's>) -> Frame\n\n"
     "The next slot as a writable Frame, for zero-copy production:\n\n"
     "    with w.frame() as f:\n"
     "        f.array[...] = img        # or fill f.planes[i]\n\n"
     "The with block publishes it at the end (or cancels it if the block raises);\n"
     "without with, call f.publish() or f.cancel(). Arrays kept after that are\n"
     "switched to a private copy and no longer reach the bus."},
    {"wait_readers", (PyCFunction)(void (*)(void))writer_wait_readers, METH_VARARGS | METH_KEYWORDS,
     "wait_readers(n=1, timeout=None)\n\nWait until at least n readers are attached;\n"
     "raises framebus.Timeout."},
    {"resize", (PyCFunction)(void (*)(void))writer_resize, METH_VARARGS | METH_KEYWORDS,
     "resize(width, height, pix_fmt=None)\n\nChange the format of the following frames.\n"
     "If they no longer fit the slots, the next write moves the bus to a bigger\n"
     "region under the same name; readers follow on their own."},
    {"close", (PyCFunction)writer_close, METH_NOARGS,
     "close()\n\nEnd the stream (readers see the end: iteration stops, read() returns\n"
     "None) and remove the bus. Idempotent."},
    {"__enter__", (PyCFunction)writer_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)writer_exit, METH_VARARGS, "close()"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject fbpy_WriterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "framebus.Writer",
    .tp_basicsize = sizeof(writer_obj),
    .tp_dealloc = (destructor)writer_dealloc,
    .tp_repr = (reprfunc)writer_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Writer(name, width, height, pix_fmt=\"bgr24\", fps=30, slots=3,\n"
              "       transport=\"posix\", mode=0o600, timeout=None, time_base=None)\n\n"
              "Create bus `name` and become its only writer.\n\n"
              "pix_fmt: ffmpeg's name (bgr24, rgb24, gray, gray16le, yuv420p, nv12, p010le,\n"
              "  yuv420p10le, yuyv422, rgba, bgra...). fps: nominal rate written into every\n"
              "  frame (int, float such as 29.97 = 30000/1001, Fraction, (num, den), or None).\n"
              "slots: 2..64 frame buffers. transport: \"posix\" or \"sysv\". mode: permission\n"
              "  bits (0o640 opens the bus to the group, read-only). timeout: default wait of\n"
              "  write() and frame() for slow lossless readers, None waits forever.\n"
              "time_base: of pts, default 1/fps.\n\n"
              "Raises framebus.Error: framebus.EBUSY if a live writer holds the name,\n"
              "EBADNAME, EFORMAT (unknown pix_fmt), -errno.EEXIST/-errno.EACCES... A context\n"
              "manager: the with block closes it (ends the stream).",
    .tp_methods = writer_methods,
    .tp_getset = writer_getset,
    .tp_init = (initproc)writer_init,
    .tp_new = PyType_GenericNew,
};
