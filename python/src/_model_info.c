/*
 * Model introspection: the graph JSON, every value's shape and the parameters, all from
 * the library (prpkit_model_graph_json, prpkit_model_shapes_json, prpkit_model_parameter),
 * so that Python never parses a model file or infers shapes itself.
 */
#include "_core.h"

typedef int (*text_fn)(const prpkit_model*, const prpkit_input*, size_t, char*, size_t, size_t*);

/* Calls a text function twice (size, then content) and returns the text as str. */
static PyObject* fetch_text(ModelObject* self, text_fn call, const prpkit_input* inputs, size_t n, const char* what) {
    size_t length = 0;
    int st;
    Py_BEGIN_ALLOW_THREADS
    st = call(self->model, inputs, n, NULL, 0, &length);
    Py_END_ALLOW_THREADS
    if (st != PRPKIT_ERROR_BUFFER_TOO_SMALL) return raise_status(st == PRPKIT_OK ? PRPKIT_ERROR_INTERNAL : st, what);
    char* buf = PyMem_Malloc(length + 1);
    if (buf == NULL) return PyErr_NoMemory();
    Py_BEGIN_ALLOW_THREADS
    st = call(self->model, inputs, n, buf, length + 1, &length);
    Py_END_ALLOW_THREADS
    PyObject* r = st == PRPKIT_OK ? PyUnicode_FromStringAndSize(buf, (Py_ssize_t)length) : raise_status(st, what);
    PyMem_Free(buf);
    return r;
}

static int graph_json_call(const prpkit_model* m, const prpkit_input* unused, size_t n, char* buffer,
                           size_t capacity, size_t* length) {
    return prpkit_model_graph_json(m, buffer, capacity, length);
}

PyObject* Model_graph_json(ModelObject* self, PyObject* unused) {
    if (check_model(self) < 0) return NULL;
    return fetch_text(self, graph_json_call, NULL, 0, "graph_json");
}

PyObject* Model_shapes_json(ModelObject* self, PyObject* arg) {
    if (check_model(self) < 0) return NULL;
    if (arg == Py_None) return fetch_text(self, prpkit_model_shapes_json, NULL, 0, "shapes_json");
    PyObject* seq = PySequence_Fast(arg, "shapes_json: expected None or a sequence of shapes, one per input");
    if (seq == NULL) return NULL;
    Py_ssize_t n = fast_size(seq);
    prpkit_input* inputs = PyMem_Calloc((size_t)n + 1, sizeof(prpkit_input));
    int64_t* dims = PyMem_Calloc((size_t)n * PRPKIT_MAX_RANK + 1, sizeof(int64_t));
    PyObject* result = NULL;
    if (inputs == NULL || dims == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject* shape = PySequence_Fast(fast_item(seq, i), "shapes_json: each shape must be a sequence of ints");
        if (shape == NULL) goto done;
        Py_ssize_t rank = fast_size(shape);
        if (rank < 1 || rank > PRPKIT_MAX_RANK) {
            PyErr_Format(PyExc_ValueError, "shapes_json: shape %zd has rank %zd, expected 1...%d", i, rank, PRPKIT_MAX_RANK);
            Py_DECREF(shape);
            goto done;
        }
        for (Py_ssize_t d = 0; d < rank; d++) {
            long long v = PyLong_AsLongLong(fast_item(shape, d));
            if (v == -1 && PyErr_Occurred()) {
                Py_DECREF(shape);
                goto done;
            }
            dims[i * PRPKIT_MAX_RANK + d] = (int64_t)v;
        }
        Py_DECREF(shape);
        inputs[i].data = NULL;
        inputs[i].shape = dims + i * PRPKIT_MAX_RANK;
        inputs[i].rank = (size_t)rank;
    }
    result = fetch_text(self, prpkit_model_shapes_json, inputs, (size_t)n, "shapes_json");
done:
    PyMem_Free(inputs);
    PyMem_Free(dims);
    Py_DECREF(seq);
    return result;
}

PyObject* Model_parameter(ModelObject* self, PyObject* name) {
    if (check_model(self) < 0) return NULL;
    const char* n = PyUnicode_AsUTF8AndSize(name, NULL);
    if (n == NULL) return NULL;
    prpkit_output out;
    memset(&out, 0, sizeof out);
    int st = prpkit_model_parameter(self->model, n, &out);
    if (st != PRPKIT_ERROR_BUFFER_TOO_SMALL && st != PRPKIT_OK) return raise_status(st, "parameter");
    size_t count = 1;
    for (size_t d = 0; d < out.rank; d++) count *= (size_t)out.shape[d];
    PyObject* ba = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(count * sizeof(float)));
    if (ba == NULL) return NULL;
    if (count > 0) {
        out.data = (float*)PyByteArray_AsString(ba);
        out.capacity = count;
        Py_BEGIN_ALLOW_THREADS
        st = prpkit_model_parameter(self->model, n, &out);
        Py_END_ALLOW_THREADS
        if (st != PRPKIT_OK) {
            Py_DECREF(ba);
            return raise_status(st, "parameter");
        }
    }
    return Py_BuildValue("(NN)", ba, shape_tuple(out.shape, out.rank));
}

/* summary(path, metadata_json, as_json) -> str: prpkit_model_summary. The first call
 * offers 64 KiB, which holds any ordinary model's table, so the composite is usually built
 * once; a larger summary is fetched with the size the library reported. */
PyObject* Model_summary(ModelObject* self, PyObject* args) {
    const char* path = NULL;
    const char* metadata = NULL;
    int as_json = 0;
    if (!PyArg_ParseTuple(args, "zzp:summary", &path, &metadata, &as_json)) return NULL;
    if (check_model(self) < 0) return NULL;
    int format = as_json ? PRPKIT_SUMMARY_JSON : PRPKIT_SUMMARY_TEXT;
    size_t capacity = 64 * 1024, length = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        char* buf = PyMem_Malloc(capacity);
        if (buf == NULL) return PyErr_NoMemory();
        int st;
        Py_BEGIN_ALLOW_THREADS
        st = prpkit_model_summary(self->model, path, metadata, format, buf, capacity, &length);
        Py_END_ALLOW_THREADS
        if (st == PRPKIT_OK) {
            PyObject* r = PyUnicode_FromStringAndSize(buf, (Py_ssize_t)length);
            PyMem_Free(buf);
            return r;
        }
        PyMem_Free(buf);
        if (st != PRPKIT_ERROR_BUFFER_TOO_SMALL || attempt == 1) return raise_status(st, "summary");
        capacity = length + 1;
    }
    return raise_status(PRPKIT_ERROR_INTERNAL, "summary");
}
