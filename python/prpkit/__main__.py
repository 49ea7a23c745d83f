"""``python -m prpkit``: the prpkit command line (see the prpkit.cli package)."""

import sys

from .cli import main

sys.exit(main())
