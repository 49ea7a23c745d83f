"""The migration guides' code runs as printed: docs/from-captum.md and
docs/from-cabrnet.md, every ```python block of a page in order, in one namespace. Each
page ends with a block that compares prpkit with the reference it replaces (Captum 0.9,
CaBRNet 1.2) within a tolerance stated and justified on the page."""
from __future__ import annotations

import os
import re

import pytest

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "docs")
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def blocks(page: str) -> list[str]:
    with open(os.path.join(DOCS, page), encoding="utf-8") as f:
        return BLOCK.findall(f.read())


@pytest.mark.parametrize("page, needs", [("from-captum.md", ("torch", "captum")),
                                         ("from-cabrnet.md", ("torch", "captum", "cabrnet", "PIL"))])
def test_migration_guide_runs(page, needs):
    for module in needs:
        pytest.importorskip(module)
    code = blocks(page)
    assert len(code) >= 3 and "assert_allclose" in code[-1], f"{page}: expected setup, before/after and a check"
    namespace: dict = {"__name__": "docs_example"}
    for i, block in enumerate(code):
        exec(compile(block, f"{page} block {i + 1}", "exec"), namespace)
