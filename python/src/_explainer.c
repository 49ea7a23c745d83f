/*
 * prpkit._core.Explainer — binding of the prpkit_explainer_* functions of prpkit.h — and
 * postprocess (prpkit_postprocess). A compilation unit of _core: the helpers it shares
 * with _core.c and _metrics.c are declared in _core.h.
 */
#include "_core.h"

typedef struct {
    PyObject_HEAD
    prpkit_explainer* ex;   /* owned */
    PyObject* model;        /* the graph propagated through, as a _core.Model */
} ExplainerObject;

static PyTypeObject* ExplainerType; /* created by explainer_add_type */

static void Explainer_dealloc(ExplainerObject* self) {
    prpkit_explainer_free(self->ex);
    self->ex = NULL;
    Py_CLEAR(self->model);
    free_instance((PyObject*)self);
}

/* Explainer(model: _core.Model, config_json: str | None) */
static PyObject* Explainer_new(PyTypeObject* type, PyObject* args, PyObject* kw) {
    static char* kwlist[] = {"model", "config_json", NULL};
    PyObject* model = NULL;
    const char* config = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!z:Explainer", kwlist, ModelType, &model, &config)) return NULL;
    if (check_model((ModelObject*)model) < 0) return NULL;
    prpkit_explainer* ex = NULL;
    int st;
    Py_BEGIN_ALLOW_THREADS
    st = prpkit_explainer_create(((ModelObject*)model)->model, config, &ex);
    Py_END_ALLOW_THREADS
    if (st != PRPKIT_OK) return raise_status(st, "Explainer");
    prpkit_model* graph = NULL;
    st = prpkit_explainer_model(ex, &graph);
    if (st != PRPKIT_OK) {
        prpkit_explainer_free(ex);
        return raise_status(st, "Explainer");
    }
    PyObject* wrapped = wrap_model(graph);
    if (wrapped == NULL) {
        prpkit_explainer_free(ex);
        return NULL;
    }
    allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    ExplainerObject* self = (ExplainerObject*)alloc(type, 0);
    if (self == NULL) {
        prpkit_explainer_free(ex);
        Py_DECREF(wrapped);
        return NULL;
    }
    self->ex = ex;
    self->model = wrapped;
    return (PyObject*)self;
}

static PyObject* Explainer_rules_json(ExplainerObject* self, PyObject* unused) {
    size_t length = 0;
    int st = prpkit_explainer_rules_json(self->ex, NULL, 0, &length);
    if (st != PRPKIT_OK && st != PRPKIT_ERROR_BUFFER_TOO_SMALL) return raise_status(st, "rules_json");
    char* buf = PyMem_Malloc(length + 1);
    if (buf == NULL) return PyErr_NoMemory();
    st = prpkit_explainer_rules_json(self->ex, buf, length + 1, &length);
    PyObject* r = st == PRPKIT_OK ? PyUnicode_FromStringAndSize(buf, (Py_ssize_t)length) : raise_status(st, "rules_json");
    PyMem_Free(buf);
    return r;
}

static PyObject* Explainer_model(ExplainerObject* self, PyObject* unused) {
    Py_INCREF(self->model);
    return self->model;
}

/* Borrowed float32 views of a sequence of arrays, as prpkit_input structs. */
void inputs_release(InputSet* s) {
    for (Py_ssize_t i = 0; i < s->count; i++) PyBuffer_Release(&s->views[i]);
    PyMem_Free(s->views);
    PyMem_Free(s->shapes);
    PyMem_Free(s->inputs);
    memset(s, 0, sizeof *s);
}

int inputs_collect(PyObject* seq, const char* what, InputSet* s) {
    memset(s, 0, sizeof *s);
    PyObject* fast = PySequence_Fast(seq, "expected a sequence of arrays");
    if (fast == NULL) return -1;
    Py_ssize_t n = fast_size(fast);
    s->views = PyMem_Calloc(n ? n : 1, sizeof(Py_buffer));
    s->shapes = PyMem_Calloc((n ? n : 1) * PRPKIT_MAX_RANK, sizeof(int64_t));
    s->inputs = PyMem_Calloc(n ? n : 1, sizeof(prpkit_input));
    if (!s->views || !s->shapes || !s->inputs) {
        Py_DECREF(fast);
        inputs_release(s);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (get_float_buffer(fast_item(fast, i), &s->views[i], 0, what, i) < 0) {
            Py_DECREF(fast);
            inputs_release(s);
            return -1;
        }
        s->count++;
        int64_t* sh = s->shapes + i * PRPKIT_MAX_RANK;
        for (int d = 0; d < s->views[i].ndim; d++) sh[d] = (int64_t)s->views[i].shape[d];
        s->inputs[i].data = (const float*)s->views[i].buf;
        s->inputs[i].shape = sh;
        s->inputs[i].rank = (size_t)s->views[i].ndim;
    }
    Py_DECREF(fast);
    return 0;
}

/* Gives every slot whose shape the library wrote a fresh bytearray; returns a list of
 * the bytearrays (owned) or NULL. */
static PyObject* outputs_allocate(prpkit_output* outs, size_t n) {
    PyObject* list = PyList_New((Py_ssize_t)n);
    if (list == NULL) return NULL;
    for (size_t j = 0; j < n; j++) {
        size_t count = 1;
        for (size_t d = 0; d < outs[j].rank && d < PRPKIT_MAX_RANK; d++) count *= (size_t)outs[j].shape[d];
        if (count > (size_t)PY_SSIZE_T_MAX / sizeof(float)) {
            Py_DECREF(list);
            return PyErr_NoMemory();
        }
        PyObject* ba = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(count * sizeof(float)));
        if (ba == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SetItem(list, (Py_ssize_t)j, ba);
        outs[j].data = count ? (float*)PyByteArray_AsString(ba) : NULL;
        outs[j].capacity = count;
    }
    return list;
}

/* [(bytearray, shape), ...] for the slots. Steals `buffers`. */
static PyObject* outputs_result(PyObject* buffers, prpkit_output* outs, size_t n) {
    PyObject* result = PyList_New((Py_ssize_t)n);
    for (size_t j = 0; result && j < n; j++) {
        PyObject* item = Py_BuildValue("(ON)", PyList_GetItem(buffers, (Py_ssize_t)j),
                                       shape_tuple(outs[j].shape, outs[j].rank));
        if (item == NULL) Py_CLEAR(result);
        else PyList_SetItem(result, (Py_ssize_t)j, item);
    }
    Py_DECREF(buffers);
    return result;
}

/* (relevance list, scores, deltas) of an attribution call from its filled slots; steals
 * `buffers`, borrows `scores` and `deltas`. */
static PyObject* attribution_result(PyObject* buffers, prpkit_output* outs, size_t n, PyObject* scores,
                                    PyObject* deltas) {
    PyObject* rel = outputs_result(buffers, outs, n);
    return rel == NULL ? NULL : Py_BuildValue("(NOO)", rel, scores, deltas);
}

/* A C-contiguous int64 (N, rank) targets buffer; 0 or -1 with an exception set. */
static int targets_buffer(PyObject* obj, Py_buffer* tv) {
    if (PyObject_GetBuffer(obj, tv, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    if (tv->itemsize != 8 || tv->ndim != 2 || tv->format == NULL ||
        (tv->format[0] != 'q' && tv->format[0] != 'l' && strcmp(tv->format, "<q") && strcmp(tv->format, "<l"))) {
        PyBuffer_Release(tv);
        PyErr_SetString(PyExc_TypeError, "targets must be a C-contiguous int64 array of shape (N, rank)");
        return -1;
    }
    return 0;
}

/* attribute(inputs, output_index, targets) -> ([(buf, shape)], scores, deltas)
 * targets: a C-contiguous int64 buffer of shape (N, target_rank). */
static PyObject* Explainer_attribute(ExplainerObject* self, PyObject* args) {
    PyObject* seq;
    Py_ssize_t output_index;
    PyObject* targets_obj;
    if (!PyArg_ParseTuple(args, "OnO:attribute", &seq, &output_index, &targets_obj)) return NULL;
    if (output_index < 0) {
        PyErr_SetString(PyExc_ValueError, "output_index must be >= 0");
        return NULL;
    }
    Py_buffer tv;
    if (targets_buffer(targets_obj, &tv) < 0) return NULL;
    InputSet in;
    if (inputs_collect(seq, "input", &in) < 0) {
        PyBuffer_Release(&tv);
        return NULL;
    }
    PyObject* result = NULL;
    size_t n_rel = (size_t)in.count;
    prpkit_output* outs = PyMem_Calloc(n_rel ? n_rel : 1, sizeof(prpkit_output));
    Py_ssize_t n = in.count ? in.views[0].shape[0] : 0;
    PyObject* scores = PyByteArray_FromStringAndSize(NULL, (n ? n : 1) * (Py_ssize_t)sizeof(float));
    PyObject* deltas = PyByteArray_FromStringAndSize(NULL, (n ? n : 1) * (Py_ssize_t)sizeof(float));
    PyObject* buffers = NULL;
    if (!outs || !scores || !deltas) {
        PyErr_NoMemory();
        goto done;
    }
    if (in.count == 0 || tv.shape[0] != n) {
        PyErr_Format(PyExc_ValueError, "attribute: need one target row per example (%zd), got %zd", n,
                     (Py_ssize_t)tv.shape[0]);
        goto done;
    }
    int st;
    /* Shapes first (capacity 0), then compute. */
    for (size_t j = 0; j < n_rel; j++) {
        outs[j].rank = in.inputs[j].rank;
        for (size_t d = 0; d < outs[j].rank; d++) outs[j].shape[d] = in.inputs[j].shape[d];
    }
    buffers = outputs_allocate(outs, n_rel);
    if (buffers == NULL) goto done;
    Py_BEGIN_ALLOW_THREADS
    st = prpkit_explainer_attribute(self->ex, in.inputs, (size_t)in.count, (size_t)output_index,
                                    (const int64_t*)tv.buf, (size_t)tv.shape[1], outs, n_rel,
                                    (float*)PyByteArray_AsString(scores), (float*)PyByteArray_AsString(deltas));
    Py_END_ALLOW_THREADS
    if (st != PRPKIT_OK) {
        raise_status(st, "attribute");
        goto done;
    }
    result = attribution_result(buffers, outs, n_rel, scores, deltas);
    buffers = NULL;
done:
    Py_XDECREF(buffers);
    Py_XDECREF(scores);
    Py_XDECREF(deltas);
    PyMem_Free(outs);
    inputs_release(&in);
    PyBuffer_Release(&tv);
    return result;
}

/* attribute_layers(inputs, output_index, targets, layers: [str], side) ->
 *     ([(buf, shape)] per layer, scores, deltas (n_layers * N floats)) */
static PyObject* Explainer_attribute_layers(ExplainerObject* self, PyObject* args) {
    PyObject *seq, *targets_obj, *names_obj;
    Py_ssize_t output_index;
    int side;
    if (!PyArg_ParseTuple(args, "OnOOi:attribute_layers", &seq, &output_index, &targets_obj, &names_obj, &side))
        return NULL;
    if (output_index < 0) {
        PyErr_SetString(PyExc_ValueError, "output_index must be >= 0");
        return NULL;
    }
    PyObject* names = PySequence_Fast(names_obj, "layers must be a sequence of node names");
    if (names == NULL) return NULL;
    Py_ssize_t n_layers = fast_size(names);
    const char** layer_names = PyMem_Calloc(n_layers ? n_layers : 1, sizeof(char*));
    prpkit_output* outs = PyMem_Calloc(n_layers ? n_layers : 1, sizeof(prpkit_output));
    Py_buffer tv = {0};
    int have_targets = 0, have_inputs = 0;
    InputSet in;
    PyObject *result = NULL, *buffers = NULL, *scores = NULL, *deltas = NULL;
    if (layer_names == NULL || outs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n_layers; i++) {
        layer_names[i] = PyUnicode_AsUTF8AndSize(fast_item(names, i), NULL);
        if (layer_names[i] == NULL) goto done;
    }
    if (targets_buffer(targets_obj, &tv) < 0) goto done;
    have_targets = 1;
    if (inputs_collect(seq, "input", &in) < 0) goto done;
    have_inputs = 1;
    Py_ssize_t n = in.count ? in.views[0].shape[0] : 0;
    if (in.count == 0 || tv.shape[0] != n) {
        PyErr_Format(PyExc_ValueError, "attribute_layers: need one target row per example (%zd), got %zd", n,
                     (Py_ssize_t)tv.shape[0]);
        goto done;
    }
    scores = PyByteArray_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(float));
    deltas = PyByteArray_FromStringAndSize(NULL, (n_layers ? n_layers : 1) * n * (Py_ssize_t)sizeof(float));
    if (scores == NULL || deltas == NULL) goto done;
    int st;
    for (int pass = 0; pass < 2; pass++) {  /* shapes first (capacity 0), then compute */
        Py_BEGIN_ALLOW_THREADS
        st = prpkit_explainer_attribute_layers(self->ex, in.inputs, (size_t)in.count, (size_t)output_index,
                                               (const int64_t*)tv.buf, (size_t)tv.shape[1], layer_names,
                                               (size_t)n_layers, side, outs, (float*)PyByteArray_AsString(scores),
                                               (float*)PyByteArray_AsString(deltas));
        Py_END_ALLOW_THREADS
        if (pass == 0 && st == PRPKIT_ERROR_BUFFER_TOO_SMALL) {
            buffers = outputs_allocate(outs, (size_t)n_layers);
            if (buffers == NULL) goto done;
            continue;
        }
        if (st != PRPKIT_OK) {
            raise_status(st, "attribute_layers");
            goto done;
        }
        break;
    }
    if (buffers == NULL) {
        raise_status(PRPKIT_ERROR_INTERNAL, "attribute_layers");
        goto done;
    }
    result = attribution_result(buffers, outs, (size_t)n_layers, scores, deltas);
    buffers = NULL;
done:
    Py_XDECREF(buffers);
    Py_XDECREF(scores);
    Py_XDECREF(deltas);
    PyMem_Free(outs);
    PyMem_Free(layer_names);
    if (have_inputs) inputs_release(&in);
    if (have_targets) PyBuffer_Release(&tv);
    Py_DECREF(names);
    return result;
}

/* propagate(inputs, output_index, start) -> [(buf, shape)] */
static PyObject* Explainer_propagate(ExplainerObject* self, PyObject* args) {
    PyObject* seq;
    Py_ssize_t output_index;
    PyObject* start_obj;
    if (!PyArg_ParseTuple(args, "OnO:propagate", &seq, &output_index, &start_obj)) return NULL;
    if (output_index < 0) {
        PyErr_SetString(PyExc_ValueError, "output_index must be >= 0");
        return NULL;
    }
    InputSet in, start;
    if (inputs_collect(seq, "input", &in) < 0) return NULL;
    PyObject* one = PyTuple_Pack(1, start_obj);
    if (one == NULL || inputs_collect(one, "start", &start) < 0) {
        Py_XDECREF(one);
        inputs_release(&in);
        return NULL;
    }
    Py_DECREF(one);
    PyObject* result = NULL;
    PyObject* buffers = NULL;
    size_t n_rel = (size_t)in.count;
    prpkit_output* outs = PyMem_Calloc(n_rel ? n_rel : 1, sizeof(prpkit_output));
    int st;
    if (outs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    st = prpkit_explainer_propagate(self->ex, in.inputs, (size_t)in.count, (size_t)output_index, start.inputs,
                                    outs, n_rel);
    Py_END_ALLOW_THREADS
    if (st != PRPKIT_ERROR_BUFFER_TOO_SMALL) {
        raise_status(st == PRPKIT_OK ? PRPKIT_ERROR_INTERNAL : st, "propagate");
        goto done;
    }
    buffers = outputs_allocate(outs, n_rel);
    if (buffers == NULL) goto done;
    Py_BEGIN_ALLOW_THREADS
    st = prpkit_explainer_propagate(self->ex, in.inputs, (size_t)in.count, (size_t)output_index, start.inputs,
                                    outs, n_rel);
    Py_END_ALLOW_THREADS
    if (st != PRPKIT_OK) {
        raise_status(st, "propagate");
        goto done;
    }
    result = outputs_result(buffers, outs, n_rel);
    buffers = NULL;
done:
    Py_XDECREF(buffers);
    PyMem_Free(outs);
    inputs_release(&start);
    inputs_release(&in);
    return result;
}

/* prp(image, prototypes, location, h, w, threshold) -> ((buf, shape), (buf, shape))
 * prototypes: a C-contiguous int64 buffer of K ids. */
static PyObject* Explainer_prp(ExplainerObject* self, PyObject* args) {
    PyObject* image;
    PyObject* protos_obj;
    int location;
    long long h, w;
    float threshold;
    if (!PyArg_ParseTuple(args, "OOiLLf:prp", &image, &protos_obj, &location, &h, &w, &threshold)) return NULL;
    Py_buffer pv;
    if (PyObject_GetBuffer(protos_obj, &pv, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return NULL;
    if (pv.itemsize != 8 || pv.ndim != 1) {
        PyBuffer_Release(&pv);
        PyErr_SetString(PyExc_TypeError, "prototypes must be a 1-D int64 array");
        return NULL;
    }
    InputSet in;
    PyObject* one = PyTuple_Pack(1, image);
    if (one == NULL || inputs_collect(one, "image", &in) < 0) {
        Py_XDECREF(one);
        PyBuffer_Release(&pv);
        return NULL;
    }
    Py_DECREF(one);
    prpkit_prp_options options = prpkit_prp_default_options();
    options.location = location;
    options.h = h;
    options.w = w;
    options.threshold = threshold;
    prpkit_output outs[2];
    memset(outs, 0, sizeof outs);
    PyObject* result = NULL;
    PyObject* buffers = NULL;
    int st;
    Py_BEGIN_ALLOW_THREADS
    st = prpkit_explainer_prp(self->ex, in.inputs, (const int64_t*)pv.buf, (size_t)pv.shape[0], &options, &outs[0],
                              &outs[1]);
    Py_END_ALLOW_THREADS
    if (st != PRPKIT_ERROR_BUFFER_TOO_SMALL) {
        raise_status(st == PRPKIT_OK ? PRPKIT_ERROR_INTERNAL : st, "prp");
        goto done;
    }
    buffers = outputs_allocate(outs, 2);
    if (buffers == NULL) goto done;
    Py_BEGIN_ALLOW_THREADS
    st = prpkit_explainer_prp(self->ex, in.inputs, (const int64_t*)pv.buf, (size_t)pv.shape[0], &options, &outs[0],
                              &outs[1]);
    Py_END_ALLOW_THREADS
    if (st != PRPKIT_OK) {
        raise_status(st, "prp");
        goto done;
    }
    PyObject* list = outputs_result(buffers, outs, 2);
    buffers = NULL;
    if (list != NULL) {
        result = PyTuple_Pack(2, PyList_GetItem(list, 0), PyList_GetItem(list, 1));
        Py_DECREF(list);
    }
done:
    Py_XDECREF(buffers);
    inputs_release(&in);
    PyBuffer_Release(&pv);
    return result;
}

/* output_shapes(inputs) -> [shape]: the graph's output shapes for these inputs (no compute). */
static PyObject* Explainer_output_shapes(ExplainerObject* self, PyObject* seq) {
    ModelObject* model = (ModelObject*)self->model;
    size_t n_out = 0;
    int st = prpkit_model_num_outputs(model->model, &n_out);
    if (st != PRPKIT_OK) return raise_status(st, "output_shapes");
    InputSet in;
    if (inputs_collect(seq, "input", &in) < 0) return NULL;
    prpkit_output* outs = PyMem_Calloc(n_out ? n_out : 1, sizeof(prpkit_output));
    PyObject* result = NULL;
    if (outs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    st = prpkit_model_forward(model->model, in.inputs, (size_t)in.count, outs, n_out, NULL);
    if (st != PRPKIT_ERROR_BUFFER_TOO_SMALL && st != PRPKIT_OK) {
        raise_status(st, "output_shapes");
        goto done;
    }
    result = PyList_New((Py_ssize_t)n_out);
    for (size_t j = 0; result && j < n_out; j++) {
        PyObject* t = shape_tuple(outs[j].shape, outs[j].rank);
        if (t == NULL) Py_CLEAR(result);
        else PyList_SetItem(result, (Py_ssize_t)j, t);
    }
done:
    PyMem_Free(outs);
    inputs_release(&in);
    return result;
}

static PyObject* Explainer_forward_counts(ExplainerObject* self, PyObject* unused) {
    uint64_t forwards = 0, reuses = 0;
    int st = prpkit_explainer_forward_counts(self->ex, &forwards, &reuses);
    if (st != PRPKIT_OK) return raise_status(st, "forward_counts");
    return Py_BuildValue("(KK)", (unsigned long long)forwards, (unsigned long long)reuses);
}

static PyMethodDef Explainer_methods[] = {
    {"forward_counts", (PyCFunction)Explainer_forward_counts, METH_NOARGS,
     "forward_counts() -> (forward passes run, forward states reused) by this explainer."},
    {"output_shapes", (PyCFunction)Explainer_output_shapes, METH_O,
     "output_shapes(inputs) -> [shape] of the explained graph for these inputs (no compute)."},
    {"rules_json", (PyCFunction)Explainer_rules_json, METH_NOARGS, "The rule of every node as JSON."},
    {"model", (PyCFunction)Explainer_model, METH_NOARGS, "The graph propagated through, as a _core.Model."},
    {"attribute", (PyCFunction)Explainer_attribute, METH_VARARGS,
     "attribute(inputs, output_index, targets) -> ([(buf, shape)], scores, deltas) (GIL released)."},
    {"attribute_layers", (PyCFunction)Explainer_attribute_layers, METH_VARARGS,
     "attribute_layers(inputs, output_index, targets, layers, side) -> ([(buf, shape)], scores, deltas) "
     "(GIL released)."},
    {"propagate", (PyCFunction)Explainer_propagate, METH_VARARGS,
     "propagate(inputs, output_index, start) -> [(buf, shape)] (GIL released)."},
    {"prp", (PyCFunction)Explainer_prp, METH_VARARGS,
     "prp(image, prototypes, location, h, w, threshold) -> ((buf, shape), (buf, shape)) (GIL released)."},
    {NULL, NULL, 0, NULL},
};

/* postprocess(relevance, image|None, polarity, sigma, out_h, out_w, normalize, grads_x_input) -> (buf, shape) */
PyObject* mod_postprocess(PyObject* mod, PyObject* args) {
    PyObject* rel_obj;
    PyObject* img_obj;
    int polarity, normalize, grads_x_input;
    float sigma;
    long long out_h, out_w;
    if (!PyArg_ParseTuple(args, "OOifLLpp:postprocess", &rel_obj, &img_obj, &polarity, &sigma, &out_h, &out_w,
                          &normalize, &grads_x_input))
        return NULL;
    InputSet rel, img;
    memset(&img, 0, sizeof img);
    PyObject* one = PyTuple_Pack(1, rel_obj);
    if (one == NULL || inputs_collect(one, "relevance", &rel) < 0) {
        Py_XDECREF(one);
        return NULL;
    }
    Py_DECREF(one);
    if (img_obj != Py_None) {
        one = PyTuple_Pack(1, img_obj);
        if (one == NULL || inputs_collect(one, "image", &img) < 0) {
            Py_XDECREF(one);
            inputs_release(&rel);
            return NULL;
        }
        Py_DECREF(one);
    }
    prpkit_postprocess_options options = prpkit_postprocess_default_options();
    options.polarity = polarity;
    options.gaussian_sigma = sigma;
    options.out_height = out_h;
    options.out_width = out_w;
    options.normalize = normalize;
    options.grads_x_input = grads_x_input;
    prpkit_output out;
    memset(&out, 0, sizeof out);
    PyObject* result = NULL;
    PyObject* buffers = NULL;
    const prpkit_input* image = img.count ? img.inputs : NULL;
    int st;
    Py_BEGIN_ALLOW_THREADS
    st = prpkit_postprocess(rel.inputs, image, &options, &out);
    Py_END_ALLOW_THREADS
    if (st != PRPKIT_ERROR_BUFFER_TOO_SMALL) {
        raise_status(st == PRPKIT_OK ? PRPKIT_ERROR_INTERNAL : st, "postprocess");
        goto done;
    }
    buffers = outputs_allocate(&out, 1);
    if (buffers == NULL) goto done;
    Py_BEGIN_ALLOW_THREADS
    st = prpkit_postprocess(rel.inputs, image, &options, &out);
    Py_END_ALLOW_THREADS
    if (st != PRPKIT_OK) {
        raise_status(st, "postprocess");
        goto done;
    }
    PyObject* list = outputs_result(buffers, &out, 1);
    buffers = NULL;
    if (list != NULL) {
        result = PyList_GetItem(list, 0);
        Py_INCREF(result);
        Py_DECREF(list);
    }
done:
    Py_XDECREF(buffers);
    inputs_release(&img);
    inputs_release(&rel);
    return result;
}

static PyType_Slot Explainer_slots[] = {
    {Py_tp_dealloc, Explainer_dealloc},
    {Py_tp_doc, "Explainer(model, config_json): a model prepared for relevance propagation (prpkit_explainer)."},
    {Py_tp_methods, Explainer_methods},
    {Py_tp_new, Explainer_new},
    {0, NULL},
};

static PyType_Spec Explainer_spec = {"prpkit._core.Explainer", sizeof(ExplainerObject), 0, Py_TPFLAGS_DEFAULT,
                                     Explainer_slots};

int explainer_add_type(PyObject* m) {
    /* A heap type (the stable ABI has no static type objects); the module keeps one reference. */
    if (!(ExplainerType = (PyTypeObject*)PyType_FromSpec(&Explainer_spec))) return -1;
    return PyModule_AddObjectRef(m, "Explainer", (PyObject*)ExplainerType);
}
