/*
 * loader_limits.c — hostile model headers against the loader's stated bounds
 * (docs/model-format.md, "Limits"): each image is loaded from memory in a fresh child
 * process, which reports the status, the CPU time and its peak memory beyond the image
 * itself (getrusage; the image lives in its own mapping, built before the fork). Every
 * case must end with the expected status within
 *     extra peak memory <= 8 x image size + 48 MiB   and   CPU time <= 10 s.
 * (Before the streamed loader, a 95 MiB header of tiny tensors took 6.6-7.9 GB and 16-40 s,
 * a graph of 65536 nodes reading one input took minutes.)
 *
 * Usage: loader_limits   — exit 0 when every case passes.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model_bytes.h"
#include "prpkit.h"

#define RATIO 8.0
#define SLACK_MB 48.0
#define CPU_LIMIT_S 10.0

typedef struct { long count; } count_ctx;

/* n relu nodes; chain: each reads the previous one, else all read the input. */
typedef struct { long n; int chain; } relu_ctx;
static void relu_graph(sink* s, void* p) {
    relu_ctx* c = p;
    puts_(s, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4]}],\"nodes\":[");
    for (long i = 0; i < c->n; i++) {
        if (i) puts_(s, ",");
        if (c->chain && i) putf(s, "{\"name\":\"n%lld\",\"op\":\"relu\",\"inputs\":[\"n%lld\"]}", i, i - 1, 0);
        else putf(s, "{\"name\":\"n%lld\",\"op\":\"relu\",\"inputs\":[\"x\"]}", i, 0, 0);
    }
    putf(s, "],\"outputs\":[\"n%lld\"]}", c->n - 1, 0, 0);
}

/* n batch-norm nodes in a chain, each with 4 one-float tensors. */
static void bn_graph(sink* s, void* p) {
    long n = ((count_ctx*)p)->count;
    puts_(s, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1]}],\"nodes\":[");
    for (long i = 0; i < n; i++) {
        if (i) puts_(s, ",");
        putf(s, "{\"name\":\"b%lld\",\"op\":\"batch_norm2d\",\"inputs\":[", i, 0, 0);
        if (i) putf(s, "\"b%lld\"],", i - 1, 0, 0); else puts_(s, "\"x\"],");
        putf(s, "\"attributes\":{\"epsilon\":1e-5},\"parameters\":{\"weight\":\"w%lld\",\"bias\":\"b%lld\",", i, i, 0);
        putf(s, "\"running_mean\":\"m%lld\",\"running_var\":\"v%lld\"}}", i, i, 0);
    }
    putf(s, "],\"outputs\":[\"b%lld\"]}", n - 1, 0, 0);
}
static void bn_entries(sink* s, void* p, size_t* data) {
    long n = ((count_ctx*)p)->count;
    static const char prefixes[] = "wbmv";
    long offset = 0;
    for (long i = 0; i < n; i++) {
        for (int k = 0; k < 4; k++) {
            char fmt[96];
            snprintf(fmt, sizeof fmt, ",\"%c%%lld\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%%lld,%%lld]}", prefixes[k]);
            putf(s, fmt, i, offset, offset + 4);
            offset += 4;
        }
    }
    *data = (size_t)offset;
}

/* count one-float tensors that no node references (the 95 MiB header of the issue). */
static const char* relu1 = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4]}],\"nodes\":[{\"name\":\"r\",\"op\":\"relu\",\"inputs\":[\"x\"]}],\"outputs\":[\"r\"]}";
static void tiny_entries(sink* s, void* p, size_t* data) {
    long n = ((count_ctx*)p)->count;
    for (long i = 0; i < n; i++)
        putf(s, ",\"t%lld\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%lld,%lld]}", i, 4 * i, 4 * i + 4);
    *data = (size_t)(4 * n);
}

/* A header member holding count one-digit numbers. */
static void number_entries(sink* s, void* p, size_t* data) {
    long n = ((count_ctx*)p)->count;
    puts_(s, ",\"x\":{\"dtype\":\"F32\",\"shape\":[");
    for (long i = 0; i < n; i++) puts_(s, i ? ",1" : "1");
    puts_(s, "],\"data_offsets\":[0,4]}");
    *data = 4;
}

/* A reshape whose target holds count entries (a long number array inside the graph). */
static void reshape_graph(sink* s, void* p) {
    long n = ((count_ctx*)p)->count;
    puts_(s, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4]}],\"nodes\":[{\"name\":\"y\",\"op\":\"reshape\",\"inputs\":[\"x\"],\"attributes\":{\"shape\":[");
    for (long i = 0; i < n; i++) puts_(s, i ? ",1" : "1");
    puts_(s, "]}}],\"outputs\":[\"y\"]}");
}

/* A node name of count bytes (long strings cost their length, not a multiple). */
static void long_name_graph(sink* s, void* p) {
    long n = ((count_ctx*)p)->count;
    puts_(s, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4]}],\"nodes\":[{\"name\":\"");
    for (long i = 0; i < n; i++) puts_(s, "a");
    puts_(s, "\",\"op\":\"relu\",\"inputs\":[\"x\"]}],\"outputs\":[\"x\"]}");
}

/* Nested arrays count deep in the header. */
static void deep_entries(sink* s, void* p, size_t* data) {
    long n = ((count_ctx*)p)->count;
    puts_(s, ",\"x\":");
    for (long i = 0; i < n; i++) puts_(s, "[");
    for (long i = 0; i < n; i++) puts_(s, "]");
    *data = 0;
}

typedef struct {
    const char* name;
    graph_writer graph;
    void* gctx;
    entries_writer entries;
    void* ectx;
    int want;
    const char* fragment;  /* in the message when want != OK */
} hostile_case;

static int run_case(const hostile_case* c) {
    model_image img = build_model(c->graph, c->gctx, c->entries, c->ectx);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct rusage before, after;
        getrusage(RUSAGE_SELF, &before);
        prpkit_model* m = NULL;
        int st = prpkit_model_load_from_memory(img.bytes, img.size, &m);
        getrusage(RUSAGE_SELF, &after);
        double cpu = (after.ru_utime.tv_sec - before.ru_utime.tv_sec) + (after.ru_stime.tv_sec - before.ru_stime.tv_sec) +
                     1e-6 * ((after.ru_utime.tv_usec - before.ru_utime.tv_usec) + (after.ru_stime.tv_usec - before.ru_stime.tv_usec));
        double extra_mb = (after.ru_maxrss - before.ru_maxrss) / 1024.0, size_mb = img.size / 1048576.0;
        double bound_mb = RATIO * size_mb + SLACK_MB;
        int ok = st == c->want && extra_mb <= bound_mb && cpu <= CPU_LIMIT_S &&
                 (c->want == PRPKIT_OK || strstr(prpkit_last_error(), c->fragment) != NULL);
        printf("loader-limits: %-48s %6.1f MiB  %-29s cpu %5.2f s  extra peak %6.1f MiB (%4.2fx; bound %6.1f)  %s\n",
               c->name, size_mb, prpkit_status_string(st), cpu, extra_mb, extra_mb / size_mb, bound_mb, ok ? "ok" : "FAILED");
        if (!ok) printf("  message: %.200s\n", prpkit_last_error());
        prpkit_model_free(m);
        fflush(stdout);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    free_model(img);
    if (!WIFEXITED(status)) printf("loader-limits: %s: child killed by signal %d: FAILED\n", c->name, WTERMSIG(status));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(void) {
    relu_ctx chain = {65536, 1}, wide = {65536, 0}, too_many = {65537, 0};
    count_ctx bn = {16384}, bn_max = {65536}, tiny_limit = {262144}, tiny_many = {1400000}, numbers = {20000000}, reshape = {8000000},
              long_name = {20000000}, deep = {1000000};
    const hostile_case cases[] = {
        {"1.4 M tiny unreferenced tensors (~95 MiB)", graph_text, (void*)relu1, tiny_entries, &tiny_many,
         PRPKIT_ERROR_INVALID_MODEL, "more than 262144 tensors"},
        {"262144 tiny unreferenced tensors (the limit)", graph_text, (void*)relu1, tiny_entries, &tiny_limit,
         PRPKIT_ERROR_INVALID_MODEL, "is not referenced by any node"},
        {"16384 batch norms, 65536 one-float tensors", bn_graph, &bn, bn_entries, &bn, PRPKIT_OK, ""},
        {"65536 batch norms, 262144 tensors (both limits)", bn_graph, &bn_max, bn_entries, &bn_max, PRPKIT_OK, ""},
        {"chain of 65536 relu nodes", relu_graph, &chain, NULL, NULL, PRPKIT_OK, ""},
        {"65536 relu nodes reading one input", relu_graph, &wide, NULL, NULL, PRPKIT_OK, ""},
        {"65537 nodes", relu_graph, &too_many, NULL, NULL, PRPKIT_ERROR_INVALID_MODEL, "more than 65536 nodes"},
        {"20 M one-digit numbers in a tensor shape", graph_text, (void*)relu1, number_entries, &numbers,
         PRPKIT_ERROR_INVALID_MODEL, "more than 8 dimensions"},
        {"reshape target of 8 M numbers", reshape_graph, &reshape, NULL, NULL, PRPKIT_ERROR_INVALID_MODEL, "in memory"},
        {"a node name of 20 MB", long_name_graph, &long_name, NULL, NULL, PRPKIT_OK, ""},
        {"1 M nested arrays in the header", graph_text, (void*)relu1, deep_entries, &deep,
         PRPKIT_ERROR_INVALID_MODEL, "nesting deeper than 64 levels"},
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) failed += !run_case(&cases[i]);
    printf("loader-limits: %zu cases, %d failed\n", sizeof cases / sizeof cases[0], failed);
    return failed == 0 ? 0 : 1;
}
