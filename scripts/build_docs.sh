#!/usr/bin/env bash
# Builds the documentation site into site/ with `mkdocs build --strict` (any warning
# fails: a broken link, a docstring that does not parse, a missing generated page).
# The reference pages are generated from the sources: the C API from include/prpkit.h,
# the CLI from the argparse parsers of the installed prpkit package and from prpkit-run's
# --help (PRPKIT_RUN, default cli/.build/release/prpkit-run), the Python API from the
# docstrings (mkdocstrings). The migration guides' code is run by python/tests.
# Usage: scripts/build_docs.sh             (PYTHON selects the interpreter with prpkit installed)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
NO_MKDOCS_2_WARNING=1 "$PYTHON" -m mkdocs build --strict --quiet --site-dir site
echo "docs: site/ built ($(find site -name '*.html' | wc -l) pages, strict)"
