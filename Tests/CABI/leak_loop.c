/*
 * leak_loop.c — the whole life cycle through the C ABI, repeated: load (file and
 * memory), query, forward, explainer (CaBRNet PRP composite), PRP, LRP attribute,
 * propagate, LayerLRP, rules JSON, the explainer's model, post-processing, save, failing calls
 * (which allocate messages), free. Run under valgrind (scripts/test_abi.sh), it must
 * show zero definitely lost bytes; a leak per iteration shows as a multiple of ITERATIONS.
 *
 * Usage: leak_loop TINY_PRP.prpk SCRATCH_DIR [ITERATIONS]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_bytes.h"
#include "prpkit.h"

#define CHECK(call) do { if ((call) != PRPKIT_OK) { fprintf(stderr, "%s: %s\n", #call, prpkit_last_error()); exit(1); } } while (0)


static void once(const char* path, const unsigned char* bytes, size_t size, const char* saved) {
    prpkit_model *m = NULL, *mm = NULL, *composite = NULL, *bad = NULL;
    CHECK(prpkit_model_load(path, &m));
    CHECK(prpkit_model_load_from_memory(bytes, size, &mm));
    if (prpkit_model_load_from_memory(bytes, size / 2, &bad) == PRPKIT_OK) exit(1);
    if (prpkit_model_load("/nonexistent.prpk", &bad) == PRPKIT_OK) exit(1);

    size_t n_out = 0;
    const char* name = NULL;
    int64_t shape[PRPKIT_MAX_RANK];
    size_t rank = 0;
    CHECK(prpkit_model_num_outputs(m, &n_out));
    CHECK(prpkit_model_input_name(m, 0, &name));
    CHECK(prpkit_model_output_shape(m, 0, shape, PRPKIT_MAX_RANK, &rank));

    static float image[3 * 32 * 32], logits[64], dist[64], rel[2 * 3 * 32 * 32], sim[4 * 32 * 32], heat[20 * 30];
    for (int i = 0; i < 3 * 32 * 32; i++) image[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    int64_t in_shape[4] = {1, 3, 32, 32};
    prpkit_input in = {image, in_shape, 4};
    prpkit_output outs[2];
    memset(outs, 0, sizeof outs);
    outs[0].data = logits; outs[0].capacity = 64;
    outs[1].data = dist; outs[1].capacity = 64;
    CHECK(prpkit_model_forward(mm, &in, 1, outs, n_out, NULL));

    prpkit_explainer *e = NULL, *lrp = NULL, *bad_e = NULL;
    CHECK(prpkit_explainer_create(m, "{\"composite\":\"cabrnet_prp\"}", &e));
    if (prpkit_explainer_create(m, "{}", &lrp) == PRPKIT_OK) exit(1);  /* sigmoid has no default rule */
    if (prpkit_explainer_create(m, "{\"rules\":[]}", &bad_e) == PRPKIT_OK) exit(1);
    int64_t protos[2] = {0, 3};
    prpkit_output r, s;
    memset(&r, 0, sizeof r);
    memset(&s, 0, sizeof s);
    r.data = rel; r.capacity = sizeof rel / sizeof rel[0];
    s.data = sim; s.capacity = sizeof sim / sizeof sim[0];
    CHECK(prpkit_explainer_prp(e, &in, protos, 2, NULL, &r, &s));

    /* LRP of one similarity entry, and an explicit start on the (1, P, Hs, Ws) map. */
    int64_t target[3] = {1, 0, 0};
    float score, delta;
    prpkit_output lr;
    memset(&lr, 0, sizeof lr);
    lr.data = rel; lr.capacity = sizeof rel / sizeof rel[0];
    CHECK(prpkit_explainer_attribute(e, &in, 1, 0, target, 3, &lr, 1, &score, &delta));
    prpkit_input st = {sim, s.shape, s.rank};
    CHECK(prpkit_explainer_propagate(e, &in, 1, 0, &st, &lr, 1));

    /* LayerLRP at one layer of the add-on, given a Captum rule (its output, (1, 4, 32, 32) at most). */
    prpkit_explainer* layered = NULL;
    CHECK(prpkit_explainer_create(m, "{\"composite\":\"cabrnet_prp\",\"rules\":{\"by_node\":"
                                     "{\"extractor.add_on.conv2\":{\"rule\":\"epsilon\"}}}}", &layered));
    const char* layer[] = {"extractor.add_on.conv2"};
    prpkit_output lo;
    memset(&lo, 0, sizeof lo);
    lo.data = rel; lo.capacity = sizeof rel / sizeof rel[0];
    float deltas[1];
    CHECK(prpkit_explainer_attribute_layers(layered, &in, 1, 0, target, 3, layer, 1, PRPKIT_LAYER_OUTPUT, &lo, &score, deltas));

    char json[16384];
    size_t len = 0;
    CHECK(prpkit_explainer_rules_json(e, json, sizeof json, &len));
    CHECK(prpkit_explainer_model(e, &composite));

    int64_t one_shape[4] = {1, 3, 32, 32};
    prpkit_input one = {rel, one_shape, 4};
    prpkit_postprocess_options o = prpkit_postprocess_default_options();
    o.out_height = 20;
    o.out_width = 30;
    prpkit_output h;
    memset(&h, 0, sizeof h);
    h.data = heat; h.capacity = 20 * 30;
    CHECK(prpkit_postprocess(&one, NULL, &o, &h));
    CHECK(prpkit_model_save(composite, saved));

    prpkit_explainer_free(layered);
    prpkit_explainer_free(e);
    prpkit_model_free(composite);
    prpkit_model_free(mm);
    prpkit_model_free(m);
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s TINY_PRP.prpk SCRATCH_DIR [ITERATIONS]\n", argv[0]);
        return 2;
    }
    int iterations = argc > 3 ? atoi(argv[3]) : 3;
    size_t size = 0;
    unsigned char* bytes = read_model_file(argv[1], &size);
    char saved[4096];
    snprintf(saved, sizeof saved, "%s/leak-loop.prpk", argv[2]);
    for (int i = 0; i < iterations; i++) once(argv[1], bytes, size, saved);
    free(bytes);
    printf("leak_loop: %d iterations done\n", iterations);
    return 0;
}
