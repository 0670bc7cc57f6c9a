/* SPDX-License-Identifier: MIT */
/*
 * The framebus module itself: its exceptions, the small converters every
 * type shares (timeouts, rationals, transports), and the functions that
 * look at the host's buses (list, stat, unlink).
 */
#define FBPY_IMPORT_ARRAY
#include "pyfbus.h"

#include <errno.h>
#include <math.h>
#include <string.h>

PyObject *fbpy_Error;
PyObject *fbpy_Timeout;
static PyObject *fraction_type;

/* ------------------------------------------------------------ errors */

PyObject *fbpy_raise(int err, const char *what)
{
    if (what)
        return fbpy_raise_text(err, PyUnicode_FromFormat("%s: %s", what, fbus_strerror(err)));
    return fbpy_raise_text(err, PyUnicode_FromString(fbus_strerror(err)));
}

PyObject *fbpy_raise_text(int err, PyObject *msg)
{
    PyObject *type = (err == -ETIMEDOUT || err == -EAGAIN) ? fbpy_Timeout : fbpy_Error;
    PyObject *exc;

    if (!msg)
        return NULL;
    exc = PyObject_CallFunction(type, "iN", err, msg);
    if (exc) {
        PyErr_SetObject(type, exc);
        Py_DECREF(exc);
    }
    return NULL;
}

static PyObject *error_arg(PyObject *self, Py_ssize_t i)
{
    PyObject *args = PyObject_GetAttrString(self, "args");
    PyObject *v = NULL;

    if (!args)
        return NULL;
    if (PyTuple_Check(args) && PyTuple_GET_SIZE(args) > i) {
        v = PyTuple_GET_ITEM(args, i);
        Py_INCREF(v);
    }
    Py_DECREF(args);
    if (!v)
        Py_RETURN_NONE;
    return v;
}

static PyObject *error_code(PyObject *unused, PyObject *self)
{
    return error_arg(self, 0);
}

static PyObject *error_text(PyObject *unused, PyObject *self)
{
    PyObject *code = error_arg(self, 0);
    long c;

    if (!code)
        return NULL;
    if (!PyLong_Check(code)) {
        Py_DECREF(code);
        Py_RETURN_NONE;
    }
    c = PyLong_AsLong(code);
    Py_DECREF(code);
    if (c == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(fbus_strerror((int)c));
}

static PyObject *error_str(PyObject *unused, PyObject *self)
{
    PyObject *msg = error_arg(self, 1);

    if (msg && PyUnicode_Check(msg))
        return msg;
    Py_XDECREF(msg);
    if (PyErr_Occurred())
        return NULL;
    return PyObject_Str(PyObject_GetAttrString(self, "args"));
}

static PyMethodDef error_code_def = {"code", error_code, METH_O,
                                     "The library's error code: a negative errno (-errno.ENOENT "
                                     "...) or a framebus code below -10000."};
static PyMethodDef error_text_def = {"text", error_text, METH_O,
                                     "fbus_strerror() of the code: what it means, in English."};
static PyMethodDef error_str_def = {"__str__", error_str, METH_O, NULL};

static int add_property(PyObject *dict, PyMethodDef *def)
{
    PyObject *fn = PyCFunction_New(def, NULL);
    PyObject *prop;
    int rc;

    if (!fn)
        return -1;
    prop = PyObject_CallFunction((PyObject *)&PyProperty_Type, "OOOs", fn, Py_None, Py_None,
                                 def->ml_doc);
    Py_DECREF(fn);
    if (!prop)
        return -1;
    rc = PyDict_SetItemString(dict, def->ml_name, prop);
    Py_DECREF(prop);
    return rc;
}

int fbpy_init_errors(PyObject *module)
{
    PyObject *dict = PyDict_New(), *fn = NULL, *meth = NULL, *bases = NULL;
    int rc = -1;

    if (!dict)
        return -1;
    if (add_property(dict, &error_code_def) < 0 || add_property(dict, &error_text_def) < 0)
        goto out;
    fn = PyCFunction_New(&error_str_def, NULL);
    meth = fn ? PyInstanceMethod_New(fn) : NULL;
    if (!meth || PyDict_SetItemString(dict, "__str__", meth) < 0)
        goto out;
    fbpy_Error = PyErr_NewExceptionWithDoc(
        "framebus.Error",
        "Error(code, message): every failure the library reports.\n\n"
        "code is the library's code (a negative errno such as -errno.ENOENT, or one\n"
        "of the framebus codes below -10000, e.g. framebus.EENDED), text is what the\n"
        "code means, str(e) says which bus and what failed.",
        PyExc_Exception, dict);
    if (!fbpy_Error)
        goto out;
    bases = PyTuple_Pack(2, fbpy_Error, PyExc_TimeoutError);
    if (!bases)
        goto out;
    fbpy_Timeout = PyErr_NewExceptionWithDoc(
        "framebus.Timeout",
        "Timeout(code, message): a wait ended before a frame (or a slot) came.\n\n"
        "A subclass of both framebus.Error and the built-in TimeoutError; code is\n"
        "-errno.ETIMEDOUT, or -errno.EAGAIN when polling with timeout=0.",
        bases, NULL);
    if (!fbpy_Timeout)
        goto out;
    if (PyModule_AddObjectRef(module, "Error", fbpy_Error) < 0 ||
        PyModule_AddObjectRef(module, "Timeout", fbpy_Timeout) < 0)
        goto out;
    rc = 0;
out:
    Py_XDECREF(bases);
    Py_XDECREF(meth);
    Py_XDECREF(fn);
    Py_DECREF(dict);
    return rc;
}

/* ------------------------------------------------------------ converters */

int fbpy_timeout_ns(PyObject *obj, int64_t *ns)
{
    double s;

    if (!obj || obj == Py_None) {
        *ns = -1;
        return 0;
    }
    s = PyFloat_AsDouble(obj);
    if (s == -1.0 && PyErr_Occurred())
        return -1;
    if (isnan(s) || s < 0) {
        PyErr_SetString(PyExc_ValueError, "timeout must be None or seconds >= 0");
        return -1;
    }
    *ns = s >= 9e9 ? -1 : (int64_t)(s * 1e9);
    return 0;
}

PyObject *fbpy_fraction(int64_t num, int64_t den)
{
    if (den == 0)
        Py_RETURN_NONE;
    return PyObject_CallFunction(fraction_type, "LL", (long long)num, (long long)den);
}

static int set_rational(int64_t n, int64_t d, const char *what, int32_t *num, int32_t *den)
{
    if (d < 0) {
        n = -n;
        d = -d;
    }
    if (n <= 0 || d <= 0 || n > INT32_MAX || d > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "%s must be positive and fit 32 bits, got %lld/%lld", what,
                     (long long)n, (long long)d);
        return -1;
    }
    *num = (int32_t)n;
    *den = (int32_t)d;
    return 0;
}

int fbpy_rational(PyObject *obj, const char *what, int32_t *num, int32_t *den)
{
    long long n, d;
    double v;

    *num = 0;
    *den = 0;
    if (!obj || obj == Py_None)
        return 0;
    if (PyTuple_Check(obj)) {
        if (!PyArg_ParseTuple(obj, "LL", &n, &d))
            return -1;
        return set_rational(n, d, what, num, den);
    }
    if (PyLong_Check(obj)) {
        n = PyLong_AsLongLong(obj);
        if (n == -1 && PyErr_Occurred())
            return -1;
        if (n == 0)
            return 0;
        return set_rational(n, 1, what, num, den);
    }
    if (PyObject_HasAttrString(obj, "numerator") && PyObject_HasAttrString(obj, "denominator") &&
        !PyFloat_Check(obj)) {
        PyObject *pn = PyObject_GetAttrString(obj, "numerator");
        PyObject *pd = pn ? PyObject_GetAttrString(obj, "denominator") : NULL;
        n = pn ? PyLong_AsLongLong(pn) : -1;
        d = pd ? PyLong_AsLongLong(pd) : -1;
        Py_XDECREF(pn);
        Py_XDECREF(pd);
        if (PyErr_Occurred())
            return -1;
        return set_rational(n, d, what, num, den);
    }
    v = PyFloat_AsDouble(obj);
    if (v == -1.0 && PyErr_Occurred())
        return -1;
    if (v == 0)
        return 0;
    if (!isfinite(v) || v < 0 || v > 1e6) {
        PyErr_Format(PyExc_ValueError, "%s must be positive, got %R", what, obj);
        return -1;
    }
    if (fabs(v - nearbyint(v)) < 1e-6)
        return set_rational((int64_t)nearbyint(v), 1, what, num, den);
    /* 29.97 means 30000/1001 and 23.976 24000/1001, as everywhere in video. */
    if (fabs(v * 1.001 - nearbyint(v * 1.001)) < 0.005 && v >= 1)
        return set_rational((int64_t)nearbyint(v * 1.001) * 1000, 1001, what, num, den);
    return set_rational((int64_t)nearbyint(v * 1000), 1000, what, num, den);
}

int fbpy_transport(PyObject *obj, fbus_transport *t)
{
    const char *s;

    if (!obj || obj == Py_None) {
        *t = FBUS_TRANSPORT_POSIX;
        return 0;
    }
    s = PyUnicode_Check(obj) ? PyUnicode_AsUTF8(obj) : NULL;
    if (s && strcmp(s, "posix") == 0)
        *t = FBUS_TRANSPORT_POSIX;
    else if (s && strcmp(s, "sysv") == 0)
        *t = FBUS_TRANSPORT_SYSV;
    else {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "transport must be \"posix\" or \"sysv\", got %R", obj);
        return -1;
    }
    return 0;
}

const char *fbpy_transport_name(fbus_transport t)
{
    return t == FBUS_TRANSPORT_SYSV ? "sysv" : "posix";
}

/* ------------------------------------------------------------ list, stat */

static const char *state_name(fbus_state s)
{
    switch (s) {
    case FBUS_STATE_LIVE:
        return "live";
    case FBUS_STATE_ENDED:
        return "ended";
    case FBUS_STATE_DEAD:
        return "dead";
    }
    return "unknown";
}

static PyObject *stats_dict(const fbus_stats *st, int with_readers)
{
    PyObject *d, *readers = NULL;

    d = Py_BuildValue(
        "{s:s,s:s,s:s,s:i,s:I,s:I,s:K,s:K,s:I,s:K,s:I,s:I,s:s,s:K,s:K,s:K,s:d,s:L,s:L,s:I}", "name",
        st->name, "transport", fbpy_transport_name(st->transport), "state", state_name(st->state),
        "producer_pid", (int)st->producer_pid, "uid", st->uid, "mode", st->mode, "session",
        (unsigned long long)st->session, "region_size", (unsigned long long)st->region_size,
        "slots", st->slots, "slot_size", (unsigned long long)st->slot_size, "width",
        st->format.width, "height", st->format.height, "pix_fmt", st->format.pix_fmt, "frames",
        (unsigned long long)st->frames, "writer_waits", (unsigned long long)st->writer_waits,
        "forced", (unsigned long long)st->forced, "fps", st->fps, "heartbeat_age_ns",
        (long long)st->heartbeat_age_ns, "last_publish_age_ns", (long long)st->last_publish_age_ns,
        "nb_readers", st->nb_readers);
    if (!d || !with_readers)
        return d;
    readers = PyList_New(0);
    if (!readers)
        goto fail;
    for (uint32_t i = 0; i < st->nb_readers && i < FBUS_MAX_READERS; i++) {
        const fbus_reader_info *ri = &st->readers[i];
        PyObject *r = Py_BuildValue(
            "{s:i,s:s,s:K,s:K,s:K,s:K,s:L,s:O}", "pid", (int)ri->pid, "policy",
            ri->policy == FBUS_POLICY_LOSSLESS ? "lossless" : "latest", "frames",
            (unsigned long long)ri->frames, "overruns", (unsigned long long)ri->overruns, "drops",
            (unsigned long long)ri->drops, "lag", (unsigned long long)ri->lag, "idle_ns",
            (long long)ri->idle_ns, "alive", ri->alive ? Py_True : Py_False);
        if (!r || PyList_Append(readers, r) < 0) {
            Py_XDECREF(r);
            goto fail;
        }
        Py_DECREF(r);
    }
    if (PyDict_SetItemString(d, "readers", readers) < 0)
        goto fail;
    Py_DECREF(readers);
    return d;
fail:
    Py_XDECREF(readers);
    Py_DECREF(d);
    return NULL;
}

struct list_ctx {
    PyObject *names; /* list of (name, transport) */
};

static int list_one(const char *name, fbus_transport t, void *opaque)
{
    struct list_ctx *ctx = opaque;
    PyObject *item = Py_BuildValue("(si)", name, (int)t);

    if (!item || PyList_Append(ctx->names, item) < 0) {
        Py_XDECREF(item);
        return -ENOMEM;
    }
    Py_DECREF(item);
    return 0;
}

PyDoc_STRVAR(list_doc, "list() -> list of dict\n\n"
                       "Every bus on this host, both transports, as dicts with the keys of\n"
                       "stat() but without 'readers'. A bus that cannot be read (another user's,\n"
                       "or corrupt) is listed with just 'name', 'transport' and 'error'.");

static PyObject *fbpy_list(PyObject *mod, PyObject *unused)
{
    struct list_ctx ctx = {PyList_New(0)};
    PyObject *out = NULL;
    int rc;

    if (!ctx.names)
        return NULL;
    rc = fbus_list(list_one, &ctx);
    if (PyErr_Occurred())
        goto out;
    if (rc < 0) {
        fbpy_raise(rc, "listing buses");
        goto out;
    }
    out = PyList_New(0);
    if (!out)
        goto out;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(ctx.names); i++) {
        PyObject *item = PyList_GET_ITEM(ctx.names, i), *d;
        const char *name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(item, 0));
        fbus_transport t = (fbus_transport)PyLong_AsLong(PyTuple_GET_ITEM(item, 1));
        fbus_stats *st = PyMem_Calloc(1, sizeof(*st));
        PyThreadState *ts;

        if (!st) {
            PyErr_NoMemory();
            Py_CLEAR(out);
            goto out;
        }
        ts = PyEval_SaveThread();
        rc = fbus_stat(name, t, st);
        PyEval_RestoreThread(ts);
        if (rc == 0)
            d = stats_dict(st, 0);
        else
            d = Py_BuildValue("{s:s,s:s,s:s}", "name", name, "transport", fbpy_transport_name(t),
                              "error", fbus_strerror(rc));
        PyMem_Free(st);
        if (!d || PyList_Append(out, d) < 0) {
            Py_XDECREF(d);
            Py_CLEAR(out);
            goto out;
        }
        Py_DECREF(d);
    }
out:
    Py_DECREF(ctx.names);
    return out;
}

PyDoc_STRVAR(stat_doc,
             "stat(name, transport=\"posix\") -> dict\n\n"
             "The state of bus `name` without joining it: name, transport, state ('live',\n"
             "'ended', 'dead'), producer_pid, uid, mode, session, region_size, slots,\n"
             "slot_size, width, height, pix_fmt (of the newest frame), frames (published),\n"
             "writer_waits, forced, fps, heartbeat_age_ns, last_publish_age_ns,\n"
             "nb_readers and readers (a list of dicts: pid, policy, frames, overruns,\n"
             "drops, lag, idle_ns, alive). Raises framebus.Error (-errno.ENOENT: no such bus).");

static PyObject *fbpy_stat(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "transport", NULL};
    const char *name;
    PyObject *tobj = NULL, *d;
    fbus_transport t;
    fbus_stats *st;
    PyThreadState *ts;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|O:stat", kwlist, &name, &tobj) ||
        fbpy_transport(tobj, &t) < 0)
        return NULL;
    st = PyMem_Calloc(1, sizeof(*st));
    if (!st)
        return PyErr_NoMemory();
    ts = PyEval_SaveThread();
    rc = fbus_stat(name, t, st);
    PyEval_RestoreThread(ts);
    if (rc < 0) {
        PyObject *what = PyUnicode_FromFormat("bus \"%s\"", name);
        PyMem_Free(st);
        if (!what)
            return NULL;
        fbpy_raise(rc, PyUnicode_AsUTF8(what));
        Py_DECREF(what);
        return NULL;
    }
    d = stats_dict(st, 1);
    PyMem_Free(st);
    return d;
}

PyDoc_STRVAR(unlink_doc, "unlink(name, transport=\"posix\")\n\n"
                         "Remove a bus's name (like `framebus rm`); processes attached keep their\n"
                         "mapping. Raises framebus.Error (-errno.ENOENT: no such bus).");

static PyObject *fbpy_unlink(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "transport", NULL};
    const char *name;
    PyObject *tobj = NULL;
    fbus_transport t;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|O:unlink", kwlist, &name, &tobj) ||
        fbpy_transport(tobj, &t) < 0)
        return NULL;
    rc = fbus_unlink(name, t);
    if (rc < 0) {
        PyObject *what = PyUnicode_FromFormat("bus \"%s\"", name);
        if (what)
            fbpy_raise(rc, PyUnicode_AsUTF8(what));
        Py_XDECREF(what);
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(strerror_doc, "strerror(code) -> str\n\nWhat a library error code means.");

static PyObject *fbpy_strerror(PyObject *mod, PyObject *arg)
{
    long c = PyLong_AsLong(arg);

    if (c == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(fbus_strerror((int)c));
}

static PyMethodDef module_methods[] = {
    {"list", fbpy_list, METH_NOARGS, list_doc},
    {"stat", (PyCFunction)(void (*)(void))fbpy_stat, METH_VARARGS | METH_KEYWORDS, stat_doc},
    {"unlink", (PyCFunction)(void (*)(void))fbpy_unlink, METH_VARARGS | METH_KEYWORDS, unlink_doc},
    {"strerror", fbpy_strerror, METH_O, strerror_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(module_doc,
             "framebus: raw video frames between processes through shared memory.\n\n"
             "One Writer publishes frames on a named bus; any number of Readers on the\n"
             "same host see them as read-only numpy arrays straight in shared memory.\n\n"
             "    import framebus\n"
             "    with framebus.Writer(\"cam\", 1280, 720, pix_fmt=\"bgr24\", fps=30) as w:\n"
             "        w.write(img)                 # (720, 1280, 3) uint8: one copy\n"
             "        with w.frame() as f:         # zero-copy: fill the slot in place\n"
             "            f.array[...] = img       # published when the block ends\n\n"
             "    with framebus.Reader(\"cam\", lossless=False) as r:\n"
             "        for f in r:                  # ends when the writer closes the bus\n"
             "            f.array                  # read-only (720, 1280, 3) view\n\n"
             "Classes: Writer, Reader, Frame. Functions: list(), stat(), unlink(),\n"
             "strerror(). Exceptions: Error (every library failure, with .code and\n"
             "str() naming the bus) and its subclass Timeout. Bad arguments (a wrong\n"
             "array shape, an unknown transport) raise ValueError or TypeError.\n\n"
             "Lifetime: a Frame holds its bus slot until release(), the end of its with\n"
             "block, the reader's next read() or close(), or until the Frame and every\n"
             "array viewing it are gone. Arrays alive at that moment are given a private\n"
             "copy of the pixels (copy-on-release): they never change under you and never\n"
             "point at memory that goes away. See docs/python.md.\n\n"
             "Create Readers and Writers in the process that uses them (after a fork,\n"
             "not before).");

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, .m_name = "framebus",        .m_doc = module_doc,
    .m_size = -1,          .m_methods = module_methods,
};

static int add_int(PyObject *m, const char *name, long v)
{
    return PyModule_AddIntConstant(m, name, v);
}

PyMODINIT_FUNC PyInit_framebus(void);

PyMODINIT_FUNC PyInit_framebus(void)
{
    PyObject *m, *fractions;

    import_array();
    fractions = PyImport_ImportModule("fractions");
    if (!fractions)
        return NULL;
    fraction_type = PyObject_GetAttrString(fractions, "Fraction");
    Py_DECREF(fractions);
    if (!fraction_type)
        return NULL;
    if (PyType_Ready(&fbpy_FrameType) < 0 || PyType_Ready(&fbpy_ViewBaseType) < 0 ||
        PyType_Ready(&fbpy_ReaderType) < 0 || PyType_Ready(&fbpy_WriterType) < 0)
        return NULL;
    m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    if (fbpy_init_errors(m) < 0 ||
        PyModule_AddObjectRef(m, "Frame", (PyObject *)&fbpy_FrameType) < 0 ||
        PyModule_AddObjectRef(m, "Reader", (PyObject *)&fbpy_ReaderType) < 0 ||
        PyModule_AddObjectRef(m, "Writer", (PyObject *)&fbpy_WriterType) < 0 ||
        add_int(m, "EBADNAME", FBUS_EBADNAME) < 0 ||
        add_int(m, "EBADREGION", FBUS_EBADREGION) < 0 ||
        add_int(m, "EVERSION", FBUS_EVERSION) < 0 || add_int(m, "EOVERRUN", FBUS_EOVERRUN) < 0 ||
        add_int(m, "EENDED", FBUS_EENDED) < 0 ||
        add_int(m, "EPRODUCERGONE", FBUS_EPRODUCERGONE) < 0 ||
        add_int(m, "EREPLACED", FBUS_EREPLACED) < 0 || add_int(m, "EBUSY", FBUS_EBUSY) < 0 ||
        add_int(m, "EFULL", FBUS_EFULL) < 0 || add_int(m, "EFORMAT", FBUS_EFORMAT) < 0 ||
        add_int(m, "ETOOBIG", FBUS_ETOOBIG) < 0 || add_int(m, "EOBSERVER", FBUS_EOBSERVER) < 0 ||
        add_int(m, "EOWNER", FBUS_EOWNER) < 0 ||
        PyModule_AddStringConstant(m, "__version__", FBPY_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
