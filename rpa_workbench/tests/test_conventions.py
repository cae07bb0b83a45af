"""API.md §0: pagination envelope, error shape, partial PUT, JSON deletes, CORS preflight."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_list_envelope_has_all_keys(admin_client_api, make_account):
    for _ in range(3):
        make_account()
    body = admin_client_api.get("/api/v1/accounts?page_size=2").json()
    assert body["total"] == 3
    assert body["page"] == 1
    assert body["page_size"] == 2
    assert body["total_pages"] == 2
    assert len(body["items"]) == 2


def test_page_past_the_end_is_empty_not_404(admin_client_api, make_account):
    make_account()
    response = admin_client_api.get("/api/v1/accounts?page=9")
    assert response.status_code == 200
    assert response.json() == {"total": 1, "page": 9, "page_size": 20, "total_pages": 1, "items": []}


def test_empty_list_has_zero_total_pages(admin_client_api):
    body = admin_client_api.get("/api/v1/accounts").json()
    assert body["total"] == 0
    assert body["total_pages"] == 0
    assert body["items"] == []


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=abc", "page_size=0", "page_size=101", "page_size=x"])
def test_bad_paging_values_are_400(admin_client_api, query):
    response = admin_client_api.get(f"/api/v1/accounts?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_page_size_100_is_allowed(admin_client_api):
    assert admin_client_api.get("/api/v1/accounts?page_size=100").json()["page_size"] == 100


def test_validation_error_shape_names_the_field(admin_client_api):
    response = admin_client_api.post(
        "/api/v1/accounts", {"shadow_bot_account": "bot", "host_ip": "10.0.0.1", "port": 70000}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["message"] == "port: must be between 1 and 65535"
    assert "port" in body["details"]


def test_missing_auth_is_401_with_error_shape(anon_client):
    response = anon_client.get("/api/v1/accounts")
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"
    assert response.json()["message"]


def test_bad_token_is_401(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    response = anon_client.get("/api/v1/accounts")
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


def test_lacking_permission_is_403(viewer_client):
    response = viewer_client.post("/api/v1/accounts", {"shadow_bot_account": "b", "host_ip": "10.0.0.1", "port": 1})
    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"


def test_unknown_id_is_404_with_error_shape(admin_client_api):
    response = admin_client_api.get("/api/v1/accounts/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_unknown_api_path_is_json_404(admin_client_api):
    response = admin_client_api.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_wrong_method_is_405_with_error_shape(admin_client_api, make_account):
    response = admin_client_api.post(f"/api/v1/accounts/{make_account().pk}", {}, format="json")
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


def test_malformed_json_is_400_not_500(admin_client_api):
    response = admin_client_api.generic(
        "POST", "/api/v1/accounts", '{"shadow_bot_account": "x", ', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert "malformed" in response.json()["message"]


def test_put_is_partial(admin_client_api, make_account):
    account = make_account(shadow_bot_account="bot_x", host_ip="10.1.1.1", port=9000)
    response = admin_client_api.put(f"/api/v1/accounts/{account.pk}", {"port": 9001}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["port"] == 9001
    assert body["host_ip"] == "10.1.1.1"
    assert body["shadow_bot_account"] == "bot_x"


def test_delete_answers_200_with_json(admin_client_api, make_account):
    response = admin_client_api.delete(f"/api/v1/accounts/{make_account().pk}")
    assert response.status_code == 200
    assert response.json()["code"] == "DELETED"
    assert response.json()["message"]


def test_unexpected_exception_is_500_without_exception_text(admin_client_api, monkeypatch):
    from accounts import views

    def explode(self):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views.AccountViewSet, "get_queryset", explode)
    response = admin_client_api.get("/api/v1/accounts")
    assert response.status_code == 500
    assert response.json() == {"code": "INTERNAL_ERROR", "message": "internal server error"}
    assert b"secret internals" not in response.content


def test_cors_preflight_succeeds_without_auth(client):
    response = client.options(
        "/api/v1/accounts",
        HTTP_ORIGIN="http://localhost:3000",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PUT",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,authorization",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://localhost:3000"
    allowed_methods = response["Access-Control-Allow-Methods"]
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        assert method in allowed_methods
    allowed_headers = response["Access-Control-Allow-Headers"].lower()
    assert "content-type" in allowed_headers and "authorization" in allowed_headers


def test_cors_refuses_unknown_origin(client):
    response = client.options(
        "/api/v1/accounts", HTTP_ORIGIN="http://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert "Access-Control-Allow-Origin" not in response
