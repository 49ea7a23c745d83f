#!/usr/bin/env bash
# The main job, on a fresh machine: build and install everything (Swift core,
# libprpkit.so, the Python package with its `prpkit` command), then explain the bundled
# ProtoPNet (CaBRNet architecture, trained on scikit-learn's digits; see
# python/prpkit/data/digits_protopnet.json) on its bundled held-out samples: PRP heatmaps
# of each image's 3 most activated prototypes, written to out/heatmaps/ (overlay PNGs,
# raw relevance .npy, records.jsonl). Then the Swift command line on a model file.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 -m pip install -q ./python
rm -rf out/heatmaps && mkdir -p out
echo "== prpkit explain (bundled model and samples)"
prpkit explain --out out/heatmaps --top-k 3
head -n 2 out/heatmaps/records.jsonl
echo "== prpkit-run (Swift CLI): forward and PRP of a ResNet18-trunk ProtoPNet model file"
swift build -c release --package-path cli --product prpkit-run
RUN=cli/.build/release/prpkit-run
MODEL=Tests/PRPKitTests/Fixtures/models/protopnet_resnet18_layer1
"$RUN" forward --model "$MODEL.prpkit" --input "$MODEL.io.safetensors"
"$RUN" prp --model "$MODEL.prpkit" --input "$MODEL.io.safetensors" --prototypes 0,7 --location max
