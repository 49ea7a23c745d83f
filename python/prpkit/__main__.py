"""``python -m prpkit``: the prpkit command line (see prpkit.cli)."""

import sys

from .cli import main

sys.exit(main())
