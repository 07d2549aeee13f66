"""`python -m bot` is the same program as `citebot`."""

import sys

from bot.cli import main

sys.exit(main())
