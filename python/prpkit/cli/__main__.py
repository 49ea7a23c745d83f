"""``python -m prpkit.cli``: the same command as ``python -m prpkit``."""

import sys

from .entry import main

sys.exit(main())
