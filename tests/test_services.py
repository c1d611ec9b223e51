"""Stopping a process's tasks: bounded, even for a task that loses its cancellation."""

from __future__ import annotations

import asyncio

from chatd.services import STOP_TRIES, stop_all


async def test_a_task_that_swallows_its_cancellation_is_cancelled_again() -> None:
    cancels = 0

    async def stubborn() -> None:
        nonlocal cancels
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancels += 1
                if cancels == 1:
                    continue  # lost, as Python 3.11's asyncio.timeout can lose one
                raise

    async def plain() -> None:
        await asyncio.sleep(3600)

    tasks = [asyncio.create_task(stubborn()), asyncio.create_task(plain())]
    await asyncio.sleep(0)
    await asyncio.wait_for(stop_all(tasks), timeout=STOP_TRIES * 2)
    assert all(task.cancelled() for task in tasks)
    assert cancels == 2


async def test_a_task_that_failed_is_stopped_with_the_rest() -> None:
    async def failing() -> None:
        raise ValueError("a bug")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    await stop_all([task])  # its exception is retrieved and logged, not raised
    assert isinstance(task.exception(), ValueError)
