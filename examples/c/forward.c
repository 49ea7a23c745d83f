/*
 * forward.c — a complete prpkit C client and the ABI's smoke test.
 *
 * Usage: forward MODEL_FILE
 *
 * Loads the model from the path and from memory, prints its inputs and outputs, runs a
 * forward pass on a deterministic input (x[i] = ((i * 37) % 17) / 8 - 1), prints every
 * output value as "value NAME INDEX VALUE" (scripts/test_c_example.sh compares them with
 * examples/c/tiny.expected), and checks the error paths: NULL arguments, a missing file,
 * a corrupt image, wrong counts/ranks/sizes, unsupported options, concurrent forwards.
 * Exits non-zero if any check fails.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prpkit.h"

/* The Swift side reads these structs at fixed offsets (Sources/PRPKitCABI/Forward.swift). */
_Static_assert(sizeof(prpkit_input) == 24 && offsetof(prpkit_input, shape) == 8 &&
               offsetof(prpkit_input, rank) == 16, "prpkit_input layout");
_Static_assert(sizeof(prpkit_output) == 88 && offsetof(prpkit_output, capacity) == 8 &&
               offsetof(prpkit_output, shape) == 16 && offsetof(prpkit_output, rank) == 80,
               "prpkit_output layout");
_Static_assert(offsetof(prpkit_forward_options, num_threads) == 8, "prpkit_forward_options layout");

static int failures = 0;

static void check(int ok, const char* what) {
    printf("check %-52s %s\n", what, ok ? "ok" : "FAILED");
    if (!ok) failures++;
}

/* Checks that a call returned `expected` and left a non-empty message. */
static void check_status(int status, int expected, const char* what) {
    int ok = status == expected && (expected == PRPKIT_OK || prpkit_last_error()[0] != '\0');
    if (!ok || expected != PRPKIT_OK) {
        printf("      %s -> %s: %s\n", what, prpkit_status_string(status),
               status == PRPKIT_OK ? "" : prpkit_last_error());
    }
    check(ok, what);
}

static size_t element_count(const int64_t* shape, size_t rank) {
    size_t n = 1;
    for (size_t d = 0; d < rank; d++) n *= (size_t)shape[d];
    return n;
}

static void print_shape(const char* kind, size_t index, const char* name, const int64_t* shape, size_t rank) {
    printf("%s %zu '%s': [", kind, index, name);
    for (size_t d = 0; d < rank; d++) printf(d ? ", %lld" : "%lld", (long long)shape[d]);
    printf("]\n");
}

static unsigned char* read_file(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char* data = malloc(n > 0 ? (size_t)n : 1);
    *size = data ? fread(data, 1, (size_t)n, f) : 0;
    fclose(f);
    return data;
}

/* Runs the model on the example input; outputs[i].data are malloc'ed (caller frees). */
static int run(const prpkit_model* model, float* x, int64_t* x_shape, size_t x_rank,
               prpkit_output* outputs, size_t n_outputs) {
    prpkit_input input = { x, x_shape, x_rank };
    memset(outputs, 0, n_outputs * sizeof *outputs);
    /* Capacity 0: shapes only. */
    int status = prpkit_model_forward(model, &input, 1, outputs, n_outputs, NULL);
    if (status != PRPKIT_ERROR_BUFFER_TOO_SMALL) return status;
    for (size_t i = 0; i < n_outputs; i++) {
        outputs[i].capacity = element_count(outputs[i].shape, outputs[i].rank);
        outputs[i].data = malloc(outputs[i].capacity * sizeof(float));
    }
    prpkit_forward_options options = prpkit_forward_default_options();
    return prpkit_model_forward(model, &input, 1, outputs, n_outputs, &options);
}

static void free_outputs(prpkit_output* outputs, size_t n) {
    for (size_t i = 0; i < n; i++) free(outputs[i].data);
}

static int same_outputs(const prpkit_output* a, const prpkit_output* b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (a[i].rank != b[i].rank || memcmp(a[i].shape, b[i].shape, sizeof a[i].shape) != 0) return 0;
        if (memcmp(a[i].data, b[i].data, element_count(a[i].shape, a[i].rank) * sizeof(float)) != 0) return 0;
    }
    return 1;
}

/* ---- concurrent forwards on one model ---- */
typedef struct {
    const prpkit_model* model;
    float* x;
    int64_t* shape;
    size_t rank;
    const prpkit_output* reference;
    size_t n_outputs;
    int ok;
} worker_args;

static void* worker(void* p) {
    worker_args* a = p;
    a->ok = 1;
    for (int iteration = 0; iteration < 50 && a->ok; iteration++) {
        prpkit_output out[2];
        if (a->n_outputs > 2) { a->ok = 0; break; }
        a->ok = run(a->model, a->x, a->shape, a->rank, out, a->n_outputs) == PRPKIT_OK &&
                same_outputs(out, a->reference, a->n_outputs);
        free_outputs(out, a->n_outputs);
    }
    return NULL;
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL_FILE\n", argv[0]);
        return 2;
    }
    int major = -1, minor = -1, patch = -1;
    prpkit_version(&major, &minor, &patch);
    printf("prpkit %s (header %d.%d.%d), %d thread(s)\n", prpkit_version_string(),
           PRPKIT_VERSION_MAJOR, PRPKIT_VERSION_MINOR, PRPKIT_VERSION_PATCH, prpkit_get_num_threads());
    check(major == PRPKIT_VERSION_MAJOR && minor == PRPKIT_VERSION_MINOR, "library version matches the header");

    /* ---- load from the path ---- */
    prpkit_model* model = NULL;
    int status = prpkit_model_load(argv[1], &model);
    check_status(status, PRPKIT_OK, "load from path");
    if (status != PRPKIT_OK) return 1;

    /* ---- shapes ---- */
    size_t n_inputs = 0, n_outputs = 0;
    prpkit_model_num_inputs(model, &n_inputs);
    prpkit_model_num_outputs(model, &n_outputs);
    check(n_inputs == 1 && n_outputs >= 1 && n_outputs <= 2, "one input, one or two outputs");
    int64_t x_shape[PRPKIT_MAX_RANK];
    size_t x_rank = 0;
    const char* name = NULL;
    for (size_t i = 0; i < n_inputs; i++) {
        prpkit_model_input_name(model, i, &name);
        prpkit_model_input_shape(model, i, x_shape, PRPKIT_MAX_RANK, &x_rank);
        print_shape("input", i, name, x_shape, x_rank);
    }
    for (size_t i = 0; i < n_outputs; i++) {
        int64_t shape[PRPKIT_MAX_RANK];
        size_t rank = 0;
        prpkit_model_output_name(model, i, &name);
        prpkit_model_output_shape(model, i, shape, PRPKIT_MAX_RANK, &rank);
        print_shape("output", i, name, shape, rank);
    }

    /* ---- forward ---- */
    size_t n_x = element_count(x_shape, x_rank);
    float* x = malloc(n_x * sizeof(float));
    for (size_t i = 0; i < n_x; i++) x[i] = (float)((i * 37) % 17) / 8.0f - 1.0f;
    prpkit_output outputs[2];
    status = run(model, x, x_shape, x_rank, outputs, n_outputs);
    check_status(status, PRPKIT_OK, "forward");
    if (status != PRPKIT_OK) return 1;
    for (size_t i = 0; i < n_outputs; i++) {
        prpkit_model_output_name(model, i, &name);
        for (size_t k = 0; k < outputs[i].capacity; k++) printf("value %s %zu %.9g\n", name, k, outputs[i].data[k]);
    }

    /* ---- load from memory: same numbers ---- */
    size_t size = 0;
    unsigned char* bytes = read_file(argv[1], &size);
    prpkit_model* from_memory = NULL;
    check_status(prpkit_model_load_from_memory(bytes, size, &from_memory), PRPKIT_OK, "load from memory");
    prpkit_output again[2];
    check(from_memory && run(from_memory, x, x_shape, x_rank, again, n_outputs) == PRPKIT_OK &&
          same_outputs(outputs, again, n_outputs), "model from memory gives identical outputs");
    free_outputs(again, n_outputs);

    /* ---- save reproduces the file bit for bit ---- */
    char saved_path[] = "/tmp/prpkit-forward-c-XXXXXX";
    int fd = mkstemp(saved_path);
    if (fd >= 0) {
        close(fd);
        check_status(prpkit_model_save(from_memory, saved_path), PRPKIT_OK, "save");
        size_t saved_size = 0;
        unsigned char* saved = read_file(saved_path, &saved_size);
        check(saved && saved_size == size && memcmp(saved, bytes, size) == 0, "saved file is bit-identical");
        free(saved);
        remove(saved_path);
    }

    /* ---- concurrent forwards on one model ---- */
    pthread_t threads[4];
    worker_args args[4];
    for (int t = 0; t < 4; t++) {
        args[t] = (worker_args){ model, x, x_shape, x_rank, outputs, n_outputs, 0 };
        pthread_create(&threads[t], NULL, worker, &args[t]);
    }
    int all_ok = 1;
    for (int t = 0; t < 4; t++) {
        pthread_join(threads[t], NULL);
        all_ok &= args[t].ok;
    }
    check(all_ok, "4 threads x 50 concurrent forwards agree");

    /* ---- error paths: codes and messages, never a crash ---- */
    prpkit_model* bad = (prpkit_model*)1;
    check_status(prpkit_model_load(NULL, &bad), PRPKIT_ERROR_INVALID_ARGUMENT, "load(NULL path)");
    check(bad == NULL, "failed load sets *out = NULL");
    check_status(prpkit_model_load(argv[1], NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "load(NULL out)");
    check_status(prpkit_model_load("/nonexistent/model.prpk", &bad), PRPKIT_ERROR_IO, "load(missing file)");
    unsigned char garbage[64];
    memset(garbage, 0xAB, sizeof garbage);
    check_status(prpkit_model_load_from_memory(garbage, sizeof garbage, &bad), PRPKIT_ERROR_INVALID_MODEL,
                 "load_from_memory(garbage)");
    check_status(prpkit_model_load_from_memory(bytes, size / 2, &bad), PRPKIT_ERROR_INVALID_MODEL,
                 "load_from_memory(truncated)");
    check_status(prpkit_model_load_from_memory(NULL, 10, &bad), PRPKIT_ERROR_INVALID_ARGUMENT,
                 "load_from_memory(NULL data)");
    check_status(prpkit_model_save(model, "/nonexistent/dir/m.prpk"), PRPKIT_ERROR_IO, "save(unwritable path)");
    check_status(prpkit_model_num_inputs(NULL, &n_inputs), PRPKIT_ERROR_INVALID_ARGUMENT, "num_inputs(NULL model)");
    check_status(prpkit_model_num_inputs(model, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "num_inputs(NULL out)");
    check_status(prpkit_model_input_name(model, 7, &name), PRPKIT_ERROR_INVALID_ARGUMENT, "input_name(index 7)");
    int64_t small_shape[2];
    size_t rank = 0;
    check_status(prpkit_model_input_shape(model, 0, small_shape, 2, &rank), PRPKIT_ERROR_BUFFER_TOO_SMALL,
                 "input_shape(capacity 2)");
    check(rank == x_rank, "rank reported despite the small buffer");

    prpkit_input input = { x, x_shape, x_rank };
    prpkit_output out[2];
    memset(out, 0, sizeof out);
    check_status(prpkit_model_forward(NULL, &input, 1, out, n_outputs, NULL), PRPKIT_ERROR_INVALID_ARGUMENT,
                 "forward(NULL model)");
    check_status(prpkit_model_forward(model, NULL, 1, out, n_outputs, NULL), PRPKIT_ERROR_INVALID_ARGUMENT,
                 "forward(NULL inputs)");
    check_status(prpkit_model_forward(model, &input, 2, out, n_outputs, NULL), PRPKIT_ERROR_INVALID_ARGUMENT,
                 "forward(n_inputs 2)");
    check_status(prpkit_model_forward(model, &input, 1, NULL, n_outputs, NULL), PRPKIT_ERROR_INVALID_ARGUMENT,
                 "forward(NULL outputs)");
    check_status(prpkit_model_forward(model, &input, 1, out, n_outputs + 1, NULL), PRPKIT_ERROR_INVALID_ARGUMENT,
                 "forward(n_outputs + 1)");
    prpkit_input wrong_rank = { x, x_shape, x_rank - 1 };
    check_status(prpkit_model_forward(model, &wrong_rank, 1, out, n_outputs, NULL), PRPKIT_ERROR_INVALID_ARGUMENT,
                 "forward(wrong rank)");
    int64_t wrong_channels[PRPKIT_MAX_RANK];
    memcpy(wrong_channels, x_shape, sizeof wrong_channels);
    wrong_channels[1] += 1;
    prpkit_input wrong_shape = { x, wrong_channels, x_rank };
    check_status(prpkit_model_forward(model, &wrong_shape, 1, out, n_outputs, NULL), PRPKIT_ERROR_INVALID_ARGUMENT,
                 "forward(wrong channel count)");
    int64_t negative[PRPKIT_MAX_RANK];
    memcpy(negative, x_shape, sizeof negative);
    negative[0] = -1;
    prpkit_input negative_shape = { x, negative, x_rank };
    check_status(prpkit_model_forward(model, &negative_shape, 1, out, n_outputs, NULL), PRPKIT_ERROR_INVALID_ARGUMENT,
                 "forward(negative extent)");
    int64_t huge[PRPKIT_MAX_RANK] = { 1LL << 31, 1LL << 31, 1LL << 31, 1LL << 31 };
    prpkit_input huge_shape = { x, huge, x_rank };
    check_status(prpkit_model_forward(model, &huge_shape, 1, out, n_outputs, NULL), PRPKIT_ERROR_INVALID_ARGUMENT,
                 "forward(2^124 elements)");
    prpkit_input null_data = { NULL, x_shape, x_rank };
    check_status(prpkit_model_forward(model, &null_data, 1, out, n_outputs, NULL), PRPKIT_ERROR_INVALID_ARGUMENT,
                 "forward(NULL input data)");
    float one = 0;
    out[0].data = &one;
    out[0].capacity = 1;
    check_status(prpkit_model_forward(model, &input, 1, out, n_outputs, NULL), PRPKIT_ERROR_BUFFER_TOO_SMALL,
                 "forward(capacity 1)");
    check(out[0].rank == outputs[0].rank && out[0].shape[0] == outputs[0].shape[0], "shapes written despite small buffers");
    prpkit_forward_options options = prpkit_forward_default_options();
    options.num_threads = -1;
    check_status(prpkit_model_forward(model, &input, 1, out, n_outputs, &options), PRPKIT_ERROR_INVALID_ARGUMENT,
                 "forward(num_threads -1)");
    options.num_threads = 3;
    prpkit_output three[2];
    memset(three, 0, sizeof three);
    prpkit_model_forward(model, &input, 1, three, n_outputs, NULL);  /* shapes */
    for (size_t i = 0; i < n_outputs; i++) {
        three[i].capacity = element_count(three[i].shape, three[i].rank);
        three[i].data = malloc(three[i].capacity * sizeof(float));
    }
    check_status(prpkit_model_forward(model, &input, 1, three, n_outputs, &options), PRPKIT_OK,
                 "forward(num_threads 3)");
    check(same_outputs(three, outputs, n_outputs), "three threads for one call give identical outputs");
    free_outputs(three, n_outputs);
    int before = prpkit_get_num_threads();
    check_status(prpkit_set_local_num_threads(-1), PRPKIT_ERROR_INVALID_ARGUMENT, "set_local_num_threads(-1)");
    check_status(prpkit_set_local_num_threads(5), PRPKIT_OK, "set_local_num_threads(5)");
    check(prpkit_get_num_threads() == 5, "the calling thread sees its override");
    check_status(prpkit_set_local_num_threads(0), PRPKIT_OK, "set_local_num_threads(0)");
    check(prpkit_get_num_threads() == before, "removing the override restores the process-wide count");
    memset(out, 0, sizeof out);
    options.struct_size = 0;
    check_status(prpkit_model_forward(model, &input, 1, out, n_outputs, &options), PRPKIT_ERROR_INVALID_ARGUMENT,
                 "forward(struct_size 0)");
    check_status(prpkit_set_num_threads(-1), PRPKIT_ERROR_INVALID_ARGUMENT, "set_num_threads(-1)");
    check_status(prpkit_set_num_threads(1), PRPKIT_OK, "set_num_threads(1)");
    check(prpkit_get_num_threads() == 1, "get_num_threads() == 1");
    prpkit_output single[2];
    check(run(model, x, x_shape, x_rank, single, n_outputs) == PRPKIT_OK && same_outputs(single, outputs, n_outputs),
          "one thread gives identical outputs");
    free_outputs(single, n_outputs);
    check_status(prpkit_set_num_threads(0), PRPKIT_OK, "set_num_threads(0) restores the default");
    check(strcmp(prpkit_status_string(PRPKIT_ERROR_IO), "PRPKIT_ERROR_IO") == 0 &&
          prpkit_status_string(999) != NULL, "status strings");

    prpkit_model_free(NULL);
    prpkit_model_free(from_memory);
    prpkit_model_free(model);
    free_outputs(outputs, n_outputs);
    free(bytes);
    free(x);
    printf("forward.c: %d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
