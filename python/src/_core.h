/*
 * Private header of the prpkit._core extension: what its compilation units share.
 *
 *   _core.c       the module, the exceptions, the Model type, float32 buffer helpers
 *   _explainer.c  the Explainer type and postprocess (prpkit_explainer_*, prpkit_postprocess)
 *   _metrics.c    pointing_game and perturbation_curves (prpkit's relevance metrics)
 *   _model_info.c the Model's graph, value and parameter shapes, and parameters
 *
 * The names declared here are global to the extension only: setup.py compiles with
 * -fvisibility=hidden, so PyInit__core stays the one exported symbol
 * (python/tests/test_install.py checks it). Built against the stable ABI (Py_LIMITED_API
 * is set by setup.py for every unit): only functions of the limited API are used.
 */
#ifndef PRPKIT_PY_CORE_H
#define PRPKIT_PY_CORE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "prpkit.h"

/* Item i (borrowed) and length of a PySequence_Fast result, which is a list or a tuple. */
static inline PyObject* fast_item(PyObject* seq, Py_ssize_t i) {
    return PyList_Check(seq) ? PyList_GetItem(seq, i) : PyTuple_GetItem(seq, i);
}

static inline Py_ssize_t fast_size(PyObject* seq) {
    return PyList_Check(seq) ? PyList_Size(seq) : PyTuple_Size(seq);
}

/* ---- _core.c ---------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    prpkit_model* model; /* owned; NULL only while being constructed */
} ModelObject;

extern PyTypeObject* ModelType; /* created by PyInit__core */

/* Frees an instance of one of this module's heap types and drops its type reference. */
void free_instance(PyObject* self);

/* Raises the exception of a non-OK status with prpkit_last_error(); returns NULL. */
PyObject* raise_status(int status, const char* context);

/* A new Model object owning m (freed on failure), or NULL. */
PyObject* wrap_model(prpkit_model* m);

/* 0, or -1 with ValueError when the model is not loaded. */
int check_model(ModelObject* self);

/* A tuple of the rank dimensions of shape. */
PyObject* shape_tuple(const int64_t* shape, size_t rank);

/* A C-contiguous float32 buffer of obj (writable if asked), or -1 with TypeError /
 * ValueError naming what and index. */
int get_float_buffer(PyObject* obj, Py_buffer* view, int writable, const char* what, Py_ssize_t index);

/* ---- _explainer.c ----------------------------------------------------------------- */

/* A sequence of float32 arrays as prpkit_input records over their buffers (held). */
typedef struct {
    Py_ssize_t count;
    Py_buffer* views;
    int64_t* shapes;
    prpkit_input* inputs;
} InputSet;

int inputs_collect(PyObject* seq, const char* what, InputSet* s);
void inputs_release(InputSet* s);

/* Creates the Explainer type and adds it to module m; 0 or -1. */
int explainer_add_type(PyObject* m);

PyObject* mod_postprocess(PyObject* mod, PyObject* args);

/* ---- _model_info.c --------------------------------------------------------------- */

PyObject* Model_graph_json(ModelObject* self, PyObject* unused);
PyObject* Model_shapes_json(ModelObject* self, PyObject* shapes);
PyObject* Model_summary(ModelObject* self, PyObject* args);
PyObject* Model_parameter(ModelObject* self, PyObject* name);

/* ---- _metrics.c ------------------------------------------------------------------- */

PyObject* mod_pointing_game(PyObject* mod, PyObject* args);
PyObject* mod_perturbation_curves(PyObject* mod, PyObject* args);

#endif
