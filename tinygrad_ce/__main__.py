"""``python -m tinygrad_ce`` runs the ``tinygrad-ce`` command."""

import sys

from tinygrad_ce.cli import main

sys.exit(main())
