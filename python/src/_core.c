/*
 * prpkit._core — the CPython binding of libprpkit.so.
 *
 * This extension calls ONLY the C ABI declared in include/prpkit.h. It uses the buffer
 * protocol (no NumPy headers): inputs must export a C-contiguous float32 buffer and are
 * passed to the library in place (no copy); outputs are written either into caller
 * buffers (`out=`) or into fresh bytearrays that the Python layer views with
 * numpy.frombuffer (no copy either). The GIL is released around every call into the
 * library that may compute or touch files.
 *
 * Errors: every non-OK status becomes an exception carrying prpkit_last_error():
 *
 *   PRPKitError(Exception)                       base; attributes .status, .status_name
 *   ├── InvalidArgumentError(PRPKitError, ValueError)    PRPKIT_ERROR_INVALID_ARGUMENT
 *   ├── BufferTooSmallError(PRPKitError, ValueError)     PRPKIT_ERROR_BUFFER_TOO_SMALL
 *   ├── InvalidModelError(PRPKitError, ValueError)       PRPKIT_ERROR_INVALID_MODEL
 *   ├── UnsupportedError(PRPKitError, NotImplementedError) PRPKIT_ERROR_UNSUPPORTED
 *   ├── PRPKitIOError(PRPKitError, OSError)              PRPKIT_ERROR_IO
 *   └── InternalError(PRPKitError, RuntimeError)         PRPKIT_ERROR_INTERNAL and unknown codes
 *
 * Argument errors detected here, before the library is called, use the built-in
 * TypeError (wrong Python type / dtype) and ValueError (layout, count, shape).
 *
 * Built against the stable ABI of CPython 3.11 (Py_LIMITED_API, set by setup.py): one
 * binary serves every later CPython, so only functions of the limited API are used (no
 * field access on type objects, no list/tuple/bytes accessor macros).
 *
 * This unit holds the module, the exceptions, the Model type and the float32 buffer
 * helpers; _explainer.c and _metrics.c are the other units (shared names in _core.h).
 */
#include "_core.h"

#include <limits.h>

/* The name of obj's type, for messages, written into buf. */
static const char* type_name(PyObject* obj, char* buf, size_t size) {
    PyObject* name = PyType_GetName(Py_TYPE(obj));
    const char* s = name ? PyUnicode_AsUTF8AndSize(name, NULL) : NULL;
    if (s == NULL) PyErr_Clear();
    PyOS_snprintf(buf, size, "%s", s ? s : "?");
    Py_XDECREF(name);
    return buf;
}

/* Frees an instance of one of this module's heap types and drops its type reference. */
void free_instance(PyObject* self) {
    PyTypeObject* type = Py_TYPE(self);
    freefunc free_fn = (freefunc)PyType_GetSlot(type, Py_tp_free);
    free_fn(self);
    Py_DECREF(type);
}

/* ---- exceptions ------------------------------------------------------------------ */

static PyObject* PRPKitError;
static PyObject* InvalidArgumentError;
static PyObject* BufferTooSmallError;
static PyObject* InvalidModelError;
static PyObject* UnsupportedError;
static PyObject* PRPKitIOError;
static PyObject* InternalError;

static PyObject* exception_for_status(int status) {
    switch (status) {
    case PRPKIT_ERROR_INVALID_ARGUMENT: return InvalidArgumentError;
    case PRPKIT_ERROR_BUFFER_TOO_SMALL: return BufferTooSmallError;
    case PRPKIT_ERROR_INVALID_MODEL: return InvalidModelError;
    case PRPKIT_ERROR_UNSUPPORTED: return UnsupportedError;
    case PRPKIT_ERROR_IO: return PRPKitIOError;
    default: return InternalError;
    }
}

/* Raises the exception for `status` with prpkit_last_error() (read on this thread, right
 * after the failing call) prefixed by `context`. Always returns NULL. */
PyObject* raise_status(int status, const char* context) {
    const char* msg = prpkit_last_error();
    if (msg == NULL || msg[0] == '\0') msg = prpkit_status_string(status);
    PyObject* type = exception_for_status(status);
    PyObject* text = context ? PyUnicode_FromFormat("%s: %s", context, msg) : PyUnicode_FromString(msg);
    if (text == NULL) {
        /* Not valid UTF-8 (should not happen): fall back to a replacement decode. */
        PyErr_Clear();
        text = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "replace");
        if (text == NULL) return NULL;
    }
    PyObject* exc = PyObject_CallFunctionObjArgs(type, text, NULL);
    Py_DECREF(text);
    if (exc == NULL) return NULL;
    PyObject* st = PyLong_FromLong(status);
    PyObject* name = PyUnicode_FromString(prpkit_status_string(status));
    if (st) PyObject_SetAttrString(exc, "status", st);
    if (name) PyObject_SetAttrString(exc, "status_name", name);
    Py_XDECREF(st);
    Py_XDECREF(name);
    PyErr_Clear();
    PyErr_SetObject(type, exc);
    Py_DECREF(exc);
    return NULL;
}

/* ---- path argument -------------------------------------------------------------- */

/* str / bytes / os.PathLike → a bytes object holding the file-system encoded path. */
static PyObject* fs_path(PyObject* arg) {
    PyObject* bytes = NULL;
    if (!PyUnicode_FSConverter(arg, &bytes)) return NULL;
    return bytes;
}

/* ---- Model type ------------------------------------------------------------------- */

PyTypeObject* ModelType; /* created by PyInit__core */

static void Model_dealloc(ModelObject* self) {
    prpkit_model_free(self->model); /* NULL-safe */
    self->model = NULL;
    free_instance((PyObject*)self);
}

PyObject* wrap_model(prpkit_model* m) {
    ModelObject* obj = PyObject_New(ModelObject, ModelType);
    if (obj == NULL) {
        prpkit_model_free(m);
        return NULL;
    }
    obj->model = m;
    return (PyObject*)obj;
}

static PyObject* Model_new(PyTypeObject* type, PyObject* args, PyObject* kw) {
    PyErr_SetString(PyExc_TypeError,
                    "prpkit._core.Model cannot be created directly; use load() or load_from_memory()");
    return NULL;
}

int check_model(ModelObject* self) {
    if (self->model == NULL) {
        PyErr_SetString(PyExc_ValueError, "prpkit model is not loaded");
        return -1;
    }
    return 0;
}

PyObject* shape_tuple(const int64_t* shape, size_t rank) {
    PyObject* t = PyTuple_New((Py_ssize_t)rank);
    if (t == NULL) return NULL;
    for (size_t d = 0; d < rank; d++) {
        PyObject* v = PyLong_FromLongLong((long long)shape[d]);
        if (v == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SetItem(t, (Py_ssize_t)d, v);
    }
    return t;
}

typedef int (*count_fn)(const prpkit_model*, size_t*);
typedef int (*name_fn)(const prpkit_model*, size_t, const char**);
typedef int (*shape_fn)(const prpkit_model*, size_t, int64_t*, size_t, size_t*);

/* [(name, shape), ...] for the inputs or outputs. */
static PyObject* io_list(ModelObject* self, count_fn count, name_fn name, shape_fn shape, const char* what) {
    if (check_model(self) < 0) return NULL;
    size_t n = 0;
    int st = count(self->model, &n);
    if (st != PRPKIT_OK) return raise_status(st, what);
    PyObject* list = PyList_New((Py_ssize_t)n);
    if (list == NULL) return NULL;
    for (size_t i = 0; i < n; i++) {
        const char* nm = NULL;
        st = name(self->model, i, &nm);
        if (st != PRPKIT_OK) {
            Py_DECREF(list);
            return raise_status(st, what);
        }
        int64_t dims[PRPKIT_MAX_RANK];
        size_t rank = 0;
        st = shape(self->model, i, dims, PRPKIT_MAX_RANK, &rank);
        if (st != PRPKIT_OK) {
            Py_DECREF(list);
            return raise_status(st, what);
        }
        PyObject* item = Py_BuildValue("(sN)", nm ? nm : "", shape_tuple(dims, rank));
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SetItem(list, (Py_ssize_t)i, item);
    }
    return list;
}

static PyObject* Model_inputs(ModelObject* self, PyObject* unused) {
    return io_list(self, prpkit_model_num_inputs, prpkit_model_input_name, prpkit_model_input_shape, "inputs");
}

static PyObject* Model_outputs(ModelObject* self, PyObject* unused) {
    return io_list(self, prpkit_model_num_outputs, prpkit_model_output_name, prpkit_model_output_shape,
                   "outputs");
}

static PyObject* Model_save(ModelObject* self, PyObject* arg) {
    if (check_model(self) < 0) return NULL;
    PyObject* path = fs_path(arg);
    if (path == NULL) return NULL;
    const char* p = PyBytes_AsString(path);
    int st;
    Py_BEGIN_ALLOW_THREADS
    st = prpkit_model_save(self->model, p);
    Py_END_ALLOW_THREADS
    if (st != PRPKIT_OK) {
        PyObject* r = raise_status(st, "save");
        Py_DECREF(path);
        return r;
    }
    Py_DECREF(path);
    Py_RETURN_NONE;
}

/* True when a buffer format string denotes a native float32. */
static int is_float32_format(const char* fmt) {
    if (fmt == NULL) return 0; /* "B" (bytes) */
    if (fmt[0] == '@' || fmt[0] == '=') fmt++;
#if PY_LITTLE_ENDIAN
    else if (fmt[0] == '<') fmt++;
#else
    else if (fmt[0] == '>' || fmt[0] == '!') fmt++;
#endif
    return fmt[0] == 'f' && fmt[1] == '\0';
}

/* Gets a C-contiguous float32 buffer of `obj` (writable if asked). On failure raises
 * TypeError (not a buffer / not float32) or ValueError (not C-contiguous / read-only /
 * rank too large) naming `what` and `index`, and returns -1. */
int get_float_buffer(PyObject* obj, Py_buffer* view, int writable, const char* what, Py_ssize_t index) {
    if (obj == Py_None) {
        PyErr_Format(PyExc_TypeError, "%s %zd is None; expected a float32 array", what, index);
        return -1;
    }
    if (!PyObject_CheckBuffer(obj)) {
        char tn[200];
        PyErr_Format(PyExc_TypeError, "%s %zd: expected a float32 array (buffer protocol), got %s", what,
                     index, type_name(obj, tn, sizeof tn));
        return -1;
    }
    /* Ask for the strided view first, so that we can tell the caller exactly what is wrong. */
    if (PyObject_GetBuffer(obj, view, PyBUF_RECORDS_RO) < 0) {
        PyErr_Clear();
        char tn[200];
        PyErr_Format(PyExc_TypeError, "%s %zd: %s does not export a strided buffer", what, index,
                     type_name(obj, tn, sizeof tn));
        return -1;
    }
    if (!is_float32_format(view->format) || view->itemsize != 4) {
        PyErr_Format(PyExc_TypeError, "%s %zd: expected float32 data, got buffer format '%s' (itemsize %zd)",
                     what, index, view->format ? view->format : "B", view->itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    if (!PyBuffer_IsContiguous(view, 'C')) {
        PyErr_Format(PyExc_ValueError, "%s %zd: the array is not C-contiguous; pass a contiguous copy", what,
                     index);
        PyBuffer_Release(view);
        return -1;
    }
    if (view->ndim > PRPKIT_MAX_RANK) {
        PyErr_Format(PyExc_ValueError, "%s %zd: rank %d exceeds PRPKIT_MAX_RANK (%d)", what, index, view->ndim,
                     PRPKIT_MAX_RANK);
        PyBuffer_Release(view);
        return -1;
    }
    if (writable) {
        if (view->readonly) {
            PyErr_Format(PyExc_ValueError, "%s %zd: the array is read-only", what, index);
            PyBuffer_Release(view);
            return -1;
        }
        /* Re-acquire with PyBUF_WRITABLE to honour exporters that track writers. */
        Py_buffer w;
        if (PyObject_GetBuffer(obj, &w, PyBUF_RECORDS) < 0) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "%s %zd: the array is not writable", what, index);
            PyBuffer_Release(view);
            return -1;
        }
        PyBuffer_Release(view);
        *view = w;
    }
    return 0;
}

static PyObject* sequence_items(PyObject* seq, const char* what) {
    PyObject* fast = PySequence_Fast(seq, what);
    return fast;
}

/*
 * Model.forward(inputs, outs=None) -> list of (buffer, shape)
 *
 * inputs: a sequence of C-contiguous float32 buffers, one per model input.
 * outs:   None, or a sequence of writable C-contiguous float32 buffers, one per model
 *         output, each with exactly the output's shape (checked).
 * Returns, for every output, (buffer, shape): the caller's buffer or a new bytearray.
 */
static PyObject* Model_forward(ModelObject* self, PyObject* args, PyObject* kwargs) {
    static char* kwlist[] = {"inputs", "outs", NULL};
    PyObject* in_seq = NULL;
    PyObject* out_seq = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:forward", kwlist, &in_seq, &out_seq)) return NULL;
    if (check_model(self) < 0) return NULL;

    size_t n_in = 0, n_out = 0;
    int st = prpkit_model_num_inputs(self->model, &n_in);
    if (st != PRPKIT_OK) return raise_status(st, "forward");
    st = prpkit_model_num_outputs(self->model, &n_out);
    if (st != PRPKIT_OK) return raise_status(st, "forward");

    PyObject* ins = sequence_items(in_seq, "forward: inputs must be a sequence of arrays");
    if (ins == NULL) return NULL;
    PyObject* outs_fast = NULL;
    PyObject* result = NULL;
    Py_buffer* in_views = NULL;
    Py_buffer* out_views = NULL;
    int64_t* in_shapes = NULL;
    prpkit_input* inputs = NULL;
    prpkit_output* outputs = NULL;
    PyObject** out_objs = NULL;
    Py_ssize_t got_in = 0, got_out = 0;

    if ((size_t)fast_size(ins) != n_in) {
        PyErr_Format(PyExc_TypeError, "forward: the model takes %zu input(s), got %zd", n_in,
                     fast_size(ins));
        goto done;
    }
    if (out_seq != Py_None) {
        outs_fast = sequence_items(out_seq, "forward: outs must be a sequence of arrays");
        if (outs_fast == NULL) goto done;
        if ((size_t)fast_size(outs_fast) != n_out) {
            PyErr_Format(PyExc_ValueError, "forward: the model has %zu output(s), got %zd out= array(s)", n_out,
                         fast_size(outs_fast));
            goto done;
        }
    }

    in_views = PyMem_Calloc(n_in ? n_in : 1, sizeof(Py_buffer));
    in_shapes = PyMem_Calloc((n_in ? n_in : 1) * PRPKIT_MAX_RANK, sizeof(int64_t));
    inputs = PyMem_Calloc(n_in ? n_in : 1, sizeof(prpkit_input));
    outputs = PyMem_Calloc(n_out ? n_out : 1, sizeof(prpkit_output));
    out_views = PyMem_Calloc(n_out ? n_out : 1, sizeof(Py_buffer));
    out_objs = PyMem_Calloc(n_out ? n_out : 1, sizeof(PyObject*));
    if (!in_views || !in_shapes || !inputs || !outputs || !out_views || !out_objs) {
        PyErr_NoMemory();
        goto done;
    }

    for (size_t i = 0; i < n_in; i++) {
        PyObject* o = fast_item(ins, (Py_ssize_t)i);
        if (get_float_buffer(o, &in_views[i], 0, "input", (Py_ssize_t)i) < 0) goto done;
        got_in++;
        int64_t* sh = in_shapes + i * PRPKIT_MAX_RANK;
        for (int d = 0; d < in_views[i].ndim; d++) sh[d] = (int64_t)in_views[i].shape[d];
        inputs[i].data = (const float*)in_views[i].buf;
        inputs[i].shape = sh;
        inputs[i].rank = (size_t)in_views[i].ndim;
    }

    /* 1. Shape inference (capacity 0: nothing is computed). */
    Py_BEGIN_ALLOW_THREADS
    st = prpkit_model_forward(self->model, inputs, n_in, outputs, n_out, NULL);
    Py_END_ALLOW_THREADS
    if (st != PRPKIT_OK && st != PRPKIT_ERROR_BUFFER_TOO_SMALL) {
        raise_status(st, "forward");
        goto done;
    }

    /* 2. Output buffers. */
    for (size_t j = 0; j < n_out; j++) {
        prpkit_output* out = &outputs[j];
        if (out->rank > PRPKIT_MAX_RANK) {
            PyErr_Format(InternalError, "forward: output %zu has rank %zu > PRPKIT_MAX_RANK", j, out->rank);
            goto done;
        }
        size_t count = 1;
        for (size_t d = 0; d < out->rank; d++) {
            if (out->shape[d] < 0) {
                PyErr_Format(InternalError, "forward: output %zu has a negative extent", j);
                goto done;
            }
            count *= (size_t)out->shape[d];
        }
        if (outs_fast != NULL) {
            PyObject* o = fast_item(outs_fast, (Py_ssize_t)j);
            if (get_float_buffer(o, &out_views[j], 1, "out", (Py_ssize_t)j) < 0) goto done;
            got_out++;
            int same = (size_t)out_views[j].ndim == out->rank;
            for (size_t d = 0; same && d < out->rank; d++)
                same = (int64_t)out_views[j].shape[d] == out->shape[d];
            if (!same) {
                PyObject* want = shape_tuple(out->shape, out->rank);
                PyObject* have = PyTuple_New(out_views[j].ndim);
                for (int d = 0; have && d < out_views[j].ndim; d++)
                    PyTuple_SetItem(have, d, PyLong_FromSsize_t(out_views[j].shape[d]));
                if (want && have)
                    PyErr_Format(PyExc_ValueError, "out %zu: shape %R, expected %R", j, have, want);
                Py_XDECREF(want);
                Py_XDECREF(have);
                goto done;
            }
            Py_INCREF(o);
            out_objs[j] = o;
            out->data = (float*)out_views[j].buf;
        } else {
            if (count > (size_t)PY_SSIZE_T_MAX / sizeof(float)) {
                PyErr_NoMemory();
                goto done;
            }
            PyObject* ba = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(count * sizeof(float)));
            if (ba == NULL) goto done;
            out_objs[j] = ba;
            out->data = count ? (float*)PyByteArray_AsString(ba) : NULL;
        }
        out->capacity = count;
    }

    /* 3. Compute. */
    Py_BEGIN_ALLOW_THREADS
    st = prpkit_model_forward(self->model, inputs, n_in, outputs, n_out, NULL);
    Py_END_ALLOW_THREADS
    if (st != PRPKIT_OK) {
        raise_status(st, "forward");
        goto done;
    }

    result = PyList_New((Py_ssize_t)n_out);
    if (result == NULL) goto done;
    for (size_t j = 0; j < n_out; j++) {
        PyObject* item = Py_BuildValue("(ON)", out_objs[j], shape_tuple(outputs[j].shape, outputs[j].rank));
        if (item == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SetItem(result, (Py_ssize_t)j, item);
    }

done:
    for (Py_ssize_t i = 0; i < got_in; i++) PyBuffer_Release(&in_views[i]);
    for (Py_ssize_t j = 0; j < got_out; j++) PyBuffer_Release(&out_views[j]);
    if (out_objs)
        for (size_t j = 0; j < n_out; j++) Py_XDECREF(out_objs[j]);
    PyMem_Free(in_views);
    PyMem_Free(out_views);
    PyMem_Free(in_shapes);
    PyMem_Free(inputs);
    PyMem_Free(outputs);
    PyMem_Free(out_objs);
    Py_XDECREF(outs_fast);
    Py_DECREF(ins);
    return result;
}

static PyMethodDef Model_methods[] = {
    {"inputs", (PyCFunction)Model_inputs, METH_NOARGS, "inputs() -> [(name, declared shape)]"},
    {"outputs", (PyCFunction)Model_outputs, METH_NOARGS,
     "outputs() -> [(name, shape for the declared input shapes)]"},
    {"save", (PyCFunction)Model_save, METH_O, "save(path): writes the model file (GIL released)."},
    {"graph_json", (PyCFunction)Model_graph_json, METH_NOARGS,
     "graph_json() -> str: the graph document of the model file, as the library holds it."},
    {"shapes_json", (PyCFunction)Model_shapes_json, METH_O,
     "shapes_json(shapes) -> str: {\"values\": {name: shape}, \"parameters\": {name: shape}} for\n"
     "input shapes `shapes` (one sequence of ints per input), or the declared ones (None)."},
    {"summary", (PyCFunction)Model_summary, METH_VARARGS,
     "summary(path, metadata_json, as_json) -> str: the model's description (text table or JSON);\n"
     "path and metadata_json may be None."},
    {"parameter", (PyCFunction)Model_parameter, METH_O,
     "parameter(name) -> (bytearray, shape): a copy of parameter tensor `name` (float32)."},
    {"forward", (PyCFunction)(void (*)(void))Model_forward, METH_VARARGS | METH_KEYWORDS,
     "forward(inputs, outs=None) -> [(buffer, shape)]\n\n"
     "inputs: sequence of C-contiguous float32 buffers (read in place).\n"
     "outs: None or a sequence of writable C-contiguous float32 buffers of the exact output\n"
     "shapes. Returns each output's buffer (the caller's or a new bytearray) and shape.\n"
     "The GIL is released during the computation."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Model_slots[] = {
    {Py_tp_dealloc, Model_dealloc},
    {Py_tp_doc, "A loaded, immutable prpkit model (owns a prpkit_model*; freed with the object)."},
    {Py_tp_methods, Model_methods},
    {Py_tp_new, Model_new},
    {0, NULL},
};

static PyType_Spec Model_spec = {"prpkit._core.Model", sizeof(ModelObject), 0, Py_TPFLAGS_DEFAULT, Model_slots};

/* ---- module functions --------------------------------------------------------------- */

static PyObject* mod_load(PyObject* mod, PyObject* arg) {
    PyObject* path = fs_path(arg);
    if (path == NULL) return NULL;
    const char* p = PyBytes_AsString(path);
    prpkit_model* m = NULL;
    int st;
    Py_BEGIN_ALLOW_THREADS
    st = prpkit_model_load(p, &m);
    Py_END_ALLOW_THREADS
    if (st != PRPKIT_OK) {
        PyObject* ctx = PyUnicode_FromFormat("load %R", arg);
        const char* c = ctx ? PyUnicode_AsUTF8AndSize(ctx, NULL) : "load";
        if (c == NULL) {
            PyErr_Clear();
            c = "load";
        }
        raise_status(st, c);
        Py_XDECREF(ctx);
        prpkit_model_free(m);
        Py_DECREF(path);
        return NULL;
    }
    Py_DECREF(path);
    return wrap_model(m);
}

static PyObject* mod_load_from_memory(PyObject* mod, PyObject* arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    prpkit_model* m = NULL;
    int st;
    Py_BEGIN_ALLOW_THREADS
    st = prpkit_model_load_from_memory(view.buf, (size_t)view.len, &m);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (st != PRPKIT_OK) {
        prpkit_model_free(m);
        return raise_status(st, "load_from_memory");
    }
    return wrap_model(m);
}

static PyObject* mod_version(PyObject* mod, PyObject* unused) {
    int a = 0, b = 0, c = 0;
    prpkit_version(&a, &b, &c);
    return Py_BuildValue("(iii)", a, b, c);
}

static PyObject* mod_version_string(PyObject* mod, PyObject* unused) {
    return PyUnicode_FromString(prpkit_version_string());
}

/* Calls a thread-count setter with a Python int. The range is checked by the library
 * only: a value outside int is saturated (never truncated, which would turn 2**32 + 1
 * into 1), so the library rejects it with its own message. */
static PyObject* set_thread_count(PyObject* arg, int (*setter)(int), const char* what) {
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred()) return NULL;
    int n = v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
    int st = setter(n);
    if (st != PRPKIT_OK) return raise_status(st, what);
    Py_RETURN_NONE;
}

static PyObject* mod_set_num_threads(PyObject* mod, PyObject* arg) {
    return set_thread_count(arg, prpkit_set_num_threads, "set_num_threads");
}

static PyObject* mod_set_local_num_threads(PyObject* mod, PyObject* arg) {
    return set_thread_count(arg, prpkit_set_local_num_threads, "set_local_num_threads");
}

static PyObject* mod_get_num_threads(PyObject* mod, PyObject* unused) {
    return PyLong_FromLong(prpkit_get_num_threads());
}

static PyObject* mod_status_string(PyObject* mod, PyObject* arg) {
    int s = PyLong_AsLong(arg);
    if (s == -1 && PyErr_Occurred()) return NULL;
    return PyUnicode_FromString(prpkit_status_string(s));
}

static PyMethodDef module_methods[] = {
    {"load", mod_load, METH_O, "load(path) -> Model (GIL released while reading)."},
    {"load_from_memory", mod_load_from_memory, METH_O,
     "load_from_memory(bytes-like) -> Model: a model file image in memory (copied by the library)."},
    {"version", mod_version, METH_NOARGS, "The library's (major, minor, patch)."},
    {"version_string", mod_version_string, METH_NOARGS, "The library's version string."},
    {"set_num_threads", mod_set_num_threads, METH_O,
     "set_num_threads(n): worker threads of the kernels, process-wide (0 = default)."},
    {"set_local_num_threads", mod_set_local_num_threads, METH_O,
     "set_local_num_threads(n): worker threads for calls from this OS thread (0 = the process-wide count)."},
    {"get_num_threads", mod_get_num_threads, METH_NOARGS,
     "The worker thread count of calls from this thread (its override, else the process-wide count)."},
    {"status_string", mod_status_string, METH_O, "The static name of a status code."},
    {"postprocess", mod_postprocess, METH_VARARGS,
     "postprocess(relevance, image, polarity, sigma, out_h, out_w, normalize, grads_x_input) -> (buf, shape)."},
    {"pointing_game", mod_pointing_game, METH_VARARGS,
     "pointing_game(relevance, mask, area_fraction, flags) -> (energy bytes, mask_relevance bytes)."},
    {"perturbation_curves", mod_perturbation_curves, METH_VARARGS,
     "perturbation_curves(model, images, relevance, targets, target_rank, baseline, mode, softmax, steps, "
     "output_index, batch_size, blur_sigma) -> (scores, auc, fractions) as float32 bytes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "prpkit._core",
    "Binding of the prpkit C ABI (include/prpkit.h). Use the `prpkit` package instead.", -1, module_methods,
};

static PyObject* new_error(PyObject* m, const char* name, PyObject* bases, const char* doc) {
    char full[128];
    PyOS_snprintf(full, sizeof full, "prpkit.%s", name);
    PyObject* e = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    if (e == NULL) return NULL;
    if (PyModule_AddObjectRef(m, name, e) < 0) {
        Py_DECREF(e);
        return NULL;
    }
    return e;
}

static PyObject* new_sub(PyObject* m, const char* name, PyObject* mixin, const char* doc) {
    PyObject* bases = PyTuple_Pack(2, PRPKitError, mixin);
    if (bases == NULL) return NULL;
    PyObject* e = new_error(m, name, bases, doc);
    Py_DECREF(bases);
    return e;
}

PyMODINIT_FUNC PyInit__core(void) {
    PyObject* m = PyModule_Create(&core_module);
    if (m == NULL) return NULL;
    /* Heap types (the stable ABI has no static type objects); the module keeps one reference. */
    if (!(ModelType = (PyTypeObject*)PyType_FromSpec(&Model_spec))) goto fail;
    if (PyModule_AddObjectRef(m, "Model", (PyObject*)ModelType) < 0) goto fail;
    if (explainer_add_type(m) < 0) goto fail;

    PRPKitError = new_error(m, "PRPKitError", PyExc_Exception,
                            "Base of every error reported by the prpkit library. Attributes: status (the C "
                            "status code), status_name (e.g. 'PRPKIT_ERROR_IO'); the message is "
                            "prpkit_last_error().");
    if (!PRPKitError) goto fail;
    if (!(InvalidArgumentError = new_sub(m, "InvalidArgumentError", PyExc_ValueError,
                                         "PRPKIT_ERROR_INVALID_ARGUMENT: a wrong rank, shape, count, index or "
                                         "option (also a ValueError).")))
        goto fail;
    if (!(BufferTooSmallError = new_sub(m, "BufferTooSmallError", PyExc_ValueError,
                                        "PRPKIT_ERROR_BUFFER_TOO_SMALL (also a ValueError).")))
        goto fail;
    if (!(InvalidModelError = new_sub(m, "InvalidModelError", PyExc_ValueError,
                                      "PRPKIT_ERROR_INVALID_MODEL: a malformed, truncated or inconsistent "
                                      "model file (also a ValueError).")))
        goto fail;
    if (!(UnsupportedError = new_sub(m, "UnsupportedError", PyExc_NotImplementedError,
                                     "PRPKIT_ERROR_UNSUPPORTED: an op, dtype, format version or option the "
                                     "library lacks (also a NotImplementedError).")))
        goto fail;
    if (!(PRPKitIOError = new_sub(m, "PRPKitIOError", PyExc_OSError,
                                  "PRPKIT_ERROR_IO: reading or writing a file failed (also an OSError).")))
        goto fail;
    if (!(InternalError = new_sub(m, "InternalError", PyExc_RuntimeError,
                                  "PRPKIT_ERROR_INTERNAL: a bug in prpkit; please report the message (also a "
                                  "RuntimeError).")))
        goto fail;

    if (PyModule_AddIntConstant(m, "HEADER_VERSION_MAJOR", PRPKIT_VERSION_MAJOR) < 0 ||
        PyModule_AddIntConstant(m, "HEADER_VERSION_MINOR", PRPKIT_VERSION_MINOR) < 0 ||
        PyModule_AddIntConstant(m, "HEADER_VERSION_PATCH", PRPKIT_VERSION_PATCH) < 0 ||
        PyModule_AddIntConstant(m, "MAX_RANK", PRPKIT_MAX_RANK) < 0)
        goto fail;
    return m;

fail:
    Py_DECREF(m);
    return NULL;
}
