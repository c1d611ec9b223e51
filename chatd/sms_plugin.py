"""The SMS bridge in a chatd process: started in the lifespan with the process's resources.

Every process answers Twilio's webhooks; a worker process also consumes ``P:sms:events`` and
sends from the outbox (the idle end is routing's generic ``idle`` timer). The bridge itself (sms/bridge.py) knows
nothing of chatd: it is handed what it uses here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from chatd.services import Services, stop_all
from routing.worker import Worker
from sms.bridge import SmsBridge, credentials
from sms.outbox import DeliveryState, Outbox
from sms.sender import TwilioSender


async def start_sms(services: Services, worker: Worker | None) -> Callable[[], Awaitable[None]]:
    """Start the bridge in this process (``services.sms``); returns its teardown, run at shutdown."""
    settings = services.settings
    creds = credentials(settings)
    simulator = None
    api_base = settings.twilio_api_base
    if creds.simulated:
        from sms.simulator import Simulator
        simulator = Simulator(creds, settings)
        api_base = await simulator.start()
    sender = TwilioSender(creds.account_sid, creds.auth_token, creds.from_number, api_base=api_base,
                          status_callback_url=settings.public_url + "/sms/status")
    holder: dict[str, SmsBridge] = {}

    async def on_delivery(conv: str, seq: int, state: DeliveryState, code: str | None) -> None:
        await holder["bridge"].on_delivery(conv, seq, state, code)

    outbox = Outbox(services.redis, sender, settings, on_delivery)
    bridge = SmsBridge(redis=services.redis, engine=services.engine, records=services.store, keys=services.keys,
                       settings=settings, risk=services.risk, creds=creds, outbox=outbox, sender=sender)
    holder["bridge"] = bridge
    services.sms = bridge
    services.sms_simulator = simulator
    # The language model loads in a thread; texts that come meanwhile are answered bilingually.
    langid_load = asyncio.create_task(bridge.langid.load(), name="sms-langid-load")
    consumer: asyncio.Task[None] | None = None
    if worker is not None:
        # The consumer works in the one worker holding the lease; the outbox in every worker
        # (its own leases keep each conversation's texts in order).
        consumer = asyncio.create_task(bridge.consume(worker), name="sms-consumer")
        outbox.start()

    async def teardown() -> None:
        await stop_all([langid_load])
        if consumer is not None:
            await stop_all([consumer])
        await outbox.aclose()
        await sender.aclose()
        if simulator is not None:
            await simulator.aclose()

    return teardown
