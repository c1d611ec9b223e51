"""``python -m bench [--quick] [--runs N]``; ``python -m bench scale`` (the whole machine, two web
processes); ``python -m bench stats`` (the program statistics on a year of conversations,
bench/program.py). See docs/performance.md."""

import sys

if sys.argv[1:2] == ["stats"]:
    from bench.program import main as stats_main

    sys.exit(stats_main(sys.argv[2:]))

if sys.argv[1:2] == ["scale"]:
    from bench.scale import main as scale_main

    sys.exit(scale_main(sys.argv[2:]))

from bench.run import main as run_main

sys.exit(run_main())
