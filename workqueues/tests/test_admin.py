"""Work queues in the admin: counts and the oldest ready item's age, the item list's filters,
bulk retry and delete through the workflows, the CSV upload, payload and output as formatted
JSON — in Chinese as well as English."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from workqueues import items
from workqueues.models import ItemStatus, QueueItem

pytestmark = pytest.mark.django_db

QUEUES = reverse("admin:workqueues_workqueue_changelist")
ITEMS = reverse("admin:workqueues_queueitem_changelist")


@pytest.fixture
def queue(make_queue):
    queue = make_queue("Orders", sla_minutes=5)
    earlier = timezone.now() - timedelta(minutes=90)
    items.add_items(queue=queue, specs=[{"priority": "normal", "reference": "OLD-1", "payload": {"sku": "茶叶", "qty": 2}}], now=earlier)
    items.add_items(queue=queue, specs=[{"priority": "high", "reference": f"N{n}"} for n in range(3)])
    QueueItem.objects.filter(reference="N2").update(status=ItemStatus.FAILED, output={"error": "closed"})
    return queue


def test_the_queue_list_shows_counts_and_the_oldest_ready_age(root, queue):
    page = root.get(QUEUES).content.decode()
    assert "Orders" in page
    assert ">3<" in page and ">1<" in page  # 3 new (linked), 1 failed
    assert "1h 30" in page or "1 h 30" in page or "90" in page
    assert "sla-late" in page  # older than the SLA


def test_the_item_list_filters_by_status_reference_priority_and_date(root, queue):
    assert "N2" in root.get(ITEMS + "?status__exact=failed").content.decode()
    assert "OLD-1" not in root.get(ITEMS + "?status__exact=failed").content.decode()
    assert "OLD-1" in root.get(ITEMS + "?q=OLD-1").content.decode()
    page = root.get(ITEMS + "?priority__exact=high").content.decode()
    assert "N0" in page and "OLD-1" not in page
    assert root.get(ITEMS + "?created_at__gte=2000-01-01").status_code == 200


def test_an_item_page_shows_payload_and_output_as_formatted_json(root, queue):
    failed = QueueItem.objects.get(reference="N2")
    page = root.get(reverse("admin:workqueues_queueitem_change", args=[failed.pk])).content.decode()
    assert '<pre class="queue-json">{\n  &quot;error&quot;: &quot;closed&quot;\n}</pre>' in page
    old = QueueItem.objects.get(reference="OLD-1")
    assert "茶叶" in root.get(reverse("admin:workqueues_queueitem_change", args=[old.pk])).content.decode()


def test_bulk_retry_and_delete_go_through_the_workflows(root, queue):
    failed, new = QueueItem.objects.get(reference="N2"), QueueItem.objects.get(reference="N0")
    root.post(ITEMS, {"action": "retry_selected", "_selected_action": [failed.pk, new.pk]})
    assert QueueItem.objects.filter(retry_of=failed, status=ItemStatus.NEW).count() == 1
    assert not QueueItem.objects.filter(retry_of=new).exists()  # a new item is not retried
    root.post(ITEMS, {"action": "delete_selected_items", "_selected_action": [new.pk, failed.pk]})
    new.refresh_from_db()
    failed.refresh_from_db()
    assert (new.status, failed.status) == (ItemStatus.DELETED, ItemStatus.FAILED)


def test_viewers_cannot_run_the_actions(viewer, queue):
    failed = QueueItem.objects.get(reference="N2")
    assert viewer.get(ITEMS).status_code == 200
    answer = viewer.post(ITEMS, {"action": "retry_selected", "_selected_action": [failed.pk]})
    assert answer.status_code == 403
    assert not QueueItem.objects.filter(retry_of=failed).exists()


def test_csv_upload_in_the_admin(root, queue):
    url = reverse("admin:workqueues_workqueue_upload", args=[queue.pk])
    assert root.get(url).status_code == 200
    bad = b"reference,priority,amount\nA,high,1\nB,urgent,2\n"
    from django.core.files.uploadedfile import SimpleUploadedFile

    page = root.post(url, {"file": SimpleUploadedFile("items.csv", bad, "text/csv")}).content.decode()
    assert "priority" in page and "<td>3</td>" in page
    assert not QueueItem.objects.filter(reference="A").exists()
    good = b"reference,priority,amount\nA,high,1\nB,low,2\n"
    answer = root.post(url, {"file": SimpleUploadedFile("items.csv", good, "text/csv")})
    assert answer.status_code == 302
    assert QueueItem.objects.get(reference="B").payload == {"amount": "2"}


def test_the_pages_speak_chinese(root, queue):
    root.cookies["django_language"] = "zh-hans"
    page = root.get(QUEUES, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "工作队列" in page
    page = root.get(ITEMS, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "队列事项" in page
