"""The package's structure: no import cycle among prpkit's modules, counting the imports
made inside functions too (tools/import_cycles.py), and no module longer than 400 lines."""
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


MAX_LINES = 400  # a file of one concept fits on a few screens (issue 11)


def _long_files(root: str, limit: int) -> dict[str, int]:
    long = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                with open(path, encoding="utf-8") as fh:
                    n = sum(1 for _ in fh)
                if n > limit:
                    long[os.path.relpath(path, root)] = n
    return long


def test_no_module_over_400_lines():
    root = os.path.join(ROOT, "python", "prpkit")
    assert os.path.isfile(os.path.join(root, "__init__.py")), root
    assert _long_files(root, MAX_LINES) == {}


def test_the_length_check_counts_lines(tmp_path):
    (tmp_path / "short.py").write_text("x = 1\n" * 3)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "long.py").write_text("x = 1\n" * 5)
    (tmp_path / "notes.txt").write_text("x\n" * 9)
    assert _long_files(str(tmp_path), 4) == {os.path.join("pkg", "long.py"): 5}
