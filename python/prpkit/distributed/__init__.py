"""prpkit on a Ray cluster: `explain` and `evaluate` as `prpkit explain … --ray` and
`prpkit evaluate … --ray` run them, from Python.

Each Ray actor loads the model once, from the model file's bytes put in the object store
by the driver (never by reading the file per task); shards of the input list go to the
actors as tasks; the driver writes every result through the same streaming, resumable
writer as a local run, in the input order, so the records equal a local run's. A shard
whose actor dies is computed again (the actor restarts and loads the model again) and
nothing is written twice. Ray is an optional extra: ``pip install 'prpkit[ray]'``.

    import prpkit.distributed as pd
    pd.explain(["data/test/"], "out/", top_k=3, address="auto")
    pd.evaluate(["data/test/"], "pointing.jsonl", "pointing", masks="data/masks", address="auto")
"""

from ._api import evaluate, explain
from ._engine import RayStats, run_on_ray

__all__ = ["explain", "evaluate", "run_on_ray", "RayStats"]
