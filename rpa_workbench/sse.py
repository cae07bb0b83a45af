"""`/api/v1/sse/events` and `/api/v1/sse/status` (API.md §6), served by Daphne.

The stream is built from django-eventstream's parts (its Listener/ListenerManager queues and SSE
encoder) over our event outbox (`rpa_workbench.event_store`), with our own loop, because the
library's view:
- sends `keep-alive` every 20 s where the contract wants a `heartbeat` event with a timestamp
  every `RPA_SSE_HEARTBEAT_SECONDS`;
- reads storage through thread-sensitive `sync_to_async`, i.e. in the request's own executor
  thread, whose database connection then stays open for as long as the stream lives. Here every
  storage read (and the authentication) runs in the shared executor and closes its connection
  when done, so an idle stream holds no database connection;
- answers errors with a `stream-error` event on a 200; here a refused request gets the API's
  JSON error (401/403/400/404) before any stream is opened.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import unquote

from asgiref.sync import sync_to_async
from django.apps import apps
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django_eventstream.eventrequest import EventRequest
from django_eventstream.utils import make_id, parse_last_event_id, sse_encode_event
from django_eventstream.views import Listener
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

from rpa_workbench import event_store, events, pushpin, roles
from rpa_workbench.errors import ApiError, json_error_response
from rpa_workbench.permissions import is_admin
from rpa_workbench.tokens import JWTAuthentication

logger = logging.getLogger(__name__)


def without_pinned_connection(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run `func` in the shared executor and close the database connection it used."""

    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        finally:
            connections.close_all()

    return sync_to_async(run, thread_sensitive=False)


# --- opening a stream ----------------------------------------------------------------------


def authenticate(request: HttpRequest):
    """`?token=<access JWT>`, else `Authorization: Bearer <access JWT>`, else the session."""
    jwt = JWTAuthentication()
    try:
        token = request.GET.get("token")
        if token:
            return jwt.get_user(jwt.get_validated_token(token))
        result = jwt.authenticate(request)
        if result is not None:
            return result[0]
    except (AuthenticationFailed, InvalidToken, TokenError):
        return None
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def can_read_events(user) -> bool:
    """Any role may listen (viewers included): it takes one of the roles' view permissions."""
    return is_admin(user) or any(user.has_perm(perm) for perm in roles.VIEW_ONLY)


def requested_channel(request: HttpRequest) -> str:
    account_id = request.GET.get("account_id")
    if not account_id:
        return events.ALL_CHANNEL
    try:
        pk = uuid.UUID(account_id)
    except ValueError:
        raise ApiError(
            400, "VALIDATION_ERROR", "account_id: must be a UUID", {"account_id": ["must be a UUID"]}
        ) from None
    # The account model is named by a setting: this plumbing imports no domain app.
    if not apps.get_model(settings.RPA_ACCOUNT_MODEL).objects.filter(pk=pk).exists():
        raise ApiError(404, "NOT_FOUND", f"account {pk} not found")
    return events.account_channel(pk)


def requested_last_ids(request: HttpRequest, channel: str) -> dict[str, int]:
    """Where to resume: `Last-Event-ID` header, else the last non-empty `lastEventId` query
    value (EventSource polyfills), in the `<channel>:<id>[,…]` form the stream emits. An id of
    another channel (e.g. the client changed its `account_id` filter) starts afresh."""
    raw = request.headers.get("Last-Event-ID") or next(
        (value for value in reversed(request.GET.getlist("lastEventId")) if value), ""
    )
    if not raw:
        return {}
    try:
        parsed = {unquote(name): int(value) for name, value in parse_last_event_id(raw.strip()).items()}
    except ValueError:
        message = "Last-Event-ID: expected <channel>:<id> as sent in the stream's id lines"
        raise ApiError(400, "VALIDATION_ERROR", message, {"Last-Event-ID": [message]}) from None
    return {channel: parsed[channel]} if channel in parsed else {}


def open_event_request(request: HttpRequest) -> EventRequest:
    """Authenticate and validate everything before the stream opens (errors are 4xx JSON)."""
    user = authenticate(request)
    if user is None:
        raise ApiError(
            401, "NOT_AUTHENTICATED", "authentication credentials were not provided or are invalid"
        )
    if not can_read_events(user):
        raise ApiError(403, "PERMISSION_DENIED", "you do not have permission to read events")
    channel = requested_channel(request)
    event_request = EventRequest()
    event_request.channels = {channel}
    event_request.channel_last_ids = requested_last_ids(request, channel)
    event_request.user = user
    event_request.is_next = False
    return event_request


# --- the stream ----------------------------------------------------------------------------


def encoded_event(event_type: str, data: str, last_ids: dict[str, int]) -> str:
    return sse_encode_event(event_type, data, event_id=make_id(last_ids))


def read_storage(event_request: EventRequest) -> tuple[str, dict[str, int]]:
    """Every stored event of the stream's channel after its last id, SSE-encoded, and the id
    reached. With no last id, nothing, and the current id (the position to resume from)."""
    [channel] = event_request.channels
    if events.hub.needs_position():
        # Read before the replay, so the replay covers every event up to the hub's position.
        events.hub.note_position(event_store.current_id())
    account_id = event_store.channel_account(channel)
    last_ids = dict(event_request.channel_last_ids)
    if channel not in last_ids:
        return "", {channel: event_store.current_id()}
    body: list[str] = []
    if event_store.is_trimmed(last_ids[channel]):
        # Resuming from an event older than the retention: say so, the client should reload.
        last_ids[channel] = event_store.current_id()
        data = events.encode(events.payload(events.STREAM_RESET, {"channels": [channel]}))
        return encoded_event(events.STREAM_RESET, data, last_ids), last_ids
    while True:
        rows = event_store.read_after(last_ids[channel], account_id, limit=READ_BATCH)
        for row in rows:
            last_ids[channel] = row.position
            body.append(encoded_event(row.type, row.data, last_ids))
        if len(rows) < READ_BATCH:
            return "".join(body), last_ids


READ_BATCH = 500


read_storage_async = without_pinned_connection(read_storage)


def take_queued(listener: Listener) -> tuple[dict[str, list], bool, bool]:
    """What woke the stream: queued events, whether it must re-read storage, a heartbeat due."""
    with events.hub.lock:
        items, overflow, heartbeat = listener.channel_items, listener.overflow, listener.heartbeat_due
        listener.channel_items = {}
        listener.overflow = False
        listener.heartbeat_due = False
        listener.aevent.clear()
    return items, overflow, heartbeat


def encode_live(queued: dict[str, list], last_ids: dict[str, int]) -> str:
    """Encode events handed over live (the hub delivers them in id order). An id already sent
    is skipped: it was replayed from storage."""
    body: list[str] = []
    for channel, items in queued.items():
        for item in items:
            if item.id <= last_ids.get(channel, 0):
                continue
            last_ids[channel] = item.id
            body.append(encoded_once(item))
    return "".join(body)


def encoded_once(item) -> str:
    """The SSE block of a live event for a one-channel stream. It is the same for every stream of
    that channel (its id line is `<channel>:<id>`), so it is encoded once and kept on the shared
    event object, not once per subscriber."""
    block = getattr(item, "sse_block", None)
    if block is None:
        block = item.sse_block = encoded_event(item.type, item.data, {item.channel: item.id})
    return block


async def event_stream(event_request: EventRequest) -> AsyncIterator[bytes]:
    """The stream's body. It yields bytes (a str would make Django look up the response's
    charset on every write) and waits on its listener's event alone: new events, a storage
    re-read and the heartbeat (`events.hub`'s per-loop timer) all arrive as wake-ups."""
    listener = Listener()
    listener.user_id = event_request.user.pk
    listener.channels = set(event_request.channels)
    listener.assign_loop()
    # Subscribe before the first storage read so nothing committed in between is lost.
    events.hub.add_listener(listener)
    try:
        # First bytes at once: Daphne sends the status and headers with them (EventSource "open").
        yield b": stream open\n\n"
        body, last_ids = await read_storage_async(event_request)
        # A bare `id:` sets the client's Last-Event-ID without dispatching an event, so even a
        # client that disconnects before its first event resumes from here.
        yield (body or f"id: {make_id(last_ids)}\n\n").encode()
        while True:
            await listener.aevent.wait()
            queued, must_read, heartbeat = take_queued(listener)
            body = encode_live(queued, last_ids)
            if must_read:
                event_request.channel_last_ids = dict(last_ids)
                more, last_ids = await read_storage_async(event_request)
                body += more
            if heartbeat:
                body += encoded_event(events.HEARTBEAT, events.encode(events.heartbeat_payload()), last_ids)
            if body:
                yield body.encode()
    except (asyncio.CancelledError, GeneratorExit):
        raise
    except Exception:
        # Ending the stream makes EventSource reconnect (with its Last-Event-ID) and resume.
        logger.exception("SSE stream failed; closing it")
    finally:
        events.hub.remove_listener(listener)


async def events_view(request: HttpRequest) -> HttpResponse:
    """`GET /api/v1/sse/events[?account_id=<uuid>][&token=<jwt>]`: a text/event-stream."""
    if request.method != "GET":
        return json_error_response(405, f'method "{request.method}" not allowed')
    try:
        event_request = await without_pinned_connection(open_event_request)(request)
    except ApiError as exc:
        return json_error_response(
            exc.status_code,
            exc.message,
            exc.error_code,
            **({"details": exc.details} if exc.details is not None else {}),
        )
    if pushpin.enabled() and "Grip-Sig" in request.headers:
        # Through Pushpin: send the replay with instructions to hold the stream, and let go.
        body, last_ids = await read_storage_async(event_request)
        [channel] = event_request.channels
        response = HttpResponse(
            pushpin.hold_body(body, last_ids), content_type="text/event-stream"
        )
        pushpin.hold(response, channel)
    else:
        response = StreamingHttpResponse(
            event_stream(event_request), content_type="text/event-stream"
        )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


class StatusView(APIView):
    """`GET /api/v1/sse/status`: how many event streams are open (see `events.connected_clients`)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses=inline_serializer(
            "SseStatus", {"status": serializers.CharField(), "connected_clients": serializers.IntegerField()}
        )
    )
    def get(self, request):
        return Response({"status": "running", "connected_clients": events.connected_clients()})
