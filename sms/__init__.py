"""The SMS bridge: Twilio webhooks in, the Twilio Messages API out.

One module per concept: :mod:`sms.signature` (webhook signatures), :mod:`sms.keywords`
(STOP/HELP/... classification), :mod:`sms.texts` (what the service says by text),
:mod:`sms.segments` (splitting long peer messages), :mod:`sms.hashing` (phone numbers to
HMAC ids), :mod:`sms.sender` (the official twilio client, outcomes classified),
:mod:`sms.outbox` (the Redis-backed, ordered, paced, retrying outbox) and
:mod:`sms.twilio_server` (a local Twilio-compatible server for tests and the simulator).
"""
