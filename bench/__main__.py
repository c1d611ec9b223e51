"""``python -m bench [--quick] [--runs N]``: see docs/performance.md; ``python -m bench stats``:
the program statistics on a year of conversations (bench/program.py)."""

import sys

if sys.argv[1:2] == ["stats"]:
    from bench.program import main as stats_main

    sys.exit(stats_main(sys.argv[2:]))

from bench.run import main

sys.exit(main())
