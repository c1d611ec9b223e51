"""Every Redis key of the SMS bridge, built in one place under ``{key_prefix}:sms``.

The whole data model on one screen::

    {p}:sms:job:{conv}:{seq}   hash    one peer message waiting to be sent: to, parts
                                        (JSON list), next (index of the next part),
                                        failing_since, attempts, last_code. Holds the
                                        phone number; deleted once sent, failed or
                                        cancelled.
    {p}:sms:conv:{conv}        list    seqs of the conversation's waiting messages, in
                                        send order; the head is the one being sent
    {p}:sms:ready              zset    conversations with something to send, scored by
                                        the time they may next be tried (backoff)
    {p}:sms:inflight           zset    conversations a worker holds, scored by lease
                                        deadline; an expired lease goes back to ready
    {p}:sms:lease              hash    conv -> token of the worker holding it
    {p}:sms:rcpt:{conv}:{seq}  hash    delivery receipt (no number, no text): parts,
                                        state, code, delivered, d:{MessageSid} marks;
                                        expires after the receipt TTL
    {p}:sms:sid:{MessageSid}   hash    conv, seq of a sent part, for status callbacks
    {p}:sms:pace:{from hash}   string  next free send slot of a sending number
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SmsKeys:
    """Key builders for one ``key_prefix``."""

    prefix: str

    @property
    def base(self) -> str:
        return f"{self.prefix}:sms"

    def job(self, conversation_id: str, seq: int) -> str:
        return f"{self.base}:job:{conversation_id}:{seq}"

    def conversation(self, conversation_id: str) -> str:
        return f"{self.base}:conv:{conversation_id}"

    @property
    def ready(self) -> str:
        return f"{self.base}:ready"

    @property
    def inflight(self) -> str:
        return f"{self.base}:inflight"

    @property
    def lease(self) -> str:
        return f"{self.base}:lease"

    def receipt(self, conversation_id: str, seq: int) -> str:
        return f"{self.base}:rcpt:{conversation_id}:{seq}"

    def message_sid(self, sid: str) -> str:
        return f"{self.base}:sid:{sid}"

    def pace(self, from_hash: str) -> str:
        return f"{self.base}:pace:{from_hash}"
