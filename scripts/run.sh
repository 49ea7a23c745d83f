#!/usr/bin/env bash
# The main job, on a fresh machine: build everything (Swift core, libprpkit.so, the
# Python package) and explain the bundled small ProtoPNet (CaBRNet architecture, ResNet18
# trunk up to layer1, 20 prototypes) on its bundled inputs: forward pass, then PRP
# relevance of two prototypes at their most similar location.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product prpkit-run
python3 -m pip install -q ./python
MODEL=Tests/PRPKitTests/Fixtures/models/protopnet_resnet18_layer1
RUN=.build/release/prpkit-run
echo "== model"
"$RUN" info --model "$MODEL.prpkit" | head -4
echo "== forward (2 images)"
"$RUN" forward --model "$MODEL.prpkit" --input "$MODEL.io.safetensors"
echo "== PRP relevance, prototypes 0 and 7, location max"
mkdir -p out
"$RUN" prp --model "$MODEL.prpkit" --input "$MODEL.io.safetensors" --prototypes 0,7 --location max \
    --out out/prp_relevance.safetensors
