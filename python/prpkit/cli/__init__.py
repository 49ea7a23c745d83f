"""The ``prpkit`` command line (also ``python -m prpkit``).

    prpkit info [--model M] [--json]
    prpkit convert (--module pkg.mod:attr | --cabrnet-config CFG.yml [--checkpoint W.pth])
                   --input-shape C,H,W --out M.prpkit [--mean ... --std ... --class-names ...]
                   [--projection-info projection_info.csv [--projection-images DIR]]
    prpkit evaluate [--model M] IMAGES... --metric pointing|deletion|insertion --out R.jsonl
                    [--masks DIR | --mask-threshold T] [--area-percentage A]
                    [--steps S] [--baseline zero|blur] [--target similarity|class] [--report]
    prpkit explain [--model M] IMAGES... --out DIR
                   [--prototypes 0,3,7 | --top-k K | --predicted-class]
                   [--location max | H,W | all] [--threshold T]
                   [--mean R,G,B --std R,G,B] [--batch-size B] [--colormap jet|viridis|bwr|coldnhot]
                   [--alpha A] [--colorbar] [--panels] [--report]
    explain / evaluate also take [--resume] [--no-timings] [--ray [ADDRESS] [--ray-workers N]]

Without ``--model`` the bundled default is used: a CaBRNet ProtoPNet trained on
scikit-learn's digits (``prpkit/data/digits_protopnet.prpkit``, its sample images in
``prpkit/data/samples``; see tools/train_bundled_model.py). A model's sidecar JSON
(same path, ``.json`` instead of ``.prpkit``) supplies its input normalisation, class
names, prototype → class map and, optionally, each prototype's projection ("projection":
CaBRNet's proto_idx, img_idx, h, w, score, plus "image", the source file relative to the
JSON; ``explain --panels`` shows it).

``explain`` writes, per (image, prototype): ``<image>_p<id>.png`` (heatmap overlay),
``<image>_p<id>.npy`` (raw PRP relevance, (C, H, W) float32, before post-processing)
and one JSON line in ``records.jsonl``; with ``--panels`` also ``<image>_panel.png`` ("this
looks like that": a row per prototype with its source); with ``--report``
``<out>/report/index.html`` (a sortable table of the records; evaluate's is beside its
--out, with the curves). Reading pictures and writing the overlays need Pillow (``pip
install 'prpkit[images]'``); without it, ``.npy`` inputs still give the relevance files and
the records (``"heatmap": null``), with a note on stderr. All inputs are validated before
anything is written. The output streams: each image's files are written atomically and its
records appended as it finishes, in the input order; an interrupted run (Ctrl-C, SIGTERM,
even SIGKILL) continues with ``--resume`` (see ``stream``); ``--ray`` computes on a Ray
cluster (``prpkit.distributed``). Errors print one line ``prpkit: error: ...`` and exit
with status 2 (bad arguments or inputs) or 1 (failure while computing).

One module per concept: ``entry`` (main, error mapping), ``parser`` (the argparse tree),
``info`` / ``explain`` / ``evaluate`` / ``convert`` (the commands), ``panels`` and
``projection`` (explain --panels, convert --projection-info), ``report`` (--report), ``run`` (what explain
and evaluate share), ``model`` (model file, metadata, composite), ``inputs``
(arguments → validated images, batches), ``masks``, ``overlay`` (the map shown, its PNG via prpkit.viz),
``options``, ``progress``, ``errors``; ``stream`` (the streaming, resumable writer), ``engine`` (where
batches run: here or on Ray), ``explain_work`` / ``evaluate_work`` (a batch's computation, the same
in a Ray actor), ``work`` (the model a worker loads).
"""

# The names scripts and tests use as ``prpkit.cli.<name>``.
from .entry import main
from .errors import CLIError
from .inputs import collect_items, load_batch
from .masks import find_masks, read_mask
from .model import (BUNDLED_MODEL, BUNDLED_SAMPLES, DATA_DIR, IMAGENET_MEAN, IMAGENET_STD, load_metadata, load_model,
                    zbeta_bounds)
from .options import parse_floats
from .parser import build_parser
from .run import _Size

__all__ = ["main"]
