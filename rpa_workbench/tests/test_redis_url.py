"""Issue 13 item 9: EVENTSTREAM_REDIS_URL keeps TLS (`rediss://`), the username and the password."""

from __future__ import annotations

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured

from rpa_workbench import events
from rpa_workbench.settings import parse_redis_url


def test_a_plain_url():
    assert parse_redis_url("redis://10.0.0.5:6380/2") == {"host": "10.0.0.5", "port": 6380, "db": 2}


def test_defaults():
    assert parse_redis_url("redis://cache") == {"host": "cache", "port": 6379, "db": 0}


def test_tls_username_and_password_are_kept():
    assert parse_redis_url("rediss://events:s%40cret%3A1@redis.example:6390/1") == {
        "host": "redis.example",
        "port": 6390,
        "db": 1,
        "username": "events",
        "password": "s@cret:1",
        "ssl": True,
    }


def test_a_password_without_username():
    options = parse_redis_url("redis://:only-pw@cache/0")
    assert options["password"] == "only-pw"
    assert "username" not in options


@pytest.mark.parametrize("url", ["http://cache:6379", "redis://cache:notaport", "redis://cache/x"])
def test_bad_urls_stop_start_up(url):
    with pytest.raises(ImproperlyConfigured):
        parse_redis_url(url)


def test_the_publisher_connects_with_tls_and_the_username(settings):
    settings.EVENTSTREAM_REDIS = parse_redis_url("rediss://events:pw@redis.example:6390/1")
    pool = events.redis_publisher().connection_pool
    assert issubclass(pool.connection_class, redis.SSLConnection)
    assert pool.connection_kwargs["username"] == "events"
    assert pool.connection_kwargs["password"] == "pw"
