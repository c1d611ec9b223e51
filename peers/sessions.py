"""Console sessions: a signed cookie naming a server-side session in Redis.

The cookie is ``<session id>.<HMAC>``; Redis keeps only the SHA-256 of the id, so a copy of
Redis yields no usable cookie. Login always makes a new session id (no fixation); logout and
disabling an account delete sessions server-side and close their sockets.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from redis.asyncio import Redis

from records import replies
from records.keyspace import Keys

COOKIE_NAME = "chatd_session"
MAX_FAILURES = 5
FAILURE_WINDOW_S = 900
MAX_FAILURES_PER_ADDRESS = 50


class Sessions:
    def __init__(self, redis: Redis, keys: Keys, secret_key: str, ttl_s: float) -> None:
        self.redis = redis
        self.keys = keys
        self._key = hashlib.sha256(b"chatd-session:" + secret_key.encode()).digest()
        self.ttl_s = int(ttl_s)

    def _sign(self, sid: str) -> str:
        return hmac.new(self._key, sid.encode(), hashlib.sha256).hexdigest()[:32]

    @staticmethod
    def session_hash(sid: str) -> str:
        return hashlib.sha256(sid.encode()).hexdigest()

    async def create(self, username: str) -> tuple[str, str]:
        """A new session; returns (cookie value, session hash)."""
        sid = secrets.token_urlsafe(32)
        h = self.session_hash(sid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.session(h), mapping={"username": username, "created": int(time.time())})
            pipe.expire(self.keys.session(h), self.ttl_s)
            pipe.sadd(self.keys.user_sessions(username), h)
            pipe.expire(self.keys.user_sessions(username), self.ttl_s)
            await pipe.execute()
        return f"{sid}.{self._sign(sid)}", h

    def parse(self, cookie: str | None) -> str | None:
        """The session hash of a well-signed cookie, else None (no Redis call for forgeries)."""
        if not cookie or len(cookie) > 200 or "." not in cookie:
            return None
        sid, _, sig = cookie.rpartition(".")
        # As bytes: headers arrive as Latin-1 text, and compare_digest raises TypeError (a 500)
        # on str with non-ASCII characters instead of answering "no".
        if not hmac.compare_digest(sig.encode(), self._sign(sid).encode()):
            return None
        return self.session_hash(sid)

    async def lookup(self, session_hash: str) -> str | None:
        """The username of a live session."""
        return replies.text(await self.redis.hget(self.keys.session(session_hash), "username"))

    async def alive(self, session_hash: str) -> bool:
        return bool(await self.redis.exists(self.keys.session(session_hash)))

    async def delete(self, session_hash: str) -> str | None:
        """End one session; returns its username."""
        user = await self.lookup(session_hash)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.session(session_hash))
            if user:
                pipe.srem(self.keys.user_sessions(user), session_hash)
            await pipe.execute()
        return user

    async def delete_all(self, username: str) -> int:
        """End every session of a user (account disabled)."""
        hashes = replies.texts(await self.redis.smembers(self.keys.user_sessions(username)))
        async with self.redis.pipeline(transaction=True) as pipe:
            for h in hashes:
                pipe.delete(self.keys.session(h))
            pipe.delete(self.keys.user_sessions(username))
            await pipe.execute()
        return len(hashes)

    # --- brute-force throttle ---------------------------------------------------------------
    def _fail_keys(self, username: str, address: str) -> tuple[str, str]:
        return (self.keys.login_fail(hashlib.sha256(username.lower().encode()).hexdigest()[:32]),
                self.keys.login_fail_address(hashlib.sha256(address.encode()).hexdigest()[:32]))

    async def throttled(self, username: str, address: str) -> bool:
        user_key, addr_key = self._fail_keys(username, address)
        user_fails, addr_fails = await self.redis.mget([user_key, addr_key])
        return int(user_fails or 0) >= MAX_FAILURES or int(addr_fails or 0) >= MAX_FAILURES_PER_ADDRESS

    async def record_failure(self, username: str, address: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self._fail_keys(username, address):
                # The window starts at the first failure (SET NX), works on Redis 6.2 too.
                pipe.set(key, 0, ex=FAILURE_WINDOW_S, nx=True)
                pipe.incr(key)
            await pipe.execute()

    async def clear_failures(self, username: str, address: str) -> None:
        await self.redis.delete(self._fail_keys(username, address)[0])
