"""`python -m assist …` is the `assist` command."""

import sys

from assist.cli import main

sys.exit(main())
