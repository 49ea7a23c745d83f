"""`prpkit` / `python -m prpkit`: parse the arguments, run the command, map every error to
one line on stderr and an exit status."""

from __future__ import annotations

import os
import sys
from typing import Sequence

from .errors import CLIError
from .model import BUNDLED_SAMPLES
from .parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        if not (args.cflags or args.libs):
            parser.error("a command is required")
        from .. import _capi
        try:
            print(" ".join(f() for f, wanted in ((_capi.cflags, args.cflags), (_capi.libs, args.libs)) if wanted))
        except FileNotFoundError as e:
            print(f"prpkit: error: {e}", file=sys.stderr)
            return 1
        return 0
    try:
        if args.command in ("explain", "evaluate") and not args.images:
            args.images = [BUNDLED_SAMPLES]
        return int(args.func(args) or 0)
    except CLIError as e:
        print(f"prpkit: error: {e}", file=sys.stderr)
        return e.status
    except BrokenPipeError:  # e.g. `prpkit info | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("prpkit: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - one line for scripts, not a traceback
        if os.environ.get("PRPKIT_DEBUG"):
            raise
        print(f"prpkit: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
