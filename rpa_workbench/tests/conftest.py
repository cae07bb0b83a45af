"""An SSE client for tests against the live Daphne server."""

from __future__ import annotations

import contextlib
import json
import queue
import re
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests

from rpa_workbench import roles


@pytest.fixture
def roles_synced(transactional_db):
    """Transactional tests flush the database after each test, groups included, and the flush's
    post_migrate carries no `apps`, so roles are not re-made: make them before using them."""
    roles.sync_roles()


@dataclass
class SseEvent:
    event: str
    id: str | None
    data: dict
    raw: str


@dataclass
class SseReader:
    """Reads one event stream in a thread; events land in a queue. Every event it parses must
    carry its type both as the SSE `event:` name and as `data.type` (API.md §6)."""

    url: str
    params: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)
    events: queue.Queue = field(default_factory=queue.Queue)
    status: int | None = None
    response_headers: dict = field(default_factory=dict)
    body: str = ""
    last_id: str | None = None
    opened: threading.Event = field(default_factory=threading.Event)
    mismatches: list = field(default_factory=list)
    backlog: list = field(default_factory=list)
    positioned: threading.Event = field(default_factory=threading.Event)

    def start(self) -> SseReader:
        threading.Thread(target=self._run, daemon=True).start()
        assert self.opened.wait(20), "the stream did not open"
        if self.status == 200:
            # The stream sends its position (an `id:` line) once it is subscribed and has read
            # storage: from then on every committed change reaches it.
            assert self.positioned.wait(20), "the stream sent no position"
        return self

    def _run(self) -> None:
        try:
            self._response = self.session.get(
                self.url, params=self.params, headers=self.headers, stream=True, timeout=(15, 90)
            )
        except requests.RequestException as exc:
            self.status = -1
            self.body = str(exc)
            self.opened.set()
            return
        self.status = self._response.status_code
        self.response_headers = dict(self._response.headers)
        if self.status != 200:
            self.body = self._response.text
            self.opened.set()
            return
        self.opened.set()
        buffer = ""
        try:
            for chunk in self._response.iter_content(chunk_size=None):
                buffer += chunk.decode()
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    self._dispatch(block)
        except Exception:  # noqa: BLE001 — closed by the test or the server
            pass
        self.events.put(None)

    def _dispatch(self, block: str) -> None:
        fields: dict[str, list[str]] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)
        if "id" in fields:
            self.last_id = fields["id"][-1]
            self.positioned.set()
        if "data" not in fields:
            return
        data = json.loads("\n".join(fields["data"]))
        event = SseEvent(fields.get("event", ["message"])[0], fields.get("id", [None])[-1], data, block)
        if data.get("type") != event.event:
            self.mismatches.append(event)
        self.events.put(event)

    def _matches(self, event: SseEvent, kind: str | None, where) -> bool:
        return (kind is None or event.event == kind) and where(event)

    def next(self, kind: str | None = None, timeout: float = 20, where=lambda event: True) -> SseEvent:
        """The next event of `kind` matching `where`. Events it passes over stay in a backlog
        for later calls, so the order of `next` calls need not follow the order of publishing."""
        for index, event in enumerate(self.backlog):
            if self._matches(event, kind, where):
                assert not self.mismatches, self.mismatches
                return self.backlog.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {kind or 'event'} arrived within {timeout}s; passed over: " + repr(
                [event.raw for event in self.backlog if event.event != "heartbeat"]
            )
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            assert event is not None, "the stream ended"
            if self._matches(event, kind, where):
                assert not self.mismatches, self.mismatches
                return event
            self.backlog.append(event)

    def none(self, kind: str, within: float, where=lambda event: True) -> None:
        """Assert no matching event of `kind` is in the backlog or arrives for `within` seconds."""
        for event in self.backlog:
            assert not self._matches(event, kind, where), f"unexpected {event.raw}"
        deadline = time.monotonic() + within
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                return
            if event is None:
                return
            assert not self._matches(event, kind, where), f"unexpected {event.raw}"
            self.backlog.append(event)

    def close(self) -> None:
        """Shut the socket down first: closing the response alone waits for the reading thread's
        blocked read (up to the next heartbeat)."""
        response = getattr(self, "_response", None)
        if response is None:
            return
        try:
            sock = response.raw._fp.fp.raw._sock
        except AttributeError:
            sock = None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        response.close()


@pytest.fixture
def sse_readers():
    """`open_stream(url, params=..., headers=...)` → a started SseReader, closed afterwards."""
    readers: list[SseReader] = []

    def open_stream(url: str, **kwargs) -> SseReader:
        reader = SseReader(url, **kwargs).start()
        readers.append(reader)
        return reader

    yield open_stream
    for reader in readers:
        reader.close()


CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class AdminSession:
    """A browser-like session signed in to the Django admin of a live server."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        login = f"{base_url}/admin/login/"
        page = self.session.get(login, timeout=15)
        data = {
            "username": username,
            "password": password,
            "next": "/admin/",
            "csrfmiddlewaretoken": self.csrf(page.text),
        }
        self.session.post(login, data=data, headers={"Referer": login}, timeout=15)
        assert "sessionid" in self.session.cookies, "admin login failed"

    @staticmethod
    def csrf(html: str) -> str:
        match = CSRF.search(html)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def submit(self, path: str, form: dict, page_path: str | None = None) -> requests.Response:
        """POST `form` to `path` as the admin page at `page_path` (default: `path`) would."""
        url = f"{self.base_url}{path}"
        page = self.session.get(f"{self.base_url}{page_path or path}", timeout=15)
        response = self.session.post(
            url,
            data={**form, "csrfmiddlewaretoken": self.csrf(page.text)},
            headers={"Referer": url},
            allow_redirects=False,
            timeout=15,
        )
        assert response.status_code == 302, response.text[:3000]
        return response


@pytest.fixture
def admin_session(admin_user):
    """`admin_session(server)` → an AdminSession signed in as the superuser `root`."""
    return lambda server: AdminSession(server.url, "root", "pw-root")
