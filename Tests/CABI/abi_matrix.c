/*
 * abi_matrix.c — the C ABI bad-input matrix: every function of include/prpkit.h called
 * with NULLs, zero/negative/huge sizes, rank and shape mismatches, small capacities,
 * NaN/Inf and hostile model images. Each call must return the stated status code and,
 * for an error, set a fresh message (the previous message is replaced by a sentinel
 * first, so a stale one is caught). A crash or hang fails the run (the script's timeout).
 *
 * Usage: abi_matrix TINY.prpk TINY_PRP.prpk SCRATCH_DIR   — exit 0 when every check passes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_bytes.h"
#include "prpkit.h"

static int failures = 0, checks = 0;
static const char* sentinel_message = NULL;

/* Sets a known last error, so that the next failing call must replace it. */
static void prime(void) {
    prpkit_set_num_threads(-7);
    sentinel_message = prpkit_last_error();
}

static void expect_status(int got, int want, const char* what) {
    checks++;
    const char* msg = prpkit_last_error();
    int fresh = want == PRPKIT_OK || (msg[0] != '\0' && strstr(msg, "got -7") == NULL);
    if (got != want || !fresh) {
        failures++;
        printf("FAIL %s: got %s, want %s, message '%.300s'\n", what, prpkit_status_string(got),
               prpkit_status_string(want), msg);
    }
}

/* Calls `call` after priming the message; checks status (and message for errors). */
#define EXPECT(call, want, what) do { prime(); int st_ = (call); expect_status(st_, (want), (what)); } while (0)

static void expect_true(int ok, const char* what) {
    checks++;
    if (!ok) { failures++; printf("FAIL %s\n", what); }
}

/* The message of the last call contains `fragment`. */
static void expect_message(const char* fragment, const char* what) {
    checks++;
    if (!strstr(prpkit_last_error(), fragment)) {
        failures++;
        printf("FAIL %s: message '%.300s' lacks '%s'\n", what, prpkit_last_error(), fragment);
    }
}


static float zeros[1 << 16];  /* backing store for inputs whose data is never read past its size */

static prpkit_input input(const float* data, const int64_t* shape, size_t rank) {
    prpkit_input in = {data, shape, rank};
    return in;
}

/* ---- groups of checks ---------------------------------------------------------------- */

static void version_status_threads(void) {
    expect_status(prpkit_version(NULL, NULL, NULL), PRPKIT_OK, "version(NULL, NULL, NULL)");
    expect_true(prpkit_version_string() != NULL && prpkit_version_string()[0], "version_string");
    expect_true(strcmp(prpkit_status_string(-1), "PRPKIT_UNKNOWN_STATUS") == 0, "status_string(-1)");
    expect_true(strcmp(prpkit_status_string(INT_MIN), "PRPKIT_UNKNOWN_STATUS") == 0, "status_string(INT_MIN)");
    expect_true(strcmp(prpkit_status_string(7), "PRPKIT_UNKNOWN_STATUS") == 0, "status_string(7)");
    expect_true(strcmp(prpkit_status_string(INT_MAX), "PRPKIT_UNKNOWN_STATUS") == 0, "status_string(INT_MAX)");
    expect_true(prpkit_last_error() != NULL, "last_error never NULL");
    EXPECT(prpkit_set_num_threads(-1), PRPKIT_ERROR_INVALID_ARGUMENT, "set_num_threads(-1)");
    EXPECT(prpkit_set_num_threads(INT_MIN), PRPKIT_ERROR_INVALID_ARGUMENT, "set_num_threads(INT_MIN)");
    EXPECT(prpkit_set_num_threads(INT_MAX), PRPKIT_ERROR_INVALID_ARGUMENT, "set_num_threads(INT_MAX)");
    EXPECT(prpkit_set_num_threads(1025), PRPKIT_ERROR_INVALID_ARGUMENT, "set_num_threads(1025)");
    expect_status(prpkit_set_num_threads(0), PRPKIT_OK, "set_num_threads(0)");
    expect_true(prpkit_get_num_threads() >= 1, "get_num_threads >= 1");
    EXPECT(prpkit_set_local_num_threads(-1), PRPKIT_ERROR_INVALID_ARGUMENT, "set_local_num_threads(-1)");
    EXPECT(prpkit_set_local_num_threads(INT_MAX), PRPKIT_ERROR_INVALID_ARGUMENT, "set_local_num_threads(INT_MAX)");
    expect_status(prpkit_set_local_num_threads(1), PRPKIT_OK, "set_local_num_threads(1)");
    expect_true(prpkit_get_num_threads() == 1, "get_num_threads sees the local override");
    expect_status(prpkit_set_local_num_threads(0), PRPKIT_OK, "set_local_num_threads(0)");
    EXPECT(prpkit_explainer_forward_counts(NULL, NULL, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "explainer_forward_counts(NULL)");
}

static void loading(const char* tiny_path, const unsigned char* bytes, size_t size, const char* scratch) {
    prpkit_model* m = (prpkit_model*)1;
    EXPECT(prpkit_model_load(NULL, &m), PRPKIT_ERROR_INVALID_ARGUMENT, "load(NULL path)");
    expect_true(m == NULL, "failed load sets *out = NULL");
    EXPECT(prpkit_model_load(tiny_path, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "load(out NULL)");
    EXPECT(prpkit_model_load("/nonexistent/model.prpk", &m), PRPKIT_ERROR_IO, "load(missing file)");
    EXPECT(prpkit_model_load("", &m), PRPKIT_ERROR_IO, "load(\"\")");
    EXPECT(prpkit_model_load(scratch, &m), PRPKIT_ERROR_IO, "load(a directory)");
    EXPECT(prpkit_model_load("/dev/zero", &m), PRPKIT_ERROR_IO, "load(/dev/zero)");
    char fifo[4096];
    snprintf(fifo, sizeof fifo, "%s/fifo", scratch);
    unlink(fifo);
    if (mkfifo(fifo, 0600) == 0) {
        EXPECT(prpkit_model_load(fifo, &m), PRPKIT_ERROR_IO, "load(a FIFO) returns at once");
        unlink(fifo);
    }

    EXPECT(prpkit_model_load_from_memory(NULL, 16, &m), PRPKIT_ERROR_INVALID_ARGUMENT, "load_from_memory(NULL data)");
    EXPECT(prpkit_model_load_from_memory(bytes, 0, &m), PRPKIT_ERROR_INVALID_MODEL, "load_from_memory(size 0)");
    EXPECT(prpkit_model_load_from_memory(NULL, 0, &m), PRPKIT_ERROR_INVALID_MODEL, "load_from_memory(NULL, 0)");
    EXPECT(prpkit_model_load_from_memory(bytes, SIZE_MAX, &m), PRPKIT_ERROR_INVALID_ARGUMENT, "load_from_memory(SIZE_MAX)");
    EXPECT(prpkit_model_load_from_memory(bytes, (size_t)1 << 63, &m), PRPKIT_ERROR_INVALID_ARGUMENT, "load_from_memory(2^63)");
    EXPECT(prpkit_model_load_from_memory(bytes, size, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "load_from_memory(out NULL)");

    /* Every prefix of a valid file is an invalid model, and *out stays NULL. */
    int prefixes_ok = 1;
    for (size_t n = 0; n < size; n++) {
        prpkit_model* p = (prpkit_model*)1;
        int st = prpkit_model_load_from_memory(bytes, n, &p);
        if (st != PRPKIT_ERROR_INVALID_MODEL || p != NULL || !prpkit_last_error()[0]) {
            printf("  prefix of %zu bytes: %s %s\n", n, prpkit_status_string(st), prpkit_last_error());
            prefixes_ok = 0;
            break;
        }
    }
    expect_true(prefixes_ok, "every prefix of tiny.prpk -> INVALID_MODEL");

    /* Every header byte replaced by a few values: an error or a valid model, never a crash. */
    size_t header = 0;
    for (int i = 0; i < 8; i++) header |= (size_t)bytes[i] << (8 * i);
    unsigned char* copy = malloc(size);
    int mutants_ok = 1, loaded = 0;
    static const unsigned char values[] = {0, '"', '{', ']', '9', '-', 0xff, ' '};
    for (size_t i = 0; i < 8 + header && i < size; i++) {
        for (size_t v = 0; v < sizeof values; v++) {
            memcpy(copy, bytes, size);
            copy[i] = values[v];
            prpkit_model* p = NULL;
            int st = prpkit_model_load_from_memory(copy, size, &p);
            if (st == PRPKIT_OK) { loaded++; prpkit_model_free(p); continue; }
            if ((st != PRPKIT_ERROR_INVALID_MODEL && st != PRPKIT_ERROR_UNSUPPORTED) || p != NULL || !prpkit_last_error()[0]) {
                printf("  byte %zu := %d: %s %s\n", i, values[v], prpkit_status_string(st), prpkit_last_error());
                mutants_ok = 0;
            }
        }
    }
    free(copy);
    printf("  %zu header-byte mutants, %d of them still valid models\n", (8 + header) * sizeof values, loaded);
    expect_true(mutants_ok, "header-byte mutants -> INVALID_MODEL / UNSUPPORTED or a valid model");
    prpkit_model_free(NULL);
}

/* Models whose shape arithmetic used to trap (SIGILL) at load or in a shape query. */
static void hostile_shapes(void) {
    /* graph, what, a fragment of the expected message */
    static const char* cases[][3] = {
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3,2147483648,2147483648]}],\"nodes\":[{\"name\":\"y\",\"op\":\"flatten\","
         "\"inputs\":[\"x\"],\"attributes\":{\"start_dim\":1,\"end_dim\":-1}}],\"outputs\":[\"y\"]}",
         "input [1,3,2^31,2^31] + flatten", "input 'x' of shape [1, 3, 2147483648, 2147483648] has more than 2147483647 elements"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2147483648,2147483648,2147483648]}],\"nodes\":[{\"name\":\"y\",\"op\":\"reshape\","
         "\"inputs\":[\"x\"],\"attributes\":{\"shape\":[-1]}}],\"outputs\":[\"y\"]}",
         "input [1,2^31,2^31,2^31] + reshape [-1]", "input 'x' of shape [1, 2147483648, 2147483648, 2147483648] has more than"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,16777216,1,1]}],\"nodes\":[{\"name\":\"y\",\"op\":\"adaptive_avg_pool2d\","
         "\"inputs\":[\"x\"],\"attributes\":{\"output_size\":[1048576,1048576]}}],\"outputs\":[\"y\"]}",
         "adaptive_avg_pool2d [2^20,2^20] on (1,2^24,1,1)", "node 'y' output of shape [1, 16777216, 1048576, 1048576] has more than"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4]}],\"nodes\":[{\"name\":\"y\",\"op\":\"reshape\","
         "\"inputs\":[\"x\"],\"attributes\":{\"shape\":[1099511627776,1099511627776,-1]}}],\"outputs\":[\"y\"]}",
         "reshape target product overflows", "reshape target [1099511627776, 1099511627776, -1] has more than"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2,2]}],\"nodes\":[{\"name\":\"y\",\"op\":\"max_pool2d\",\"inputs\":[\"x\"],"
         "\"attributes\":{\"kernel\":[3,3],\"stride\":[1,1],\"padding\":[0,0],\"dilation\":[1,1],\"ceil_mode\":false}}],\"outputs\":[\"y\"]}",
         "max_pool2d with an empty output (documented INVALID_MODEL)", "node 'y': max_pool2d gives an empty output"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        model_image img = graph_model(cases[i][0]);
        prpkit_model* m = (prpkit_model*)1;
        EXPECT(prpkit_model_load_from_memory(img.bytes, img.size, &m), PRPKIT_ERROR_INVALID_MODEL, cases[i][1]);
        expect_message(cases[i][2], cases[i][1]);
        expect_true(m == NULL, "hostile model: *out = NULL");
        free_model(img);
    }

    /* Declared (1,1,1,1) pooled to 2^15 x 2^15 loads; the caller's (1,2^24,1,1) must not. */
    model_image img = graph_model(
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1]}],\"nodes\":[{\"name\":\"y\",\"op\":\"adaptive_avg_pool2d\","
        "\"inputs\":[\"x\"],\"attributes\":{\"output_size\":[32768,32768]}}],\"outputs\":[\"y\"]}");
    prpkit_model* m = NULL;
    EXPECT(prpkit_model_load_from_memory(img.bytes, img.size, &m), PRPKIT_OK, "adaptive pool model loads");
    free_model(img);
    if (m) {
        int64_t shape[4] = {1, 1 << 24, 1, 1};
        prpkit_input in = input(zeros, shape, 4);
        prpkit_output out;
        memset(&out, 0, sizeof out);
        EXPECT(prpkit_model_forward(m, &in, 1, &out, 1, NULL), PRPKIT_ERROR_INVALID_ARGUMENT,
               "forward shape query (capacity 0) whose output count overflows");
        expect_message("has more than 2147483647 elements", "overflowing output named");
        prpkit_model_free(m);
    }
}

static void saving(prpkit_model* m, const char* scratch) {
    char path[4096], link[4096], fifo[4096];
    EXPECT(prpkit_model_save(NULL, "x"), PRPKIT_ERROR_INVALID_ARGUMENT, "save(NULL model)");
    EXPECT(prpkit_model_save(m, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "save(NULL path)");
    EXPECT(prpkit_model_save(m, ""), PRPKIT_ERROR_IO, "save(\"\")");
    EXPECT(prpkit_model_save(m, "/nonexistent-dir/m.prpk"), PRPKIT_ERROR_IO, "save(missing folder)");
    EXPECT(prpkit_model_save(m, scratch), PRPKIT_ERROR_IO, "save(a directory)");
    snprintf(fifo, sizeof fifo, "%s/save-fifo", scratch);
    unlink(fifo);
    if (mkfifo(fifo, 0600) == 0) {
        EXPECT(prpkit_model_save(m, fifo), PRPKIT_ERROR_IO, "save over a FIFO is refused");
        expect_message("it is a FIFO, not a regular file; refusing to replace it", "save over a FIFO: reason");
        struct stat st;
        expect_true(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO is not replaced");
        snprintf(link, sizeof link, "%s/fifo-link", scratch);
        unlink(link);
        if (symlink(fifo, link) == 0) {
            EXPECT(prpkit_model_save(m, link), PRPKIT_ERROR_IO, "save through a link to a FIFO is refused");
            expect_message("it is a FIFO, not a regular file", "save through a link to a FIFO: reason");
            expect_true(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the link is not replaced");
            unlink(link);
        }
        unlink(fifo);
    }
    snprintf(path, sizeof path, "%s/target.prpk", scratch);
    snprintf(link, sizeof link, "%s/link.prpk", scratch);
    unlink(path);
    unlink(link);
    FILE* f = fopen(path, "wb");
    fputs("old", f);
    fclose(f);
    if (symlink("target.prpk", link) == 0) {
        EXPECT(prpkit_model_save(m, link), PRPKIT_OK, "save through a symlink");
        struct stat st;
        expect_true(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the symlink stays a symlink");
        expect_true(stat(path, &st) == 0 && st.st_size > 3, "its target holds the model");
        prpkit_model* again = NULL;
        EXPECT(prpkit_model_load(link, &again), PRPKIT_OK, "the saved model loads through the link");
        prpkit_model_free(again);
    }
    unlink(link);
    unlink(path);
}

static void queries(prpkit_model* m) {
    size_t n = 0;
    const char* name = NULL;
    int64_t shape[PRPKIT_MAX_RANK];
    size_t rank = 0;
    EXPECT(prpkit_model_num_inputs(NULL, &n), PRPKIT_ERROR_INVALID_ARGUMENT, "num_inputs(NULL model)");
    EXPECT(prpkit_model_num_inputs(m, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "num_inputs(out NULL)");
    EXPECT(prpkit_model_num_outputs(NULL, &n), PRPKIT_ERROR_INVALID_ARGUMENT, "num_outputs(NULL model)");
    EXPECT(prpkit_model_num_outputs(m, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "num_outputs(out NULL)");
    EXPECT(prpkit_model_input_name(NULL, 0, &name), PRPKIT_ERROR_INVALID_ARGUMENT, "input_name(NULL model)");
    EXPECT(prpkit_model_input_name(m, 1, &name), PRPKIT_ERROR_INVALID_ARGUMENT, "input_name(index 1)");
    EXPECT(prpkit_model_input_name(m, SIZE_MAX, &name), PRPKIT_ERROR_INVALID_ARGUMENT, "input_name(SIZE_MAX)");
    EXPECT(prpkit_model_input_name(m, 0, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "input_name(out NULL)");
    EXPECT(prpkit_model_output_name(m, 2, &name), PRPKIT_ERROR_INVALID_ARGUMENT, "output_name(index 2)");
    EXPECT(prpkit_model_output_name(m, SIZE_MAX, &name), PRPKIT_ERROR_INVALID_ARGUMENT, "output_name(SIZE_MAX)");
    EXPECT(prpkit_model_output_name(m, 0, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "output_name(out NULL)");
    EXPECT(prpkit_model_input_shape(m, 0, shape, 0, &rank), PRPKIT_ERROR_BUFFER_TOO_SMALL, "input_shape(capacity 0)");
    expect_true(rank == 4, "rank written despite capacity 0");
    EXPECT(prpkit_model_input_shape(m, 0, shape, 3, &rank), PRPKIT_ERROR_BUFFER_TOO_SMALL, "input_shape(capacity 3)");
    EXPECT(prpkit_model_input_shape(m, 0, shape, SIZE_MAX, &rank), PRPKIT_OK, "input_shape(capacity SIZE_MAX)");
    EXPECT(prpkit_model_input_shape(m, 0, NULL, 8, &rank), PRPKIT_ERROR_INVALID_ARGUMENT, "input_shape(shape NULL)");
    EXPECT(prpkit_model_input_shape(m, 0, shape, 8, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "input_shape(rank NULL)");
    EXPECT(prpkit_model_input_shape(m, 9, shape, 8, &rank), PRPKIT_ERROR_INVALID_ARGUMENT, "input_shape(index 9)");
    EXPECT(prpkit_model_output_shape(m, 0, shape, 1, &rank), PRPKIT_ERROR_BUFFER_TOO_SMALL, "output_shape(capacity 1)");
    EXPECT(prpkit_model_output_shape(m, SIZE_MAX, shape, 8, &rank), PRPKIT_ERROR_INVALID_ARGUMENT, "output_shape(SIZE_MAX)");
    EXPECT(prpkit_model_output_shape(NULL, 0, shape, 8, &rank), PRPKIT_ERROR_INVALID_ARGUMENT, "output_shape(NULL model)");

    char text[4096];
    size_t length = 0;
    EXPECT(prpkit_model_graph_json(NULL, text, sizeof text, &length), PRPKIT_ERROR_INVALID_ARGUMENT, "graph_json(NULL model)");
    EXPECT(prpkit_model_graph_json(m, NULL, 0, &length), PRPKIT_ERROR_BUFFER_TOO_SMALL, "graph_json(capacity 0)");
    expect_true(length > 0 && length < sizeof text, "graph_json length written despite capacity 0");
    EXPECT(prpkit_model_graph_json(m, text, length, NULL), PRPKIT_ERROR_BUFFER_TOO_SMALL, "graph_json(no room for the NUL)");
    EXPECT(prpkit_model_graph_json(m, NULL, SIZE_MAX, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "graph_json(buffer NULL, capacity SIZE_MAX)");
    expect_status(prpkit_model_graph_json(m, text, sizeof text, NULL), PRPKIT_OK, "graph_json");
    expect_true(strstr(text, "\"nodes\"") != NULL && strlen(text) == length, "graph_json is the graph document");
    EXPECT(prpkit_model_shapes_json(NULL, NULL, 0, text, sizeof text, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "shapes_json(NULL model)");
    expect_status(prpkit_model_shapes_json(m, NULL, 0, text, sizeof text, &length), PRPKIT_OK, "shapes_json(declared)");
    expect_true(strstr(text, "\"fc\":[1,3]") != NULL, "shapes_json has fc (1,3)");
    int64_t wide[4] = {2, 3, 4, 4}, rank3[3] = {1, 3, 4}, huge[4] = {INT64_MAX, 3, 4, 4};
    prpkit_input shaped = {NULL, wide, 4};
    expect_status(prpkit_model_shapes_json(m, &shaped, 1, text, sizeof text, NULL), PRPKIT_OK, "shapes_json(2,3,4,4)");
    expect_true(strstr(text, "\"fc\":[2,3]") != NULL, "shapes_json follows the batch");
    EXPECT(prpkit_model_shapes_json(m, &shaped, 2, text, sizeof text, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "shapes_json(n_inputs 2)");
    shaped.shape = rank3; shaped.rank = 3;
    EXPECT(prpkit_model_shapes_json(m, &shaped, 1, text, sizeof text, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "shapes_json(rank 3)");
    shaped.shape = huge; shaped.rank = 4;
    EXPECT(prpkit_model_shapes_json(m, &shaped, 1, text, sizeof text, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "shapes_json(INT64_MAX batch)");
    shaped.shape = NULL;
    EXPECT(prpkit_model_shapes_json(m, &shaped, 1, text, sizeof text, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "shapes_json(shape NULL)");
    prpkit_output param;
    memset(&param, 0, sizeof param);
    EXPECT(prpkit_model_parameter(NULL, "x", &param), PRPKIT_ERROR_INVALID_ARGUMENT, "parameter(NULL model)");
    EXPECT(prpkit_model_parameter(m, NULL, &param), PRPKIT_ERROR_INVALID_ARGUMENT, "parameter(NULL name)");
    EXPECT(prpkit_model_parameter(m, "no such tensor", &param), PRPKIT_ERROR_INVALID_ARGUMENT, "parameter(unknown name)");

    /* The summary: text and JSON, the size protocol, bad format and metadata. tiny.prpk has
     * no prototype layer, so no composite ("prp_composite_outputs":null). */
    EXPECT(prpkit_model_summary(NULL, NULL, NULL, PRPKIT_SUMMARY_TEXT, text, sizeof text, NULL),
           PRPKIT_ERROR_INVALID_ARGUMENT, "summary(NULL model)");
    EXPECT(prpkit_model_summary(m, NULL, NULL, PRPKIT_SUMMARY_JSON, NULL, 0, &length), PRPKIT_ERROR_BUFFER_TOO_SMALL,
           "summary(capacity 0)");
    expect_true(length > 0 && length < sizeof text, "summary length written despite capacity 0");
    expect_status(prpkit_model_summary(m, NULL, NULL, PRPKIT_SUMMARY_JSON, text, sizeof text, NULL), PRPKIT_OK, "summary(JSON)");
    expect_true(strstr(text, "\"output_shape\":[1,3]") != NULL && strstr(text, "\"prp_composite_outputs\":null") != NULL
                && strlen(text) == length, "summary JSON has fc's shape and no composite");
    expect_status(prpkit_model_summary(m, NULL, "{\"description\": \"tiny\"}", PRPKIT_SUMMARY_TEXT, text, sizeof text,
                                       NULL), PRPKIT_OK, "summary(text, metadata)");
    expect_true(strstr(text, "            tiny\n") != NULL && strstr(text, "\nfc ") != NULL, "summary text shows the description and fc");
    EXPECT(prpkit_model_summary(m, NULL, NULL, 2, text, sizeof text, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "summary(format 2)");
    EXPECT(prpkit_model_summary(m, NULL, "[1]", PRPKIT_SUMMARY_TEXT, text, sizeof text, NULL), PRPKIT_ERROR_INVALID_ARGUMENT,
           "summary(metadata not an object)");
    EXPECT(prpkit_model_summary(m, NULL, "{", PRPKIT_SUMMARY_TEXT, text, sizeof text, NULL), PRPKIT_ERROR_INVALID_ARGUMENT,
           "summary(metadata not JSON)");
    EXPECT(prpkit_model_summary(m, "/nonexistent/m.prpkit", NULL, PRPKIT_SUMMARY_TEXT, text, sizeof text, NULL),
           PRPKIT_ERROR_IO, "summary(path that does not exist)");
}

/* tiny.prpk: x (1,3,4,4) -> outputs fc (1,3) and pool (1,2,2,2). */
static void forward(prpkit_model* m) {
    int64_t good[4] = {1, 3, 4, 4};
    prpkit_input in = input(zeros, good, 4);
    float fc[3], pool[8];
    prpkit_output out[2];
    memset(out, 0, sizeof out);
    out[0].data = fc; out[0].capacity = 3;
    out[1].data = pool; out[1].capacity = 8;
    EXPECT(prpkit_model_forward(m, &in, 1, out, 2, NULL), PRPKIT_OK, "forward (valid)");
    EXPECT(prpkit_model_forward(NULL, &in, 1, out, 2, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(NULL model)");
    EXPECT(prpkit_model_forward(m, NULL, 1, out, 2, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(NULL inputs)");
    EXPECT(prpkit_model_forward(m, &in, 0, out, 2, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(n_inputs 0)");
    EXPECT(prpkit_model_forward(m, &in, 2, out, 2, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(n_inputs 2)");
    EXPECT(prpkit_model_forward(m, &in, SIZE_MAX, out, 2, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(n_inputs SIZE_MAX)");
    EXPECT(prpkit_model_forward(m, &in, 1, NULL, 2, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(NULL outputs)");
    EXPECT(prpkit_model_forward(m, &in, 1, out, 1, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(n_outputs 1)");
    EXPECT(prpkit_model_forward(m, &in, 1, out, SIZE_MAX, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(n_outputs SIZE_MAX)");

    size_t ranks[] = {0, 3, 5, 9, SIZE_MAX};
    for (size_t i = 0; i < sizeof ranks / sizeof ranks[0]; i++) {
        int64_t shape[9] = {1, 3, 4, 4, 1, 1, 1, 1, 1};
        prpkit_input bad = input(zeros, shape, ranks[i]);
        EXPECT(prpkit_model_forward(m, &bad, 1, out, 2, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(wrong rank)");
    }
    prpkit_input no_shape = input(zeros, NULL, 4);
    EXPECT(prpkit_model_forward(m, &no_shape, 1, out, 2, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(shape NULL)");
    prpkit_input no_data = input(NULL, good, 4);
    EXPECT(prpkit_model_forward(m, &no_data, 1, out, 2, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(data NULL)");
    int64_t extents[] = {0, -1, INT64_MAX, INT64_MIN, (int64_t)1 << 31};
    for (size_t i = 0; i < sizeof extents / sizeof extents[0]; i++) {
        int64_t shape[4] = {1, 3, extents[i], 4};
        prpkit_input bad = input(zeros, shape, 4);
        EXPECT(prpkit_model_forward(m, &bad, 1, out, 2, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(bad extent)");
    }
    int64_t huge[4] = {2147483647, 3, 4, 4};  /* every extent fine, the product is not */
    prpkit_input big = input(zeros, huge, 4);
    EXPECT(prpkit_model_forward(m, &big, 1, out, 2, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(product of extents > limit)");
    int64_t channels[4] = {1, 2, 4, 4};
    prpkit_input wrong = input(zeros, channels, 4);
    EXPECT(prpkit_model_forward(m, &wrong, 1, out, 2, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(channel mismatch)");
    int64_t small[4] = {1, 3, 1, 1};
    prpkit_input tiny = input(zeros, small, 4);
    EXPECT(prpkit_model_forward(m, &tiny, 1, out, 2, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(spatially too small)");

    prpkit_output q[2];
    memset(q, 0, sizeof q);
    EXPECT(prpkit_model_forward(m, &in, 1, q, 2, NULL), PRPKIT_ERROR_BUFFER_TOO_SMALL, "forward(capacity 0)");
    expect_true(q[0].rank == 2 && q[0].shape[1] == 3 && q[1].rank == 4, "shapes written with capacity 0");
    q[0].capacity = SIZE_MAX;
    q[1].capacity = SIZE_MAX;
    EXPECT(prpkit_model_forward(m, &in, 1, q, 2, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(capacity SIZE_MAX, data NULL)");

    prpkit_forward_options o = prpkit_forward_default_options();
    o.struct_size = 0;
    EXPECT(prpkit_model_forward(m, &in, 1, out, 2, &o), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(options.struct_size 0)");
    o = prpkit_forward_default_options();
    o.num_threads = 3;
    expect_status(prpkit_model_forward(m, &in, 1, out, 2, &o), PRPKIT_OK, "forward(options.num_threads 3)");
    o.num_threads = -1;
    EXPECT(prpkit_model_forward(m, &in, 1, out, 2, &o), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(options.num_threads -1)");
    o.num_threads = 1025;
    EXPECT(prpkit_model_forward(m, &in, 1, out, 2, &o), PRPKIT_ERROR_INVALID_ARGUMENT, "forward(options.num_threads 1025)");

    float special[48];
    for (int i = 0; i < 48; i++) special[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
    prpkit_input nan_in = input(special, good, 4);
    EXPECT(prpkit_model_forward(m, &nan_in, 1, out, 2, NULL), PRPKIT_OK, "forward(NaN/Inf input) computes");
}

/* prpkit_explainer_attribute_layers on tiny.prpk's default explainer: conv (1,2,4,4), fc (1,3). */
static void layer_attribution(prpkit_explainer* e, const prpkit_input* in) {
    static float conv_rel[32], fc_rel[3];
    float scores[1], deltas[2];
    int64_t target = 1, bad_targets[] = {3, -1, INT64_MAX, INT64_MIN};
    const char* layers[] = {"conv", "fc"};
    const char* unknown[] = {"no_such_layer"};
    const char* null_name[] = {NULL};
    prpkit_output r[2];
#define RESET_SLOTS() do { memset(r, 0, sizeof r); r[0].data = conv_rel; r[0].capacity = 32; r[1].data = fc_rel; r[1].capacity = 3; } while (0)
#define LAYERS(explainer, inputs, n_inputs, out_index, targets, rank, names, n_names, side) \
    prpkit_explainer_attribute_layers((explainer), (inputs), (n_inputs), (out_index), (targets), (rank), (names), (n_names), (side), r, scores, deltas)
    RESET_SLOTS();
    EXPECT(LAYERS(e, in, 1, 0, &target, 1, layers, 2, PRPKIT_LAYER_OUTPUT), PRPKIT_OK, "attribute_layers (valid)");
    expect_true(r[0].rank == 4 && r[0].shape[1] == 2 && r[1].rank == 2 && r[1].shape[1] == 3, "attribute_layers shapes");
    EXPECT(LAYERS(NULL, in, 1, 0, &target, 1, layers, 2, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(NULL explainer)");
    EXPECT(LAYERS(e, NULL, 1, 0, &target, 1, layers, 2, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(NULL inputs)");
    EXPECT(LAYERS(e, in, SIZE_MAX, 0, &target, 1, layers, 2, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(n_inputs SIZE_MAX)");
    EXPECT(LAYERS(e, in, 1, 2, &target, 1, layers, 2, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(output_index 2)");
    EXPECT(LAYERS(e, in, 1, SIZE_MAX, &target, 1, layers, 2, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(output_index SIZE_MAX)");
    EXPECT(LAYERS(e, in, 1, 0, NULL, 1, layers, 2, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(targets NULL)");
    EXPECT(LAYERS(e, in, 1, 0, &target, 9, layers, 2, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(target_rank 9)");
    EXPECT(LAYERS(e, in, 1, 0, &target, SIZE_MAX, layers, 2, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(target_rank SIZE_MAX)");
    for (size_t i = 0; i < 4; i++)
        EXPECT(LAYERS(e, in, 1, 0, &bad_targets[i], 1, layers, 2, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(target out of range)");
    EXPECT(LAYERS(e, in, 1, 0, &target, 1, NULL, 2, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(layers NULL)");
    EXPECT(LAYERS(e, in, 1, 0, &target, 1, layers, 0, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(n_layers 0)");
    EXPECT(LAYERS(e, in, 1, 0, &target, 1, layers, SIZE_MAX, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(n_layers SIZE_MAX)");
    EXPECT(LAYERS(e, in, 1, 0, &target, 1, null_name, 1, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(layers[0] NULL)");
    EXPECT(LAYERS(e, in, 1, 0, &target, 1, unknown, 1, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(unknown layer)");
    expect_message("no_such_layer", "attribute_layers(unknown layer): named");
    EXPECT(LAYERS(e, in, 1, 0, &target, 1, layers, 2, 2), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(side 2)");
    EXPECT(LAYERS(e, in, 1, 0, &target, 1, layers, 2, -1), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(side -1)");
    EXPECT(prpkit_explainer_attribute_layers(e, in, 1, 0, &target, 1, layers, 2, PRPKIT_LAYER_OUTPUT, NULL, scores, deltas),
           PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(relevance NULL)");
    memset(r, 0, sizeof r);
    EXPECT(LAYERS(e, in, 1, 0, &target, 1, layers, 2, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_BUFFER_TOO_SMALL, "attribute_layers(capacity 0)");
    expect_true(r[0].rank == 4 && r[1].rank == 2, "attribute_layers: shapes written with capacity 0");
    RESET_SLOTS();
    r[0].capacity = 31;
    EXPECT(LAYERS(e, in, 1, 0, &target, 1, layers, 2, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_BUFFER_TOO_SMALL, "attribute_layers(capacity 31)");
    RESET_SLOTS();
    r[1].data = NULL;
    EXPECT(LAYERS(e, in, 1, 0, &target, 1, layers, 2, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(data NULL)");
    RESET_SLOTS();
    int64_t huge[4] = {2147483647, 3, 4, 4};
    prpkit_input big = input(zeros, huge, 4);
    EXPECT(LAYERS(e, &big, 1, 0, &target, 1, layers, 2, PRPKIT_LAYER_OUTPUT), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute_layers(product of extents > limit)");
    expect_message("has more than 2147483647 elements", "attribute_layers(product of extents > limit): reason");
#undef LAYERS
#undef RESET_SLOTS
}

static void explainer_create_and_rules(prpkit_model* m) {
    prpkit_explainer* e = (prpkit_explainer*)1;
    EXPECT(prpkit_explainer_create(NULL, NULL, &e), PRPKIT_ERROR_INVALID_ARGUMENT, "explainer_create(NULL model)");
    expect_true(e == NULL, "failed create sets *out = NULL");
    EXPECT(prpkit_explainer_create(m, NULL, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "explainer_create(out NULL)");
    static const char* bad_configs[] = {
        "{", "[]", "null", "{\"composite\":\"nope\"}", "{\"x\":1}", "{\"rules\":{\"by_node\":{\"nope\":{\"rule\":\"gamma\"}}}}",
        "{\"rules\":{\"by_node\":{\"conv\":{\"rule\":\"no_such_rule\"}}}}", "{\"rules\":{\"by_kind\":[]}}",
        "{\"rules\":{\"by_node\":{\"conv\":{\"rule\":\"gamma\",\"gamma\":1e999}}}}", "\xff\xfe", "{\"a\":1,\"a\":2}",
        "{\"composite_options\":{}}",
    };
    for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0]; i++) {
        EXPECT(prpkit_explainer_create(m, bad_configs[i], &e), PRPKIT_ERROR_INVALID_ARGUMENT, bad_configs[i]);
    }
    /* 100 000 nested arrays (stack) and 1 M one-digit numbers (memory budget). */
    size_t deep_n = 100000;
    char* deep = malloc(2 * deep_n + 1);
    memset(deep, '[', deep_n);
    memset(deep + deep_n, ']', deep_n);
    deep[2 * deep_n] = 0;
    EXPECT(prpkit_explainer_create(m, deep, &e), PRPKIT_ERROR_INVALID_ARGUMENT, "config nested 100000 deep");
    free(deep);
    size_t nums = 1000000;
    char* wide = malloc(2 * nums + 16);
    strcpy(wide, "{\"x\":[");
    size_t at = strlen(wide);
    for (size_t i = 0; i < nums; i++) { wide[at++] = '0'; wide[at++] = ','; }
    strcpy(wide + at - 1, "]}");
    EXPECT(prpkit_explainer_create(m, wide, &e), PRPKIT_ERROR_INVALID_ARGUMENT, "config with 1M numbers");
    expect_message("in memory", "memory budget named");
    free(wide);

    EXPECT(prpkit_explainer_create(m, "{}", &e), PRPKIT_OK, "explainer_create({})");
    char buf[8192];
    size_t len = 0;
    EXPECT(prpkit_explainer_rules_json(NULL, buf, sizeof buf, &len), PRPKIT_ERROR_INVALID_ARGUMENT, "rules_json(NULL)");
    EXPECT(prpkit_explainer_rules_json(e, buf, 0, &len), PRPKIT_ERROR_BUFFER_TOO_SMALL, "rules_json(capacity 0)");
    expect_true(len > 0 && len < sizeof buf, "length written with capacity 0");
    EXPECT(prpkit_explainer_rules_json(e, buf, len, &len), PRPKIT_ERROR_BUFFER_TOO_SMALL, "rules_json(capacity = length)");
    buf[0] = 0;
    EXPECT(prpkit_explainer_rules_json(e, buf, SIZE_MAX, &len), PRPKIT_OK, "rules_json(capacity SIZE_MAX), once BUFFER_TOO_SMALL");
    expect_true(strlen(buf) == len, "rules JSON NUL-terminated");
    EXPECT(prpkit_explainer_rules_json(e, buf, (size_t)1 << 63, NULL), PRPKIT_OK, "rules_json(capacity 2^63, length NULL)");
    EXPECT(prpkit_explainer_rules_json(e, NULL, 4096, &len), PRPKIT_ERROR_INVALID_ARGUMENT, "rules_json(buffer NULL)");
    prpkit_model* em = (prpkit_model*)1;
    EXPECT(prpkit_explainer_model(NULL, &em), PRPKIT_ERROR_INVALID_ARGUMENT, "explainer_model(NULL)");
    expect_true(em == NULL, "explainer_model failure sets *out = NULL");
    EXPECT(prpkit_explainer_model(e, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "explainer_model(out NULL)");

    /* attribute / propagate on tiny.prpk: x (1,3,4,4), fc (1,3). */
    int64_t good[4] = {1, 3, 4, 4};
    prpkit_input in = input(zeros, good, 4);
    float rel[48], score, delta;
    prpkit_output r;
    memset(&r, 0, sizeof r);
    r.data = rel; r.capacity = 48;
    int64_t target = 1, bad_targets[] = {3, -1, INT64_MAX, INT64_MIN};
    EXPECT(prpkit_explainer_attribute(e, &in, 1, 0, &target, 1, &r, 1, &score, &delta), PRPKIT_OK, "attribute (valid)");
    EXPECT(prpkit_explainer_attribute(NULL, &in, 1, 0, &target, 1, &r, 1, NULL, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute(NULL)");
    EXPECT(prpkit_explainer_attribute(e, NULL, 1, 0, &target, 1, &r, 1, NULL, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute(NULL inputs)");
    EXPECT(prpkit_explainer_attribute(e, &in, SIZE_MAX, 0, &target, 1, &r, 1, NULL, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute(n_inputs SIZE_MAX)");
    EXPECT(prpkit_explainer_attribute(e, &in, 1, 2, &target, 1, &r, 1, NULL, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute(output_index 2)");
    EXPECT(prpkit_explainer_attribute(e, &in, 1, SIZE_MAX, &target, 1, &r, 1, NULL, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute(output_index SIZE_MAX)");
    EXPECT(prpkit_explainer_attribute(e, &in, 1, 0, NULL, 1, &r, 1, NULL, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute(targets NULL)");
    EXPECT(prpkit_explainer_attribute(e, &in, 1, 0, &target, 2, &r, 1, NULL, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute(target_rank 2)");
    EXPECT(prpkit_explainer_attribute(e, &in, 1, 0, &target, 9, &r, 1, NULL, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute(target_rank 9)");
    EXPECT(prpkit_explainer_attribute(e, &in, 1, 0, &target, SIZE_MAX, &r, 1, NULL, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute(target_rank SIZE_MAX)");
    for (size_t i = 0; i < 4; i++)
        EXPECT(prpkit_explainer_attribute(e, &in, 1, 0, &bad_targets[i], 1, &r, 1, NULL, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute(target out of range)");
    EXPECT(prpkit_explainer_attribute(e, &in, 1, 0, &target, 1, NULL, 1, NULL, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute(relevance NULL)");
    EXPECT(prpkit_explainer_attribute(e, &in, 1, 0, &target, 1, &r, 0, NULL, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute(n_relevance 0)");
    EXPECT(prpkit_explainer_attribute(e, &in, 1, 0, &target, 1, &r, SIZE_MAX, NULL, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "attribute(n_relevance SIZE_MAX)");
    r.capacity = 47;
    EXPECT(prpkit_explainer_attribute(e, &in, 1, 0, &target, 1, &r, 1, NULL, NULL), PRPKIT_ERROR_BUFFER_TOO_SMALL, "attribute(capacity 47)");
    r.capacity = 48;

    float start[3] = {1, 0, 0};
    int64_t start_shape[2] = {1, 3};
    prpkit_input st = input(start, start_shape, 2);
    EXPECT(prpkit_explainer_propagate(e, &in, 1, 0, &st, &r, 1), PRPKIT_OK, "propagate (valid)");
    EXPECT(prpkit_explainer_propagate(e, &in, 1, 0, NULL, &r, 1), PRPKIT_ERROR_INVALID_ARGUMENT, "propagate(start NULL)");
    int64_t wrong_rank[4] = {1, 3, 1, 1};
    prpkit_input st4 = input(start, wrong_rank, 4);
    EXPECT(prpkit_explainer_propagate(e, &in, 1, 0, &st4, &r, 1), PRPKIT_ERROR_INVALID_ARGUMENT, "propagate(start rank 4)");
    int64_t wrong_dims[2] = {1, 2};
    prpkit_input st2 = input(start, wrong_dims, 2);
    EXPECT(prpkit_explainer_propagate(e, &in, 1, 0, &st2, &r, 1), PRPKIT_ERROR_INVALID_ARGUMENT, "propagate(start dims)");
    /* 2^26 rows: the start fits the limit, the (2^26, 3, 4, 4) relevance does not. */
    int64_t many_rows[2] = {(int64_t)1 << 26, 3};
    prpkit_input many = input(zeros, many_rows, 2);
    memset(&r, 0, sizeof r);
    EXPECT(prpkit_explainer_propagate(e, &in, 1, 0, &many, &r, 1), PRPKIT_ERROR_INVALID_ARGUMENT, "propagate(N*K rows beyond the limit)");
    expect_message("has more than 2147483647 elements", "relevance limit named");
    int64_t too_many[2] = {(int64_t)1 << 30, 3};
    prpkit_input tm = input(zeros, too_many, 2);
    EXPECT(prpkit_explainer_propagate(e, &in, 1, 0, &tm, &r, 1), PRPKIT_ERROR_INVALID_ARGUMENT, "propagate(start beyond the limit)");
    layer_attribution(e, &in);

    /* PRP needs a similarity-map output. */
    int64_t proto = 0;
    prpkit_output s;
    memset(&s, 0, sizeof s);
    EXPECT(prpkit_explainer_prp(e, &in, &proto, 1, NULL, &r, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "prp on a classifier explainer");
    prpkit_explainer_free(e);
    prpkit_explainer_free(NULL);
}

/* tiny_prp.prpk with CaBRNet's composite: input (1,3,32,32), similarity (1,4,Hs,Ws). */
static void prp(prpkit_model* m) {
    prpkit_explainer* e = NULL;
    EXPECT(prpkit_explainer_create(m, "{\"composite\":\"cabrnet_prp\"}", &e), PRPKIT_OK, "create cabrnet_prp");
    if (!e) return;
    static float image[3 * 32 * 32], rel[2 * 3 * 32 * 32], sim[4 * 64 * 64];
    int64_t shape[4] = {1, 3, 32, 32};
    prpkit_input in = input(image, shape, 4);
    int64_t protos[2] = {0, 3};
    prpkit_output r, s;
    memset(&r, 0, sizeof r);
    memset(&s, 0, sizeof s);
    r.data = rel; r.capacity = sizeof rel / sizeof rel[0];
    s.data = sim; s.capacity = sizeof sim / sizeof sim[0];
    EXPECT(prpkit_explainer_prp(e, &in, protos, 2, NULL, &r, &s), PRPKIT_OK, "prp (valid)");
    EXPECT(prpkit_explainer_prp(NULL, &in, protos, 2, NULL, &r, &s), PRPKIT_ERROR_INVALID_ARGUMENT, "prp(NULL explainer)");
    EXPECT(prpkit_explainer_prp(e, NULL, protos, 2, NULL, &r, &s), PRPKIT_ERROR_INVALID_ARGUMENT, "prp(NULL image)");
    EXPECT(prpkit_explainer_prp(e, &in, protos, 0, NULL, &r, &s), PRPKIT_ERROR_INVALID_ARGUMENT, "prp(n_prototypes 0)");
    EXPECT(prpkit_explainer_prp(e, &in, protos, SIZE_MAX, NULL, &r, &s), PRPKIT_ERROR_INVALID_ARGUMENT, "prp(n_prototypes SIZE_MAX)");
    prpkit_output q;
    memset(&q, 0, sizeof q);
    /* N*K*C*H*W above 2^63 in a shape query (capacity 0): used to trap. */
    EXPECT(prpkit_explainer_prp(e, &in, protos, (size_t)1 << 62, NULL, &q, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "prp(N*K*C*H*W > 2^63)");
    expect_message("relevance rows N*K of shape [1, 4611686018427387904] has more than 2147483647 elements", "prp(N*K*C*H*W > 2^63): reason");
    EXPECT(prpkit_explainer_prp(e, &in, protos, (size_t)1 << 20, NULL, &q, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "prp(relevance beyond the limit)");
    expect_message("relevance of shape [1048576, 3, 32, 32] has more than 2147483647 elements", "prp(relevance beyond the limit): reason");
    EXPECT(prpkit_explainer_prp(e, &in, NULL, 2, NULL, &r, &s), PRPKIT_ERROR_INVALID_ARGUMENT, "prp(prototypes NULL)");
    int64_t bad_ids[] = {-1, 4, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < 4; i++)
        EXPECT(prpkit_explainer_prp(e, &in, &bad_ids[i], 1, NULL, &r, &s), PRPKIT_ERROR_INVALID_ARGUMENT, "prp(prototype id out of range)");
    prpkit_prp_options o = prpkit_prp_default_options();
    o.struct_size = 0;
    EXPECT(prpkit_explainer_prp(e, &in, protos, 2, &o, &r, &s), PRPKIT_ERROR_INVALID_ARGUMENT, "prp(options.struct_size 0)");
    o = prpkit_prp_default_options();
    o.location = 7;
    EXPECT(prpkit_explainer_prp(e, &in, protos, 2, &o, &r, &s), PRPKIT_ERROR_INVALID_ARGUMENT, "prp(location 7)");
    o.location = PRPKIT_LOCATION_AT;
    int64_t locs[][2] = {{1000000000, 0}, {-1000000000, 0}, {0, 1000000000}, {INT64_MAX, INT64_MAX}, {INT64_MIN, 0}, {0, INT64_MIN}};
    for (size_t i = 0; i < 6; i++) {
        o.h = locs[i][0];
        o.w = locs[i][1];
        EXPECT(prpkit_explainer_prp(e, &in, protos, 2, &o, &r, &s), PRPKIT_ERROR_INVALID_ARGUMENT, "prp(location outside the map)");
        expect_message("outside the", "prp(location outside the map): reason");
    }
    /* Negative entries inside -Hs..<Hs have CaBRNet's meaning (a row/column not pinned). */
    int64_t negative[][2] = {{-1, 0}, {0, -1}, {-1, -1}};
    for (size_t i = 0; i < 3; i++) {
        o.h = negative[i][0];
        o.w = negative[i][1];
        EXPECT(prpkit_explainer_prp(e, &in, protos, 2, &o, &r, &s), PRPKIT_OK, "prp(negative location, CaBRNet's meaning)");
    }
    /* Any threshold is CaBRNet's comparison (NaN and -inf select all, +inf none). */
    o.location = PRPKIT_LOCATION_THRESHOLD;
    float thresholds[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 3; i++) {
        o.threshold = thresholds[i];
        EXPECT(prpkit_explainer_prp(e, &in, protos, 2, &o, &r, &s), PRPKIT_OK, "prp(threshold NaN/inf)");
    }
    EXPECT(prpkit_explainer_prp(e, &in, protos, 2, NULL, NULL, &s), PRPKIT_ERROR_INVALID_ARGUMENT, "prp(relevance NULL)");
    EXPECT(prpkit_explainer_prp(e, &in, protos, 2, NULL, &q, NULL), PRPKIT_ERROR_BUFFER_TOO_SMALL, "prp(capacity 0)");
    expect_true(q.rank == 4 && q.shape[0] == 2 && q.shape[1] == 3, "prp relevance shape written");
    prpkit_output sq;
    memset(&sq, 0, sizeof sq);
    EXPECT(prpkit_explainer_prp(e, &in, protos, 2, NULL, &r, &sq), PRPKIT_ERROR_BUFFER_TOO_SMALL, "prp(similarity capacity 0)");
    int64_t batch2[4] = {2, 3, 32, 32};
    prpkit_input in2 = input(zeros, batch2, 4);
    EXPECT(prpkit_explainer_prp(e, &in2, protos, 2, NULL, &r, &s), PRPKIT_ERROR_BUFFER_TOO_SMALL, "prp(N=2, buffers for N=1)");
    int64_t channels[4] = {1, 2, 32, 32};
    prpkit_input in_channels = input(image, channels, 4);
    EXPECT(prpkit_explainer_prp(e, &in_channels, protos, 2, NULL, &r, &s), PRPKIT_ERROR_INVALID_ARGUMENT, "prp(channel mismatch)");
    for (int i = 0; i < 3 * 32 * 32; i++) image[i] = i % 2 ? NAN : INFINITY;
    prime();
    int st = prpkit_explainer_prp(e, &in, protos, 2, NULL, &r, &s);
    expect_true(st == PRPKIT_OK || st == PRPKIT_ERROR_INVALID_ARGUMENT, "prp(NaN/Inf image): OK or INVALID_ARGUMENT");
    memset(image, 0, sizeof image);
    prpkit_explainer_free(e);
}

static void postprocess_and_metrics(prpkit_model* prp_model) {
    static float rel[3 * 8 * 8], img[3 * 8 * 8], heat[64 * 64];
    int64_t shape[3] = {3, 8, 8};
    prpkit_input r = input(rel, shape, 3), im = input(img, shape, 3);
    prpkit_output h;
    memset(&h, 0, sizeof h);
    h.data = heat; h.capacity = sizeof heat / sizeof heat[0];
    EXPECT(prpkit_postprocess(&r, NULL, NULL, &h), PRPKIT_OK, "postprocess (valid)");
    EXPECT(prpkit_postprocess(NULL, NULL, NULL, &h), PRPKIT_ERROR_INVALID_ARGUMENT, "postprocess(relevance NULL)");
    EXPECT(prpkit_postprocess(&r, NULL, NULL, NULL), PRPKIT_ERROR_INVALID_ARGUMENT, "postprocess(heatmap NULL)");
    int64_t bad_shapes[][4] = {{8, 8, 0, 0}, {2, 3, 8, 8}};
    size_t bad_ranks[] = {2, 4};
    for (size_t i = 0; i < 2; i++) {
        prpkit_input b = input(rel, bad_shapes[i], bad_ranks[i]);
        EXPECT(prpkit_postprocess(&b, NULL, NULL, &h), PRPKIT_ERROR_INVALID_ARGUMENT, "postprocess(bad shape)");
    }
    prpkit_postprocess_options o = prpkit_postprocess_default_options();
    o.struct_size = 0;
    EXPECT(prpkit_postprocess(&r, NULL, &o, &h), PRPKIT_ERROR_INVALID_ARGUMENT, "postprocess(struct_size 0)");
    o = prpkit_postprocess_default_options();
    o.polarity = 9;
    EXPECT(prpkit_postprocess(&r, NULL, &o, &h), PRPKIT_ERROR_INVALID_ARGUMENT, "postprocess(polarity 9)");
    float sigmas[] = {NAN, -1, INFINITY, 1e9f};
    for (size_t i = 0; i < 4; i++) {
        o = prpkit_postprocess_default_options();
        o.gaussian_sigma = sigmas[i];
        EXPECT(prpkit_postprocess(&r, NULL, &o, &h), PRPKIT_ERROR_INVALID_ARGUMENT, "postprocess(bad sigma)");
    }
    int64_t sizes[][2] = {{0, 5}, {-1, -1}, {INT64_MAX, 1}, {(int64_t)1 << 20, (int64_t)1 << 20}};
    for (size_t i = 0; i < 4; i++) {
        o = prpkit_postprocess_default_options();
        o.out_height = sizes[i][0];
        o.out_width = sizes[i][1];
        memset(&h, 0, sizeof h);
        EXPECT(prpkit_postprocess(&r, NULL, &o, &h), PRPKIT_ERROR_INVALID_ARGUMENT, "postprocess(bad output size)");
    }
    o = prpkit_postprocess_default_options();
    o.grads_x_input = 1;
    memset(&h, 0, sizeof h);
    h.data = heat; h.capacity = sizeof heat / sizeof heat[0];
    EXPECT(prpkit_postprocess(&r, NULL, &o, &h), PRPKIT_ERROR_INVALID_ARGUMENT, "postprocess(grads_x_input, image NULL)");
    int64_t other[3] = {3, 8, 7};
    prpkit_input im_bad = input(img, other, 3);
    EXPECT(prpkit_postprocess(&r, &im_bad, &o, &h), PRPKIT_ERROR_INVALID_ARGUMENT, "postprocess(image shape mismatch)");
    EXPECT(prpkit_postprocess(&r, &im, &o, &h), PRPKIT_OK, "postprocess(grads_x_input)");
    h.capacity = 10;
    EXPECT(prpkit_postprocess(&r, NULL, NULL, &h), PRPKIT_ERROR_BUFFER_TOO_SMALL, "postprocess(capacity 10)");
    h.capacity = sizeof heat / sizeof heat[0];
    for (int i = 0; i < 3 * 64; i++) rel[i] = i % 2 ? NAN : INFINITY;
    prime();
    int st = prpkit_postprocess(&r, NULL, NULL, &h);
    expect_true(st == PRPKIT_OK || st == PRPKIT_ERROR_INVALID_ARGUMENT, "postprocess(NaN/Inf): OK or INVALID_ARGUMENT");
    memset(rel, 0, sizeof rel);

    /* Pointing game on (2, 8, 8) maps. */
    static float maps[2 * 64], mask[64];
    for (int i = 0; i < 64; i++) mask[i] = i < 16;
    for (int i = 0; i < 128; i++) maps[i] = (float)(i % 7);
    int64_t mshape[3] = {2, 8, 8}, kshape[2] = {8, 8}, kbad[2] = {8, 7};
    prpkit_input pm = input(maps, mshape, 3), pk = input(mask, kshape, 2), pkb = input(mask, kbad, 2);
    float energy[2], mrel[2];
    EXPECT(prpkit_pointing_game(&pm, &pk, 0.1, 0, energy, mrel, 2), PRPKIT_OK, "pointing_game (valid)");
    EXPECT(prpkit_pointing_game(NULL, &pk, 0.1, 0, energy, mrel, 2), PRPKIT_ERROR_INVALID_ARGUMENT, "pointing_game(relevance NULL)");
    EXPECT(prpkit_pointing_game(&pm, NULL, 0.1, 0, energy, mrel, 2), PRPKIT_ERROR_INVALID_ARGUMENT, "pointing_game(mask NULL)");
    EXPECT(prpkit_pointing_game(&pm, &pkb, 0.1, 0, energy, mrel, 2), PRPKIT_ERROR_INVALID_ARGUMENT, "pointing_game(mask mismatch)");
    double fractions[] = {-0.1, 1.5, NAN, INFINITY};
    for (size_t i = 0; i < 4; i++)
        EXPECT(prpkit_pointing_game(&pm, &pk, fractions[i], 0, energy, mrel, 2), PRPKIT_ERROR_INVALID_ARGUMENT, "pointing_game(bad area fraction)");
    EXPECT(prpkit_pointing_game(&pm, &pk, 0.1, 2, energy, mrel, 2), PRPKIT_ERROR_INVALID_ARGUMENT, "pointing_game(flags 2)");
    EXPECT(prpkit_pointing_game(&pm, &pk, 0.1, 0, energy, mrel, 1), PRPKIT_ERROR_BUFFER_TOO_SMALL, "pointing_game(capacity 1)");
    EXPECT(prpkit_pointing_game(&pm, &pk, 0.1, 0, NULL, NULL, SIZE_MAX), PRPKIT_OK, "pointing_game(NULL results, capacity SIZE_MAX)");
    maps[5] = NAN;
    EXPECT(prpkit_pointing_game(&pm, &pk, 0.1, 0, energy, mrel, 2), PRPKIT_ERROR_INVALID_ARGUMENT, "pointing_game(NaN relevance)");
    maps[5] = 0;

    /* Deletion curves on tiny_prp.prpk: images (1,3,32,32), relevance (32,32), class target. */
    static float image[3 * 32 * 32], relmap[32 * 32], scores[64], auc[1], fr[64];
    int64_t ishape[4] = {1, 3, 32, 32}, rshape[2] = {32, 32};
    prpkit_input pi = input(image, ishape, 4), pr = input(relmap, rshape, 2);
    int64_t cls = 1;
    prpkit_perturbation_options po = prpkit_perturbation_default_options();
    po.steps = 4;
    EXPECT(prpkit_perturbation_curves(prp_model, &pi, &pr, &cls, 1, NULL, &po, scores, 64, auc, fr), PRPKIT_OK, "perturbation_curves (valid)");
    EXPECT(prpkit_perturbation_curves(NULL, &pi, &pr, &cls, 1, NULL, &po, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(NULL model)");
    EXPECT(prpkit_perturbation_curves(prp_model, &pi, &pr, &cls, 1, NULL, NULL, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(options NULL)");
    EXPECT(prpkit_perturbation_curves(prp_model, NULL, &pr, &cls, 1, NULL, &po, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(images NULL)");
    EXPECT(prpkit_perturbation_curves(prp_model, &pi, NULL, &cls, 1, NULL, &po, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(relevance NULL)");
    EXPECT(prpkit_perturbation_curves(prp_model, &pi, &pr, NULL, 1, NULL, &po, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(targets NULL)");
    EXPECT(prpkit_perturbation_curves(prp_model, &pi, &pr, &cls, 9, NULL, &po, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(target_rank 9)");
    EXPECT(prpkit_perturbation_curves(prp_model, &pi, &pr, &cls, SIZE_MAX, NULL, &po, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(target_rank SIZE_MAX)");
    int64_t bad_cls = 2;
    EXPECT(prpkit_perturbation_curves(prp_model, &pi, &pr, &bad_cls, 1, NULL, &po, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(target out of range)");
    EXPECT(prpkit_perturbation_curves(prp_model, &pi, &pr, &cls, 1, NULL, &po, scores, 4, auc, fr), PRPKIT_ERROR_BUFFER_TOO_SMALL, "perturbation(scores capacity 4)");
    EXPECT(prpkit_perturbation_curves(prp_model, &pi, &pr, &cls, 1, NULL, &po, NULL, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(scores NULL)");
    int64_t steps[] = {0, -1, INT64_MAX, INT64_MIN, (int64_t)1 << 40};
    for (size_t i = 0; i < 5; i++) {
        po = prpkit_perturbation_default_options();
        po.steps = steps[i];
        EXPECT(prpkit_perturbation_curves(prp_model, &pi, &pr, &cls, 1, NULL, &po, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(bad steps, e.g. INT64_MAX)");
        expect_message("options.steps must be in 1...", "perturbation(bad steps): reason");
    }
    po = prpkit_perturbation_default_options();
    po.steps = 4;
    po.struct_size = 0;
    EXPECT(prpkit_perturbation_curves(prp_model, &pi, &pr, &cls, 1, NULL, &po, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(struct_size 0)");
    po.struct_size = sizeof po;
    po.mode = 5;
    EXPECT(prpkit_perturbation_curves(prp_model, &pi, &pr, &cls, 1, NULL, &po, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(mode 5)");
    po.mode = PRPKIT_PERTURB_DELETION;
    po.batch_size = -1;
    EXPECT(prpkit_perturbation_curves(prp_model, &pi, &pr, &cls, 1, NULL, &po, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(batch_size -1)");
    po.batch_size = 0;
    po.output_index = 9;
    EXPECT(prpkit_perturbation_curves(prp_model, &pi, &pr, &cls, 1, NULL, &po, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(output_index 9)");
    po.output_index = 0;
    float blur[] = {NAN, INFINITY, -1};
    for (size_t i = 0; i < 3; i++) {
        po.blur_sigma = blur[i];
        EXPECT(prpkit_perturbation_curves(prp_model, &pi, &pr, &cls, 1, NULL, &po, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(bad blur sigma)");
    }
    po.blur_sigma = 0;
    int64_t rbad[2] = {32, 31};
    prpkit_input prb = input(relmap, rbad, 2);
    EXPECT(prpkit_perturbation_curves(prp_model, &pi, &prb, &cls, 1, NULL, &po, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(relevance mismatch)");
    int64_t bshape[3] = {3, 32, 31};
    prpkit_input pb = input(image, bshape, 3);
    EXPECT(prpkit_perturbation_curves(prp_model, &pi, &pr, &cls, 1, &pb, &po, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(baseline mismatch)");
    relmap[3] = NAN;
    EXPECT(prpkit_perturbation_curves(prp_model, &pi, &pr, &cls, 1, NULL, &po, scores, 64, auc, fr), PRPKIT_ERROR_INVALID_ARGUMENT, "perturbation(NaN relevance)");
    relmap[3] = 0;
}

int main(int argc, char** argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s TINY.prpk TINY_PRP.prpk SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    size_t size = 0;
    unsigned char* bytes = read_model_file(argv[1], &size);
    prpkit_model *tiny = NULL, *tiny_prp = NULL;
    if (prpkit_model_load(argv[1], &tiny) != PRPKIT_OK || prpkit_model_load(argv[2], &tiny_prp) != PRPKIT_OK) {
        fprintf(stderr, "abi_matrix: cannot load the fixtures: %s\n", prpkit_last_error());
        return 2;
    }
    version_status_threads();
    loading(argv[1], bytes, size, argv[3]);
    hostile_shapes();
    saving(tiny, argv[3]);
    queries(tiny);
    forward(tiny);
    explainer_create_and_rules(tiny);
    prp(tiny_prp);
    postprocess_and_metrics(tiny_prp);
    prpkit_model_free(tiny);
    prpkit_model_free(tiny_prp);
    free(bytes);
    printf("abi_matrix: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
