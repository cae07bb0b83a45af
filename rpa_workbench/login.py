"""Password sign-in, guarded (issue 13 item 3): `POST /api/v1/auth/token`, the admin login form
and the dashboard login page all go through `guarded_login`, which

1. refuses a locked-out username or address (429 `TOO_MANY_REQUESTS`, `Retry-After`) before
   hashing anything;
2. hashes the password only in one of `RPA_PASSWORD_CHECKS_CONCURRENCY` slots of this process,
   waiting at most `RPA_PASSWORD_CHECK_WAIT_SECONDS` for one (else 503 `LOGIN_BUSY`,
   `Retry-After: 1`): a burst of sign-ins cannot take every core from the rest of the server;
3. counts a wrong password against the username and the address (`rpa_workbench.throttling`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.template.response import TemplateResponse
from rest_framework import exceptions
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from rpa_workbench import throttling
from rpa_workbench.errors import ApiError

T = TypeVar("T")
LOGIN_BUSY = "LOGIN_BUSY"


class LoginBusy(ApiError):
    def __init__(self) -> None:
        super().__init__(503, LOGIN_BUSY, "too many sign-ins are being checked right now; try again in a moment")
        self.headers = {"Retry-After": "1"}


_slots_lock = threading.Lock()
_slots: tuple[int, threading.BoundedSemaphore] | None = None


def password_check_slots() -> threading.BoundedSemaphore:
    """This process's slots for password hashing (re-made when the setting changes)."""
    global _slots
    size = settings.RPA_PASSWORD_CHECKS_CONCURRENCY
    with _slots_lock:
        if _slots is None or _slots[0] != size:
            _slots = (size, threading.BoundedSemaphore(size))
        return _slots[1]


@contextlib.contextmanager
def password_check_slot() -> Iterator[None]:
    slots = password_check_slots()
    if not slots.acquire(timeout=settings.RPA_PASSWORD_CHECK_WAIT_SECONDS):
        raise LoginBusy()
    try:
        yield
    finally:
        slots.release()


def guarded_login(request, username: str, check: Callable[[], T | None]) -> T | None:
    """Run `check` (the password check: its result, or None for wrong credentials) under the
    rules above."""
    keys = throttling.login_keys(request, username)
    throttling.refuse_if_locked(keys, "sign-ins")
    with password_check_slot():
        result = check()
    if result is None:
        throttling.record_failure(keys)
    else:
        throttling.clear(keys[:1])  # the username's count; never the address's
    return result


class ThrottledTokenObtainPairSerializer(TokenObtainPairSerializer):
    """simplejwt's serializer (SIMPLE_JWT["TOKEN_OBTAIN_SERIALIZER"]) behind `guarded_login`."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        def check() -> dict[str, str] | None:
            try:
                return super(ThrottledTokenObtainPairSerializer, self).validate(attrs)
            except exceptions.AuthenticationFailed:
                return None

        data = guarded_login(self.context.get("request"), str(attrs.get(self.username_field, "")), check)
        if data is None:
            raise exceptions.AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")
        return data


class ThrottledLoginFormMixin:
    """For Django's AuthenticationForm and its subclasses (the admin's): Django's `clean`, with
    the password check behind `guarded_login`; a refusal becomes a form error and is kept in
    `refusal` for `throttled_login_response` (429/503)."""

    refusal: ApiError | None = None

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return self.cleaned_data
        try:
            self.user_cache = guarded_login(
                self.request, username, lambda: authenticate(self.request, username=username, password=password)
            )
        except ApiError as exc:
            self.refusal = exc
            raise forms.ValidationError(exc.message, code=exc.error_code) from None
        if self.user_cache is None:
            raise self.get_invalid_login_error()
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class ThrottledAuthenticationForm(ThrottledLoginFormMixin, AuthenticationForm):
    pass


def throttled_login_response(response):
    """A login page whose form was refused by the throttle answers 429/503 with Retry-After."""
    if isinstance(response, TemplateResponse) and response.context_data:
        refusal = getattr(response.context_data.get("form"), "refusal", None)
        if refusal is not None:
            response.status_code = refusal.status_code
            for name, value in (refusal.headers or {}).items():
                response[name] = value
    return response


class ThrottledLoginView(auth_views.LoginView):
    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form):
        return throttled_login_response(super().form_invalid(form))
