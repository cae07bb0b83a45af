"""The queues and items API (API.md §13): queue CRUD with 409 QUEUE_EXISTS / QUEUE_NOT_EMPTY,
one item or up to 1,000 at once (all or nothing), unique references, size limits, filters,
retry and delete, and who may do what."""

from __future__ import annotations

import pytest

from workqueues.models import ItemStatus, QueueItem, WorkQueue

pytestmark = pytest.mark.django_db

QUEUES = "/api/v1/queues"


def items_url(queue):
    return f"{QUEUES}/{queue.pk}/items"


def test_create_read_update_a_queue(operator_client, make_task):
    task = make_task()
    answer = operator_client.post(QUEUES, {"name": "Invoices", "max_retries": "3", "sla_minutes": 30, "task_id": str(task.pk),
                                           "trigger_min_items": 1, "trigger_max_jobs": 2}, format="json")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["max_retries"] == 3 and body["task_id"] == str(task.pk) and body["abandon_after_minutes"] == 1440
    assert body["counts"] == {"new": 0, "in_progress": 0, "successful": 0, "failed": 0, "abandoned": 0, "deleted": 0}
    assert body["oldest_new_at"] is None
    changed = operator_client.put(f"{QUEUES}/{body['id']}", {"description": "AP team"}, format="json")
    assert changed.status_code == 200 and changed.json()["max_retries"] == 3 and changed.json()["description"] == "AP team"
    listing = operator_client.get(QUEUES).json()
    assert listing["total"] == 1 and listing["items"][0]["name"] == "Invoices"


def test_queue_names_are_unique(operator_client, make_queue):
    make_queue("Invoices")
    answer = operator_client.post(QUEUES, {"name": "Invoices"}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (409, "QUEUE_EXISTS")
    other = make_queue("Orders")
    answer = operator_client.patch(f"{QUEUES}/{other.pk}", {"name": "Invoices"}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (409, "QUEUE_EXISTS")


@pytest.mark.parametrize("body", [
    {"name": "q", "max_retries": 11}, {"name": "q", "max_retries": -1}, {"name": "q", "sla_minutes": 0},
    {"name": "q", "trigger_max_jobs": 51}, {"name": "q", "trigger_min_items": 0}, {"name": ""},
    {"name": "q", "task_id": "8f1d7a3e-7a41-4c43-9d38-2f4f1e1b0a11"}, {"name": "q", "abandon_after_minutes": 0},
])
def test_bad_queue_settings_are_400(operator_client, body):
    answer = operator_client.post(QUEUES, body, format="json")
    assert (answer.status_code, answer.json()["code"]) == (400, "VALIDATION_ERROR")
    assert not WorkQueue.objects.exists()


def test_a_queue_with_open_items_cannot_be_deleted(operator_client, make_queue):
    queue = make_queue()
    operator_client.post(items_url(queue), {"reference": "A"}, format="json")
    answer = operator_client.delete(f"{QUEUES}/{queue.pk}")
    assert (answer.status_code, answer.json()["code"]) == (409, "QUEUE_NOT_EMPTY")
    QueueItem.objects.update(status=ItemStatus.SUCCESSFUL)
    answer = operator_client.delete(f"{QUEUES}/{queue.pk}")
    assert (answer.status_code, answer.json()["code"]) == (200, "DELETED")
    assert not QueueItem.objects.exists()


def test_viewers_read_but_do_not_write(viewer_client, make_queue):
    queue = make_queue()
    assert viewer_client.get(QUEUES).status_code == 200
    assert viewer_client.get(items_url(queue)).status_code == 200
    assert viewer_client.post(QUEUES, {"name": "x"}, format="json").status_code == 403
    assert viewer_client.post(items_url(queue), {"reference": "x"}, format="json").status_code == 403
    assert not QueueItem.objects.exists()


def test_add_one_item(operator_client, make_queue):
    queue = make_queue()
    answer = operator_client.post(items_url(queue), {
        "reference": "ORD-1", "priority": "high", "payload": {"amount": 12.5},
        "due_at": "2026-03-02T18:00:00+08:00", "defer_until": "2026-03-02T09:00:00Z"}, format="json")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["status"], body["priority"], body["payload"], body["retry_number"]) == ("new", "high", {"amount": 12.5}, 0)
    assert body["due_at"].startswith("2026-03-02T") and body["queue_id"] == str(queue.pk)
    assert operator_client.get(f"/api/v1/queue-items/{body['id']}").json()["reference"] == "ORD-1"


def test_bulk_add_is_all_or_nothing(operator_client, make_queue):
    queue = make_queue()
    good = [{"reference": f"R{n}", "payload": {"n": n}} for n in range(999)]
    bad = good + [{"reference": "R-bad", "priority": "urgent"}]
    answer = operator_client.post(items_url(queue), {"items": bad}, format="json")
    assert answer.status_code == 400 and "items[999].priority" in answer.json()["message"]
    assert not QueueItem.objects.exists()
    answer = operator_client.post(items_url(queue), {"items": good + [{"reference": "R-last"}]}, format="json")
    assert answer.status_code == 201 and answer.json()["created"] == 1000 and len(answer.json()["ids"]) == 1000
    too_many = operator_client.post(items_url(queue), {"items": [{}] * 1001}, format="json")
    assert too_many.status_code == 400
    assert QueueItem.objects.count() == 1000


def test_payload_and_reference_limits(operator_client, make_queue):
    queue = make_queue()
    for body in ({"payload": {"blob": "x" * 65536}}, {"payload": [1]}, {"payload": "text"}, {"reference": "r" * 129}):
        answer = operator_client.post(items_url(queue), body, format="json")
        assert (answer.status_code, answer.json()["code"]) == (400, "VALIDATION_ERROR"), body
    fits = operator_client.post(items_url(queue), {"payload": {"blob": "x" * 65000}, "reference": "r" * 128}, format="json")
    assert fits.status_code == 201
    assert QueueItem.objects.count() == 1


def test_unique_references_refuse_a_second_item_until_the_first_is_deleted(operator_client, make_queue):
    queue = make_queue(unique_references=True)
    first = operator_client.post(items_url(queue), {"reference": "ORD-7"}, format="json").json()
    again = operator_client.post(items_url(queue), {"reference": "ORD-7"}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "DUPLICATE_REFERENCE")
    in_batch = operator_client.post(items_url(queue), {"items": [{"reference": "X"}, {"reference": "X"}]}, format="json")
    assert (in_batch.status_code, in_batch.json()["code"]) == (409, "DUPLICATE_REFERENCE")
    against_existing = operator_client.post(items_url(queue), {"items": [{"reference": "Y"}, {"reference": "ORD-7"}]}, format="json")
    assert against_existing.status_code == 409
    assert QueueItem.objects.count() == 1
    assert operator_client.post(f"/api/v1/queue-items/{first['id']}/delete").json()["status"] == "deleted"
    assert operator_client.post(items_url(queue), {"reference": "ORD-7"}, format="json").status_code == 201
    other_queue = make_queue("other", unique_references=True)
    assert operator_client.post(items_url(other_queue), {"reference": "ORD-7"}, format="json").status_code == 201


def test_without_unique_references_a_reference_may_repeat(operator_client, make_queue):
    queue = make_queue()
    for _ in range(2):
        assert operator_client.post(items_url(queue), {"reference": "same"}, format="json").status_code == 201


def test_item_filters(operator_client, make_queue):
    queue = make_queue()
    operator_client.post(items_url(queue), {"items": [{"reference": "A", "priority": "high"}, {"reference": "B"}]}, format="json")
    QueueItem.objects.filter(reference="B").update(status=ItemStatus.FAILED)
    get = lambda query: [row["reference"] for row in operator_client.get(f"{items_url(queue)}?{query}").json()["items"]]  # noqa: E731
    assert get("status=failed") == ["B"]
    assert get("priority=high") == ["A"]
    assert get("reference=A") == ["A"]
    assert sorted(get("created_after=2020-01-01T00:00:00Z")) == ["A", "B"]
    assert get("created_before=2020-01-01T00:00:00Z") == []
    assert operator_client.get(f"{items_url(queue)}?status=nope").status_code == 400


def test_retry_and_delete_of_items(operator_client, make_queue):
    queue = make_queue()
    ids = operator_client.post(items_url(queue), {"items": [{"reference": "F"}, {"reference": "N"}]}, format="json").json()["ids"]
    failed, new = QueueItem.objects.get(reference="F"), QueueItem.objects.get(reference="N")
    assert {str(failed.pk), str(new.pk)} == set(ids)
    not_yet = operator_client.post(f"/api/v1/queue-items/{failed.pk}/retry")
    assert not_yet.status_code == 409
    QueueItem.objects.filter(pk=failed.pk).update(status=ItemStatus.FAILED)
    retried = operator_client.post(f"/api/v1/queue-items/{failed.pk}/retry")
    assert retried.status_code == 201
    assert (retried.json()["retry_of"], retried.json()["retry_number"], retried.json()["status"]) == (str(failed.pk), 1, "new")
    assert operator_client.post(f"/api/v1/queue-items/{failed.pk}/retry").json()["code"] == "ITEM_ALREADY_RETRIED"
    deleted = operator_client.post(f"/api/v1/queue-items/{failed.pk}/delete")
    assert (deleted.status_code, deleted.json()["code"]) == (409, "ITEM_NOT_NEW")
    assert operator_client.post(f"/api/v1/queue-items/{new.pk}/delete").json()["status"] == "deleted"


def test_counts_and_oldest_new_in_the_queue(operator_client, make_queue):
    queue = make_queue()
    operator_client.post(items_url(queue), {"items": [{}, {}, {}]}, format="json")
    QueueItem.objects.filter(pk=QueueItem.objects.first().pk).update(status=ItemStatus.SUCCESSFUL)
    body = operator_client.get(f"{QUEUES}/{queue.pk}").json()
    assert body["counts"]["new"] == 2 and body["counts"]["successful"] == 1
    assert body["oldest_new_at"] is not None
