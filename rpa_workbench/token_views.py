"""The token endpoints of ours (docs/security.md "Tokens"): refresh only for a user who may
still have tokens, and `POST /api/v1/auth/logout` to revoke a refresh token."""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, parser_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import AuthenticationFailed, TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from rpa_workbench.errors import ApiError
from rpa_workbench.parsers import JSONParser
from rpa_workbench.tokens import user_of


class RevocableJWTScheme(SimpleJWTScheme):
    """The OpenAPI `jwtAuth` scheme for our subclass of simplejwt's authentication."""

    target_class = "rpa_workbench.tokens.JWTAuthentication"


class RevocableTokenRefreshSerializer(TokenRefreshSerializer):
    """Refresh only for a user who still exists, is active and has the password the token was
    issued under; then simplejwt's rotation (the used token is blacklisted, a new one returned)."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = self.token_class(attrs["refresh"])  # signature, expiry, blacklist (TokenError → 401)
        user = user_of(refresh)
        if user is None or not api_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")
        if refresh.payload.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
            raise AuthenticationFailed("The user's password has been changed.", "password_changed")
        return super().validate(attrs)


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField()


@extend_schema(
    tags=["auth"],
    request=LogoutSerializer,
    responses=inline_serializer("LoggedOut", {"message": serializers.CharField(), "code": serializers.CharField()}),
    description=(
        "Revoke a refresh token (it is blacklisted: it can no longer refresh). Anonymous: the refresh "
        "token is the proof. Access tokens already issued live out their short lifetime "
        "(RPA_JWT_ACCESS_MINUTES). Repeating the call is harmless (200)."
    ),
)
@api_view(["POST"])
@parser_classes([JSONParser])  # what the SPA sends; anything else is a 415
@authentication_classes([])
@permission_classes([AllowAny])
def logout(request):
    serializer = LogoutSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    raw = serializer.validated_data["refresh"]
    try:
        checked = UntypedToken(raw)  # signature and expiry; not the blacklist (a repeat is fine)
    except TokenError:
        raise ApiError(401, "NOT_AUTHENTICATED", "refresh: the token is invalid or expired") from None
    if checked.payload.get(api_settings.TOKEN_TYPE_CLAIM) != RefreshToken.token_type:
        raise ApiError(400, "VALIDATION_ERROR", "refresh: not a refresh token", {"refresh": ["not a refresh token"]})
    RefreshToken(raw, verify=False).blacklist()  # verified just above
    return Response({"message": "signed out: the refresh token is revoked", "code": "LOGGED_OUT"})
