"""What a channel's `target` may be: an http(s) URL, or for email a comma list of addresses.

Only http(s) (no file:, gopher:, ...), and never an internal address (loopback, private,
link-local, metadata: rpa_workbench.outbound's guard) unless RPA_ALERT_ALLOWED_INTERNAL_HOSTS
names the host — an on-premises receiver. Checked when a channel is saved and again before each
send (and on each redirect hop), after DNS resolution."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

from alerts.models import ChannelKind
from rpa_workbench import outbound

_url = URLValidator(schemes=["http", "https"])


class TargetError(ValueError):
    pass


def is_http_url(value: str) -> bool:
    return urlsplit(value).scheme.lower() in ("http", "https")


def internal_allowed(host: str) -> bool:
    """RPA_ALERT_ALLOWED_INTERNAL_HOSTS names `host`: an exact host name or address, or a
    network (`10.20.0.0/16`) holding the address the URL is written with. No globs."""
    host = outbound.normalise_host(host)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    for entry in settings.RPA_ALERT_ALLOWED_INTERNAL_HOSTS:
        entry = outbound.normalise_host(entry)
        if entry and entry == host:
            return True
        if literal is not None:
            try:
                if literal in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


MASK = "…"


def masked_target(kind: str, target: str) -> str:
    """What non-admins see of a target: an http(s) URL cut after its host (a WeCom `?key=`, a
    DingTalk `?access_token=`, a Feishu hook path are each enough to post to the operators'
    group), e.g. `https://qyapi.weixin.qq.com/…`. Email addresses are no credential: shown."""
    if kind == ChannelKind.EMAIL:
        return target
    parts = urlsplit(target)
    try:
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK
    if not host:
        return MASK
    host = f"[{host}]" if ":" in host else host
    shown = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    return shown + "/" + MASK if (parts.path not in ("", "/") or parts.query or parts.fragment) else shown + "/"


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
    refuse_internal(target)
    return target


def refuse_internal(url: str) -> None:
    """TargetError when `url` is aimed at an internal address that is not allow-listed. A host
    that does not resolve now is accepted (DNS may be down); each send checks again."""
    try:
        parts = outbound.split_url(url)
        outbound.checked_addresses(parts.host, parts.port, internal_allowed=internal_allowed(parts.host))
    except outbound.BadUrl as exc:
        raise TargetError(str(exc)) from None
    except outbound.AddressRefused as exc:
        raise TargetError(
            f"{exc.host} is {exc.reason} ({exc.address}): alerts may not reach internal addresses "
            "unless RPA_ALERT_ALLOWED_INTERNAL_HOSTS names the host"
        ) from None
    except outbound.Unresolvable:
        return
