"""Issue 13 item 3: password guessing is throttled per username and per client address, on
`POST /api/v1/auth/token`, the admin login form and the dashboard login page; the counts live in
the database (shared by every server process); password hashing runs in a bounded number of
slots per process. Time is a controllable clock (`throttling.clock`), never a sleep."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.contrib.auth.backends import ModelBackend
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from rpa_workbench import login, throttling
from rpa_workbench.models import AuthFailure

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token"


class Clock:
    def __init__(self) -> None:
        self.now = timezone.now()

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(throttling, "clock", fake)
    return fake


@pytest.fixture(autouse=True)
def limits(settings):
    settings.RPA_LOGIN_MAX_FAILURES_PER_USERNAME = 3
    settings.RPA_LOGIN_MAX_FAILURES_PER_ADDRESS = 5
    settings.RPA_AUTH_FAILURE_WINDOW_SECONDS = 600
    settings.RPA_AUTH_LOCKOUT_SECONDS = 300
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests
    return settings


def token(username: str, password: str, address: str = "10.0.0.1"):
    return APIClient().post(TOKEN_URL, {"username": username, "password": password}, format="json", REMOTE_ADDR=address)


def test_a_username_is_locked_after_its_failures_even_for_the_right_password(operator_user, clock):
    for _ in range(3):
        assert token("operator1", "wrong").status_code == 401
    refused = token("operator1", "pw-operator1")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "300"
    body = refused.json()
    assert body["code"] == "TOO_MANY_REQUESTS"
    assert "try again in 300 s" in body["message"]


def test_the_username_lock_holds_from_every_address(operator_user, clock):
    for index in range(3):
        token("operator1", "wrong", address=f"10.0.1.{index}")
    assert token("operator1", "pw-operator1", address="10.9.9.9").status_code == 429


def test_the_lock_ends_after_the_lockout_and_retry_after_counts_down(operator_user, clock):
    for _ in range(3):
        token("operator1", "wrong")
    clock.advance(200)
    assert token("operator1", "pw-operator1")["Retry-After"] == "100"
    clock.advance(100)
    assert token("operator1", "pw-operator1").status_code == 200


def test_failures_outside_the_window_are_forgotten(operator_user, clock):
    token("operator1", "wrong")
    token("operator1", "wrong")
    clock.advance(601)
    token("operator1", "wrong")
    assert token("operator1", "pw-operator1").status_code == 200


def test_a_success_clears_the_usernames_count(operator_user, clock):
    token("operator1", "wrong")
    token("operator1", "wrong")
    assert token("operator1", "pw-operator1").status_code == 200
    token("operator1", "wrong")
    token("operator1", "wrong")
    assert token("operator1", "pw-operator1").status_code == 200


def test_an_address_guessing_many_usernames_is_locked(operator_user, clock):
    for index in range(5):
        assert token(f"nobody{index}", "wrong").status_code == 401
    assert token("operator1", "pw-operator1").status_code == 429
    assert token("operator1", "pw-operator1", address="10.0.0.2").status_code == 200


def test_the_counts_live_in_the_database_for_every_process(operator_user, clock):
    """A lock written by another server process (a row) is honoured here."""
    AuthFailure.objects.create(
        key="login-user:operator1",
        failures=3,
        window_started_at=clock.now,
        locked_until=clock.now + datetime.timedelta(seconds=42),
    )
    response = token("operator1", "pw-operator1")
    assert response.status_code == 429
    assert response["Retry-After"] == "42"


def test_usernames_are_counted_case_insensitively(operator_user, clock):
    for name in ("OPERATOR1", "Operator1", "operator1"):
        token(name, "wrong")
    assert token("operator1", "pw-operator1").status_code == 429


def admin_login(client: Client, password: str, path: str = "/admin/login/"):
    return client.post(path, {"username": "root", "password": password, "next": "/admin/"}, REMOTE_ADDR="10.0.0.1")


@pytest.mark.parametrize("path", ["/admin/login/", "/dashboard/login/"])
def test_the_login_pages_are_throttled_the_same_way(admin_user, clock, path):
    client = Client()
    for _ in range(3):
        page = admin_login(client, "wrong", path)
        assert page.status_code == 200
        assert b"too many" not in page.content
    refused = admin_login(client, "pw-root", path)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "300"
    assert b"too many failed sign-ins" in refused.content
    assert "_auth_user_id" not in client.session
    clock.advance(300)
    assert admin_login(client, "pw-root", path).status_code == 302


def test_the_admin_form_and_the_api_share_one_count(admin_user, clock):
    client = Client()
    admin_login(client, "wrong")
    admin_login(client, "wrong")
    token("root", "wrong")
    assert admin_login(client, "pw-root").status_code == 429


# --- bounded password hashing -------------------------------------------------------------


class BlockingBackend(ModelBackend):
    """Stands for a slow password hash: holds each check until the test releases it."""

    release = threading.Event()
    lock = threading.Lock()
    active = 0
    peak = 0

    def authenticate(self, request, username=None, password=None, **kwargs):
        cls = BlockingBackend
        with cls.lock:
            cls.active += 1
            cls.peak = max(cls.peak, cls.active)
        try:
            cls.release.wait(10)
            return super().authenticate(request, username=username, password=password, **kwargs)
        finally:
            with cls.lock:
                cls.active -= 1


def test_a_saturated_server_answers_503_login_busy_instead_of_hashing(operator_user, settings):
    settings.RPA_PASSWORD_CHECKS_CONCURRENCY = 1
    settings.RPA_PASSWORD_CHECK_WAIT_SECONDS = 0.05
    slots = login.password_check_slots()
    assert slots.acquire(timeout=1)  # another sign-in is being hashed
    try:
        response = token("operator1", "pw-operator1")
    finally:
        slots.release()
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json()["code"] == "LOGIN_BUSY"
    assert not AuthFailure.objects.exists()  # not a guess: nothing counted
    assert token("operator1", "pw-operator1").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_no_more_password_checks_run_at_once_than_the_limit(operator_user, settings):
    settings.AUTHENTICATION_BACKENDS = [f"{__name__}.BlockingBackend"]
    settings.RPA_PASSWORD_CHECKS_CONCURRENCY = 2
    settings.RPA_PASSWORD_CHECK_WAIT_SECONDS = 0.3
    settings.RPA_LOGIN_MAX_FAILURES_PER_ADDRESS = 100
    BlockingBackend.release.clear()
    BlockingBackend.peak = 0
    statuses: list[int] = []

    def attempt(index: int) -> None:
        statuses.append(token("operator1", "pw-operator1", address=f"10.0.2.{index}").status_code)

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(5)]
    for thread in threads:
        thread.start()
    # Three of the five find no free slot within 0.3 s and are refused; then the two go on.
    deadline = threading.Event()
    while len(statuses) < 3 and not deadline.wait(0.02):
        pass
    BlockingBackend.release.set()
    for thread in threads:
        thread.join(15)
    assert BlockingBackend.peak == 2
    assert sorted(statuses) == [200, 200, 503, 503, 503]
