"""Background loops that retry on any error must still stop when they are cancelled.

A loop of the shape ``while True: try: ... except Exception: log, back off`` can swallow its own
cancellation when the ``CancelledError`` is turned into another exception on its way up: on
Python 3.11, ``asyncio.timeout`` (inside redis-py) can convert a cancellation that lands as the
timeout expires into ``TimeoutError`` (fixed in 3.12), and a library that catches the
cancellation while connecting can re-raise it as its own error. The task then keeps running
after shutdown cancelled it and opens connections that nothing closes. The request is still
counted by the task (``Task.cancelling()``, Python 3.11+), so a loop asks before it retries.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelling() -> None:
    """Raise ``CancelledError`` when the current task has a cancellation request that an
    exception hid; call it in a retry loop's ``except Exception`` before backing off."""
    task = asyncio.current_task()
    if task is not None and task.cancelling() > 0:
        raise asyncio.CancelledError
