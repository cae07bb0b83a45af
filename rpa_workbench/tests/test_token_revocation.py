"""Tokens can be taken back (issue 23): refresh tokens rotate and a used one is refused; a
password change or a deactivation ends every token issued before it, access tokens included;
`POST /auth/logout` revokes a refresh token; crafted tokens are 401s, never 500s."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/token/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"


def _sign_in(username: str = "operator1", password: str = "pw-operator1") -> dict:
    response = APIClient().post(TOKEN, {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _me(access: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get(ME).status_code


def _refresh(refresh: str):
    return APIClient().post(REFRESH, {"refresh": refresh}, format="json")


def test_a_refresh_rotates_the_refresh_token_and_the_used_one_is_refused(operator_user):
    pair = _sign_in()
    first = _refresh(pair["refresh"])
    assert first.status_code == 200
    rotated = first.json()
    assert set(rotated) == {"access", "refresh"} and rotated["refresh"] != pair["refresh"]
    assert _me(rotated["access"]) == 200

    replayed = _refresh(pair["refresh"])
    assert replayed.status_code == 401 and replayed.json()["code"] == "NOT_AUTHENTICATED"
    assert _refresh(rotated["refresh"]).status_code == 200


def test_a_password_change_ends_every_token_issued_before_it(operator_user):
    pair = _sign_in()
    assert _me(pair["access"]) == 200
    operator_user.set_password("a-new-long-passphrase-42")
    operator_user.save()
    assert _me(pair["access"]) == 401
    assert _refresh(pair["refresh"]).status_code == 401
    fresh = _sign_in(password="a-new-long-passphrase-42")
    assert _me(fresh["access"]) == 200 and _refresh(fresh["refresh"]).status_code == 200


def test_a_password_changed_in_the_admin_ends_the_tokens(root, operator_user):
    pair = _sign_in()
    response = root.post(
        f"/admin/auth/user/{operator_user.pk}/password/",
        {"password1": "Another-long-passphrase-7", "password2": "Another-long-passphrase-7",
         "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _me(pair["access"]) == 401 and _refresh(pair["refresh"]).status_code == 401


def test_a_deactivated_user_s_tokens_stop_working(operator_user):
    pair = _sign_in()
    operator_user.is_active = False
    operator_user.save()
    assert _me(pair["access"]) == 401
    assert _refresh(pair["refresh"]).status_code == 401


def test_logout_revokes_the_refresh_token(operator_user):
    pair = _sign_in()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer expired-or-garbage")  # ignored: the refresh token is the proof
    response = client.post(LOGOUT, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"message": "signed out: the refresh token is revoked", "code": "LOGGED_OUT"}
    assert _refresh(pair["refresh"]).status_code == 401
    assert client.post(LOGOUT, {"refresh": pair["refresh"]}, format="json").status_code == 200  # a repeat is harmless


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "VALIDATION_ERROR"),
        ({"refresh": "not-a-jwt"}, 401, "NOT_AUTHENTICATED"),
        ("access", 400, "VALIDATION_ERROR"),
    ],
)
def test_logout_refuses_what_is_not_a_refresh_token(operator_user, body, status, code):
    if body == "access":
        body = {"refresh": _sign_in()["access"]}
    response = APIClient().post(LOGOUT, body, format="json")
    assert response.status_code == status and response.json()["code"] == code


def test_the_refresh_token_of_a_deleted_user_is_a_401(django_user_model):
    django_user_model.objects.create_user("leaving", password="pw-leaving-123")
    pair = _sign_in("leaving", "pw-leaving-123")
    django_user_model.objects.filter(username="leaving").delete()
    response = _refresh(pair["refresh"])
    assert response.status_code == 401 and response.json()["code"] == "NOT_AUTHENTICATED"


@pytest.mark.parametrize("user_id", ["abc", "1 OR 1=1", [1], {"id": 1}, "9" * 30, True])
def test_a_token_signed_with_our_key_naming_no_usable_user_is_a_401(operator_user, user_id):
    access = AccessToken.for_user(operator_user)
    access["user_id"] = user_id
    assert _me(str(access)) == 401
    refresh = RefreshToken.for_user(operator_user)
    refresh["user_id"] = user_id
    assert _refresh(str(refresh)).status_code == 401
    assert APIClient().get(f"/api/v1/sse/events?token={access}").status_code == 401


def test_logout_reads_json_only(operator_user):
    pair = _sign_in()
    response = APIClient().post(LOGOUT, {"refresh": pair["refresh"]})  # multipart form
    assert response.status_code == 415 and response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert _refresh(pair["refresh"]).status_code == 200  # not revoked
