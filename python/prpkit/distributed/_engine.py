"""The Ray engine: actors that each load the model once from the object store, shards of
the input list as their tasks, results handed to the driver's streaming writer in the
order they arrive (the writer puts them in input order), shards of a dead actor retried."""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..cli.errors import CLIError
from ..cli.work import RunModel

RAY_HINT = "pip install 'prpkit[ray]'"
IN_FLIGHT = 2  # shards queued per actor, so that none waits for the driver between two
PROBES, PROBE_PAUSE = 60, 0.5  # how long (≈ 30 s) a failed actor may take to come back


@dataclass
class RayStats:
    """What a Ray run did: actors, shards, retried shards (a failed attempt each), and per
    actor process (pid) its model loads, shards computed and seconds spent computing them
    (``busy_s``)."""

    workers: int = 0
    shards: int = 0
    retried: int = 0
    write_s: float = 0.0  # the driver's time writing results (files, records, journal)
    per_process: dict[int, dict] = field(default_factory=dict)


def ray_module():
    try:
        import ray
    except ImportError:
        raise CLIError(f"--ray needs Ray ({RAY_HINT})") from None
    return ray


class PRPKitWorker:
    """A Ray actor: one model and its computation. The model comes with every task as a
    reference to the file's bytes in the object store (wrapped in a list, so that Ray hands
    it over unresolved); the actor fetches and loads it on its first task only — once per
    process, also after a restart, and with no constructor argument a restart could lose.
    The driver's working directory is entered, so relative input paths mean the same."""

    def __init__(self, work_cls, cfg: dict, bounds, threads: int, cwd: str) -> None:
        import prpkit
        if os.path.isdir(cwd):
            os.chdir(cwd)
        if threads:
            prpkit.set_num_threads(threads)
        self.work_cls, self.cfg, self.bounds = work_cls, cfg, tuple(bounds)
        self.work = None
        self.loads, self.shards, self.busy = 0, 0, 0.0

    def run(self, batch, model_ref: list):
        if self.work is None:
            import ray
            try:
                work = self.work_cls(self.cfg, RunModel(bytes(ray.get(model_ref[0])), self.bounds))
                work.model.get()
            except Exception as e:  # noqa: BLE001 - the run stops with this one line
                raise CLIError(f"a Ray worker could not start ({type(e).__name__}: {e})", status=1) from None
            self.work, self.loads = work, self.loads + 1
        self.shards += 1
        t0 = time.perf_counter()
        try:
            return self.work.run(batch)
        finally:
            self.busy += time.perf_counter() - t0

    def stats(self) -> tuple[int, dict]:
        source = None if self.work is None else type(self.work.model.source).__name__
        return os.getpid(), {"model_loads": self.loads, "shards": self.shards, "busy_s": self.busy,
                             "model_from": source}


def _fail_if_cannot_start(e: Exception) -> None:
    """An actor whose constructor raised (no model, no prpkit on a node) will not do better
    restarted: stop with its error's last line."""
    if getattr(e, "actor_init_failed", False):
        lines = [ln for ln in str(e).splitlines() if ln.strip()]
        raise CLIError(f"a Ray worker could not start ({lines[-1].strip() if lines else type(e).__name__})",
                       status=1) from None


def run_on_ray(work, items: Sequence, stream, *, batch_size: int, address: str | None = None, workers: int = 0,
               threads: int = 1, on_progress: Callable[[int], None] = lambda n: None,
               max_attempts: int = 4) -> RayStats:
    """Computes the images ``stream`` still lacks on a Ray cluster and writes them.

    ``work``: an ExplainWork or EvaluateWork (its options and model); ``items``: the run's
    inputs; shards of ``batch_size`` images; ``workers`` actors (0: the cluster's CPUs /
    ``threads``), ``threads`` CPUs and native threads each; a shard is tried at most
    ``max_attempts`` times. Connects to ``address`` (None: RAY_ADDRESS or a new local
    cluster) unless Ray is already initialised, and disconnects only if it connected."""
    ray = ray_module()
    from ray.exceptions import RayError, RayTaskError
    connected = False
    if not ray.is_initialized():
        ray.init(address=address or None, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        connected = True
    stats = RayStats()
    actors = []
    try:
        n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)) // max(threads, 1))
        source = work.model.source
        if not isinstance(source, (bytes, bytearray)):
            with open(source, "rb") as f:
                source = f.read()
        model_ref = ray.put(source)  # once: every actor (and a restarted one) fetches it from the object store
        actor_cls = ray.remote(PRPKitWorker).options(num_cpus=threads, max_restarts=-1, max_task_retries=0)
        actors = [actor_cls.remote(type(work), work.cfg, list(work.model.bounds), threads, os.getcwd())
                  for _ in range(n)]
        stats.workers = n
        todo = list(range(stream.next, len(items)))
        shards = [todo[b:b + batch_size] for b in range(0, len(todo), batch_size)]
        stats.shards = len(shards)
        queue, attempts = deque(range(len(shards))), [0] * len(shards)
        inflight: dict = {}           # task → (shard, actor)
        pings: dict = {}              # probe of an actor that failed → (actor, failed probes so far)
        down: set[int] = set()        # actors given no shard until a probe answers
        load = [0] * n
        received = stream.next
        last_error = ""
        while queue or inflight:
            for a in range(n):
                while a not in down and load[a] < IN_FLIGHT and queue:
                    s = queue.popleft()
                    attempts[s] += 1
                    ref = actors[a].run.remote([(i, items[i]) for i in shards[s]], [model_ref])
                    inflight[ref] = (s, a)
                    load[a] += 1
            if not inflight and len(down) == n and not pings:
                raise CLIError(f"every Ray worker failed ({last_error})", status=1)
            ready, _ = ray.wait(list(inflight) + list(pings), num_returns=1, timeout=1.0)
            for ref in ready:
                if ref in pings:
                    a, failures = pings.pop(ref)
                    try:
                        ray.get(ref)
                        down.discard(a)  # restarted (a new process, which loaded the model again)
                    except RayError as e:
                        _fail_if_cannot_start(e)
                        last_error = type(e).__name__
                        if failures + 1 < PROBES:
                            time.sleep(PROBE_PAUSE)
                            pings[actors[a].stats.remote()] = (a, failures + 1)
                    continue
                s, a = inflight.pop(ref)
                load[a] -= 1
                try:
                    results = ray.get(ref)
                except RayTaskError as e:  # the computation itself failed: no retry helps
                    cause = getattr(e, "cause", None)
                    raise (cause if isinstance(cause, Exception) else CLIError(str(e), status=1)) from None
                except RayError as e:  # the actor or its node died: the shard goes to a live actor
                    _fail_if_cannot_start(e)
                    last_error = type(e).__name__
                    if attempts[s] >= max_attempts:
                        raise CLIError(f"{len(shards[s])} image(s) from {items[shards[s][0]].label} failed "
                                       f"{attempts[s]} times on the Ray cluster ({type(e).__name__})",
                                       status=1) from None
                    stats.retried += 1
                    queue.appendleft(s)
                    if a not in down:
                        down.add(a)
                        pings[actors[a].stats.remote()] = (a, 0)
                    continue
                t0 = time.perf_counter()
                for r in results:
                    stream.add(r)
                stats.write_s += time.perf_counter() - t0
                received += len(results)
                on_progress(received)
        for pid, st in ray.get([a.stats.remote() for a in actors]):
            stats.per_process[pid] = st
    finally:
        for a in actors:
            ray.kill(a)
        if connected:
            ray.shutdown()
    return stats
