/*
 * prpkit._core.pointing_game / perturbation_curves — bindings of prpkit_pointing_game and
 * prpkit_perturbation_curves (include/prpkit.h, "Relevance metrics"). A compilation unit
 * of _core: InputSet, inputs_collect/inputs_release, raise_status and ModelObject come
 * from _core.h.
 */
#include "_core.h"

/* One float32 array as a one-element InputSet. */
static int metrics_one(PyObject* obj, const char* what, InputSet* s) {
    PyObject* one = PyTuple_Pack(1, obj);
    if (one == NULL) return -1;
    int r = inputs_collect(one, what, s);
    Py_DECREF(one);
    return r;
}

/* pointing_game(relevance, mask, area_fraction, flags) -> (energy bytes, mask_relevance bytes):
 * N float32 each. */
PyObject* mod_pointing_game(PyObject* mod, PyObject* args) {
    PyObject *rel_obj, *mask_obj;
    double area;
    int flags;
    if (!PyArg_ParseTuple(args, "OOdi:pointing_game", &rel_obj, &mask_obj, &area, &flags)) return NULL;
    InputSet rel, mask;
    if (metrics_one(rel_obj, "relevance", &rel) < 0) return NULL;
    if (metrics_one(mask_obj, "mask", &mask) < 0) {
        inputs_release(&rel);
        return NULL;
    }
    size_t n = rel.inputs[0].rank == 3 ? (size_t)rel.inputs[0].shape[0] : 1;
    PyObject* result = NULL;
    PyObject* energy = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * sizeof(float)));
    PyObject* maskrel = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * sizeof(float)));
    if (energy && maskrel) {
        float* e = (float*)PyBytes_AsString(energy);
        float* m = (float*)PyBytes_AsString(maskrel);
        int st;
        Py_BEGIN_ALLOW_THREADS
        st = prpkit_pointing_game(rel.inputs, mask.inputs, area, flags, e, m, n);
        Py_END_ALLOW_THREADS
        if (st != PRPKIT_OK) raise_status(st, "pointing_game");
        else result = PyTuple_Pack(2, energy, maskrel);
    }
    Py_XDECREF(energy);
    Py_XDECREF(maskrel);
    inputs_release(&mask);
    inputs_release(&rel);
    return result;
}

/* perturbation_curves(model, images, relevance, targets (flat int sequence), target_rank,
 * baseline | None, mode, softmax, steps, output_index, batch_size, blur_sigma)
 * -> (scores bytes N*(S+1), auc bytes N, fractions bytes S+1), float32. */
PyObject* mod_perturbation_curves(PyObject* mod, PyObject* args) {
    PyObject *model, *img_obj, *rel_obj, *tgt_obj, *base_obj;
    Py_ssize_t target_rank;
    int mode, softmax;
    long long steps, output_index, batch_size;
    float sigma;
    if (!PyArg_ParseTuple(args, "O!OOOnOipLLLf:perturbation_curves", ModelType, &model, &img_obj, &rel_obj,
                          &tgt_obj, &target_rank, &base_obj, &mode, &softmax, &steps, &output_index, &batch_size,
                          &sigma))
        return NULL;
    if (check_model((ModelObject*)model) < 0) return NULL;
    if (steps < 1 || steps > (1 << 20)) {
        PyErr_Format(PyExc_ValueError, "steps must be in 1...%d, got %lld", 1 << 20, steps);
        return NULL;
    }
    PyObject* fast = PySequence_Fast(tgt_obj, "targets: expected a sequence of ints");
    if (fast == NULL) return NULL;
    Py_ssize_t nt = fast_size(fast);
    int64_t* targets = PyMem_Malloc((size_t)(nt > 0 ? nt : 1) * sizeof(int64_t));
    if (targets == NULL) {
        Py_DECREF(fast);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < nt; i++) {
        targets[i] = PyLong_AsLongLong(fast_item(fast, i));
        if (targets[i] == -1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            PyMem_Free(targets);
            return NULL;
        }
    }
    Py_DECREF(fast);
    PyObject* result = NULL;
    PyObject *scores = NULL, *auc = NULL, *fractions = NULL;
    InputSet img, rel, base;
    memset(&img, 0, sizeof img);
    memset(&rel, 0, sizeof rel);
    memset(&base, 0, sizeof base);
    if (metrics_one(img_obj, "images", &img) < 0) goto done;
    if (metrics_one(rel_obj, "relevance", &rel) < 0) goto done;
    if (base_obj != Py_None && metrics_one(base_obj, "baseline", &base) < 0) goto done;
    size_t n = img.inputs[0].rank == 4 ? (size_t)img.inputs[0].shape[0] : 1;
    if (target_rank < 0 || (size_t)nt != n * (size_t)target_rank) {
        PyErr_Format(PyExc_ValueError, "targets: %zd indices for %zu image(s) of target rank %zd", nt, n,
                     target_rank);
        goto done;
    }
    size_t points = (size_t)steps + 1;
    scores = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * points * sizeof(float)));
    auc = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * sizeof(float)));
    fractions = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(points * sizeof(float)));
    if (!scores || !auc || !fractions) goto done;
    prpkit_perturbation_options options = prpkit_perturbation_default_options();
    options.mode = mode;
    options.softmax = softmax;
    options.steps = steps;
    options.output_index = output_index;
    options.batch_size = batch_size;
    options.blur_sigma = sigma;
    int st;
    const prpkit_input* b = base.count ? base.inputs : NULL;
    float* s = (float*)PyBytes_AsString(scores);
    float* a = (float*)PyBytes_AsString(auc);
    float* f = (float*)PyBytes_AsString(fractions);
    prpkit_model* m = ((ModelObject*)model)->model;
    Py_BEGIN_ALLOW_THREADS
    st = prpkit_perturbation_curves(m, img.inputs, rel.inputs, targets, (size_t)target_rank, b, &options, s,
                                    n * points, a, f);
    Py_END_ALLOW_THREADS
    if (st != PRPKIT_OK) {
        raise_status(st, "perturbation_curves");
        goto done;
    }
    result = PyTuple_Pack(3, scores, auc, fractions);
done:
    Py_XDECREF(scores);
    Py_XDECREF(auc);
    Py_XDECREF(fractions);
    inputs_release(&base);
    inputs_release(&rel);
    inputs_release(&img);
    PyMem_Free(targets);
    return result;
}
