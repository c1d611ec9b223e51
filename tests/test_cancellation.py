"""A retry loop stops when it is cancelled, even when the cancellation reached it disguised as
another exception (config/cancellation.py)."""

from __future__ import annotations

import asyncio

import pytest

from config.cancellation import raise_if_cancelling


async def test_a_retry_loop_stops_when_its_cancellation_is_hidden_by_another_exception() -> None:
    attempts = 0

    async def connect() -> None:
        # As a client library that catches the cancellation while connecting and raises its own.
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise ConnectionError("cancelled while connecting") from None

    async def loop() -> None:
        nonlocal attempts
        while True:
            try:
                attempts += 1
                await connect()
            except Exception:
                raise_if_cancelling()
                await asyncio.sleep(0.01)

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.05)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=2)
    assert task in done and task.cancelled()
    assert attempts == 1


async def test_a_retry_loop_goes_on_after_an_error_that_is_not_a_cancellation() -> None:
    with pytest.raises(ZeroDivisionError):
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            raise_if_cancelling()  # no cancellation requested: nothing to raise
            raise
