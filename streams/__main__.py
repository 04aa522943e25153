"""`python -m streams`: the `sre-streams` command."""

import sys

from streams.cli.main import main

sys.exit(main())
