"""Every Redis key and pub/sub channel of chatd, built under one prefix, in this module only.

The whole live data model on one screen (``P`` is ``CHATD_KEY_PREFIX``, default ``chatd``)::

    P:conv:{c}            hash   state, channel, lang, seq, created, queued, first_queued, band,
                                 peer, peer_name, offer, accepted, risk, escalated, last, ended,
                                 ended_by, outcome, survey, label, forgotten, first_reply (when a peer
                                 first wrote, for /metrics), last_seeker, last_peer,
                                 assigned_at, noreply_alerted, checkin_feeling, checkin_safe,
                                 checkin_at, end_feeling; its channel's needs:
                                 events, idle_ms, archive_delay_ms; SMS: number (while
                                 open), number_hash, sms_lang, sms_queued_notice, sms_notices
    P:conv:{c}:log        list   stored messages, JSON {seq, from, text, at}, in seq order
    P:conv:{c}:cids       hash   client_id -> seq (duplicate sends answer the same ack)
    P:conv:{c}:declined   set    peers who declined or let an offer of it expire
    P:conv:{c}:esc        list   "reason|ms" escalation records
    P:conv:{c}:notes      list   private notes and whispers, JSON {from, text, at, whisper}
    P:once:{id}           string a client id unique across conversations (an SMS MessageSid)
                                 whose work is done: "conv|seq" of its message, or "reply:" and
                                 the keyword's TwiML answer (TTL)
    P:resume:{sha256}     string conversation id of a seeker resume token (token never stored)
    P:queue               zset   waiting/offered conversations, score = band * 1e13 + queued ms
                                 (routing/policy.py: queue_score)
    P:live                set    conversations not yet ended
    P:peer:{u}            hash   state, capacity, active, offers, idle_since, missed, debrief_until,
                                 display, role, langs (set at shift start: "en,fr")
    P:peer:{u}:convs      set    the peer's active conversations
    P:peer:{u}:offers     set    the peer's pending offers
    P:peers:on            set    peers in shift state "on" (what peers_on_shift counts)
    P:peers:shift         set    peers on or on break
    P:offer:{o}           hash   conv, peer, expires, from
    P:timers              zset   "kind|arg" -> deadline ms; the worker owns them
    P:wake                list   nudges for the worker's matching loop (trimmed to 16)
    P:worker              string the worker lease: the token of the one worker working (TTL)
    P:sess:{sha256}       hash   username, created: a console session (TTL)
    P:user:{u}:sess       set    the user's session hashes
    P:loginfail:{h}       string failed logins of a username (h: its SHA-256) in the window (TTL)
    P:loginfail:addr:{h}  string failed logins from a client address (h: its SHA-256) (TTL)
    P:conns:{kind}:{id}   hash   socket id -> process id ("seeker"/"peer" presence)
    P:procs               set    process ids that hold sockets
    P:proc:{p}            string heartbeat (TTL)
    P:proc:{p}:conns      set    "kind|id|socket" held by that process
    P:stats               hash   counters for /metrics
    P:hist:{name}         hash   a histogram for /metrics (routing/histograms.py): b{i}, sum, count
    P:accepts             list   "ms|peers on shift" of the last 100 accepts, newest first
                                 (routing/estimate.py: wait estimates)
    P:fence               string a counter each pipelined batch that waits for replicas increments
                                 just before its WAIT, so the WAIT covers every earlier write
                                 (routing/scripts.py; CHATD_REDIS_MIN_REPLICAS)

    SMS (sms/bridge.py, sms/outbox.py):
    P:sms:events          list   seeker-facing frames of SMS conversations, "conv<TAB>frame",
                                 pushed by the routing scripts for the bridge's consumer
    P:sms:events:processing list the frames the consumer is handling (handled again after a crash)
    P:sms:open:{nh}       string the open conversation of a number (nh: its HMAC), claimed SET NX
    P:sms:lang:{nh}       string the language a number chose, "en" or "fr" (TTL 90 days)
    P:sms:convs:{nh}      set    the number's conversations still in Redis, open or ended and not
                                 yet archived: what DELETE must reach besides the archive (TTL 7 days)
    P:sms:job:{c}:{seq}   hash   one peer message waiting to be sent: to, parts (JSON list), count,
                                 next (index of the next part), failing_since, attempts,
                                 last_code. Holds the phone number; deleted once sent, failed
                                 or cancelled
    P:sms:conv:{c}        list   seqs of the conversation's waiting messages, in send order; the
                                 head is the one being sent
    P:sms:ready           zset   conversations with something to send, scored by the time they
                                 may next be tried (backoff)
    P:sms:inflight        zset   conversations a worker holds, scored by lease deadline; an
                                 expired lease goes back to ready
    P:sms:lease           hash   conv -> token of the worker holding it
    P:sms:rcpt:{c}:{seq}  hash   delivery receipt (no number, no text): parts, state, final, code,
                                 delivered, d:{MessageSid} marks; expires after the receipt TTL
    P:sms:sid:{sid}       hash   conv, seq of a sent part (a Twilio MessageSid), for status callbacks
    P:sms:pace:{fh}       string next free send slot of a sending number (fh: its HMAC)

Channels: ``P:ev:s:{c}`` seeker frames, ``P:ev:m:{c}`` monitor frames, ``P:ev:p:{u}`` a peer's
frames, ``P:ev:sup`` supervisor alerts, ``P:ev:queue`` queue changed, ``P:ev:program`` the
program's settings changed (``hours`` or ``canned``: each web process reloads them).

Lua builds some of these names itself: routing/_lib.lua's ``K`` table (every routing script)
from the prefix, and sms/inbound.lua a conversation's hash from ``conv("")``. The SMS outbox
scripts get every key in KEYS. tests/test_keys.py checks that each Lua name agrees with this
module. Keys are built inside scripts, so chatd needs a standalone Redis (or one hash slot),
not a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    """Key and channel builders under one prefix; the SMS bridge's are under :attr:`sms`."""

    prefix: str = "chatd"

    def conv(self, c: str) -> str:
        return f"{self.prefix}:conv:{c}"

    def log(self, c: str) -> str:
        return f"{self.prefix}:conv:{c}:log"

    def cids(self, c: str) -> str:
        return f"{self.prefix}:conv:{c}:cids"

    def declined(self, c: str) -> str:
        return f"{self.prefix}:conv:{c}:declined"

    def esc(self, c: str) -> str:
        return f"{self.prefix}:conv:{c}:esc"

    def notes(self, c: str) -> str:
        return f"{self.prefix}:conv:{c}:notes"

    def conv_keys(self, c: str) -> list[str]:
        return [self.conv(c), self.log(c), self.cids(c), self.declined(c), self.esc(c), self.notes(c)]

    def resume(self, token_hash: str) -> str:
        return f"{self.prefix}:resume:{token_hash}"

    @property
    def queue(self) -> str:
        return f"{self.prefix}:queue"

    @property
    def live(self) -> str:
        return f"{self.prefix}:live"

    def peer(self, u: str) -> str:
        return f"{self.prefix}:peer:{u}"

    def peer_convs(self, u: str) -> str:
        return f"{self.prefix}:peer:{u}:convs"

    def peer_offers(self, u: str) -> str:
        return f"{self.prefix}:peer:{u}:offers"

    @property
    def on_shift(self) -> str:
        return f"{self.prefix}:peers:on"

    @property
    def shifting(self) -> str:
        return f"{self.prefix}:peers:shift"

    def offer(self, o: str) -> str:
        return f"{self.prefix}:offer:{o}"

    @property
    def timers(self) -> str:
        return f"{self.prefix}:timers"

    @property
    def wake(self) -> str:
        return f"{self.prefix}:wake"

    @property
    def worker(self) -> str:
        return f"{self.prefix}:worker"

    def session(self, h: str) -> str:
        return f"{self.prefix}:sess:{h}"

    def user_sessions(self, u: str) -> str:
        return f"{self.prefix}:user:{u}:sess"

    def login_fail(self, username_hash: str) -> str:
        return f"{self.prefix}:loginfail:{username_hash}"

    def login_fail_address(self, address_hash: str) -> str:
        return f"{self.prefix}:loginfail:addr:{address_hash}"

    def conns(self, kind: str, ident: str) -> str:
        return f"{self.prefix}:conns:{kind}:{ident}"

    @property
    def procs(self) -> str:
        return f"{self.prefix}:procs"

    def proc(self, p: str) -> str:
        return f"{self.prefix}:proc:{p}"

    def proc_conns(self, p: str) -> str:
        return f"{self.prefix}:proc:{p}:conns"

    @property
    def sms_events(self) -> str:
        return f"{self.prefix}:sms:events"

    @property
    def stats(self) -> str:
        return f"{self.prefix}:stats"

    def hist(self, name: str) -> str:
        return f"{self.prefix}:hist:{name}"

    @property
    def accepts(self) -> str:
        return f"{self.prefix}:accepts"

    @property
    def fence(self) -> str:
        return f"{self.prefix}:fence"

    def once(self, client_id: str) -> str:
        return f"{self.prefix}:once:{client_id}"

    @property
    def sms(self) -> SmsKeys:
        """The SMS bridge's and outbox's keys, under ``P:sms``."""
        return SmsKeys(self.prefix)

    # --- pub/sub channels -------------------------------------------------------------------
    def ch_seeker(self, c: str) -> str:
        return f"{self.prefix}:ev:s:{c}"

    def ch_monitor(self, c: str) -> str:
        return f"{self.prefix}:ev:m:{c}"

    def ch_peer(self, u: str) -> str:
        return f"{self.prefix}:ev:p:{u}"

    @property
    def ch_sup(self) -> str:
        return f"{self.prefix}:ev:sup"

    @property
    def ch_queue(self) -> str:
        return f"{self.prefix}:ev:queue"

    @property
    def ch_program(self) -> str:
        return f"{self.prefix}:ev:program"


@dataclass(frozen=True, slots=True)
class SmsKeys:
    """The SMS keys under ``P:sms`` (``P:sms:events`` itself is :attr:`Keys.sms_events`: the
    routing scripts push onto it)."""

    prefix: str = "chatd"

    @property
    def base(self) -> str:
        return f"{self.prefix}:sms"

    # --- the bridge ---------------------------------------------------------------------------
    @property
    def processing(self) -> str:
        return f"{self.base}:events:processing"

    def open(self, number_hash: str) -> str:
        return f"{self.base}:open:{number_hash}"

    def lang(self, number_hash: str) -> str:
        return f"{self.base}:lang:{number_hash}"

    def convs(self, number_hash: str) -> str:
        return f"{self.base}:convs:{number_hash}"

    # --- the outbox ---------------------------------------------------------------------------
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
