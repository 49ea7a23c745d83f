"""MkDocs hook: the reference pages that are generated, so that they cannot drift.

- reference/c-api.md from include/prpkit.h: its opening comment (worked example and
  conventions) as prose, then each "---- Section ----" of declarations verbatim;
- reference/cli.md from the argparse parsers of the `prpkit` command (prpkit.cli's
  build_parser) and from `prpkit-run help` of the Swift tool (cli/.build/release/prpkit-run,
  or $PRPKIT_RUN). A missing tool or parser is a warning, which fails the strict build.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.generate")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECTION = re.compile(r"^/\* ---- (.+?) -+ \*/$")


def fenced(lang: str, text: str) -> str:
    return f"```{lang}\n{text.strip(chr(10))}\n```\n"


def header_intro(comment: list[str]) -> str:
    """The opening /* ... */ comment as Markdown: 4-space-indented runs (blank lines
    inside them included) become C blocks; divider lines of dashes are dropped."""
    lines = [re.sub(r"^ \*( |$)", "", ln) for ln in comment[1:-1]]  # drop "/*" and " */"
    lines = [ln for ln in lines if not re.fullmatch(r"-{20,}", ln)]
    out, code = [], []
    for i, ln in enumerate(lines):
        blank_inside = ln == "" and code and any(l.startswith("    ") for l in lines[i + 1:i + 2])
        if ln.startswith("    ") or blank_inside:
            code.append(ln[4:])
            continue
        if code:
            out += [fenced("c", "\n".join(code))]
            code = []
        if ln.startswith(" - ") and out and out[-1] and not out[-1].startswith((" - ", "   ")):
            out.append("")  # Markdown needs a blank line before a list
        out.append(ln)
    if code:
        out.append(fenced("c", "\n".join(code)))
    return "\n".join(out)


def c_api_page() -> str:
    path = os.path.join(ROOT, "include", "prpkit.h")
    with open(path, encoding="utf-8") as f:
        text = f.read().splitlines()
    end = text.index(" */")
    intro = header_intro(text[:end + 1])
    sections: list[tuple[str, list[str]]] = [("Preamble: includes and version macros", [])]
    for ln in text[end + 1:]:
        m = SECTION.match(ln)
        if m:
            sections.append((m.group(1), []))
        else:
            sections[-1][1].append(ln)
    page = ["# C API reference", "",
            "Generated from `include/prpkit.h`, the single source of truth for the ABI: every "
            "declaration below is the header's, with its comments.", "",
            "## Overview", "", intro, ""]
    for title, body in sections:
        body_text = "\n".join(body)
        body_text = re.sub(r"#ifdef __cplusplus\n(extern \"C\" \{|\})\n#endif\n?", "", body_text)
        body_text = re.sub(r"#endif /\* PRPKIT_H \*/\s*$", "", body_text)
        if body_text.strip():
            page += [f"## {title}", "", fenced("c", body_text), ""]
    return "\n".join(page)


def parser_sections(parser: argparse.ArgumentParser, name: str) -> list[str]:
    out = [f"### `{name}`", "", fenced("text", parser.format_help()), ""]
    for action in parser._actions:  # argparse keeps its subcommands here
        if isinstance(action, argparse._SubParsersAction):
            for sub, p in action.choices.items():
                out += parser_sections(p, f"{name} {sub}")
    return out


def prpkit_run_sections() -> list[str]:
    exe = os.environ.get("PRPKIT_RUN") or os.path.join(ROOT, "cli", ".build", "release", "prpkit-run")
    if not os.access(exe, os.X_OK):
        log.warning("prpkit-run not found at %s: build it (swift build -c release --package-path cli) "
                    "or set PRPKIT_RUN", exe)
        return []
    out = []
    def helptext(*args: str) -> str:
        return subprocess.run([exe, *args, "--help"], check=True, capture_output=True, text=True).stdout
    top = helptext()
    out += ["### `prpkit-run`", "", fenced("text", top), ""]
    # The subcommand names: the SUBCOMMANDS block, up to its first blank line.
    block = top.split("SUBCOMMANDS:\n")[1].split("\n\n")[0] if "SUBCOMMANDS:\n" in top else ""
    subs = re.findall(r"^  (\w[\w-]*) ", block, re.M)
    if not subs:
        log.warning("prpkit-run --help lists no subcommands")
    for sub in subs:
        if sub != "help":
            out += [f"### `prpkit-run {sub}`", "", fenced("text", helptext(sub)), ""]
    return out


def cli_page() -> str:
    page = ["# Command-line reference", "",
            "Generated from the programs themselves: the `prpkit` command's argparse parsers and "
            "the Swift tool's `--help`. `prpkit` is the Python package's console script (also "
            "`python -m prpkit`); `prpkit-run` is the Swift command line for harnesses "
            "(`swift build -c release --package-path cli`). Both take `--location max|H,W|all` "
            "with `--threshold T`, and print the same `info`.", "",
            "## prpkit", ""]
    try:
        from prpkit.cli import build_parser
    except ImportError as e:
        log.warning("cannot import prpkit.cli (%s): install the package (pip install ./python)", e)
    else:
        os.environ.setdefault("COLUMNS", "100")  # argparse wraps to the terminal width
        page += parser_sections(build_parser(), "prpkit")
    page += ["## prpkit-run", ""] + prpkit_run_sections()
    return "\n".join(page)


def on_files(files, config):
    for uri, make in (("reference/c-api.md", c_api_page), ("reference/cli.md", cli_page)):
        files.append(File.generated(config, uri, content=make()))
    return files
