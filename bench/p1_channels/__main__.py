"""``python -m bench.p1_channels PORT REDIS_URL``: P1 under uvicorn with chatd's settings."""

from __future__ import annotations

import os
import sys

from bench.baselines import uvicorn_run


def main(argv: list[str]) -> int:
    port, redis_url = int(argv[0]), argv[1]
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.p1_channels.settings"
    os.environ["P1_REDIS_URL"] = redis_url
    from bench.p1_channels.asgi import application

    uvicorn_run(application, port)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
