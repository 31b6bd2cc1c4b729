"""`python -m assistant` is the `parley` command."""

import sys

from assistant.cli import main

sys.exit(main())
