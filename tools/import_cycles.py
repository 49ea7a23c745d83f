#!/usr/bin/env python3
"""Lists import cycles among the modules of python/prpkit (module-level imports, and with
--lazy also the imports inside functions). Exit status 1 when there is one.

    python3 tools/import_cycles.py [--lazy]
"""
from __future__ import annotations

import ast
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python")


def modules() -> dict[str, str]:
    found = {}
    for dirpath, _, files in os.walk(os.path.join(ROOT, "prpkit")):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found[name.removesuffix(".__init__")] = path
    return found


def imports(mods: dict[str, str], lazy: bool) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        tree = ast.parse(open(path, encoding="utf-8").read())
        nodes = ast.walk(tree) if lazy else tree.body
        for node in nodes:
            if not isinstance(node, ast.ImportFrom) or node.level == 0:
                continue
            pkg = m if path.endswith("__init__.py") else m.rsplit(".", 1)[0]
            for _ in range(node.level - 1):
                pkg = pkg.rsplit(".", 1)[0]
            base = pkg + ("." + node.module if node.module else "")
            for alias in node.names:
                target = base + "." + alias.name if base + "." + alias.name in mods else base
                # `from . import _core` names the compiled extension, not the package
                if target in mods and target != m and not (target == pkg and node.module is None):
                    edges[m].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> set[tuple[str, ...]]:
    found, state = set(), {}

    def visit(u, stack):
        state[u] = "open"
        for v in sorted(edges[u]):
            if state.get(v) == "open":
                found.add(tuple(stack[stack.index(v):]))
            elif v not in state:
                visit(v, stack + [v])
        state[u] = "done"

    for u in sorted(edges):
        if u not in state:
            visit(u, [u])
    return found


def main() -> int:
    lazy = "--lazy" in sys.argv[1:]
    found = cycles(imports(modules(), lazy))
    for c in sorted(found):
        print(" → ".join(c + (c[0],)))
    print(f"{len(found)} import cycle(s) among prpkit's modules ({'all' if lazy else 'module-level'} imports)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
