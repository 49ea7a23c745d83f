"""The package's structure: no import cycle among prpkit's modules, counting the imports
made inside functions too (tools/import_cycles.py)."""
from __future__ import annotations

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location("import_cycles", os.path.join(ROOT, "tools", "import_cycles.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_no_import_cycle():
    tool = _tool()
    mods = tool.modules()
    assert "prpkit._export" in mods and "prpkit._rules_from_torch" in mods, sorted(mods)
    assert tool.cycles(tool.imports(mods, lazy=True)) == set()


def test_the_checker_finds_a_cycle():
    tool = _tool()
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert tool.cycles(edges) == {("a", "b", "c")}
