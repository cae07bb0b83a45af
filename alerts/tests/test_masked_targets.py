"""Channel credentials are for admins only (issue 23): a WeCom `?key=`, a DingTalk
`?access_token=` or a Feishu hook path lets anyone post to the operators' group, so operators
and viewers get targets cut after the host, in the API and on the admin page."""

from __future__ import annotations

import pytest

from alerts.targets import masked_target

pytestmark = pytest.mark.django_db

CHANNELS = "/api/v1/alerts/channels"
WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K-wecom-3b1f"
DINGTALK = "https://oapi.dingtalk.com/robot/send?access_token=T-ding-77aa"
FEISHU = "https://open.feishu.cn/open-apis/bot/v2/hook/F-feishu-19cd"
CREDENTIALS = ("K-wecom-3b1f", "T-ding-77aa", "F-feishu-19cd")


@pytest.fixture
def channels(make_channel):
    return [
        make_channel(name="wecom", kind="wecom", target=WECOM),
        make_channel(name="ding", kind="dingtalk", target=DINGTALK),
        make_channel(name="feishu", kind="feishu", target=FEISHU),
        make_channel(name="mail", kind="email", target="ops@example.com"),
    ]


def test_admins_see_the_whole_target(admin_client_api, channels):
    targets = {item["name"]: item["target"] for item in admin_client_api.get(CHANNELS).json()["items"]}
    assert targets == {"wecom": WECOM, "ding": DINGTALK, "feishu": FEISHU, "mail": "ops@example.com"}


def test_operators_and_viewers_get_targets_cut_after_the_host(operator_client, viewer_client, channels):
    for client in (operator_client, viewer_client):
        listing = client.get(CHANNELS)
        targets = {item["name"]: item["target"] for item in listing.json()["items"]}
        assert targets == {
            "wecom": "https://qyapi.weixin.qq.com/…",
            "ding": "https://oapi.dingtalk.com/…",
            "feishu": "https://open.feishu.cn/…",
            "mail": "ops@example.com",
        }
        detail = client.get(f"{CHANNELS}/{channels[0].pk}")
        for text in (listing.content.decode(), detail.content.decode()):
            assert not any(credential in text for credential in CREDENTIALS)


def test_the_admin_page_masks_the_target_for_a_viewer(client, viewer_user, channels):
    client.force_login(viewer_user)
    for channel in channels[:3]:
        page = client.get(f"/admin/alerts/channel/{channel.pk}/change/")
        assert page.status_code == 200
        html = page.content.decode()
        assert not any(credential in html for credential in CREDENTIALS)
        assert masked_target(channel.kind, channel.target) in html


def test_the_admin_page_shows_the_target_to_an_admin(root, channels):
    html = root.get(f"/admin/alerts/channel/{channels[0].pk}/change/").content.decode()
    assert "K-wecom-3b1f" in html


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("http://10.0.0.5:8080/hook?token=x", "http://10.0.0.5:8080/…"),
        ("https://hooks.example.com", "https://hooks.example.com/"),
        ("https://hooks.example.com/", "https://hooks.example.com/"),
        ("https://user:pw@hooks.example.com/x", "https://hooks.example.com/…"),
        ("https://[2001:db8::1]/x", "https://[2001:db8::1]/…"),
        ("not a url", "…"),
    ],
)
def test_masking_keeps_only_scheme_host_and_port(target, shown):
    assert masked_target("webhook", target) == shown
