"""JWTs that can be taken back (docs/security.md "Tokens"): the authentication class.

simplejwt's public settings do most of it (settings.SIMPLE_JWT): refresh tokens rotate and a
used one is blacklisted (`token_blacklist` app); every token carries a digest of the user's
password hash (`CHECK_REVOKE_TOKEN`), so a password change ends every token issued before it;
`CHECK_USER_IS_ACTIVE` refuses a deactivated user's. Here: `JWTAuthentication`, for which a
token naming no usable user (`"user_id": "abc"`, a list …) is a 401, not the 500 of the ORM's
ValueError. The refresh and sign-out endpoints are in `rpa_workbench.token_views` (this module
is imported while DRF loads its settings, so it imports no view machinery).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings

# What a user id in a token can fail with before the database answers (a string for an integer
# key, a list, a number too big for the column).
BAD_USER_ID = (ValueError, TypeError, OverflowError, ValidationError)


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's, with a token whose user id is not one a 401 like any invalid token."""

    def get_user(self, validated_token):
        if not usable_user_id(validated_token.get(api_settings.USER_ID_CLAIM)):
            raise InvalidToken("Token contained no recognizable user identification")
        try:
            return super().get_user(validated_token)
        except BAD_USER_ID:
            raise InvalidToken("Token contained no recognizable user identification") from None


def usable_user_id(user_id: Any) -> bool:
    """A user id as simplejwt writes one: a string or an integer (`true` is no id, though
    Python would compare it equal to 1)."""
    return isinstance(user_id, (str, int)) and not isinstance(user_id, bool)


def user_of(token) -> Any | None:
    """The user a token names, or None (no such user, or no usable id)."""
    user_id = token.payload.get(api_settings.USER_ID_CLAIM)
    if not usable_user_id(user_id):
        return None
    user_model = get_user_model()
    try:
        return user_model.objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()
    except BAD_USER_ID:
        return None
