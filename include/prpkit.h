/*
 * prpkit.h — the C interface of prpkit (libprpkit.so).
 *
 * prpkit computes Prototype Relevance Propagation (PRP) and composite LRP heatmaps for
 * CNNs natively. This header is hand-written and is the single source of truth for the
 * ABI; the Swift exports in Sources/PRPKitCABI implement exactly what is declared here.
 *
 * ------------------------------------------------------------------------------------
 * Worked example: load a model, query its shapes, run a forward pass, free.
 * (A complete, tested program is examples/c/forward.c.)
 *
 *     #include <stdio.h>
 *     #include <stdlib.h>
 *     #include "prpkit.h"
 *
 *     int main(int argc, char** argv) {
 *         prpkit_model* model = NULL;
 *         if (argc < 2 || prpkit_model_load(argv[1], &model) != PRPKIT_OK) {
 *             fprintf(stderr, "load: %s\n", prpkit_last_error());
 *             return 1;
 *         }
 *
 *         // The declared shape of input 0, e.g. {1, 3, 224, 224}.
 *         int64_t in_shape[PRPKIT_MAX_RANK];
 *         size_t in_rank = 0;
 *         prpkit_model_input_shape(model, 0, in_shape, PRPKIT_MAX_RANK, &in_rank);
 *         size_t n_in = 1;
 *         for (size_t d = 0; d < in_rank; d++) n_in *= (size_t)in_shape[d];
 *         float* x = calloc(n_in, sizeof(float));      // fill with your image, NCHW
 *
 *         prpkit_input input = { x, in_shape, in_rank };
 *
 *         // One prpkit_output per model output. With capacity 0 the call only infers
 *         // the output shapes (no compute) and returns PRPKIT_ERROR_BUFFER_TOO_SMALL.
 *         size_t n_outputs = 0;
 *         prpkit_model_num_outputs(model, &n_outputs);
 *         prpkit_output* outputs = calloc(n_outputs, sizeof(prpkit_output));
 *         prpkit_model_forward(model, &input, 1, outputs, n_outputs, NULL);
 *         for (size_t i = 0; i < n_outputs; i++) {
 *             size_t n = 1;
 *             for (size_t d = 0; d < outputs[i].rank; d++) n *= (size_t)outputs[i].shape[d];
 *             outputs[i].data = malloc(n * sizeof(float));
 *             outputs[i].capacity = n;
 *         }
 *
 *         prpkit_forward_options options = prpkit_forward_default_options();
 *         if (prpkit_model_forward(model, &input, 1, outputs, n_outputs, &options) != PRPKIT_OK) {
 *             fprintf(stderr, "forward: %s\n", prpkit_last_error());
 *         } else {
 *             const char* name = NULL;
 *             prpkit_model_output_name(model, 0, &name);
 *             printf("%s[0] = %g\n", name, outputs[0].data[0]);
 *         }
 *
 *         for (size_t i = 0; i < n_outputs; i++) free(outputs[i].data);
 *         free(outputs);
 *         free(x);
 *         prpkit_model_free(model);                       // NULL-safe
 *         return 0;
 *     }
 *
 * Build:  gcc -I include app.c -L <dir of libprpkit.so> -lprpkit -Wl,-rpath,<that dir>
 * ------------------------------------------------------------------------------------
 *
 * Conventions
 *  - Every fallible function returns an int status: PRPKIT_OK (0) or one of the
 *    PRPKIT_ERROR_* codes. On error, prpkit_last_error() returns a message for the
 *    calling thread. No function aborts or exits the process on bad input: NULL
 *    pointers, wrong sizes, ranks or shapes, truncated or inconsistent model files are
 *    all reported as status codes. Sizes are bounded: no tensor (input, output,
 *    parameter, activation, relevance) may exceed 2^31 - 1 elements, and every product
 *    of extents is overflow-checked; a larger request is PRPKIT_ERROR_INVALID_ARGUMENT
 *    (PRPKIT_ERROR_INVALID_MODEL for a model file's own shapes). Model files are read
 *    within a small multiple of their size (docs/model-format.md, "Limits").
 *  - Tensors are float32, C-contiguous (row-major); images are NCHW as in PyTorch.
 *  - Ownership: the caller owns every buffer it passes in; prpkit never keeps a pointer
 *    to caller memory beyond the call. Inputs are read in place (no copy). Strings and
 *    arrays that prpkit returns by pointer are owned by prpkit and stay valid for the
 *    lifetime stated at each function.
 *  - Threads: a loaded model is immutable. Any number of threads may call
 *    prpkit_model_forward (and the query functions) on the same model at once. Do not
 *    free a model while another thread still uses it.
 *  - Versioning: option structs start with `struct_size`; get them from the
 *    *_default_options() function so that fields added later keep old callers working.
 *    prpkit_version() lets a caller check the library it loaded at run time.
 *
 * Model files: a prpkit model file is a safetensors file whose "__metadata__" carries
 * the graph as JSON; see docs/model-format.md.
 */
#ifndef PRPKIT_H
#define PRPKIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this header. Compare with prpkit_version() at run time. */
#define PRPKIT_VERSION_MAJOR 0
#define PRPKIT_VERSION_MINOR 1
#define PRPKIT_VERSION_PATCH 0

/* The largest tensor rank the ABI carries (shapes in prpkit_output are inline). */
#define PRPKIT_MAX_RANK 8

/* ---- Status codes and errors -------------------------------------------------------- */

enum {
    PRPKIT_OK = 0,
    /* A NULL pointer, an out-of-range index, a wrong rank/shape/count or option. */
    PRPKIT_ERROR_INVALID_ARGUMENT = 1,
    /* The model file or memory image is malformed, truncated or inconsistent. */
    PRPKIT_ERROR_INVALID_MODEL = 2,
    /* Well-formed, but names an op, dtype, format version or feature prpkit lacks. */
    PRPKIT_ERROR_UNSUPPORTED = 3,
    /* Reading or writing a file failed. */
    PRPKIT_ERROR_IO = 4,
    /* A caller buffer is too small; the required size has been written where documented. */
    PRPKIT_ERROR_BUFFER_TOO_SMALL = 5,
    /* A bug in prpkit. Please report it with the message. */
    PRPKIT_ERROR_INTERNAL = 6
};

/* The message of the last failed call on the calling thread ("" if none). Owned by
 * prpkit; valid until the next prpkit call on the same thread. Never NULL. */
const char* prpkit_last_error(void);

/* A static name for a status code, e.g. "PRPKIT_ERROR_IO". Never NULL. */
const char* prpkit_status_string(int status);

/* ---- Version ------------------------------------------------------------------------ */

/* The library's version. Any of the pointers may be NULL. Returns PRPKIT_OK. */
int prpkit_version(int* major, int* minor, int* patch);

/* The library's version as "MAJOR.MINOR.PATCH" (static string). */
const char* prpkit_version_string(void);

/* ---- Threads ------------------------------------------------------------------------ */

/* Sets the number of worker threads the kernels use, process-wide. n > 0 sets it;
 * n == 0 restores the default (env PRPKIT_NUM_THREADS, else the online core count).
 * Call it before starting concurrent work: calls in flight may see either value.
 * The workers are persistent threads started on first use (they sleep when idle).
 * Returns PRPKIT_ERROR_INVALID_ARGUMENT for n < 0 or n > 1024. */
int prpkit_set_num_threads(int n);

/* Sets the worker thread count for the calls made from the CALLING thread only,
 * overriding the process-wide setting there (other threads are unaffected); n == 0
 * removes the override. This reaches every call, including those without an options
 * struct (explainer attribute/propagate/prp). With a given thread count results are
 * repeatable bit for bit; between counts they may differ in the last bits (some kernels
 * choose their blocking by thread count).
 * Returns PRPKIT_ERROR_INVALID_ARGUMENT for n < 0 or n > 1024. */
int prpkit_set_local_num_threads(int n);

/* The worker thread count calls from the calling thread use (its override if set, else
 * the process-wide count; always >= 1). */
int prpkit_get_num_threads(void);

/* ---- Models ------------------------------------------------------------------------- */

/* A loaded, validated, immutable model (graph + weights). Opaque. */
typedef struct prpkit_model prpkit_model;

/* Loads a model file. On success *out receives a model the caller frees with
 * prpkit_model_free. On failure *out is set to NULL (when out is not NULL). Only regular
 * files are read (a FIFO or device is PRPKIT_ERROR_IO at once, never waited on). */
int prpkit_model_load(const char* path, prpkit_model** out);

/* Loads a model from a memory image of a model file (`size` bytes at `data`). The
 * bytes are copied: the caller may free `data` as soon as the call returns. */
int prpkit_model_load_from_memory(const void* data, size_t size, prpkit_model** out);

/* Frees a model and everything it owns (names, shapes). NULL-safe. */
void prpkit_model_free(prpkit_model* model);

/* Writes the model to `path` as a model file (deterministic bytes: saving a loaded
 * file reproduces it bit for bit when it was written by prpkit). The bytes go to a new
 * temporary file beside the target, renamed over it when complete, so a failed save
 * never leaves a half-written file. A symbolic link at `path` is written through (the
 * file it names is replaced, the link stays); an existing file keeps its permissions;
 * anything that is not a regular file (directory, device, FIFO, socket) is refused with
 * PRPKIT_ERROR_IO and left untouched. */
int prpkit_model_save(const prpkit_model* model, const char* path);

/* ---- Model queries ------------------------------------------------------------------ */
/* Names returned here are NUL-terminated UTF-8, owned by the model and valid until
 * prpkit_model_free. Shapes are copied into caller arrays of `capacity` entries; *rank
 * always receives the rank, and PRPKIT_ERROR_BUFFER_TOO_SMALL is returned (nothing
 * else written) when capacity < rank. */

int prpkit_model_num_inputs(const prpkit_model* model, size_t* out);
int prpkit_model_num_outputs(const prpkit_model* model, size_t* out);

int prpkit_model_input_name(const prpkit_model* model, size_t index, const char** out);
int prpkit_model_output_name(const prpkit_model* model, size_t index, const char** out);

/* The declared shape of input `index` (the batch extent may differ at run time). */
int prpkit_model_input_shape(const prpkit_model* model, size_t index,
                             int64_t* shape, size_t capacity, size_t* rank);

/* The shape of output `index` when every input has its declared shape. For other input
 * shapes, call prpkit_model_forward with capacity 0 (see below). */
int prpkit_model_output_shape(const prpkit_model* model, size_t index,
                              int64_t* shape, size_t capacity, size_t* rank);

/* ---- Forward ------------------------------------------------------------------------ */

/* One input tensor, read in place for the duration of the call. `shape` has `rank`
 * entries; `data` holds their product of floats. The rank must equal the declared
 * rank; extents may differ where the ops allow (e.g. another batch size). */
typedef struct prpkit_input {
    const float* data;
    const int64_t* shape;
    size_t rank;
} prpkit_input;

/* One output slot. The caller sets `data` and `capacity` (in floats); prpkit writes
 * `shape` and `rank` (always, also when it returns PRPKIT_ERROR_BUFFER_TOO_SMALL), then
 * the values (product of shape floats) into `data`. Zero-initialize the struct. */
typedef struct prpkit_output {
    float* data;
    size_t capacity;
    int64_t shape[PRPKIT_MAX_RANK];
    size_t rank;
} prpkit_output;

/* Options of prpkit_model_forward. Get defaults from prpkit_forward_default_options();
 * an all-zero struct with struct_size set is also the defaults. */
typedef struct prpkit_forward_options {
    /* sizeof(prpkit_forward_options) as the caller was compiled; set by the default. */
    size_t struct_size;
    /* Worker threads for this call (> 0), or 0 for the calling thread's setting
     * (prpkit_set_local_num_threads, else prpkit_set_num_threads). Values outside
     * 0...1024 return PRPKIT_ERROR_INVALID_ARGUMENT. */
    int num_threads;
} prpkit_forward_options;

/* Defaults for prpkit_forward_options (inline, so that `struct_size` is the caller's). */
static inline prpkit_forward_options prpkit_forward_default_options(void) {
    prpkit_forward_options options;
    options.struct_size = sizeof(prpkit_forward_options);
    options.num_threads = 0;
    return options;
}

/* Runs the model: n_inputs must equal prpkit_model_num_inputs, n_outputs must equal
 * prpkit_model_num_outputs (outputs in model order). `options` may be NULL (defaults).
 *
 * Shapes are inferred first and written to every output's shape/rank. If any output's
 * capacity is smaller than its element count, nothing is computed and
 * PRPKIT_ERROR_BUFFER_TOO_SMALL is returned: calling with data = NULL and capacity = 0
 * is the way to ask for output shapes. `data` may be NULL only when capacity is 0.
 *
 * Safe to call concurrently on one model from several threads. */
int prpkit_model_forward(const prpkit_model* model,
                         const prpkit_input* inputs, size_t n_inputs,
                         prpkit_output* outputs, size_t n_outputs,
                         const prpkit_forward_options* options);

/* ---- Model introspection ------------------------------------------------------------ */

/* Text results below are NUL-terminated UTF-8 JSON written into `buffer` of `capacity`
 * bytes; *length (may be NULL) always receives the length without the NUL, and
 * PRPKIT_ERROR_BUFFER_TOO_SMALL is returned when capacity <= length (call with
 * capacity 0 to learn the size). */

/* The model's graph as the JSON document a model file carries ("inputs", "nodes",
 * "outputs"; docs/model-format.md), as the library holds it (float attributes as
 * float32, keys in a fixed order). */
int prpkit_model_graph_json(const prpkit_model* model, char* buffer, size_t capacity, size_t* length);

/* Every value's shape for inputs of the shapes in `inputs` (only `shape` and `rank` are
 * read; `data` may be NULL), or of their declared shapes when `inputs` is NULL:
 *   {"values": {name: [extents], ...}, "parameters": {name: [extents], ...}}
 * with "values" holding the graph inputs then every node's output, in graph order, and
 * "parameters" every parameter tensor, by name. Shapes the ops reject are
 * PRPKIT_ERROR_INVALID_ARGUMENT, as in prpkit_model_forward. */
int prpkit_model_shapes_json(const prpkit_model* model, const prpkit_input* inputs, size_t n_inputs,
                             char* buffer, size_t capacity, size_t* length);

/* Copies parameter tensor `name` into `out` with the prpkit_output protocol of
 * prpkit_model_forward (its shape is always written; a capacity below its size returns
 * PRPKIT_ERROR_BUFFER_TOO_SMALL). An unknown name is PRPKIT_ERROR_INVALID_ARGUMENT. */
int prpkit_model_parameter(const prpkit_model* model, const char* name, prpkit_output* out);

/* A description of the model for people (format PRPKIT_SUMMARY_TEXT: an aligned table,
 * one node per line) or scripts (PRPKIT_SUMMARY_JSON): inputs, outputs, parameter count,
 * every node's op, output shape and parameter count, and the rule it gets under CaBRNet's
 * PRP composite (for models with an l2_distance node). `path` (may be NULL) is the model
 * file, shown as an absolute path with its size; `metadata_json` (may be NULL) a JSON
 * object whose "mean" and "std" (per input channel) set z^B's bounds as CaBRNet does and
 * whose "description", "class_names", "prototype_class", "stated_test_accuracy",
 * "test_accuracy" are shown. `prpkit info` and `prpkit-run info` print this text. JSON:
 *   {"model", "file_bytes" (with a path), "inputs", "outputs" ([name, shape] pairs),
 *    "parameter_count", "nodes": [{"name", "op", "inputs", "output_shape", "parameters",
 *    "in_prp_composite", "prp_rule", "prp_rule_options"}], "prp_composite_outputs",
 *    "prp_composite_extra_nodes", "prp_composite_error", "metadata" (when given)}.
 * Written like the other text results; the composite is built on each call. */
enum { PRPKIT_SUMMARY_TEXT = 0, PRPKIT_SUMMARY_JSON = 1 };
int prpkit_model_summary(const prpkit_model* model, const char* path, const char* metadata_json, int format,
                         char* buffer, size_t capacity, size_t* length);

/* ---- Relevance propagation: LRP (Captum) and PRP (CaBRNet) ------------------------- */

/* A model prepared for relevance propagation: the graph (or the PRP composite built
 * from it) plus the rule of every node. Immutable; thread safe like prpkit_model. */
typedef struct prpkit_explainer prpkit_explainer;

/* Creates an explainer. `config_json` (NUL-terminated UTF-8, may be NULL) describes the
 * rules as data, see docs/explainer-config.md; NULL or "{}" gives Captum's default rule
 * table. Example: {"composite": "cabrnet_prp"} for CaBRNet's PRP composite, or
 * {"rules": {"by_node": {"features.0": {"rule": "gamma", "gamma": 0.25}}}}.
 * A node without a rule and without a default fails here, naming the node
 * (Captum raises TypeError). The explainer keeps its own reference to the graph: the
 * model may be freed first. Free with prpkit_explainer_free (NULL-safe). */
int prpkit_explainer_create(const prpkit_model* model, const char* config_json, prpkit_explainer** out);
void prpkit_explainer_free(prpkit_explainer* explainer);

/* The graph the explainer propagates through (the composite, when one was requested)
 * as a new model the caller frees: run its forward (e.g. the similarity map) or save it. */
int prpkit_explainer_model(const prpkit_explainer* explainer, prpkit_model** out);

/* How many forward passes the explainer has run and how many calls reused the forward
 * state of an earlier call instead. An explainer keeps the forward state (activations
 * and every rule's forward-only quantities) of its last input(s) — by default one state
 * of at most 1 GiB, see "forward_cache" in docs/explainer-config.md — and reuses it when
 * a call brings inputs with the same shapes and the same bytes (compared in full), so
 * that calls for other targets or prototypes of one image cost only a backward pass.
 * The model and the rules of an explainer never change; a new explainer starts empty.
 * Either pointer may be NULL. Thread-safe. */
int prpkit_explainer_forward_counts(const prpkit_explainer* explainer, uint64_t* forwards, uint64_t* reuses);

/* Every node's rule as JSON {"node": {"rule": ...} | null (ordinary backward)}, written
 * NUL-terminated into `buffer` of `capacity` bytes. *length (may be NULL) receives the
 * length without the NUL; PRPKIT_ERROR_BUFFER_TOO_SMALL when capacity <= length. */
int prpkit_explainer_rules_json(const prpkit_explainer* explainer, char* buffer, size_t capacity, size_t* length);

/* Captum's LRP(model).attribute(inputs, target): one forward pass, one backward pass.
 * `targets` holds n_examples rows of `target_rank` indices into output `output_index`
 * (every dimension after the batch: {class} for (N, classes), {p, h, w} for a
 * similarity map). `relevance` has one slot per model input, filled with an array
 * shaped like that input (capacity rules as in prpkit_model_forward). `scores` and
 * `deltas` (N floats each, may be NULL) receive the target output value s[n] and the
 * convergence delta s[n] - sum(relevance[n]). */
int prpkit_explainer_attribute(const prpkit_explainer* explainer,
                               const prpkit_input* inputs, size_t n_inputs,
                               size_t output_index, const int64_t* targets, size_t target_rank,
                               prpkit_output* relevance, size_t n_relevance,
                               float* scores, float* deltas);

/* Propagates explicit start relevances: `start` is shaped (N*K, output dims...) with
 * row r belonging to example r / K, all K maps of an example in ONE backward pass over
 * one forward pass. Relevance slots receive (N*K, input dims...). The start already
 * carries any scaling: nothing is multiplied at the end. */
int prpkit_explainer_propagate(const prpkit_explainer* explainer,
                               const prpkit_input* inputs, size_t n_inputs,
                               size_t output_index, const prpkit_input* start,
                               prpkit_output* relevance, size_t n_relevance);

/* Which side of a layer prpkit_explainer_attribute_layers reports. */
enum {
    PRPKIT_LAYER_OUTPUT = 0,  /* the layer's output tensor (Captum: attribute_to_layer_input=False) */
    PRPKIT_LAYER_INPUT = 1    /* the layer's input tensor (Captum: attribute_to_layer_input=True) */
};

/* Captum's LayerLRP(model, layers).attribute(inputs, target): the relevance at the output
 * (or input) tensor of each of the `n_layers` nodes named in `layers` (the graph's node
 * names, docs/model-format.md, e.g. "features.3"), for the targets of prpkit_explainer_attribute,
 * from one forward and one backward pass. Relevance slot i receives layer i's tensor
 * shape (N, ...), each example's row multiplied by its target score s[n] as Captum does.
 * `scores` (N floats, may be NULL) receives s; `deltas` (n_layers * N floats, may be NULL)
 * receives s[n] - sum(relevance_i[n]) at index i * N + n. As in Captum, each layer must
 * carry an LRP rule with hooks (epsilon, gamma, alpha1_beta0, identity); for the input
 * side it must have one input, not use IdentityRule, and be the first such layer to
 * consume that input (in forward order): otherwise PRPKIT_ERROR_INVALID_ARGUMENT names
 * the reason. Capacities as in prpkit_model_forward (shapes are written first). */
int prpkit_explainer_attribute_layers(const prpkit_explainer* explainer,
                                      const prpkit_input* inputs, size_t n_inputs,
                                      size_t output_index, const int64_t* targets, size_t target_rank,
                                      const char* const* layers, size_t n_layers, int side,
                                      prpkit_output* relevance, float* scores, float* deltas);

/* Which similarity-map locations a PRP heatmap explains (CaBRNet prp()'s `location`),
 * selected as CaBRNet 1.2's prp() does: a location is skipped when its similarity is
 * < the threshold (so a NaN threshold, like -INFINITY, selects every location, and
 * +INFINITY none: the relevance is then all zeros). */
enum {
    PRPKIT_LOCATION_MAX = 0,       /* the location of the maximum (first in row-major order) */
    PRPKIT_LOCATION_AT = 1,        /* the location (h, w), -Hs <= h < Hs and -Ws <= w < Ws; a negative
                                      entry has CaBRNet's meaning: that row (column) is not pinned and
                                      the threshold is S[h mod Hs, w mod Ws], e.g. (-1, w) selects
                                      every location of column w with S >= S[Hs-1, w] */
    PRPKIT_LOCATION_THRESHOLD = 2  /* every location with similarity >= threshold, summed */
};

typedef struct prpkit_prp_options {
    size_t struct_size;  /* sizeof(prpkit_prp_options) as the caller was compiled */
    int location;        /* PRPKIT_LOCATION_* */
    int64_t h, w;        /* for PRPKIT_LOCATION_AT */
    float threshold;     /* for PRPKIT_LOCATION_THRESHOLD (CaBRNet's default 0.1; any value, see above) */
} prpkit_prp_options;

static inline prpkit_prp_options prpkit_prp_default_options(void) {
    prpkit_prp_options options;
    options.struct_size = sizeof(prpkit_prp_options);
    options.location = PRPKIT_LOCATION_MAX;
    options.h = 0;
    options.w = 0;
    options.threshold = 0.1f;
    return options;
}

/* PRP relevance of `n_prototypes` prototypes for every image of `image` (N, C, H, W),
 * on an explainer whose first output is a similarity map (N, P, Hs, Ws) — e.g. created
 * with {"composite": "cabrnet_prp"}. One forward pass; the selected similarities seed
 * ONE batched backward pass (CaBRNet runs one LRP call per location; the sum is the
 * same by linearity). `relevance` receives (N*K, C, H, W), row n*K + k for prototype k
 * of image n (raw relevance, before CaBRNet's post-processing). `similarity` (may be
 * NULL) receives the similarity map. `options` may be NULL (location max). */
int prpkit_explainer_prp(const prpkit_explainer* explainer, const prpkit_input* image,
                         const int64_t* prototypes, size_t n_prototypes,
                         const prpkit_prp_options* options,
                         prpkit_output* relevance, prpkit_output* similarity);

/* ---- Heatmap post-processing -------------------------------------------------------- */

/* Which sign of the relevance a heatmap keeps (CaBRNet's `polarity`). */
enum {
    PRPKIT_POLARITY_NONE = 0,     /* unchanged (CaBRNet's None) */
    PRPKIT_POLARITY_POSITIVE = 1, /* max(0, a) */
    PRPKIT_POLARITY_NEGATIVE = 2, /* |min(0, a)| */
    PRPKIT_POLARITY_ABSOLUTE = 3  /* |a| */
};

typedef struct prpkit_postprocess_options {
    size_t struct_size;            /* sizeof(prpkit_postprocess_options) as the caller was compiled */
    int polarity;                  /* PRPKIT_POLARITY_* */
    float gaussian_sigma;          /* sigma of the Gaussian smoothing (CaBRNet's gaussian_ksize); 0 = none */
    int64_t out_height, out_width; /* size of the bicubic resize (the raw image's); 0, 0 = no resize */
    int normalize;                 /* nonzero: min-max normalisation to [0, 1] */
    int grads_x_input;             /* nonzero: multiply the relevance by the image first */
} prpkit_postprocess_options;

/* CaBRNet's post_process defaults: absolute polarity, sigma 5, no resize, no
 * normalisation, no grads x input. */
static inline prpkit_postprocess_options prpkit_postprocess_default_options(void) {
    prpkit_postprocess_options options;
    options.struct_size = sizeof(prpkit_postprocess_options);
    options.polarity = PRPKIT_POLARITY_ABSOLUTE;
    options.gaussian_sigma = 5.0f;
    options.out_height = 0;
    options.out_width = 0;
    options.normalize = 0;
    options.grads_x_input = 0;
    return options;
}

/* CaBRNet's post_process (cabrnet/core/visualization/postprocess.py) on one relevance
 * map, in its order:
 *   1. grads_x_input: relevance * image (elementwise);
 *   2. polarity, then the mean over channels -> (H, W);
 *   3. gaussian_sigma > 0: scipy.ndimage.gaussian_filter(a, sigma) (mode 'reflect',
 *      truncate 4; reproduced bit for bit);
 *   4. out_height, out_width > 0: cv2.resize(a, (out_width, out_height), INTER_CUBIC)
 *      (OpenCV's algorithm: a = -0.75, replicated borders; within ~1e-6 of max|a| of
 *      opencv-python, whose float path runs through Intel IPP). An exactly constant map
 *      stays exactly constant;
 *   5. normalize: (a - min) / (max - min), all zeros when max == min.
 * `relevance` is (C, H, W) or (1, C, H, W) (e.g. one row of prpkit_explainer_prp's
 * relevance); `image` has the same shape and is read only when grads_x_input is set
 * (it may be NULL otherwise). `heatmap` receives (out_height, out_width), or (H, W)
 * without resize; with capacity 0 only its shape is written and the call returns
 * PRPKIT_ERROR_BUFFER_TOO_SMALL. `options` may be NULL (the defaults above). Bad
 * shapes, an unknown polarity, a sigma outside 0...10000 (or NaN) or a half-given
 * output size return PRPKIT_ERROR_INVALID_ARGUMENT. Thread-safe; uses the kernel threads. */
int prpkit_postprocess(const prpkit_input* relevance, const prpkit_input* image,
                       const prpkit_postprocess_options* options, prpkit_output* heatmap);

/* ---- Relevance metrics ---------------------------------------------------------------- */

/* Flags of prpkit_pointing_game. */
enum {
    PRPKIT_POINTING_POSITIVE_ONLY = 1  /* use max(R, 0) instead of R (not CaBRNet) */
};

/* CaBRNet 1.2's pointing-game relevance (cabrnet/core/evaluation/relevance_analysis.py,
 * pg_energy_relevance and pg_mask_relevance) of every relevance map against a mask.
 * `relevance` is (H, W) or (N, H, W); `mask` is (H, W) (shared by every map) or
 * (N, H, W); a mask value != 0 is inside (CaBRNet: the segmentation summed over its
 * last axis > 0; collapse colour masks before the call). For each map R:
 *   energy[i]         = sum(R inside the mask) / sum(R), 0 when sum(R) == 0 (R raw,
 *                       as CaBRNet: give a non-negative map, e.g. post-processed);
 *   mask_relevance[i] = with t = sort(R ascending)[floor(H*W * (1 - area_fraction))],
 *                       the fraction of the pixels with R > t (strictly) that are
 *                       inside the mask; 0 when none is selected (area_fraction 0).
 * `area_fraction` is CaBRNet's area_percentage as a fraction in [0, 1] (default 0.1).
 * `energy` and `mask_relevance` (either may be NULL) receive N floats each; `capacity`
 * is the float count each holds (PRPKIT_ERROR_BUFFER_TOO_SMALL when < N). Shape
 * mismatches, NaN/infinite relevance or an area fraction outside [0, 1] return
 * PRPKIT_ERROR_INVALID_ARGUMENT. Maps are scored in parallel; thread-safe. */
int prpkit_pointing_game(const prpkit_input* relevance, const prpkit_input* mask, double area_fraction,
                         int flags, float* energy, float* mask_relevance, size_t capacity);

/* Which perturbation curve prpkit_perturbation_curves computes (RISE, Petsiuk et al. 2018). */
enum {
    PRPKIT_PERTURB_DELETION = 0,  /* most relevant pixels first replaced by the baseline */
    PRPKIT_PERTURB_INSERTION = 1  /* most relevant pixels first copied from the image onto the baseline */
};

typedef struct prpkit_perturbation_options {
    size_t struct_size;    /* sizeof(prpkit_perturbation_options) as the caller was compiled */
    int mode;              /* PRPKIT_PERTURB_* */
    int softmax;           /* nonzero: softmax over dimension 1 of the output before reading the target */
    int64_t steps;         /* S >= 1: S + 1 curve points */
    int64_t output_index;  /* the model output the targets index */
    int64_t batch_size;    /* perturbed images per forward pass (bounds memory); 0 = all at once */
    float blur_sigma;      /* without a baseline: > 0 blurs the image (per channel, scipy's
                              gaussian_filter, mode reflect, truncate 4) as the baseline; 0 = zeros */
} prpkit_perturbation_options;

/* Deletion, 32 steps, output 0, raw scores, batches of 64, zero baseline. */
static inline prpkit_perturbation_options prpkit_perturbation_default_options(void) {
    prpkit_perturbation_options options;
    options.struct_size = sizeof(prpkit_perturbation_options);
    options.mode = PRPKIT_PERTURB_DELETION;
    options.softmax = 0;
    options.steps = 32;
    options.output_index = 0;
    options.batch_size = 64;
    options.blur_sigma = 0.0f;
    return options;
}

/* Deletion / insertion curves of N images on a one-input model. `images` is (N, C, H, W)
 * or (C, H, W); `relevance` is (N, H, W) or (H, W); `targets` holds N rows of
 * `target_rank` indices into output `output_index` after the batch dimension ({class}
 * or {p, h, w}). Pixels are ranked by relevance, descending, ties by lower row-major
 * index. Step k in 0...S changes the first n_k = floor(k * H*W / S) ranked pixels (all
 * channels): deletion sets them to the baseline (the rest is the image), insertion sets
 * them to the image (the rest is the baseline). `baseline` (may be NULL: see blur_sigma)
 * is (C, H, W) or (N, C, H, W), in the model's input space (0 = the normalisation mean).
 * All N*(S+1) perturbed images are built in parallel and run through batched forwards.
 * `scores` (capacity `scores_capacity` floats, at least N*(S+1); else
 * PRPKIT_ERROR_BUFFER_TOO_SMALL) receives row e*(S+1) + k = the target output after step
 * k; `auc` (N floats, may be NULL) the trapezoidal area over x_k = n_k / (H*W) in [0, 1];
 * `fractions` (S+1 floats, may be NULL) the x_k. `options` must not be NULL. */
int prpkit_perturbation_curves(const prpkit_model* model, const prpkit_input* images,
                               const prpkit_input* relevance, const int64_t* targets, size_t target_rank,
                               const prpkit_input* baseline, const prpkit_perturbation_options* options,
                               float* scores, size_t scores_capacity, float* auc, float* fractions);

#ifdef __cplusplus
}
#endif

#endif /* PRPKIT_H */
