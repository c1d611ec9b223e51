"""``python -m bench [--quick] [--runs N]``, or ``python -m bench scale``: see docs/performance.md."""

import sys

if sys.argv[1:2] == ["scale"]:
    from bench.scale import main

    sys.exit(main(sys.argv[2:]))

from bench.run import main as run_main

sys.exit(run_main())
