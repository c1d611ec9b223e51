"""Settings, read once from the environment (and a ``.env`` file) into a frozen object.

Nothing deeper in the code reads ``os.environ``: every module gets what it needs from the
:class:`Settings` it is handed. Durations are seconds and named ``*_s``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.textrules import NOT_TEXT, is_encodable

DEFAULT_CRISIS_LINE = "1-844-750-1648"
DEFAULT_CRISIS_EMAIL = "DND.SMRC-CIIS.MDN@forces.gc.ca"


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a minimal ``.env`` file: ``KEY=value`` lines, ``#`` comments, optional quotes."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SettingsError(f"{path} is not valid UTF-8 text") from None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def _int(env: Mapping[str, str], name: str, default: int, lo: int = 0, hi: int = 10**9) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, lo: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value < lo:
        raise SettingsError(f"{name} must be at least {lo}, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of CONTRACT.md section 1, plus chatd's own additions (see docs/operations.md)."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("var")
    redis_url: str | None = None
    # Sentinels as (host, port); when set chatd finds the primary through them (CONTRACT.md section 8).
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    redis_master: str = "chatd"
    redis_min_replicas: int = 0  # an ack waits until a message reached this many replicas (0: no wait)
    database: Path | str = Path("var/chatd.sqlite3")  # a SQLite file, or a URL (str) kept as given
    database_busy_timeout_s: float = 30.0  # SQLite: how long a statement waits for a writer's lock
    database_pool_size: int = 5  # PostgreSQL: the most connections one process opens
    public_url: str = "http://127.0.0.1:8000"
    secret_key: str = field(default="", repr=False)
    crisis_line: str = DEFAULT_CRISIS_LINE
    crisis_email: str = DEFAULT_CRISIS_EMAIL
    wait_escalate_s: float = 300.0
    offer_timeout_s: float = 30.0
    seeker_grace_s: float = 120.0
    peer_grace_s: float = 60.0
    sms_idle_s: float = 3600.0
    retention_days: int = 30
    debrief_s: float = 300.0
    lang_fallback_s: float = 60.0
    first_reply_s: float = 120.0
    unanswered_s: float = 600.0
    hello_timeout_s: float = 60.0
    session_ttl_s: float = 12 * 3600.0
    log_format: str = "json"
    log_level: str = "info"
    key_prefix: str = "chatd"
    risk_phrases: Path | None = None
    notice_en: str | None = None
    notice_fr: str | None = None
    exit_url: str = "https://www.google.com/search?q=weather"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_from_number: str | None = None
    twilio_api_base: str = "https://api.twilio.com"
    sms_rate_per_s: float = 1.0
    demo_account: bool = True
    timezone: str = "America/Toronto"  # CHATD_TIMEZONE: the program's days (statistics, service hours)

    @property
    def public_origin(self) -> str:
        """``scheme://host[:port]`` of the public URL, as browsers send it in ``Origin``."""
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def secure_cookies(self) -> bool:
        return urlsplit(self.public_url).scheme == "https"

    @property
    def embedded_redis(self) -> bool:
        """Whether ``serve`` starts a Redis of its own: neither a URL nor Sentinels are set."""
        return self.redis_url is None and not self.redis_sentinels

    @property
    def twilio_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from_number)

    @property
    def records_options(self) -> dict[str, Any]:
        """The keyword arguments of ``records.open_records`` these settings give (besides
        ``schema``): the SQLite busy timeout and the PostgreSQL pool's bound."""
        return {"busy_timeout_s": self.database_busy_timeout_s, "pool_size": self.database_pool_size}

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (tests shorten timers this way)."""
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, cwd: Path | None = None,
                 create_secret: bool = True) -> Settings:
        """Read the environment, with a ``.env`` file in ``cwd`` under it (the environment wins)."""
        base = read_dotenv((cwd or Path.cwd()) / ".env")
        env: dict[str, str] = {**base, **(dict(os.environ) if environ is None else dict(environ))}
        for name, value in env.items():
            # POSIX decodes environment bytes that are not UTF-8 to lone surrogates; a crisis
            # line or notice made of them would fail every frame that carries it.
            if name.startswith(("CHATD_", "TWILIO_")) and not is_encodable(value):
                raise SettingsError(f"{name} is {NOT_TEXT}")
        host = env.get("CHATD_HOST") or "127.0.0.1"
        port = _int(env, "CHATD_PORT", 8000, 0, 65535)
        data_dir = Path(env.get("CHATD_DATA_DIR") or "var")
        database = _database(env.get("CHATD_DATABASE") or "", data_dir)
        public_url = (env.get("CHATD_PUBLIC_URL") or f"http://{host}:{port}").rstrip("/")
        if urlsplit(public_url).scheme not in ("http", "https"):
            raise SettingsError(f"CHATD_PUBLIC_URL must start with http:// or https://, got {public_url!r}")
        secret = env.get("CHATD_SECRET_KEY") or ""
        if not secret and create_secret:
            secret = load_or_create_secret(data_dir)
        log_format = env.get("CHATD_LOG_FORMAT") or "json"
        if log_format not in ("json", "console"):
            raise SettingsError(f"CHATD_LOG_FORMAT must be json or console, got {log_format!r}")
        redis_url = env.get("CHATD_REDIS_URL") or None
        sentinels = parse_sentinels(env.get("CHATD_REDIS_SENTINELS") or "")
        redis_master = env.get("CHATD_REDIS_MASTER") or "chatd"
        if any(c.isspace() for c in redis_master):
            raise SettingsError(f"CHATD_REDIS_MASTER must be one word (a Sentinel service name), got {redis_master!r}")
        if sentinels and redis_url is not None:
            _check_sentinel_url(redis_url)
        min_replicas = _int(env, "CHATD_REDIS_MIN_REPLICAS", 0, 0, 100)
        if min_replicas and redis_url is None and not sentinels:
            raise SettingsError("CHATD_REDIS_MIN_REPLICAS needs a Redis with replicas: set CHATD_REDIS_SENTINELS "
                                "(or CHATD_REDIS_URL); the embedded Redis has none")
        twilio_sid = env.get("TWILIO_ACCOUNT_SID") or None
        timezone = _timezone(env.get("CHATD_TIMEZONE") or "America/Toronto")
        return cls(
            host=host,
            port=port,
            data_dir=data_dir,
            redis_url=redis_url,
            redis_sentinels=sentinels,
            redis_master=redis_master,
            redis_min_replicas=min_replicas,
            database=database,
            database_busy_timeout_s=_float(env, "CHATD_DATABASE_BUSY_TIMEOUT_S", 30.0, 0.1),
            database_pool_size=_int(env, "CHATD_DATABASE_POOL_SIZE", 5, 1, 100),
            public_url=public_url,
            secret_key=secret,
            crisis_line=env.get("CHATD_CRISIS_LINE") or DEFAULT_CRISIS_LINE,
            crisis_email=env.get("CHATD_CRISIS_EMAIL") or DEFAULT_CRISIS_EMAIL,
            wait_escalate_s=_float(env, "CHATD_WAIT_ESCALATE_S", 300.0),
            offer_timeout_s=_float(env, "CHATD_OFFER_TIMEOUT_S", 30.0, 0.1),
            seeker_grace_s=_float(env, "CHATD_SEEKER_GRACE_S", 120.0),
            peer_grace_s=_float(env, "CHATD_PEER_GRACE_S", 60.0),
            sms_idle_s=_float(env, "CHATD_SMS_IDLE_S", 3600.0),
            retention_days=_int(env, "CHATD_RETENTION_DAYS", 30, 0, 36500),
            debrief_s=_float(env, "CHATD_DEBRIEF_S", 300.0),
            lang_fallback_s=_float(env, "CHATD_LANG_FALLBACK_S", 60.0),
            first_reply_s=_float(env, "CHATD_FIRST_REPLY_S", 120.0),
            unanswered_s=_float(env, "CHATD_UNANSWERED_S", 600.0, 1.0),
            hello_timeout_s=_float(env, "CHATD_HELLO_TIMEOUT_S", 60.0, 0.1),
            session_ttl_s=_float(env, "CHATD_SESSION_TTL_S", 12 * 3600.0, 1.0),
            log_format=log_format,
            log_level=(env.get("CHATD_LOG_LEVEL") or "info").lower(),
            key_prefix=env.get("CHATD_KEY_PREFIX") or "chatd",
            risk_phrases=Path(env["CHATD_RISK_PHRASES"]) if env.get("CHATD_RISK_PHRASES") else None,
            notice_en=env.get("CHATD_NOTICE_EN") or None,
            notice_fr=env.get("CHATD_NOTICE_FR") or None,
            exit_url=env.get("CHATD_EXIT_URL") or "https://www.google.com/search?q=weather",
            twilio_account_sid=twilio_sid,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
            twilio_from_number=env.get("TWILIO_FROM_NUMBER") or None,
            twilio_api_base=(env.get("TWILIO_API_BASE") or "https://api.twilio.com").rstrip("/"),
            sms_rate_per_s=_float(env, "CHATD_SMS_RATE_PER_S", 1.0, 0.01),
            # The demo account exists only on fully embedded defaults (issue 4).
            demo_account=redis_url is None and not sentinels and twilio_sid is None
            and (env.get("CHATD_DEMO_ACCOUNT", "1") not in ("0", "false", "no")),
            timezone=timezone,
        )


def _timezone(name: str) -> str:
    """``CHATD_TIMEZONE``: an IANA zone name the system's time zone database knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"CHATD_TIMEZONE must be an IANA time zone such as America/Toronto, got {name!r}") from None
    return name


def parse_sentinels(raw: str) -> tuple[tuple[str, int], ...]:
    """``CHATD_REDIS_SENTINELS``: comma-separated ``host:port`` (an IPv6 host in brackets,
    ``[::1]:26379``), as ``((host, port), ...)``; blank: no Sentinels. Raises SettingsError
    naming the first item that is not ``host:port`` with a port from 1 to 65535."""
    if not raw.strip():
        return ()
    out: list[tuple[str, int]] = []
    for item in (part.strip() for part in raw.split(",")):
        host, sep, port = item.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        valid_host = bool(host) and not any(c.isspace() or c in "/[]@" for c in host)
        if not sep or not valid_host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise SettingsError(f"CHATD_REDIS_SENTINELS must be comma-separated host:port, got {item!r}")
        out.append((host, int(port)))
    return tuple(out)


def _check_sentinel_url(url: str) -> None:
    """With Sentinels, ``CHATD_REDIS_URL`` only lends its password, user, database number and
    TLS (``rediss://``); its host is the Sentinels' to say. A Unix socket has no host to follow."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise SettingsError("with CHATD_REDIS_SENTINELS, CHATD_REDIS_URL must be redis:// or rediss:// "
                            f"(it gives the password and database number), got scheme {parts.scheme!r}")
    db = parts.path.lstrip("/")
    if db and not db.isdigit():
        raise SettingsError(f"CHATD_REDIS_URL's database number must be a whole number, got {db!r}")


def _database(raw: str, data_dir: Path) -> Path | str:
    """``CHATD_DATABASE``: a SQLite file path, or a database server's URL, kept as a string
    (``Path`` would fold its ``//``); which URLs work is records.open_records' to say."""
    if not raw:
        return data_dir / "chatd.sqlite3"
    return check_database_url(raw, "CHATD_DATABASE") if "://" in raw else Path(raw)


def check_database_url(url: str, name: str) -> str:
    """``url`` when its scheme names a database chatd speaks (``postgresql://``, ``postgres://``);
    SettingsError naming ``name`` otherwise, so a typo stops chatd with one line."""
    scheme = url.split("://", 1)[0].lower()
    if scheme not in ("postgresql", "postgres"):
        raise SettingsError(f"{name} must be a SQLite file path or a postgresql:// URL, got a {scheme}:// URL")
    return url


def load_or_create_secret(data_dir: Path) -> str:
    """The dev secret in ``<data dir>/secret_key``, created (mode 0600) on first use."""
    path = data_dir / "secret_key"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secret + "\n")
    return secret
