"""``python -m bench [--quick] [--runs N]``: see docs/performance.md."""

import sys

from bench.run import main

sys.exit(main())
