"""Every Redis key and pub/sub channel of chatd, built under one prefix.

The whole live data model on one screen (``P`` is ``CHATD_KEY_PREFIX``, default ``chatd``)::

    P:conv:{c}            hash   state, channel, lang, seq, created, queued, band, peer, peer_name,
                                 offer, risk, escalated, ended, ended_by, outcome, survey, label;
                                 events, idle_ms, archive_delay_ms (its channel's needs)
    P:conv:{c}:log        list   stored messages, JSON {seq, from, text, at}, in seq order
    P:conv:{c}:cids       hash   client_id -> seq (duplicate sends answer the same ack)
    P:conv:{c}:declined   set    peers who declined or let an offer of it expire
    P:conv:{c}:esc        list   "reason|ms" escalation records
    P:conv:{c}:notes      list   private notes and whispers, JSON {from, text, at, whisper}
    P:once:{id}           string a client id unique across conversations (an SMS MessageSid)
                                 whose work is done: "conv|seq" of its message, or "done" (TTL)
    P:resume:{sha256}     string conversation id of a seeker resume token (token never stored)
    P:queue               zset   waiting/offered conversations, score = band * 1e13 + queued ms
    P:live                set    conversations not yet ended
    P:peer:{u}            hash   state, capacity, active, offers, idle_since, missed, debrief_until,
                                 display, role
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
    P:loginfail:{u}       string failed logins in the current window (TTL)
    P:conns:{kind}:{id}   hash   socket id -> process id ("seeker"/"peer" presence)
    P:procs               set    process ids that hold sockets
    P:proc:{p}            string heartbeat (TTL)
    P:proc:{p}:conns      set    "kind|id|socket" held by that process
    P:sms:events          list   seeker-facing events of SMS conversations, for the bridge
    P:stats               hash   counters for /metrics

Channels: ``P:ev:s:{c}`` seeker frames, ``P:ev:m:{c}`` monitor frames, ``P:ev:p:{u}`` a peer's
frames, ``P:ev:sup`` supervisor alerts, ``P:ev:queue`` queue changed.

The Lua scripts build the same names from the prefix in ``_lib.lua``; a test checks the two agree.
Keys are built inside scripts, so chatd needs a standalone Redis (or one hash slot), not a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

QUEUE_BAND_SCALE = 10**13
BAND_RISK, BAND_HEAD, BAND_NORMAL = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Keys:
    """Key and channel builders under one prefix."""

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

    def login_fail(self, u: str) -> str:
        return f"{self.prefix}:loginfail:{u}"

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

    def once(self, client_id: str) -> str:
        return f"{self.prefix}:once:{client_id}"

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


def queue_score(band: int, queued_ms: int) -> int:
    """Queue order: band first (risk, then requeued-to-head, then normal), then arrival."""
    return band * QUEUE_BAND_SCALE + queued_ms
