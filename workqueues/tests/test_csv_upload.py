"""CSV upload (API.md §13): `reference,priority,payload…` columns, other columns payload keys;
`{created, errors: [{line, message}]}`, all or nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from workqueues.models import QueueItem

pytestmark = pytest.mark.django_db


def upload(client, queue, content: bytes):
    return client.post(f"/api/v1/queues/{queue.pk}/items/upload",
                       {"file": SimpleUploadedFile("items.csv", content, "text/csv")}, format="multipart")


def test_every_line_becomes_an_item_and_other_columns_payload_keys(operator_client, make_queue):
    queue = make_queue()
    content = (
        b'reference,priority,payload,customer,amount,due_at\n'
        b'ORD-1,high,"{""sku"": ""A1""}",Acme,12.50,2026-03-02T18:00:00+08:00\n'
        b'ORD-2,,,Globex,7,\n'
        b'\n'
    )
    answer = upload(operator_client, queue, content)
    assert answer.status_code == 201, answer.json()
    assert answer.json() == {"created": 2, "errors": []}
    first, second = QueueItem.objects.get(reference="ORD-1"), QueueItem.objects.get(reference="ORD-2")
    assert first.payload == {"sku": "A1", "customer": "Acme", "amount": "12.50"} and first.priority == "high"
    assert first.due_at is not None
    assert second.payload == {"customer": "Globex", "amount": "7"} and second.priority == "normal"


def test_wrong_lines_are_listed_and_nothing_is_added(operator_client, make_queue):
    queue = make_queue(unique_references=True)
    operator_client.post(f"/api/v1/queues/{queue.pk}/items", {"reference": "TAKEN"}, format="json")
    content = (
        "reference,priority,payload\n"
        "A,high,\n"            # line 2: fine
        "B,urgent,\n"          # line 3: bad priority
        'C,low,"[1, 2]"\n'     # line 4: payload not an object
        "A,low,\n"             # line 5: repeats line 2
        "TAKEN,low,\n"         # line 6: already in the queue
        "D,low,,extra\n"       # line 7: more values than columns
        f"{'r' * 129},low,\n"  # line 8: reference too long
    ).encode()
    answer = upload(operator_client, queue, content)
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "VALIDATION_ERROR" and body["created"] == 0
    assert [error["line"] for error in body["errors"]] == [3, 4, 5, 6, 7, 8]
    assert "priority" in body["errors"][0]["message"] and "line 3" in body["message"]
    assert "repeats line 2" in body["errors"][2]["message"]
    assert QueueItem.objects.count() == 1  # only TAKEN, from before


def test_excel_files_in_gb18030_or_with_a_bom_are_read(operator_client, make_queue):
    queue = make_queue()
    assert upload(operator_client, queue, "reference,客户\nA,上海晨光\n".encode("gb18030")).status_code == 201
    assert upload(operator_client, queue, "reference,客户\nB,杭州云杉\n".encode("utf-8-sig")).status_code == 201
    assert QueueItem.objects.get(reference="A").payload == {"客户": "上海晨光"}
    assert QueueItem.objects.get(reference="B").payload == {"客户": "杭州云杉"}


@pytest.mark.parametrize("content", [b"", b"reference,priority\n", b"\xff\xfe\x00garbage\x00"])
def test_empty_or_unreadable_files_are_400(operator_client, make_queue, content):
    answer = upload(operator_client, make_queue(), content)
    assert (answer.status_code, answer.json()["code"]) == (400, "VALIDATION_ERROR")
    assert not QueueItem.objects.exists()


def test_upload_needs_a_file_and_the_right_to_add(operator_client, viewer_client, make_queue):
    queue = make_queue()
    assert operator_client.post(f"/api/v1/queues/{queue.pk}/items/upload", {}, format="multipart").status_code == 400
    assert upload(viewer_client, queue, b"reference\nA\n").status_code == 403
    assert not QueueItem.objects.exists()
