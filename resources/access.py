"""Who may read a stored file or proxied object.

A valid signature (from `signing.signed_resource_url`) is enough on its own — that is what lets
`<img src>` work without an Authorization header. Without one, the normal rules apply: an
authenticated user who may view execution logs (or, for task config files, a robot with the
webhook secret). A signature that is present but expired or tampered with is named as such.
"""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import BasePermission

from resources.signing import Kind, SignatureState, check_signature
from rpa_workbench.errors import ApiError
from rpa_workbench.permissions import is_admin
from rpa_workbench.robot_auth import robot_token_valid

READ_PERMISSION = "executionlogs.view_executionlog"


class SignedOrPermitted(BasePermission):
    """The view names what is signed: `signed_kind` and `signed_value(request, view)`."""

    def has_permission(self, request, view) -> bool:
        kind: Kind = view.signed_kind
        value = view.signed_value(request)
        signature = request.query_params.get("sig")
        state = check_signature(kind, value, signature) if (signature and value) else None
        if state is SignatureState.VALID:
            return True
        user = request.user
        if user and user.is_authenticated and (is_admin(user) or user.has_perm(READ_PERMISSION)):
            return True
        if kind is Kind.FILE and value and value.startswith("configs/") and robot_token_valid(request):
            return True
        if state is SignatureState.EXPIRED:
            raise ApiError(403, "SIGNATURE_EXPIRED", "this signed URL has expired; ask for a new one")
        if state is SignatureState.INVALID:
            raise ApiError(403, "SIGNATURE_INVALID", "this signed URL is not valid")
        return False


class AlwaysFirstRenderer(DefaultContentNegotiation):
    """Browsers loading images send `Accept: image/*`; errors are still JSON, never a 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
