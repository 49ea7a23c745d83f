/*
 * prp.c — PRP heatmaps through the C ABI (include/prpkit.h), checked against CaBRNet.
 *
 * Loads a prototype model file (examples/c/tiny_prp.prpk, a tiny CaBRNet ProtoPNet
 * written by make_tiny_prp_model.py), creates an explainer with CaBRNet's PRP composite
 * ({"composite": "cabrnet_prp"}), computes the PRP relevance of 2 prototypes at the
 * location of maximum similarity (one call), post-processes one relevance map as
 * CaBRNet's post_process does (absolute polarity, Gaussian sigma 1, bicubic resize to
 * 20×30) and compares shapes and values with tiny_prp.expected, computed by the
 * generator with CaBRNet's composite + Captum LRP and CaBRNet's post_process (not with
 * prpkit). Then it exercises error paths and frees everything.
 *
 * Tolerance: |got − want| ≤ 1e-4 · max|want| of the same map (float32 on both sides,
 * different summation orders; OpenCV's bicubic resize runs through IPP), and
 * 1e-4 · Σ|want| for sums and checksums.
 *
 * Usage: prp MODEL.prpk EXPECTED   — exit status 0 when every check passes.
 * Build: gcc -std=c11 -I include examples/c/prp.c -L <dir> -lprpkit -Wl,-rpath,<dir>
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prpkit.h"

#define N_PROTO 2
#define OUT_H 20
#define OUT_W 30
#define TOL 1e-4

static int failures = 0;

static void check(int ok, const char* what) {
    printf("check %s: %s\n", what, ok ? "ok" : "FAILED");
    if (!ok) failures++;
}

static void check_status(int got, int want, const char* what) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s -> %s", what, prpkit_status_string(want));
    if (got != want) printf("  got %s: %s\n", prpkit_status_string(got), prpkit_last_error());
    check(got == want, buf);
}

static int same_shape(const int64_t* shape, size_t rank, const int64_t* want, size_t want_rank) {
    if (rank != want_rank) return 0;
    for (size_t i = 0; i < rank; i++)
        if (shape[i] != want[i]) return 0;
    return 1;
}

static int64_t numel(const int64_t* shape, size_t rank) {
    int64_t n = 1;
    for (size_t i = 0; i < rank; i++) n *= shape[i];
    return n;
}

static double checksum(const float* a, int64_t n) {  /* Σ a[i]·((i mod 7) − 3), as the generator */
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * (double)(i % 7 - 3);
    return s;
}

static int close_to(double got, double want, double scale) {
    return fabs(got - want) <= TOL * scale;
}

/* The expected values (tiny_prp.expected). */
typedef struct {
    int64_t sim_shape[4], rel_shape[4], heat_shape[2];
    int64_t proto[N_PROTO], h[N_PROTO], w[N_PROTO];
    double score[N_PROTO], rel_maxabs[N_PROTO], rel_sum[N_PROTO], rel_abssum[N_PROTO], rel_checksum[N_PROTO];
    double heat_maxabs, heat_abssum, heat_checksum;
    int n_rel, n_heat;
    int rel_k[64];
    long rel_i[64], heat_i[64];
    double rel_v[64], heat_v[64];
} expected;

static int read_expected(const char* path, expected* e) {
    FILE* f = fopen(path, "r");
    if (!f) { perror(path); return 0; }
    memset(e, 0, sizeof *e);
    char line[512], key[64];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%63s", key) != 1) continue;
        const char* rest = line + strlen(key);
        int k = 0; long i = 0; double v = 0;
        if (!strcmp(key, "similarity_shape"))
            sscanf(rest, "%" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64, &e->sim_shape[0], &e->sim_shape[1], &e->sim_shape[2], &e->sim_shape[3]);
        else if (!strcmp(key, "relevance_shape"))
            sscanf(rest, "%" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64, &e->rel_shape[0], &e->rel_shape[1], &e->rel_shape[2], &e->rel_shape[3]);
        else if (!strcmp(key, "heatmap_shape"))
            sscanf(rest, "%" SCNd64 " %" SCNd64, &e->heat_shape[0], &e->heat_shape[1]);
        else if (!strcmp(key, "prototype") && sscanf(rest, "%d", &k) == 1 && k >= 0 && k < N_PROTO)
            sscanf(rest, "%d %" SCNd64 " %" SCNd64 " %" SCNd64 " %lf", &k, &e->proto[k], &e->h[k], &e->w[k], &e->score[k]);
        else if (!strcmp(key, "relevance_maxabs") && sscanf(rest, "%d %lf", &k, &v) == 2 && k >= 0 && k < N_PROTO)
            e->rel_maxabs[k] = v;
        else if (!strcmp(key, "relevance_sum") && sscanf(rest, "%d %lf", &k, &v) == 2 && k >= 0 && k < N_PROTO)
            e->rel_sum[k] = v;
        else if (!strcmp(key, "relevance_abssum") && sscanf(rest, "%d %lf", &k, &v) == 2 && k >= 0 && k < N_PROTO)
            e->rel_abssum[k] = v;
        else if (!strcmp(key, "relevance_checksum") && sscanf(rest, "%d %lf", &k, &v) == 2 && k >= 0 && k < N_PROTO)
            e->rel_checksum[k] = v;
        else if (!strcmp(key, "relevance") && e->n_rel < 64 && sscanf(rest, "%d %ld %lf", &k, &i, &v) == 3) {
            e->rel_k[e->n_rel] = k; e->rel_i[e->n_rel] = i; e->rel_v[e->n_rel] = v; e->n_rel++;
        } else if (!strcmp(key, "heatmap_maxabs")) sscanf(rest, "%lf", &e->heat_maxabs);
        else if (!strcmp(key, "heatmap_abssum")) sscanf(rest, "%lf", &e->heat_abssum);
        else if (!strcmp(key, "heatmap_checksum")) sscanf(rest, "%lf", &e->heat_checksum);
        else if (!strcmp(key, "heatmap") && e->n_heat < 64 && sscanf(rest, "%ld %lf", &i, &v) == 2) {
            e->heat_i[e->n_heat] = i; e->heat_v[e->n_heat] = v; e->n_heat++;
        }
    }
    fclose(f);
    return e->n_rel > 0 && e->n_heat > 0 && e->rel_maxabs[0] > 0;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.prpk EXPECTED\n", argv[0]);
        return 2;
    }
    static expected want;
    if (!read_expected(argv[2], &want)) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        return 2;
    }

    prpkit_model* model = NULL;
    if (prpkit_model_load(argv[1], &model) != PRPKIT_OK) {
        fprintf(stderr, "load: %s\n", prpkit_last_error());
        return 1;
    }
    prpkit_explainer* explainer = NULL;
    int st = prpkit_explainer_create(model, "{\"composite\": \"cabrnet_prp\"}", &explainer);
    check_status(st, PRPKIT_OK, "explainer_create cabrnet_prp");
    if (st != PRPKIT_OK) { prpkit_model_free(model); return 1; }
    prpkit_model_free(model);  /* the explainer keeps its own reference to the graph */
    model = NULL;

    /* The input: (1, 3, 32, 32), x[i] = ((i * 37) % 17) / 8 - 1, as the generator. */
    const int64_t in_shape[4] = {1, 3, 32, 32};
    const int64_t n_in = numel(in_shape, 4);
    float* x = malloc((size_t)n_in * sizeof(float));
    for (int64_t i = 0; i < n_in; i++) x[i] = (float)((i * 37) % 17) / 8.0f - 1.0f;
    prpkit_input image = {x, in_shape, 4};
    const int64_t prototypes[N_PROTO] = {want.proto[0], want.proto[1]};
    prpkit_prp_options options = prpkit_prp_default_options();  /* PRPKIT_LOCATION_MAX */

    /* 1. Shape query: capacity 0 -> PRPKIT_ERROR_BUFFER_TOO_SMALL, shapes written. */
    prpkit_output rel = {0}, sim = {0};
    st = prpkit_explainer_prp(explainer, &image, prototypes, N_PROTO, &options, &rel, &sim);
    check_status(st, PRPKIT_ERROR_BUFFER_TOO_SMALL, "prp with capacity 0");
    check(same_shape(rel.shape, rel.rank, want.rel_shape, 4), "relevance shape written (2, 3, 32, 32)");
    check(same_shape(sim.shape, sim.rank, want.sim_shape, 4), "similarity shape written (1, 4, 8, 8)");
    int64_t n_rel = numel(want.rel_shape, 4), n_sim = numel(want.sim_shape, 4);

    /* A buffer one float too small is refused too, and the shape is still written. */
    float* small = malloc((size_t)n_rel * sizeof(float));
    prpkit_output rel_small = {0};
    rel_small.data = small;
    rel_small.capacity = (size_t)n_rel - 1;
    st = prpkit_explainer_prp(explainer, &image, prototypes, N_PROTO, &options, &rel_small, NULL);
    check_status(st, PRPKIT_ERROR_BUFFER_TOO_SMALL, "prp with capacity numel - 1");
    check(same_shape(rel_small.shape, rel_small.rank, want.rel_shape, 4), "shape written with a too-small buffer");
    free(small);

    /* 2. The PRP relevance of 2 prototypes at their maximum, in one call. */
    rel.data = malloc((size_t)n_rel * sizeof(float));
    rel.capacity = (size_t)n_rel;
    sim.data = malloc((size_t)n_sim * sizeof(float));
    sim.capacity = (size_t)n_sim;
    st = prpkit_explainer_prp(explainer, &image, prototypes, N_PROTO, &options, &rel, &sim);
    check_status(st, PRPKIT_OK, "prp 2 prototypes at PRPKIT_LOCATION_MAX");
    if (st == PRPKIT_OK) {
        const int64_t hs = want.sim_shape[2], ws = want.sim_shape[3];
        const int64_t per_map = n_rel / N_PROTO;
        for (int k = 0; k < N_PROTO; k++) {
            const float* s = sim.data + prototypes[k] * hs * ws;
            int64_t best = 0;  /* first maximum in row-major order */
            for (int64_t i = 1; i < hs * ws; i++)
                if (s[i] > s[best]) best = i;
            char what[128];
            snprintf(what, sizeof what, "prototype %" PRId64 ": max at (%" PRId64 ", %" PRId64 ")", prototypes[k],
                     want.h[k], want.w[k]);
            check(best == want.h[k] * ws + want.w[k], what);
            snprintf(what, sizeof what, "prototype %" PRId64 ": similarity %.6g (want %.6g)", prototypes[k],
                     (double)s[best], want.score[k]);
            check(close_to(s[want.h[k] * ws + want.w[k]], want.score[k], fabs(want.score[k])), what);

            const float* r = rel.data + k * per_map;
            double maxabs = 0, sum = 0, abssum = 0;
            for (int64_t i = 0; i < per_map; i++) {
                maxabs = fmax(maxabs, fabs(r[i]));
                sum += r[i];
                abssum += fabs(r[i]);
            }
            double cs = checksum(r, per_map);
            printf("relevance[%d]: max|r| %.9g sum %.9g checksum %.9g\n", k, maxabs, sum, cs);
            snprintf(what, sizeof what, "relevance[%d] max|r|, sum, sum|r|, checksum", k);
            check(close_to(maxabs, want.rel_maxabs[k], want.rel_maxabs[k]) &&
                  close_to(sum, want.rel_sum[k], want.rel_abssum[k]) &&
                  close_to(abssum, want.rel_abssum[k], want.rel_abssum[k]) &&
                  close_to(cs, want.rel_checksum[k], want.rel_abssum[k]), what);
        }
        int bad = 0;
        for (int j = 0; j < want.n_rel; j++) {
            int k = want.rel_k[j];
            double got = rel.data[k * per_map + want.rel_i[j]];
            if (!close_to(got, want.rel_v[j], want.rel_maxabs[k])) {
                printf("  relevance[%d][%ld] = %.9g, want %.9g\n", k, want.rel_i[j], got, want.rel_v[j]);
                bad = 1;
            }
        }
        check(!bad, "relevance values match CaBRNet + Captum");
    }

    /* 3. CaBRNet's post_process on prototype 0's map: |a|, channel mean, sigma 1, resize 20×30. */
    const int64_t map_shape[3] = {want.rel_shape[1], want.rel_shape[2], want.rel_shape[3]};
    prpkit_input map = {rel.data, map_shape, 3};
    prpkit_postprocess_options post = prpkit_postprocess_default_options();
    post.polarity = PRPKIT_POLARITY_ABSOLUTE;
    post.gaussian_sigma = 1.0f;
    post.out_height = OUT_H;
    post.out_width = OUT_W;
    prpkit_output heat = {0};
    st = prpkit_postprocess(&map, NULL, &post, &heat);
    check_status(st, PRPKIT_ERROR_BUFFER_TOO_SMALL, "postprocess with capacity 0");
    check(same_shape(heat.shape, heat.rank, want.heat_shape, 2), "heatmap shape written (20, 30)");
    heat.data = malloc(OUT_H * OUT_W * sizeof(float));
    heat.capacity = OUT_H * OUT_W;
    st = prpkit_postprocess(&map, NULL, &post, &heat);
    check_status(st, PRPKIT_OK, "postprocess");
    if (st == PRPKIT_OK) {
        double maxabs = 0, abssum = 0;
        for (int i = 0; i < OUT_H * OUT_W; i++) {
            maxabs = fmax(maxabs, fabs(heat.data[i]));
            abssum += fabs(heat.data[i]);
        }
        double cs = checksum(heat.data, OUT_H * OUT_W);
        printf("heatmap: max|h| %.9g sum|h| %.9g checksum %.9g\n", maxabs, abssum, cs);
        check(close_to(maxabs, want.heat_maxabs, want.heat_maxabs) &&
              close_to(abssum, want.heat_abssum, want.heat_abssum) &&
              close_to(cs, want.heat_checksum, want.heat_abssum), "heatmap max|h|, sum|h|, checksum");
        int bad = 0;
        for (int j = 0; j < want.n_heat; j++) {
            double got = heat.data[want.heat_i[j]];
            if (!close_to(got, want.heat_v[j], want.heat_maxabs)) {
                printf("  heatmap[%ld] = %.9g, want %.9g\n", want.heat_i[j], got, want.heat_v[j]);
                bad = 1;
            }
        }
        check(!bad, "heatmap values match CaBRNet's post_process");
    }

    /* 4. A threshold above every similarity selects nothing: all zeros (as CaBRNet). */
    prpkit_prp_options none = prpkit_prp_default_options();
    none.location = PRPKIT_LOCATION_THRESHOLD;
    none.threshold = 1e9f;
    for (int64_t i = 0; i < n_rel; i++) rel.data[i] = 1.0f;
    st = prpkit_explainer_prp(explainer, &image, prototypes, N_PROTO, &none, &rel, NULL);
    int zeros = st == PRPKIT_OK;
    for (int64_t i = 0; zeros && i < n_rel; i++) zeros = rel.data[i] == 0.0f;
    check(zeros, "PRPKIT_LOCATION_THRESHOLD above every similarity -> zeros");

    /* 5. Error paths: status codes, a message, no crash. */
    st = prpkit_explainer_prp(NULL, &image, prototypes, N_PROTO, &options, &rel, &sim);
    check_status(st, PRPKIT_ERROR_INVALID_ARGUMENT, "prp with a NULL explainer");
    check(strlen(prpkit_last_error()) > 0, "last_error set");
    prpkit_prp_options bad = prpkit_prp_default_options();
    bad.location = 7;
    st = prpkit_explainer_prp(explainer, &image, prototypes, N_PROTO, &bad, &rel, &sim);
    check_status(st, PRPKIT_ERROR_INVALID_ARGUMENT, "prp with location 7");
    bad = prpkit_prp_default_options();
    bad.location = PRPKIT_LOCATION_AT;
    bad.h = want.sim_shape[2];  /* one past the last row */
    st = prpkit_explainer_prp(explainer, &image, prototypes, N_PROTO, &bad, &rel, &sim);
    check_status(st, PRPKIT_ERROR_INVALID_ARGUMENT, "prp at (8, 0) outside the 8×8 map");
    bad.h = 0;
    bad.w = -want.sim_shape[3] - 1;  /* negative entries go down to -W (CaBRNet's meaning) */
    st = prpkit_explainer_prp(explainer, &image, prototypes, N_PROTO, &bad, &rel, &sim);
    check_status(st, PRPKIT_ERROR_INVALID_ARGUMENT, "prp at (0, -9) outside the 8×8 map");
    bad.w = -1;  /* column not pinned: row 0's locations at least as similar as S[0, W - 1] */
    st = prpkit_explainer_prp(explainer, &image, prototypes, N_PROTO, &bad, &rel, &sim);
    check_status(st, PRPKIT_OK, "prp at (0, -1)");
    const int64_t bad_proto[1] = {want.sim_shape[1]};
    st = prpkit_explainer_prp(explainer, &image, bad_proto, 1, &options, &rel, &sim);
    check_status(st, PRPKIT_ERROR_INVALID_ARGUMENT, "prp with prototype index out of range");
    st = prpkit_explainer_prp(explainer, NULL, prototypes, N_PROTO, &options, &rel, &sim);
    check_status(st, PRPKIT_ERROR_INVALID_ARGUMENT, "prp with a NULL image");
    st = prpkit_explainer_prp(explainer, &image, NULL, N_PROTO, &options, &rel, &sim);
    check_status(st, PRPKIT_ERROR_INVALID_ARGUMENT, "prp with NULL prototypes");
    st = prpkit_explainer_prp(explainer, &image, prototypes, N_PROTO, &options, NULL, &sim);
    check_status(st, PRPKIT_ERROR_INVALID_ARGUMENT, "prp with a NULL relevance slot");
    prpkit_postprocess_options half = post;
    half.out_width = 0;  /* a half-given output size */
    st = prpkit_postprocess(&map, NULL, &half, &heat);
    check_status(st, PRPKIT_ERROR_INVALID_ARGUMENT, "postprocess with out_width 0, out_height 20");
    prpkit_postprocess_options gx = post;
    gx.grads_x_input = 1;  /* needs the image */
    st = prpkit_postprocess(&map, NULL, &gx, &heat);
    check_status(st, PRPKIT_ERROR_INVALID_ARGUMENT, "postprocess grads_x_input without an image");
    st = prpkit_postprocess(NULL, NULL, &post, &heat);
    check_status(st, PRPKIT_ERROR_INVALID_ARGUMENT, "postprocess with a NULL relevance");

    /* 6. Free everything (the free functions are NULL-safe). */
    free(heat.data);
    free(rel.data);
    free(sim.data);
    free(x);
    prpkit_explainer_free(explainer);
    prpkit_explainer_free(NULL);
    prpkit_model_free(NULL);

    printf("prp.c: %s (%d failed checks)\n", failures ? "FAILED" : "all checks passed", failures);
    return failures ? 1 : 0;
}
