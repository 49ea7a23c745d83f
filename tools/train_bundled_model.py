#!/usr/bin/env python3
"""Trains prpkit's bundled default model: a small CaBRNet 1.2 ProtoPNet on scikit-learn's
bundled handwritten digits (no download), and exports it in the prpkit model format.

    python3 tools/train_bundled_model.py            # writes python/prpkit/data/

Architecture (CaBRNet config dict, as CaBRNet's yml files describe it):
- trunk: torchvision vgg11_bn cut after ``features.10`` (Conv-BN-ReLU-MaxPool ×2,
  Conv-BN-ReLU: 3→64→128→256 channels), 32×32 input → 8×8 feature map;
- add-on: Conv1×1(256→64)-ReLU-Conv1×1(64→64)-Sigmoid;
- ProtoPNet classifier: 3 prototypes per class (30 prototypes of 64 features), L2 log
  similarity, last layer 30→10.

Data: sklearn.datasets.load_digits (1797 8×8 images, 0..16). Each image is scaled to
0..255, upsampled to 32×32 with PIL bilinear (the same code the CLI uses for a sample
PNG), replicated to 3 channels and normalised with the ImageNet mean/std (so that the
z^B bounds of CaBRNet's PRP defaults, -0.485/0.229 and (1-0.406)/0.225, are the exact
pixel range of the inputs). Split: stratified 80/20, seed 0.

Training: CaBRNet's ProtoPNet loss (cross-entropy + clustering + separation + L1 on the
last layer) with Adam, then prototype projection onto training patches (CaBRNet's
``project``), then last-layer fine-tuning. Everything is seeded and single-threaded.

Outputs in python/prpkit/data/:
- digits_protopnet.prpkit: the model (prpkit.from_torch + prpkit.save);
- digits_protopnet.json: normalisation, class names, prototype → class map, accuracy;
- digits_heldout.npz: the held-out split (uint8 32×32 images + labels) for evaluation;
- samples/: 10 held-out images as PNG, one per class;
- prototypes/: each prototype's source training image (its projection), named in the
  JSON's "projection" entries ("image"), for `prpkit explain --panels`
  (``--sources-only`` writes them for an already trained model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.join(ROOT, "python", "prpkit", "data")

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
SIZE = 32
SEED = 0


def upsample(digits8: np.ndarray) -> np.ndarray:
    """(N, 8, 8) values 0..16 → (N, 32, 32) uint8 grayscale (PIL bilinear)."""
    u8 = np.clip(np.rint(digits8 * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return np.stack([np.asarray(Image.fromarray(im).resize((SIZE, SIZE), Image.BILINEAR)) for im in u8])


def to_tensor(gray: np.ndarray) -> np.ndarray:
    """(N, 32, 32) uint8 → (N, 3, 32, 32) float32, normalised (the CLI's preprocessing)."""
    x = np.repeat(gray[:, None].astype(np.float32) / 255.0, 3, axis=1)
    mean = np.asarray(MEAN, np.float32)[None, :, None, None]
    std = np.asarray(STD, np.float32)[None, :, None, None]
    return np.ascontiguousarray((x - mean) / std, dtype=np.float32)


def build_model(protos_per_class: int, features: int):
    from loguru import logger
    logger.remove()
    from cabrnet.archs.generic.model import CaBRNet
    config = {
        "extractor": {
            "backbone": {"arch": "vgg11_bn", "weights": "None", "layer": "features.10"},
            "add_on": {
                "conv1": {"type": "Conv2d", "params": {"out_channels": features, "kernel_size": 1}},
                "relu1": {"type": "ReLU"},
                "conv2": {"type": "Conv2d", "params": {"out_channels": features, "kernel_size": 1}},
                "sigmoid1": {"type": "Sigmoid"},
            },
        },
        "classifier": {"module": "cabrnet.archs.protopnet.decision", "name": "ProtoPNetClassifier",
                       "params": {"num_classes": 10, "num_proto_per_class": protos_per_class}},
        "similarity": {"name": "ProtoPNetSimilarity"},
        "top_arch": {"module": "cabrnet.archs.protopnet.model", "name": "ProtoPNet"},
    }
    torch.manual_seed(SEED)
    return CaBRNet.build_from_config(config), config


def accuracy(model, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        logits, _ = model(x)
    return float((logits.argmax(1) == y).float().mean())


def run_epochs(model, params, x, y, epochs, lr, batch, gen, label):
    opt = torch.optim.Adam(params, lr=lr)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total, stats_sum = 0, {}
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            loss, stats = model.loss(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += 1
            for k, v in stats.items():
                stats_sum[k] = stats_sum.get(k, 0.0) + v
        s = {k: v / total for k, v in stats_sum.items()}
        print(f"{label} epoch {epoch + 1}/{epochs}: loss {s['loss']:.3f} ce {s['cross_entropy']:.3f} "
              f"clst {s['clustering']:.3f} sep {s['separation']:.3f} train-acc {s['accuracy']:.3f}", flush=True)


def split():
    """The digits as 32×32 uint8, their labels, and the stratified 80/20 split (seed 0)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    gray = upsample(digits.images)
    labels = digits.target.astype(np.int64)
    idx_train, idx_test = train_test_split(np.arange(len(labels)), test_size=0.2, random_state=SEED,
                                           stratify=labels)
    return gray, labels, idx_train, idx_test


def write_prototype_sources(out: str, train_gray: np.ndarray, projection: list[dict]) -> None:
    """Each prototype's source, the training image CaBRNet's project() chose for it, as
    prototypes/p<idx>.png; its path goes into the projection entry as "image" (relative to
    the sidecar JSON), beside CaBRNet's img_idx, h, w (the location in the similarity map)."""
    os.makedirs(os.path.join(out, "prototypes"), exist_ok=True)
    for p in projection:
        name = f"prototypes/p{int(p['proto_idx']):03d}.png"
        Image.fromarray(train_gray[int(p["img_idx"])]).convert("RGB").save(os.path.join(out, name))
        p["image"] = name


def sources_only(out: str) -> int:
    """Adds the prototypes' source images to an already trained bundled model (no training):
    the split is recomputed from scikit-learn and checked against the stored held-out set."""
    gray, _, idx_train, idx_test = split()
    held = np.load(os.path.join(out, "digits_heldout.npz"))
    if not (np.array_equal(held["dataset_index"], idx_test) and np.array_equal(held["images"], gray[idx_test])):
        raise SystemExit("the recomputed split differs from digits_heldout.npz: retrain instead")
    path = os.path.join(out, "digits_protopnet.json")
    with open(path) as f:
        meta = json.load(f)
    write_prototype_sources(out, gray[idx_train], meta["projection"])
    with open(path, "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"wrote {len(meta['projection'])} prototype sources in {out}/prototypes")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DATA_DIR)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--ft-epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sources-only", action="store_true",
                    help="only (re)write the prototypes' source images of the model in --out")
    args = ap.parse_args()
    if args.sources_only:
        return sources_only(args.out)

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)

    gray, labels, idx_train, idx_test = split()
    x_train = torch.from_numpy(to_tensor(gray[idx_train]))
    y_train = torch.from_numpy(labels[idx_train])
    x_test = torch.from_numpy(to_tensor(gray[idx_test]))
    y_test = torch.from_numpy(labels[idx_test])
    print(f"digits: {len(idx_train)} train, {len(idx_test)} held out, input {tuple(x_train.shape[1:])}")

    protos_per_class, features = 3, 64
    model, config = build_model(protos_per_class, features)
    gen = torch.Generator().manual_seed(SEED)
    t0 = time.time()

    # 1. joint training (trunk, add-on, prototypes, last layer)
    run_epochs(model, model.parameters(), x_train, y_train, args.epochs, 1e-3, 64, gen, "joint")
    acc_joint = accuracy(model, x_test, y_test)
    print(f"held-out accuracy after joint training: {acc_joint:.4f}")

    # 2. prototype projection onto training patches (CaBRNet's project)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_train, y_train), batch_size=128,
                                         shuffle=False)
    projection = model.project(loader, device="cpu")
    acc_proj = accuracy(model, x_test, y_test)
    print(f"held-out accuracy after projection: {acc_proj:.4f}")

    # 3. last-layer fine-tuning (everything else frozen; BatchNorm statistics kept)
    for p in model.parameters():
        p.requires_grad_(False)
    model.classifier.last_layer.weight.requires_grad_(True)
    model.eval()
    opt = torch.optim.Adam([model.classifier.last_layer.weight], lr=1e-3)
    for epoch in range(args.ft_epochs):
        perm = torch.randperm(len(x_train), generator=gen)
        for i in range(0, len(x_train), 64):
            b = perm[i:i + 64]
            loss, _ = model.loss(model(x_train[b]), y_train[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    acc_torch = accuracy(model, x_test, y_test)
    print(f"held-out accuracy after fine-tuning (torch): {acc_torch:.4f}  [{time.time() - t0:.0f} s]")

    # 4. export with prpkit and check the native forward pass
    import prpkit
    os.makedirs(os.path.join(args.out, "samples"), exist_ok=True)
    pmodel = prpkit.from_torch(model, x_test[:1])
    model_path = os.path.join(args.out, "digits_protopnet.prpkit")
    prpkit.save(pmodel, model_path)
    loaded = prpkit.load(model_path)
    logits = loaded(x_test.numpy())[0]
    pred = np.asarray(logits).argmax(1)
    acc_prpkit = float((pred == y_test.numpy()).mean())
    with torch.no_grad():
        ref = model(x_test)[0].numpy()
    print(f"held-out accuracy (prpkit forward): {acc_prpkit:.4f}; max|logits - torch| = "
          f"{np.abs(np.asarray(logits) - ref).max():.2e}; model file {os.path.getsize(model_path) / 1e6:.2f} MB")

    # held-out split and samples (the first held-out image of each class)
    np.savez_compressed(os.path.join(args.out, "digits_heldout.npz"), images=gray[idx_test],
                        labels=labels[idx_test], dataset_index=idx_test)
    samples = []
    for c in range(10):
        j = int(np.nonzero(labels[idx_test] == c)[0][0])
        name = f"digit{c}_heldout{j:03d}.png"
        Image.fromarray(gray[idx_test][j]).convert("RGB").save(os.path.join(args.out, "samples", name))
        samples.append({"file": f"samples/{name}", "label": c, "heldout_index": j,
                        "predicted": int(pred[j])})

    projection = [{k: (int(v) if isinstance(v, (int, np.integer)) else float(v)) for k, v in p.items()}
                  for p in projection]
    write_prototype_sources(args.out, gray[idx_train], projection)
    proto_class = [int(v) for v in model.classifier.prototype_class_mapping.argmax(1)]
    meta = {
        "model": "digits_protopnet.prpkit",
        "description": "CaBRNet 1.2 ProtoPNet (vgg11_bn trunk cut after features.10, add-on 256->64->64 "
                       "sigmoid, 3 prototypes per class) trained on scikit-learn's digits "
                       "(tools/train_bundled_model.py)",
        "input_size": [3, SIZE, SIZE],
        "preprocessing": "grayscale 0..255 -> /255 -> 3 channels -> (x - mean) / std",
        "mean": MEAN,
        "std": STD,
        "zbeta_lower_bound": min(-m / s for m, s in zip(MEAN, STD)),
        "zbeta_upper_bound": max((1 - m) / s for m, s in zip(MEAN, STD)),
        "class_names": [str(c) for c in range(10)],
        "prototype_class": proto_class,
        "num_prototypes": len(proto_class),
        "split": {"test_size": 0.2, "random_state": SEED, "stratify": True, "train": int(len(idx_train)),
                  "heldout": int(len(idx_test)), "file": "digits_heldout.npz"},
        "training": {"epochs": args.epochs, "ft_epochs": args.ft_epochs, "optimizer": "Adam lr 1e-3 batch 64",
                     "loss": "CaBRNet ProtoPNet loss (CE + 0.8 clustering - 0.08 separation + 1e-4 L1)",
                     "projection": "CaBRNet project() onto training patches"},
        "test_accuracy": {"after_joint_training": round(acc_joint, 4), "after_projection": round(acc_proj, 4),
                          "torch": round(acc_torch, 4), "prpkit": round(acc_prpkit, 4)},
        "stated_test_accuracy": float(np.floor(acc_prpkit * 1000) / 1000),
        "projection": projection,
        "samples": samples,
    }
    with open(os.path.join(args.out, "digits_protopnet.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
