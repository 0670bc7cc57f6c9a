/* SPDX-License-Identifier: MIT */
/*
 * framebus.Frame: one frame a Reader acquired (or a slot a Writer is
 * filling), with numpy views of its planes. Every view holds the frame
 * through a small base object that counts the views alive, which is how a
 * release knows whether the pixels must be copied aside first.
 */
#include "pyfbus.h"

#include <string.h>

/* ------------------------------------------------------------ view base */

/* The base object of every array a Frame hands out. */
typedef struct view_base {
    PyObject_HEAD fbpy_frame *frame;
} view_base;

static void view_base_dealloc(view_base *v)
{
    if (v->frame) {
        v->frame->views--;
        Py_DECREF(v->frame);
    }
    PyObject_Free(v);
}

PyTypeObject fbpy_ViewBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "framebus._FrameView",
    .tp_basicsize = sizeof(view_base),
    .tp_dealloc = (destructor)view_base_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Keeps a Frame (and its pixels) alive while a numpy array views it.",
};

/* ------------------------------------------------------------ frame */

void fbpy_frame_bounds(const fbus_format *fmt, uint8_t *const data[FBUS_MAX_PLANES],
                       const uint8_t **lo, const uint8_t **hi)
{
    const uint8_t *l = NULL, *h = NULL;

    for (uint32_t i = 0; i < fmt->nb_planes && i < FBUS_MAX_PLANES; i++) {
        const fbus_plane *p = &fmt->planes[i];
        const uint8_t *end;

        if (p->rows == 0 || p->row_bytes == 0)
            continue;
        end = data[i] + (size_t)p->stride * (p->rows - 1) + p->row_bytes;
        if (!l || data[i] < l)
            l = data[i];
        if (!h || end > h)
            h = end;
    }
    *lo = l;
    *hi = h;
}

fbpy_frame *fbpy_frame_new(PyObject *owner, int writable, const fbus_format *fmt,
                           uint8_t *const lib_data[FBUS_MAX_PLANES], fbpy_shadow *shadow)
{
    fbpy_frame *f = PyObject_New(fbpy_frame, &fbpy_FrameType);

    if (!f) {
        fbpy_shadow_put(shadow);
        return NULL;
    }
    /* PyObject_New leaves the fields uninitialised. */
    memset((char *)f + sizeof(PyObject), 0, sizeof(*f) - sizeof(PyObject));
    Py_INCREF(owner);
    f->owner = owner;
    f->writable = writable;
    f->state = FBPY_FRAME_HELD;
    f->format = *fmt;
    f->shadow = shadow;
    for (uint32_t i = 0; i < fmt->nb_planes && i < FBUS_MAX_PLANES; i++)
        f->data[i] = shadow->addr + (lib_data[i] - shadow->src);
    return f;
}

int fbpy_frame_detach(fbpy_frame *f, fbpy_shadow_cache *cache)
{
    if (f->state != FBPY_FRAME_HELD)
        return 0;
    if (f->views > 0) {
        if (fbpy_shadow_detach(cache, f->shadow) < 0)
            return -1;
        f->state = FBPY_FRAME_COPIED;
        return 0;
    }
    if (f->viewed)
        fbpy_shadow_clean(f->shadow);
    fbpy_shadow_put(f->shadow);
    f->shadow = NULL;
    memset(f->data, 0, sizeof(f->data));
    f->state = FBPY_FRAME_RELEASED;
    return 0;
}

/* Give the frame back through its owner; 0 or -1 with an exception. */
static int frame_give_back(fbpy_frame *f, int publish)
{
    if (f->state != FBPY_FRAME_HELD || !f->owner)
        return 0;
    if (f->writable)
        return fbpy_writer_finish_frame(f->owner, f, publish);
    return fbpy_reader_release_frame(f->owner, f);
}

static void frame_dealloc(fbpy_frame *f)
{
    if (f->state == FBPY_FRAME_HELD && f->owner) {
        PyObject *type, *value, *tb;

        PyErr_Fetch(&type, &value, &tb);
        if (frame_give_back(f, 0) < 0)
            PyErr_WriteUnraisable((PyObject *)f);
        PyErr_Restore(type, value, tb);
    }
    Py_CLEAR(f->owner);
    fbpy_shadow_put(f->shadow);
    PyObject_Free(f);
}

static int check_pixels(fbpy_frame *f)
{
    if (f->state == FBPY_FRAME_RELEASED) {
        PyErr_SetString(PyExc_ValueError,
                        "frame was released and no array kept its pixels (keep an array, "
                        "or copy it, before the next read)");
        return -1;
    }
    return 0;
}

static PyObject *make_view(fbpy_frame *f, uint8_t *data, int nd, npy_intp *dims, npy_intp *strides)
{
    int bps = fbpy_sample_bytes(f->format.pix_fmt);
    PyArray_Descr *descr = PyArray_DescrFromType(bps == 2 ? NPY_UINT16 : NPY_UINT8);
    int flags = NPY_ARRAY_ALIGNED | (f->writable ? NPY_ARRAY_WRITEABLE : 0);
    PyObject *arr;
    view_base *base;

    if (!descr)
        return NULL;
    arr = PyArray_NewFromDescr(&PyArray_Type, descr, nd, dims, strides, data, flags, NULL);
    if (!arr)
        return NULL;
    base = PyObject_New(view_base, &fbpy_ViewBaseType);
    if (!base) {
        Py_DECREF(arr);
        return NULL;
    }
    Py_INCREF(f);
    base->frame = f;
    f->views++;
    f->viewed = 1;
    if (PyArray_SetBaseObject((PyArrayObject *)arr, (PyObject *)base) < 0) {
        Py_DECREF(base);
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

static PyObject *plane_view(fbpy_frame *f, uint32_t i)
{
    const fbus_plane *p = &f->format.planes[i];
    npy_intp bps = fbpy_sample_bytes(f->format.pix_fmt);
    npy_intp dims[2] = {p->rows, p->row_bytes / bps};
    npy_intp strides[2] = {p->stride, bps};

    return make_view(f, f->data[i], 2, dims, strides);
}

static PyObject *frame_get_array(fbpy_frame *f, void *closure)
{
    const fbus_format *fmt = &f->format;
    const fbus_plane *p = &fmt->planes[0];
    npy_intp bps = fbpy_sample_bytes(fmt->pix_fmt);
    uint32_t c = fbpy_components(fmt);

    if (check_pixels(f) < 0)
        return NULL;
    if (fmt->nb_planes != 1) {
        PyErr_Format(PyExc_ValueError,
                     "%s frames have %u planes and no single array: use .planes (one 2-D "
                     "array per plane) or .tobytes()",
                     fmt->pix_fmt, fmt->nb_planes);
        return NULL;
    }
    if (c == 0)
        return plane_view(f, 0);
    if (c == 1) {
        npy_intp dims[2] = {p->rows, fmt->width};
        npy_intp strides[2] = {p->stride, bps};
        return make_view(f, f->data[0], 2, dims, strides);
    } else {
        npy_intp dims[3] = {p->rows, fmt->width, c};
        npy_intp strides[3] = {p->stride, (npy_intp)c * bps, bps};
        return make_view(f, f->data[0], 3, dims, strides);
    }
}

static PyObject *frame_get_planes(fbpy_frame *f, void *closure)
{
    PyObject *list;

    if (check_pixels(f) < 0)
        return NULL;
    list = PyList_New(f->format.nb_planes);
    if (!list)
        return NULL;
    for (uint32_t i = 0; i < f->format.nb_planes; i++) {
        PyObject *v = plane_view(f, i);
        if (!v) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, v);
    }
    return list;
}

static PyObject *frame_tobytes(fbpy_frame *f, PyObject *unused)
{
    uint64_t size = fbpy_packed_size(&f->format);
    PyObject *out;
    uint8_t *dst;

    if (check_pixels(f) < 0)
        return NULL;
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (!out)
        return NULL;
    dst = (uint8_t *)PyBytes_AS_STRING(out);
    for (uint32_t i = 0; i < f->format.nb_planes; i++) {
        const fbus_plane *p = &f->format.planes[i];
        for (uint32_t y = 0; y < p->rows; y++) {
            memcpy(dst, f->data[i] + (size_t)y * p->stride, p->row_bytes);
            dst += p->row_bytes;
        }
    }
    return out;
}

static PyObject *frame_release(fbpy_frame *f, PyObject *unused)
{
    if (frame_give_back(f, 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *frame_publish(fbpy_frame *f, PyObject *unused)
{
    if (!f->writable) {
        PyErr_SetString(PyExc_TypeError, "only a Writer's frame can be published");
        return NULL;
    }
    if (f->state != FBPY_FRAME_HELD || !f->owner) {
        PyErr_SetString(PyExc_ValueError, "frame was already published or cancelled");
        return NULL;
    }
    if (frame_give_back(f, 1) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *frame_enter(PyObject *self, PyObject *unused)
{
    Py_INCREF(self);
    return self;
}

static PyObject *frame_exit(fbpy_frame *f, PyObject *args)
{
    PyObject *type = Py_None;

    if (PyTuple_GET_SIZE(args) > 0)
        type = PyTuple_GET_ITEM(args, 0);
    /* A writer's frame is published unless the block raised. */
    if (frame_give_back(f, f->writable && type == Py_None) < 0)
        return NULL;
    Py_RETURN_FALSE;
}

static PyObject *frame_repr(fbpy_frame *f)
{
    static const char *const states[] = {"held", "released", "copied"};
    return PyUnicode_FromFormat("<framebus.Frame seq=%llu %ux%u %s %s%s>",
                                (unsigned long long)f->frame.seq, f->format.width, f->format.height,
                                f->format.pix_fmt, states[f->state],
                                f->writable ? " writable" : "");
}

/* ------------------------------------------------------------ attributes */

static PyObject *get_seq(fbpy_frame *f, void *c)
{
    return PyLong_FromUnsignedLongLong(f->frame.seq);
}

static PyObject *get_session(fbpy_frame *f, void *c)
{
    return PyLong_FromUnsignedLongLong(f->frame.session);
}

static PyObject *get_pts(fbpy_frame *f, void *c)
{
    if (f->frame.pts == INT64_MIN)
        Py_RETURN_NONE;
    return PyLong_FromLongLong(f->frame.pts);
}

static PyObject *get_time_base(fbpy_frame *f, void *c)
{
    return fbpy_fraction(f->frame.tb_num, f->frame.tb_den);
}

static PyObject *get_time(fbpy_frame *f, void *c)
{
    if (f->frame.pts == INT64_MIN || f->frame.tb_den == 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble((double)f->frame.pts * f->frame.tb_num / f->frame.tb_den);
}

static PyObject *get_rate(fbpy_frame *f, void *c)
{
    return fbpy_fraction(f->frame.rate_num, f->frame.rate_den);
}

static PyObject *get_sar(fbpy_frame *f, void *c)
{
    return fbpy_fraction(f->frame.sar_num, f->frame.sar_den);
}

static PyObject *get_pix_fmt(fbpy_frame *f, void *c)
{
    return PyUnicode_FromString(f->format.pix_fmt);
}

static PyObject *get_width(fbpy_frame *f, void *c)
{
    return PyLong_FromUnsignedLong(f->format.width);
}

static PyObject *get_height(fbpy_frame *f, void *c)
{
    return PyLong_FromUnsignedLong(f->format.height);
}

static PyObject *get_dropped(fbpy_frame *f, void *c)
{
    return PyLong_FromUnsignedLongLong(f->frame.dropped);
}

static PyObject *get_publish_ns(fbpy_frame *f, void *c)
{
    return PyLong_FromLongLong(f->frame.publish_ns);
}

static PyObject *get_new_session(fbpy_frame *f, void *c)
{
    return PyBool_FromLong(f->frame.flags & FBUS_FRAME_NEW_SESSION);
}

static PyObject *get_key(fbpy_frame *f, void *c)
{
    return PyBool_FromLong(f->frame.flags & FBUS_FRAME_KEY);
}

static PyObject *get_color(fbpy_frame *f, void *c)
{
    return Py_BuildValue("{s:i,s:i,s:i,s:i}", "matrix", f->frame.color.matrix, "range",
                         f->frame.color.range, "primaries", f->frame.color.primaries, "transfer",
                         f->frame.color.transfer);
}

static PyObject *get_released(fbpy_frame *f, void *c)
{
    return PyBool_FromLong(f->state != FBPY_FRAME_HELD);
}

static PyObject *get_copied(fbpy_frame *f, void *c)
{
    return PyBool_FromLong(f->state == FBPY_FRAME_COPIED);
}

static PyObject *get_overrun(fbpy_frame *f, void *c)
{
    return PyBool_FromLong(f->overrun);
}

static PyObject *get_writable(fbpy_frame *f, void *c)
{
    return PyBool_FromLong(f->writable);
}

static PyGetSetDef frame_getset[] = {
    {"array", (getter)frame_get_array, NULL,
     "The frame as one numpy array viewing shared memory: (height, width, C) for\n"
     "packed formats (bgr24: C=3, rgba: C=4, yuyv422: C=2), (height, width) for\n"
     "gray and gray16le; uint16 for the 10/12/16-bit formats. Read-only for a\n"
     "Reader's frame, writable for a Writer's. A new array at every access.\n"
     "Planar formats (yuv420p, nv12...) raise ValueError: use .planes.",
     NULL},
    {"planes", (getter)frame_get_planes, NULL,
     "A list of 2-D numpy arrays, one per plane: (rows, samples per row), e.g.\n"
     "yuv420p 1280x720: (720, 1280), (360, 640), (360, 640); nv12: (720, 1280),\n"
     "(360, 1280) with U and V interleaved. Same access rules as .array.",
     NULL},
    {"seq", (getter)get_seq, NULL, "Sequence number: 1, 2, 3... within a writer session.", NULL},
    {"session", (getter)get_session, NULL, "The writer session (random, new per region).", NULL},
    {"pts", (getter)get_pts, NULL, "Presentation timestamp in time_base units, or None.", NULL},
    {"time_base", (getter)get_time_base, NULL, "Time base of pts as a Fraction, or None.", NULL},
    {"time", (getter)get_time, NULL, "pts * time_base in seconds (float), or None.", NULL},
    {"rate", (getter)get_rate, NULL, "Nominal frame rate as a Fraction, or None if unknown.", NULL},
    {"sar", (getter)get_sar, NULL, "Sample aspect ratio as a Fraction, or None (1:1).", NULL},
    {"pix_fmt", (getter)get_pix_fmt, NULL, "Pixel format name, as ffmpeg spells it.", NULL},
    {"width", (getter)get_width, NULL, "Width in pixels.", NULL},
    {"height", (getter)get_height, NULL, "Height in pixels.", NULL},
    {"dropped", (getter)get_dropped, NULL,
     "Frames skipped since the previous one this reader got (latest readers).", NULL},
    {"publish_ns", (getter)get_publish_ns, NULL,
     "CLOCK_MONOTONIC (time.monotonic_ns()) when the writer published it.", NULL},
    {"new_session", (getter)get_new_session, NULL,
     "True on the first frame after attaching to a writer (or to its restart).", NULL},
    {"key", (getter)get_key, NULL, "True if the source frame was a key frame.", NULL},
    {"color", (getter)get_color, NULL,
     "Colour description (H.273 code points; 0 unknown): dict with matrix, range\n"
     "(1 limited, 2 full), primaries, transfer.",
     NULL},
    {"released", (getter)get_released, NULL, "True once the frame was given back.", NULL},
    {"copied", (getter)get_copied, NULL,
     "True if arrays were alive at the release and got a private copy.", NULL},
    {"overrun", (getter)get_overrun, NULL,
     "True if the release found that the writer reused the slot meanwhile (latest\n"
     "readers with too few slots): the pixels read may be torn.",
     NULL},
    {"writable", (getter)get_writable, NULL, "True for a Writer's frame.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef frame_methods[] = {
    {"release", (PyCFunction)frame_release, METH_NOARGS,
     "release()\n\nGive the frame back to the bus now (a Writer's frame: cancel it).\n"
     "Arrays still alive get a private copy; new ones can then no longer be made\n"
     "unless a copy was made. Idempotent."},
    {"publish", (PyCFunction)frame_publish, METH_NOARGS,
     "publish()\n\nPublish a Writer's frame (what the end of its with block does)."},
    {"cancel", (PyCFunction)frame_release, METH_NOARGS,
     "cancel()\n\nGive a Writer's slot back without publishing it."},
    {"tobytes", (PyCFunction)frame_tobytes, METH_NOARGS,
     "tobytes() -> bytes\n\nA copy of the planes, tightly packed one after the other\n"
     "(ffmpeg's rawvideo layout, what -f framemd5 hashes)."},
    {"__enter__", frame_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)frame_exit, METH_VARARGS,
     "Release (a Writer's frame: publish, or cancel if the block raised)."},
    {NULL, NULL, 0, NULL},
};

PyTypeObject fbpy_FrameType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "framebus.Frame",
    .tp_basicsize = sizeof(fbpy_frame),
    .tp_dealloc = (destructor)frame_dealloc,
    .tp_repr = (reprfunc)frame_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A frame from Reader.read() or iteration, or a slot from Writer.frame().\n\n"
              "Its arrays view shared memory directly. The frame is held until release(),\n"
              "the end of a with block, the reader's next read() or close(), or until\n"
              "the Frame and all its arrays are gone. Arrays that outlive the hold are\n"
              "switched to a private copy (copy-on-release), so they never change and\n"
              "never crash. Frames are made by Reader and Writer, not by calling Frame.",
    .tp_methods = frame_methods,
    .tp_getset = frame_getset,
};
