"""The stream's wire format (rpa_workbench/sse_wire.py): what EventSource clients parse and
resume with, the same in-process and through Pushpin."""

from __future__ import annotations

import pytest

from rpa_workbench.sse_wire import LiveEvent, encode_event, make_id, parse_last_event_id


def test_an_event_is_its_type_id_and_one_data_line_per_line():
    assert encode_event("task_updated", '{"a": 1}\n{"b": 2}', "rpa:7") == (
        'event: task_updated\nid: rpa:7\ndata: {"a": 1}\ndata: {"b": 2}\n\n'
    )


def test_line_breaks_cannot_inject_fields_through_the_type_or_id():
    assert encode_event("x\r\nid: 99", "{}", "rpa:1\n") == "event: xid: 99\nid: rpa:1\ndata: {}\n\n"


def test_a_bare_event_has_no_id_line():
    assert encode_event("heartbeat", "{}") == "event: heartbeat\ndata: {}\n\n"


@pytest.mark.parametrize("last_ids", [{"rpa": 5}, {"account-0b7f1c52-8a52-4a8e-9d6e-1f0c2f1a7e10": 12}])
def test_the_id_line_reads_back_as_the_positions_it_names(last_ids):
    assert parse_last_event_id(make_id(last_ids)) == last_ids


@pytest.mark.parametrize("raw", ["rpa", "rpa:x", "rpa:"])
def test_an_id_not_in_the_streams_form_is_refused(raw):
    with pytest.raises(ValueError):
        parse_last_event_id(raw)


def test_a_live_event_is_encoded_once_for_all_its_streams():
    event = LiveEvent("rpa", "log_created", "{}", 3)
    assert event.encoded() is event.encoded()
    assert event.encoded() == "event: log_created\nid: rpa:3\ndata: {}\n\n"
