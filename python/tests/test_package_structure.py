"""The package's structure: no import cycle among prpkit's modules, counting the imports
made inside functions too (tools/import_cycles.py); no module longer than 400 lines; one
module converts torch modules."""
from __future__ import annotations

import ast
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


def _callers(names: set[str]) -> dict[str, set[str]]:
    """{called name: modules of prpkit that call it} for calls spelled `name(...)` or
    `anything.name(...)`."""
    found: dict[str, set[str]] = {n: set() for n in names}
    for module, path in _tool().modules().items():
        tree = ast.parse(open(path, encoding="utf-8").read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                if name in found:
                    found[name].add(module)
    return found


def test_one_module_converts_torch_modules_and_caches_them():
    """torch → Model conversion (the fx trace, the native load of the converted graph) and
    its cache are used in prpkit._convert alone: LRP, LayerLRP, prp() and the composite
    functions ask it, none converts on its own (issue 11, item 5)."""
    callers = _callers({"graph_from_torch", "convert_with_rules", "cached", "load_from_memory"})
    assert callers == {"graph_from_torch": {"prpkit._convert"}, "convert_with_rules": {"prpkit._convert"},
                       "cached": {"prpkit._convert"}, "load_from_memory": {"prpkit._convert"}}, \
        callers
