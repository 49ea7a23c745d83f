/*
 * model_bytes.h — model file images in memory for the C ABI tests: read from a file, or
 * built (abi_matrix.c, loader_limits.c) as a safetensors container whose __metadata__ carries a
 * graph JSON text, written into one anonymous mapping so that the heap stays untouched
 * (loader_limits.c measures the loader's peak memory against the file size).
 *
 * A writer runs twice: once with buf == NULL to count the bytes, once to fill them.
 */
#ifndef PRPKIT_TEST_MODEL_BYTES_H
#define PRPKIT_TEST_MODEL_BYTES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct {
    unsigned char* buf; /* NULL while counting */
    size_t n;
} sink;

static inline void put(sink* s, const void* p, size_t len) {
    if (s->buf) memcpy(s->buf + s->n, p, len);
    s->n += len;
}

static inline void puts_(sink* s, const char* text) { put(s, text, strlen(text)); }

static inline void putf(sink* s, const char* fmt, long long a, long long b, long long c) {
    char tmp[512];
    int len = snprintf(tmp, sizeof tmp, fmt, a, b, c);
    put(s, tmp, (size_t)len);
}

/* Writes `text` as the body of a JSON string (quotes and backslashes escaped). */
static inline void put_escaped(sink* s, const char* text) {
    for (const char* p = text; *p; p++) {
        if (*p == '"' || *p == '\\') put(s, "\\", 1);
        put(s, p, 1);
    }
}

/* A writer of the part of the header after the metadata (tensor entries, each preceded
 * by a comma) and of the graph JSON; `data` receives the data section's size. */
typedef void (*entries_writer)(sink* s, void* ctx, size_t* data);
typedef void (*graph_writer)(sink* s, void* ctx);

/* A graph writer whose graph is a fixed string. */
static inline void graph_text(sink* s, void* ctx) { puts_(s, (const char*)ctx); }

typedef struct {
    unsigned char* bytes;
    size_t size;
} model_image;

static inline void write_header(sink* s, graph_writer graph, void* gctx, entries_writer entries, void* ectx,
                         size_t* data) {
    puts_(s, "{\"__metadata__\":{\"format\":\"prpkit\",\"format_version\":\"1\",\"graph\":\"");
    /* The graph JSON, materialised in its own mapping, escaped into the string. */
    sink raw = {NULL, 0};
    graph(&raw, gctx);
    unsigned char* tmp = mmap(NULL, raw.n + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    sink fill = {tmp, 0};
    graph(&fill, gctx);
    tmp[raw.n] = 0;
    put_escaped(s, (const char*)tmp);
    munmap(tmp, raw.n + 1);
    puts_(s, "\"}");
    *data = 0;
    if (entries) entries(s, ectx, data);
    puts_(s, "}");
}

/* The whole file: length, header (space-padded to a multiple of 8), zero data. The
 * image lives in its own mapping; free it with free_model. */
static inline model_image build_model(graph_writer graph, void* gctx, entries_writer entries, void* ectx) {
    sink count = {NULL, 0};
    size_t data = 0;
    write_header(&count, graph, gctx, entries, ectx, &data);
    size_t header = (count.n + 7) / 8 * 8;
    model_image m;
    m.size = 8 + header + data;
    m.bytes = mmap(NULL, m.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 8; i++) m.bytes[i] = (unsigned char)((uint64_t)header >> (8 * i));
    sink fill = {m.bytes + 8, 0};
    write_header(&fill, graph, gctx, entries, ectx, &data);
    memset(m.bytes + 8 + fill.n, ' ', header - fill.n);
    return m; /* the data section is already zero (fresh mapping) */
}

static inline model_image graph_model(const char* graph) { return build_model(graph_text, (void*)graph, NULL, NULL); }

static inline void free_model(model_image m) { munmap(m.bytes, m.size); }

/* The bytes of a file (malloc'ed; the caller frees them); exits with status 2 on failure. */
static inline unsigned char* read_model_file(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char* b = malloc((size_t)n > 0 ? (size_t)n : 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(2); }
    fclose(f);
    *size = (size_t)n;
    return b;
}

#endif
