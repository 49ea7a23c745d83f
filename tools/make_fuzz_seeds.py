#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (Tests/Fuzz/corpus, scripts/fuzz.sh).

model/: small valid prpkit model files that together use every op kind, attribute and
parameter role of docs/model-format.md (so that mutations start from every branch of
the loader), plus a few near-misses. config/: explainer configurations of
docs/explainer-config.md, one per rule kind and composite. examples/c/*.prpk are seeds
too (the script passes them to the fuzzer). Standard library only; deterministic.

Usage: python3 tools/make_fuzz_seeds.py [OUT_DIR]   (default Tests/Fuzz/corpus)
"""
import json
import os
import struct
import sys


def tensor_bytes(values):
    return struct.pack("<%df" % len(values), *values)


def model_file(graph, tensors):
    """A canonical prpkit file: graph JSON in the metadata, tensors sorted, F32 zeros-free data."""
    header = {"__metadata__": {"format": "prpkit", "format_version": "1",
                               "graph": json.dumps(graph, separators=(",", ":"))}}
    data = b""
    for name in sorted(tensors):
        shape, values = tensors[name]
        raw = tensor_bytes(values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def values(n, seed):
    return [((i * 7919 + seed * 104729) % 2003) / 1001.5 - 1 for i in range(n)]


def node(name, op, inputs, attributes=None, parameters=None):
    n = {"name": name, "op": op, "inputs": inputs}
    if attributes is not None:
        n["attributes"] = attributes
    if parameters is not None:
        n["parameters"] = parameters
    return n


def graph(shape, nodes, outputs):
    return {"inputs": [{"name": "x", "shape": shape}], "nodes": nodes, "outputs": outputs}


def models():
    out = {}
    out["relu"] = (graph([1, 4], [node("r", "relu", ["x"])], ["r"]), {})
    out["linear"] = (graph([2, 3], [node("fc", "linear", ["x"], {}, {"weight": "w", "bias": "b"})], ["fc"]),
                     {"w": ([2, 3], values(6, 1)), "b": ([2], values(2, 2))})
    conv = {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": 1}
    out["cnn"] = (graph([1, 2, 6, 6], [
        node("conv", "conv2d", ["x"], conv, {"weight": "conv.w", "bias": "conv.b"}),
        node("bn", "batch_norm2d", ["conv"], {"epsilon": 1e-05},
             {"weight": "bn.w", "bias": "bn.b", "running_mean": "bn.m", "running_var": "bn.v"}),
        node("relu", "relu", ["bn"]),
        node("sum", "add", ["relu", "conv"]),
        node("pool", "max_pool2d", ["sum"], {"kernel": [2, 2], "stride": [2, 2], "padding": [0, 0],
                                             "dilation": [1, 1], "ceil_mode": True}),
        node("avg", "avg_pool2d", ["pool"], {"kernel": [2, 2], "stride": [1, 1], "padding": [1, 1], "ceil_mode": False,
                                            "count_include_pad": True, "divisor_override": None}),
        node("gap", "adaptive_avg_pool2d", ["avg"], {"output_size": [2, 2]}),
        node("flat", "flatten", ["gap"], {"start_dim": 1, "end_dim": -1}),
        node("drop", "dropout", ["flat"]),
        node("fc", "linear", ["drop"], {}, {"weight": "fc.w"}),
        node("sig", "sigmoid", ["fc"]),
        node("th", "tanh", ["fc"]),
        node("cat", "concat", ["sig", "th"], {"axis": 1}),
        node("rs", "reshape", ["cat"], {"shape": [2, -1]}),
    ], ["rs", "pool"]), {
        "conv.w": ([3, 2, 3, 3], values(54, 3)), "conv.b": ([3], values(3, 4)),
        "bn.w": ([3], values(3, 5)), "bn.b": ([3], values(3, 6)), "bn.m": ([3], values(3, 7)),
        "bn.v": ([3], [0.5, 1.0, 1.5]), "fc.w": ([4, 12], values(48, 8)),
    })
    grouped = dict(conv, groups=2, stride=[2, 1], dilation=[1, 2], padding=[0, 2])
    out["grouped_conv"] = (graph([1, 4, 7, 7], [node("c", "conv2d", ["x"], grouped, {"weight": "w"})], ["c"]),
                           {"w": ([2, 2, 3, 3], values(36, 9))})
    for mode in ("protopnet", "cdist", "prototree"):
        sim = ("log_similarity", {"epsilon": 0.0001}) if mode != "prototree" else \
              ("exp_similarity", {"epsilon": 1e-06, "log_probabilities": False})
        out["prototypes_" + mode] = (graph([1, 3, 4, 4], [
            node("d", "l2_distance", ["x"], {"mode": mode}, {"prototypes": "p"}),
            node("mn", "spatial_min", ["d"]),
            node("mx", "spatial_max", ["d"]),
            node("s", sim[0], ["d"], sim[1]),
        ], ["s", "mn", "mx"]), {"p": ([5, 3, 1, 1] if mode == "protopnet" else [5, 3], values(15, 10))})
    return out


def near_misses(files):
    """Valid files with one thing wrong: the loader's error branches as starting points."""
    relu = files["relu"]
    bad = {}
    bad["truncated"] = relu[: len(relu) // 2]
    bad["bad_length"] = struct.pack("<Q", 1 << 40) + relu[8:]
    linear = bytearray(files["linear"])
    i = linear.find(b'"F32"')
    linear[i:i + 5] = b'"F16"'
    bad["f16"] = bytes(linear)
    return bad


CONFIGS = {
    "empty": {},
    "cabrnet_prp": {"composite": "cabrnet_prp"},
    "cabrnet_prp_options": {"composite": "cabrnet_prp", "composite_options": {
        "set_bias_to_zero": False, "stability_factor": 1e-4, "use_zbeta": False,
        "zbeta_lower_bound": -1.5, "zbeta_upper_bound": 1.5, "similarity_head": False}},
    "prpkit_prp": {"composite": "prpkit_prp", "composite_options": {
        "input_mean": [0.5, 0.5, 0.5], "input_std": [0.25, 0.25, 0.25]}},
    "by_node": {"composite": "cabrnet_prp", "rules": {"by_node": {
        "extractor.convnet.conv1": {"rule": "zbeta", "lower_bound": -1, "upper_bound": 1, "stability_factor": 1e-6,
                                    "set_bias_to_zero": True},
        "extractor.add_on.conv1": {"rule": "gamma", "gamma": 0.5, "set_bias_to_zero": True},
        "extractor.add_on.conv2": {"rule": "alpha1_beta0", "set_bias_to_zero": False},
        "extractor.convnet.maxpool": {"rule": "gradient"},
        "extractor.convnet.relu": {"rule": "pass_through"},
        "extractor.convnet.bn1": {"rule": "identity"}}}},
    "by_kind": {"rules": {"by_kind": {
        "conv2d": {"rule": "epsilon", "epsilon": 1e-6}, "sigmoid": {"rule": "identity"},
        "l2_distance": {"rule": "prototype_similarity", "stability_factor": 1e-12},
        "log_similarity": {"rule": "gradient"}, "spatial_min": {"rule": "gradient"},
        "linear": {"rule": "prp_alpha1_beta0", "stability_factor": 1e-6, "set_bias_to_zero": True},
        "batch_norm2d": {"rule": "identity"}, "max_pool2d": {"rule": "gradient"}}}},
    "stacked_sum": {"composite": "cabrnet_prp", "rules": {"by_kind": {"add": {"rule": "stacked_sum",
                                                                               "stability_factor": 1e-6}}}},
    # The named composites' rules (prpkit.composites, docs/composites.md).
    "zennit": {"rules": {"by_kind": {
        "conv2d": {"rule": "alpha_beta", "alpha": 2, "beta": 1, "stabilizer": 1e-6},
        "linear": {"rule": "generalized_gamma", "gamma": 0.25, "stabilizer": 1e-6},
        "add": {"rule": "norm", "stabilizer": 1e-6}, "avg_pool2d": {"rule": "norm"}}}},
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "Tests", "Fuzz", "corpus")
    files = {name: model_file(g, t) for name, (g, t) in models().items()}
    files.update(near_misses(files))
    os.makedirs(os.path.join(out, "model"), exist_ok=True)
    os.makedirs(os.path.join(out, "config"), exist_ok=True)
    for name, data in sorted(files.items()):
        with open(os.path.join(out, "model", name + ".prpk"), "wb") as f:
            f.write(data)
    for name, cfg in sorted(CONFIGS.items()):
        with open(os.path.join(out, "config", name + ".json"), "w", encoding="utf-8") as f:
            f.write(json.dumps(cfg, separators=(",", ":")))


if __name__ == "__main__":
    main()
