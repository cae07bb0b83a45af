"""What a channel's `target` may be: an http(s) URL, or for email a comma list of addresses.

Targets are admin-configured, so any host is allowed; only the scheme is restricted (no file:,
gopher:, ...), checked when a channel is saved and again before each send."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

from alerts.models import ChannelKind

_url = URLValidator(schemes=["http", "https"])


class TargetError(ValueError):
    pass


def is_http_url(value: str) -> bool:
    return urlsplit(value).scheme.lower() in ("http", "https")


def email_addresses(target: str) -> list[str]:
    return [address.strip() for address in target.split(",") if address.strip()]


def clean_target(kind: str, target: str) -> str:
    """The normalised target, or TargetError saying what is wrong."""
    target = (target or "").strip()
    if not target:
        raise TargetError("this field is required")
    if kind == ChannelKind.EMAIL:
        addresses = email_addresses(target)
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                raise TargetError(f"{address!r} is not an email address") from None
        return ", ".join(addresses)
    if not is_http_url(target):
        raise TargetError("must be an http:// or https:// URL")
    try:
        _url(target)
    except ValidationError:
        # Django's validator refuses hosts without a dot but accepts localhost and IPs; a test
        # receiver on a bare host name is still a URL.
        if not urlsplit(target).netloc:
            raise TargetError("must be an http:// or https:// URL") from None
    return target
