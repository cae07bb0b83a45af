"""`ensure_admin` applies Django's password validators (issue 23): `DJANGO_SUPERUSER_PASSWORD=1`
must not create an admin whose password is "1"."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("1", "This password is too short. It must contain at least 8 characters."),
        ("12345678", "This password is entirely numeric."),
        ("password", "This password is too common."),
        ("ops-admin1", "The password is too similar to the username."),
    ],
)
def test_a_weak_password_is_refused_with_every_rule_it_breaks(monkeypatch, password, rule):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "ops-admin1")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", password)
    with pytest.raises(CommandError) as refused:
        call_command("ensure_admin", stdout=StringIO())
    message = str(refused.value)
    assert message.startswith("DJANGO_SUPERUSER_PASSWORD is refused:") and rule in message
    assert "No admin user was created." in message
    assert not get_user_model().objects.filter(is_superuser=True).exists()


def test_a_good_password_creates_the_admin(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "ops-admin")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "correct horse battery staple 7")
    call_command("ensure_admin", stdout=StringIO())
    admin = get_user_model().objects.get(username="ops-admin")
    assert admin.is_superuser and admin.check_password("correct horse battery staple 7")


def test_a_generated_password_passes_the_validators(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    assert "password: " in out.getvalue() and get_user_model().objects.filter(is_superuser=True).count() == 1


def test_the_refusal_is_in_english_whatever_language_the_caller_left_active(monkeypatch):
    """The message mixes our sentence with Django's rule texts: one language, not two."""
    from django.utils import translation

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "password")
    with translation.override("zh-hans"), pytest.raises(CommandError) as refused:
        call_command("ensure_admin", stdout=StringIO())
    assert "This password is too common." in str(refused.value)
