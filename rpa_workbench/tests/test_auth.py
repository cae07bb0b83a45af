"""Authentication endpoints and roles (API.md §0)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_token_pair_for_right_credentials(anon_client, operator_user):
    response = anon_client.post("/api/v1/auth/token", {"username": "operator1", "password": "pw-operator1"}, format="json")
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


def test_wrong_credentials_are_401(anon_client, operator_user):
    response = anon_client.post("/api/v1/auth/token", {"username": "operator1", "password": "nope"}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


def test_refresh_gives_a_working_access_token(anon_client, operator_user):
    pair = anon_client.post("/api/v1/auth/token", {"username": "operator1", "password": "pw-operator1"}, format="json").json()
    refreshed = anon_client.post("/api/v1/auth/token/refresh", {"refresh": pair["refresh"]}, format="json")
    assert refreshed.status_code == 200
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    assert anon_client.get("/api/v1/accounts").status_code == 200


def test_me_describes_an_operator(operator_client):
    body = operator_client.get("/api/v1/auth/me").json()
    assert body["username"] == "operator1"
    assert body["role"] == "operator"
    assert "tasks.control_task" in body["permissions"]
    assert "accounts.add_account" in body["permissions"]
    assert isinstance(body["id"], str)


def test_me_for_viewer_and_admin(viewer_client, admin_client_api):
    viewer = viewer_client.get("/api/v1/auth/me").json()
    assert viewer["role"] == "viewer"
    assert "accounts.add_account" not in viewer["permissions"]
    assert admin_client_api.get("/api/v1/auth/me").json()["role"] == "admin"


def test_me_needs_auth(anon_client):
    assert anon_client.get("/api/v1/auth/me").status_code == 401


def test_session_cookie_authenticates(client, operator_user):
    client.force_login(operator_user)
    assert client.get("/api/v1/accounts").status_code == 200


def test_user_without_role_cannot_read(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get("/api/v1/accounts").status_code == 403


def test_viewer_can_read_but_not_write(viewer_client, make_account):
    account = make_account()
    assert viewer_client.get("/api/v1/accounts").status_code == 200
    assert viewer_client.get(f"/api/v1/accounts/{account.pk}").status_code == 200
    assert viewer_client.patch(f"/api/v1/accounts/{account.pk}", {"port": 1}, format="json").status_code == 403
    assert viewer_client.delete(f"/api/v1/accounts/{account.pk}").status_code == 403


def test_operator_can_write(operator_client):
    created = operator_client.post("/api/v1/accounts", {"shadow_bot_account": "b", "host_ip": "10.0.0.1", "port": 1})
    assert created.status_code == 201
    account_id = created.json()["id"]
    assert operator_client.patch(f"/api/v1/accounts/{account_id}", {"port": 2}, format="json").status_code == 200
    assert operator_client.delete(f"/api/v1/accounts/{account_id}").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_authentication_and_permission_checks_cost_at_most_one_query_each(
    role, admin_user, viewer_user, django_assert_max_num_queries
):
    """JWT: one query for the user; permissions: none for admins, one for a role's user."""
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    user = admin_user if role == "admin" else viewer_user
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    # user, permissions (viewer), page count, page rows
    with django_assert_max_num_queries(3 if role == "admin" else 4):
        response = client.get("/api/v1/accounts")
    assert response.status_code == 200
