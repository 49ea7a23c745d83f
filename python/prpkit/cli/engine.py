"""Where a run's batches are computed — this process, or a Ray cluster with ``--ray`` — and
the streaming writer they all go through (cli/stream.py): the run can be interrupted at any
point (SIGINT, SIGTERM, SIGKILL) and resumed with ``--resume``."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from typing import Sequence

from .errors import CLIError
from .progress import progress
from .stream import RecordStream, file_digest


class Interrupted(KeyboardInterrupt):
    """SIGTERM, delivered like SIGINT so that the run stops between two writes."""


@contextlib.contextmanager
def terminate_as_interrupt():
    def handler(signum, frame):
        raise Interrupted()
    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run_fingerprint(command: str, model_path: str, cfg: dict) -> dict:
    """What decides a run's records: the command, the model file's digest and the options
    (as JSON values, so that a journal read back compares equal)."""
    return json.loads(json.dumps({"command": command, "model_sha256": file_digest(model_path), **cfg}))


def stream_run(work, items: Sequence, stream: RecordStream, args, label: str, where: str) -> RecordStream:
    """Computes the images a resumed stream still lacks and writes them; on an interrupt
    says how far the run got and how to finish it."""
    t_start = time.perf_counter()
    show = not args.quiet and sys.stderr.isatty()
    total = len(items)

    def report(done: int) -> None:
        progress(done, total, show, t_start, label)

    try:
        with terminate_as_interrupt():
            report(stream.next)
            if getattr(args, "ray", None) is not None:
                from ..distributed._engine import run_on_ray
                args.ray_stats = run_on_ray(work, items, stream, batch_size=args.batch_size,
                                            address=args.ray or None, workers=args.ray_workers,
                                            threads=args.threads or 1, on_progress=report)
            else:
                todo = list(range(stream.next, total))
                for b0 in range(0, len(todo), args.batch_size):
                    for r in work.run([(i, items[i]) for i in todo[b0:b0 + args.batch_size]]):
                        stream.add(r)
                    report(stream.next)
    except KeyboardInterrupt as e:
        stream.close()
        if show:
            sys.stderr.write("\n")
        raise CLIError(f"interrupted: {stream.next} of {total} image(s) complete in {where}; run the same "
                       f"command with --resume to finish", status=143 if isinstance(e, Interrupted) else 130) from None
    except BaseException:
        stream.close()
        if stream.next and not args.quiet:
            print(f"prpkit: note: {stream.next} of {total} image(s) complete in {where}; --resume continues",
                  file=sys.stderr)
        raise
    stream.close()
    if not stream.complete:  # an engine returned early: never call a partial run done
        raise CLIError(f"only {stream.next} of {total} image(s) were computed", status=1)
    return stream
