"""The Redis settings of CONTRACT.md section 8: Sentinels, the service name, replicas to wait for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatd.redis_client import url_credentials
from config.settings import Settings, SettingsError, parse_sentinels


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"CHATD_SECRET_KEY": "s" * 40, **env}, cwd=tmp_path)


def test_sentinels_are_parsed_into_host_port_pairs(tmp_path: Path) -> None:
    s = _settings(tmp_path, CHATD_REDIS_SENTINELS=" 10.0.0.1:26379, sentinel-b.internal:26380,[::1]:26381 ")
    assert s.redis_sentinels == (("10.0.0.1", 26379), ("sentinel-b.internal", 26380), ("::1", 26381))
    assert s.redis_master == "chatd"
    assert s.redis_min_replicas == 0


def test_with_sentinels_nothing_is_embedded_and_there_is_no_demo_account(tmp_path: Path) -> None:
    s = _settings(tmp_path, CHATD_REDIS_SENTINELS="127.0.0.1:26379", CHATD_REDIS_MASTER="prod",
                  CHATD_REDIS_MIN_REPLICAS="1")
    assert not s.embedded_redis
    assert not s.demo_account
    assert (s.redis_master, s.redis_min_replicas) == ("prod", 1)
    assert _settings(tmp_path).embedded_redis


@pytest.mark.parametrize("raw", [
    pytest.param("127.0.0.1", id="no-port"),
    pytest.param("127.0.0.1:", id="empty-port"),
    pytest.param(":26379", id="no-host"),
    pytest.param("host:0", id="port-zero"),
    pytest.param("host:65536", id="port-too-big"),
    pytest.param("host:26379x", id="port-not-a-number"),
    pytest.param("a:1,,b:2", id="empty-item"),
    pytest.param("redis://host:26379", id="a-url"),
    pytest.param("two words:26379", id="space-in-host"),
])
def test_a_sentinel_that_is_not_host_port_is_refused_naming_it(tmp_path: Path, raw: str) -> None:
    with pytest.raises(SettingsError, match="CHATD_REDIS_SENTINELS must be comma-separated host:port"):
        _settings(tmp_path, CHATD_REDIS_SENTINELS=raw)


def test_a_blank_sentinel_list_means_none() -> None:
    assert parse_sentinels("  ") == ()


@pytest.mark.parametrize(("env", "message"), [
    pytest.param({"CHATD_REDIS_MIN_REPLICAS": "1"}, "the embedded Redis has none", id="replicas-of-embedded"),
    pytest.param({"CHATD_REDIS_MIN_REPLICAS": "-1", "CHATD_REDIS_URL": "redis://h/0"}, "between 0 and 100",
                 id="negative-replicas"),
    pytest.param({"CHATD_REDIS_MIN_REPLICAS": "one", "CHATD_REDIS_URL": "redis://h/0"}, "whole number",
                 id="replicas-not-a-number"),
    pytest.param({"CHATD_REDIS_SENTINELS": "h:1", "CHATD_REDIS_MASTER": "my master"}, "one word",
                 id="master-with-space"),
    pytest.param({"CHATD_REDIS_SENTINELS": "h:1", "CHATD_REDIS_URL": "unix:///run/redis.sock"}, "redis:// or rediss://",
                 id="unix-url-with-sentinels"),
    pytest.param({"CHATD_REDIS_SENTINELS": "h:1", "CHATD_REDIS_URL": "redis://:pw@h/zero"}, "whole number",
                 id="database-not-a-number"),
])
def test_bad_redis_settings_are_refused_with_a_clear_message(tmp_path: Path, env: dict[str, str],
                                                              message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        _settings(tmp_path, **env)


def test_min_replicas_with_a_plain_url_is_allowed(tmp_path: Path) -> None:
    """A primary with replicas but no Sentinels (failover by hand) may still wait for replicas."""
    assert _settings(tmp_path, CHATD_REDIS_URL="redis://h:6379/0", CHATD_REDIS_MIN_REPLICAS="2").redis_min_replicas == 2


@pytest.mark.parametrize(("url", "expected"), [
    pytest.param(None, {}, id="none"),
    pytest.param("redis://h:6379", {"db": 0}, id="bare"),
    pytest.param("redis://:s%40cret@h:6379/3", {"db": 3, "password": "s@cret"}, id="password-and-db"),
    pytest.param("rediss://chatd:pw@h/2", {"db": 2, "username": "chatd", "password": "pw", "ssl": True}, id="tls-user"),
    pytest.param("redis://h?db=5", {"db": 5}, id="db-in-query"),
])
def test_sentinel_connections_take_credentials_and_database_from_the_url(url: str | None,
                                                                         expected: dict[str, object]) -> None:
    assert url_credentials(url) == expected


def test_chatd_web_with_a_bad_sentinel_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "CHATD_DATA_DIR": str(tmp_path), "CHATD_SECRET_KEY": "s" * 40,
           "CHATD_REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2"}
    env.pop("CHATD_REDIS_URL", None)
    done = subprocess.run([sys.executable, "-m", "chatd", "web"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "chatd: CHATD_REDIS_SENTINELS must be comma-separated host:port, got '10.0.0.2'"]
