"""This process's subscribers (`events.hub`): one heartbeat timer per event loop."""

from __future__ import annotations

import asyncio

from django_eventstream.views import Listener

from rpa_workbench import events


def test_one_timer_per_loop_marks_every_stream_due_and_stops_with_the_last(settings):
    settings.RPA_SSE_HEARTBEAT_SECONDS = 0.05
    hub = events.Hub()

    async def scenario() -> tuple[list[bool], bool, bool]:
        listeners = []
        for channel in ("rpa", "account-1"):
            listener = Listener()
            listener.channels = {channel}
            listener.assign_loop()
            hub.add_listener(listener)
            listeners.append(listener)
        one_timer = len(hub._heartbeat_timers) == 1
        await asyncio.wait_for(asyncio.gather(*(listener.aevent.wait() for listener in listeners)), 2)
        due = [listener.heartbeat_due for listener in listeners]
        for listener in listeners:
            hub.remove_listener(listener)
        await asyncio.sleep(0.15)
        return due, one_timer, not hub._heartbeat_timers

    due, one_timer, stopped = asyncio.run(scenario())
    assert due == [True, True]
    assert one_timer
    assert stopped
