"""Loads the routing Lua scripts, each with the shared ``_lib.lua`` prepended."""

from __future__ import annotations

from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

SCRIPT_NAMES = ("append", "offer", "accept", "release_offer", "end", "release", "escalate",
                "shift", "presence", "forget", "debrief_end", "assigned", "match")


def script_source(name: str) -> str:
    """The full source of one script: the shared helpers, then the script itself."""
    pkg = resources.files("routing")
    lib = pkg.joinpath("_lib.lua").read_text(encoding="utf-8")
    return lib + "\n" + pkg.joinpath(f"{name}.lua").read_text(encoding="utf-8")


class Scripts:
    """The registered scripts; calling one reloads it by itself after a Redis restart (NOSCRIPT)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.prefix = prefix
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(script_source(name)) for name in SCRIPT_NAMES}

    async def call(self, name: str, *args: Any) -> Any:
        """Run script ``name`` with ARGV = (prefix, *args)."""
        return await self._scripts[name](keys=[], args=[self.prefix, *args])
