"""The relay protocol module (API.md §2 "The relay"): the exact GET it sends, what it records, and
how every kind of failure becomes one `RelayError` — against a real local HTTP server."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from jobs.backends import relay_protocol as relay
from rpa_workbench.testing.servers import serve_in_background, stop


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def send(**overrides) -> relay.RelayResult:
    params = {
        "backend_ip": "192.168.1.100",
        "backend_port": 8000,
        "app_name": "daily_report",
        "target": "START",
    }
    return relay.send(**{**params, **overrides})


def test_start_is_a_get_with_exactly_the_protocol_parameters(fake_relay):
    result = send()

    [received] = fake_relay.requests
    assert (received.method, received.path) == ("GET", "/yingdao")
    query = dict(received.query)
    assert abs(int(query.pop("timestamp")) - time.time()) <= 5  # Unix seconds, not milliseconds
    assert query == {
        "backend_ip": "192.168.1.100",
        "backend_port": "8000",
        "tak": "daily_report",
        "target": "START",
    }
    assert (result.status, result.url.split("?")[0]) == (200, fake_relay.url)
    assert result.latency_ms is not None and result.latency_ms >= 0


def test_stop_sends_target_all(fake_relay):
    send(target=relay.STOP)
    assert fake_relay.queries[0]["target"] == "ALL"


def test_query_parameters_are_sent_in_protocol_order():
    url = relay.control_url(
        backend_ip="10.0.0.1", backend_port="9548", app_name="app", target="START", timestamp=7
    )
    assert urlsplit(url).query == "backend_ip=10.0.0.1&backend_port=9548&tak=app&target=START&timestamp=7"


def test_app_names_with_reserved_characters_arrive_intact(fake_relay):
    send(app_name="日报 a&b=c")
    assert fake_relay.queries[0]["tak"] == "日报 a&b=c"


def test_a_relay_url_with_its_own_query_keeps_it(fake_relay, settings):
    settings.RPA_RELAY_URL = fake_relay.url + "?channel=prod&key=k1"
    send()
    query = fake_relay.queries[0]
    assert (query["channel"], query["key"], query["tak"], query["target"]) == (
        "prod",
        "k1",
        "daily_report",
        "START",
    )


def test_recorded_url_hides_credentials_and_the_relays_own_query_values(fake_relay, settings):
    host_port = urlsplit(fake_relay.url).netloc
    settings.RPA_RELAY_URL = f"http://relayuser:s3cret@{host_port}/yingdao?key=topsecret"

    result = send()

    assert fake_relay.requests[0].headers.get("Authorization", "").startswith("Basic ")  # credentials used
    assert "s3cret" not in result.url and "relayuser" not in result.url and "topsecret" not in result.url
    parts = urlsplit(result.url)
    assert parts.netloc == host_port
    recorded = dict(parse_qsl(parts.query))
    assert recorded["key"] == "***"
    assert (recorded["backend_ip"], recorded["tak"], recorded["target"]) == (
        "192.168.1.100",
        "daily_report",
        "START",
    )


def test_redact_keeps_ipv6_hosts_and_ports():
    redacted = relay.redact("https://u:p@[::1]:8443/y?token=abc&tak=app")
    assert redacted == "https://[::1]:8443/y?token=***&tak=app"


@pytest.mark.parametrize("status", [200, 201, 204])
def test_any_2xx_is_delivered(fake_relay, status):
    fake_relay.status = status
    fake_relay.body = b""
    assert send().status == status


def test_an_error_status_raises_with_the_status_and_body_and_is_not_retried(fake_relay):
    fake_relay.status = 500
    fake_relay.body = b"robot offline"

    with pytest.raises(relay.RelayError) as caught:
        send()

    error = caught.value
    assert (error.status, error.configured) == (500, True)
    assert "HTTP 500" in error.reason and "robot offline" in error.reason
    assert error.url.startswith(fake_relay.url) and error.latency_ms is not None
    assert len(fake_relay.requests) == 1


def test_a_long_error_body_is_cut_short_in_the_reason(fake_relay):
    fake_relay.status = 502
    fake_relay.body = b"x" * 10_000
    with pytest.raises(relay.RelayError) as caught:
        send()
    assert len(caught.value.reason) < 300


def test_a_slow_relay_times_out_within_the_bound_and_is_not_retried(fake_relay, settings):
    settings.RPA_RELAY_TIMEOUT = 0.3
    fake_relay.delay = 3

    started = time.monotonic()
    with pytest.raises(relay.RelayError) as caught:
        send()
    elapsed = time.monotonic() - started

    assert "did not answer within 0.3s" in caught.value.reason
    assert caught.value.status is None and caught.value.latency_ms is not None
    assert elapsed < fake_relay.delay  # gave up instead of waiting for the answer
    assert len(fake_relay.requests) == 1


def test_an_unreachable_relay_says_so(settings):
    settings.RPA_RELAY_URL = f"http://127.0.0.1:{closed_port()}/yingdao"
    with pytest.raises(relay.RelayError) as caught:
        send()
    assert caught.value.reason == "relay unreachable: connection refused"
    assert caught.value.status is None


def test_an_unresolvable_relay_host_says_so(settings):
    settings.RPA_RELAY_URL = "http://relay.invalid/yingdao"
    with pytest.raises(relay.RelayError) as caught:
        send()
    assert caught.value.reason.startswith("relay unreachable")


def test_error_reasons_never_carry_the_relays_secrets(settings):
    settings.RPA_RELAY_URL = "ftp://relayuser:s3cret@relay.invalid/yingdao?key=topsecret"
    with pytest.raises(relay.RelayError) as caught:
        send()
    assert "s3cret" not in caught.value.reason and "topsecret" not in caught.value.reason
    assert "s3cret" not in caught.value.url and "topsecret" not in caught.value.url


@pytest.mark.parametrize(
    "bad_url", ["http://127.0.0.1:notaport/yingdao", "http://127.0.0.1:99999/yingdao", "http://[::1/yingdao"]
)
def test_a_malformed_relay_url_is_a_relay_error_naming_the_setting(settings, bad_url):
    settings.RPA_RELAY_URL = bad_url
    with pytest.raises(relay.RelayError) as caught:
        send()
    assert "RPA_RELAY_URL" in caught.value.reason


def test_no_relay_url_is_a_configuration_error_without_a_request(settings):
    settings.RPA_RELAY_URL = ""
    assert not relay.is_configured()
    with pytest.raises(relay.RelayError) as caught:
        send()
    assert caught.value.configured is False
    assert "RPA_RELAY_URL" in caught.value.reason


def test_unknown_targets_are_a_programming_error(fake_relay):
    with pytest.raises(ValueError):
        send(target="STOP")
    assert fake_relay.requests == []


class _RetryAfterHandler(BaseHTTPRequestHandler):
    """Answers 503 with `Retry-After`, which urllib3 would retry by default."""

    hits = 0
    lock = threading.Lock()

    def do_GET(self):
        with self.lock:
            type(self).hits += 1
        self.send_response(503)
        self.send_header("Retry-After", "0")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        return


def test_a_503_with_retry_after_is_not_retried(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RetryAfterHandler)
    serve_in_background(server)
    try:
        settings.RPA_RELAY_URL = f"http://127.0.0.1:{server.server_address[1]}/yingdao"
        with pytest.raises(relay.RelayError) as caught:
            send()
    finally:
        stop(server)
    assert caught.value.status == 503
    assert _RetryAfterHandler.hits == 1


def test_each_thread_gets_its_own_session():
    sessions = []
    thread = threading.Thread(target=lambda: sessions.append(relay.session()))
    thread.start()
    thread.join()
    assert relay.session() is relay.session()
    assert sessions[0] is not relay.session()
    assert relay.session().trust_env is False  # never sent through an environment proxy


def test_logs_never_carry_the_relays_secrets(settings, caplog):
    settings.RPA_RELAY_URL = f"http://relayuser:s3cret@127.0.0.1:{closed_port()}/yingdao?key=topsecret"
    with caplog.at_level("DEBUG"), pytest.raises(relay.RelayError):
        send()
    assert caplog.records  # the connection retry was logged ...
    assert "s3cret" not in caplog.text and "topsecret" not in caplog.text  # ... without the secrets


def test_connect_and_read_timeouts_add_up_to_the_relay_timeout(settings):
    settings.RPA_RELAY_CONNECT_TIMEOUT, settings.RPA_RELAY_TIMEOUT = 3, 10
    assert relay.timeouts() == (3, 7)
    settings.RPA_RELAY_CONNECT_TIMEOUT, settings.RPA_RELAY_TIMEOUT = 3, 2
    connect, read = relay.timeouts()
    assert connect == 2 and read > 0


def test_a_refused_connection_is_retried_once_but_a_connect_timeout_is_not():
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

    retry = relay.session().get_adapter("http://relay.invalid/").max_retries
    after_refusal = retry.increment("GET", "/yingdao", error=NewConnectionError(None, "refused"))
    assert after_refusal.connect == 0  # one more attempt allowed
    with pytest.raises(MaxRetryError):
        after_refusal.increment("GET", "/yingdao", error=NewConnectionError(None, "refused"))
    with pytest.raises(MaxRetryError):
        retry.increment("GET", "/yingdao", error=ConnectTimeoutError("timed out"))
