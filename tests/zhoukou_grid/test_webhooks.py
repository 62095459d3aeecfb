"""Group-chat webhooks (zhoukou_grid/core/webhooks.py) against a local fake HTTP server that
records what it receives: one that answers, one that is slow, one that answers 500, one
that is down. Plus the address rules, idempotency, and the county admins' settings page."""

from __future__ import annotations

import datetime
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from tests.factories import RoleAssignmentFactory, UserFactory, WebhookFactory
from zhoukou_grid.core import queue, webhooks
from zhoukou_grid.core.models import AuditLog, Webhook, WebhookDelivery
from zhoukou_grid.territory.models import Role

KEY = "0123456789abcdef-secret-robot-key-7f3a"


class FakeChat:
    """A threading HTTP server on 127.0.0.1 that records each POST and answers as told:
    mode "ok" (WeCom's {"errcode":0}), "500", "slow" (waits `delay` s before answering)."""

    def __init__(self, mode="ok", delay=3.0):
        self.mode, self.delay, self.received = mode, delay, []
        chat = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                chat.received.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
                if chat.mode == "slow":
                    time.sleep(chat.delay)
                status = 500 if chat.mode == "500" else 200
                answer = b'{"errcode":0,"errmsg":"ok"}' if status == 200 else b"oops"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the portal gave up waiting (the slow case)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin/webhook/send?key={KEY}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _down_url() -> str:
    """An address on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key={KEY}"


@pytest.fixture
def fast(settings):
    settings.WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]
    settings.WEBHOOK_CONNECT_TIMEOUT = 0.5
    settings.WEBHOOK_READ_TIMEOUT = 0.5
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_BACKOFF_SECONDS = 30
    settings.PORTAL_BASE_URL = "https://grid.example.cn"
    return settings


@pytest.fixture
def chat():
    server = FakeChat()
    yield server
    server.close()


def _issue(user, grid, description="电表不走字"):
    from visits.services import issue_open

    return issue_open(user=user, grid_id=grid.pk, channel="phone", category="meter", description=description)


# --- What arrives ------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_new_customer_issue_reaches_the_grid_chat_as_wecom_markdown(
        fast, chat, world, personas, django_capture_on_commit_callbacks):
    grid = world.grids["a1"].grid
    hook = WebhookFactory(grid=grid, url=chat.url, kind="wecom")
    other = WebhookFactory(grid=world.grids["a2"].grid, url=chat.url)
    with django_capture_on_commit_callbacks(execute=True):
        issue = _issue(personas.grid_manager, grid, description="[点此领奖](http://evil.example/) 请回电13812345678")
    [request] = chat.received
    assert request["path"] == f"/cgi-bin/webhook/send?key={KEY}"
    assert request["headers"]["Content-Type"].startswith("application/json")
    body = request["body"]
    assert set(body) == {"msgtype", "markdown"} and body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.startswith("**") and issue.get_category_display() in content
    link = "https://grid.example.cn" + reverse("visits:issue_detail", args=[issue.pk])
    assert f"[{_('Open in the portal')}]({link})" in content
    # The customer's text cannot smuggle a link in, and no phone number leaves the portal.
    assert "http://evil.example" not in content.replace("（http://evil.example/）", "") and "](http://evil" not in content
    assert "13812345678" not in content and "138＊＊＊＊78" in content
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert (delivery.status, delivery.attempts, delivery.event) == ("sent", 1, webhooks.EVENT_ISSUE_CREATED)
    hook.refresh_from_db()
    assert hook.last_success_at is not None and hook.consecutive_failures == 0
    assert not WebhookDelivery.objects.filter(webhook=other).exists()


@pytest.mark.django_db
def test_the_station_chat_gets_its_grids_issues_and_the_text_format_works(
        fast, chat, world, personas, django_capture_on_commit_callbacks):
    WebhookFactory(station=world.station_a1, url=chat.url, kind="wecom_text")
    WebhookFactory(station=world.station_a2, url=chat.url)
    with django_capture_on_commit_callbacks(execute=True):
        _issue(personas.grid_manager, world.grids["a1"].grid)
    [request] = chat.received
    assert request["body"]["msgtype"] == "text" and "电表不走字" in request["body"]["text"]["content"]


@pytest.mark.django_db
def test_the_json_webhook_carries_the_documented_payload(fast, chat, world, django_capture_on_commit_callbacks):
    hook = WebhookFactory(station=world.station_a1, url=chat.url, kind="json")
    with django_capture_on_commit_callbacks(execute=True):
        created = webhooks.webhook_emit(event="test.event", key="k-1", title="标题", lines=["一", "二"],
                                        url="/load/alerts/", station_id=world.station_a1.pk, data={"n": 3})
    assert created == 1
    [request] = chat.received
    body = request["body"]
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert body["schema"] == webhooks.SCHEMA and body["event"] == "test.event"
    assert body["id"] == f"zg-delivery-{delivery.pk}" and body["idempotency_key"] == "k-1"
    assert body["title"] == "标题" and body["lines"] == ["一", "二"] and body["data"] == {"n": 3}
    assert body["links"] == {"portal": "https://grid.example.cn/load/alerts/"}
    assert body["station_id"] == world.station_a1.pk and body["webhook"]["id"] == hook.pk
    for stamp in ("occurred_at", "sent_at"):
        assert datetime.datetime.fromisoformat(body[stamp]).tzinfo is not None


@pytest.mark.django_db
def test_the_same_event_twice_is_one_delivery(fast, chat, world, django_capture_on_commit_callbacks):
    hook = WebhookFactory(station=world.station_a1, url=chat.url)
    emit = {"event": "test.event", "key": "once", "title": "一次", "station_id": world.station_a1.pk}
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.webhook_emit(**emit) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.webhook_emit(**emit) == 0
    # A redelivered task and the retry watch do not send a sent delivery again either.
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert webhooks.webhook_deliver(delivery_id=delivery.pk) == "skipped"
    webhooks.webhooks_retry_due(now=timezone.now() + datetime.timedelta(hours=1))
    assert len(chat.received) == 1 and WebhookDelivery.objects.count() == 1


# --- When the chat fails -----------------------------------------------------------------

@pytest.mark.django_db
def test_a_500_is_retried_with_backoff_then_marked_failing(fast, world, personas, django_capture_on_commit_callbacks):
    broken = FakeChat("500")
    try:
        hook = WebhookFactory(grid=world.grids["a1"].grid, url=broken.url)
        with django_capture_on_commit_callbacks(execute=True):
            issue = _issue(personas.grid_manager, world.grids["a1"].grid)
        assert issue.pk  # the issue is recorded whatever the chat does
        delivery = WebhookDelivery.objects.get(webhook=hook)
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, _("HTTP %(status)d") % {
            "status": 500})
        first_wait = delivery.next_attempt_at - timezone.now()
        assert datetime.timedelta(seconds=25) < first_wait <= datetime.timedelta(seconds=30)
        # Not due yet: the watch leaves it.
        assert webhooks.webhooks_retry_due() == 0 and len(broken.received) == 1
        webhooks.webhooks_retry_due(now=timezone.now() + datetime.timedelta(seconds=31))
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("pending", 2)
        second_wait = delivery.next_attempt_at - timezone.now()
        assert datetime.timedelta(seconds=55) < second_wait <= datetime.timedelta(seconds=60)  # doubled
        webhooks.webhooks_retry_due(now=timezone.now() + datetime.timedelta(seconds=61))
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("failed", 3)  # WEBHOOK_MAX_ATTEMPTS
        webhooks.webhooks_retry_due(now=timezone.now() + datetime.timedelta(hours=1))
        assert len(broken.received) == 3
    finally:
        broken.close()
    hook.refresh_from_db()
    assert hook.consecutive_failures == 3 and hook.last_error == _("HTTP %(status)d") % {"status": 500}
    assert hook.is_failing and hook.last_success_at is None
    page = _client(personas.county_admin).get(reverse("webhooks:list"))
    assert 'data-failing="1"' in page.content.decode()
    detail = _client(personas.county_admin).get(reverse("webhooks:detail", args=[hook.pk])).content.decode()
    assert "HTTP 500" in detail and KEY not in detail


@pytest.mark.django_db
def test_a_slow_chat_times_out_without_holding_the_caller(fast, world, personas,
                                                          django_capture_on_commit_callbacks):
    slow = FakeChat("slow", delay=3.0)
    try:
        hook = WebhookFactory(grid=world.grids["a1"].grid, url=slow.url)
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            _issue(personas.grid_manager, world.grids["a1"].grid)
        elapsed = time.monotonic() - started
    finally:
        slow.close()
    assert len(slow.received) == 1
    assert elapsed < 2.5, elapsed  # connect + read timeouts (0.5 s each), not the server's 3 s
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert (delivery.status, delivery.last_error) == ("pending", _("timeout"))
    hook.refresh_from_db()
    assert hook.consecutive_failures == 1


@pytest.mark.django_db
def test_a_chat_that_is_down_fails_quietly_and_never_logs_the_address(
        fast, world, personas, django_capture_on_commit_callbacks, caplog):
    hook = WebhookFactory(grid=world.grids["a1"].grid, url=_down_url())
    with caplog.at_level(logging.DEBUG), django_capture_on_commit_callbacks(execute=True):
        issue = _issue(personas.grid_manager, world.grids["a1"].grid)
    assert issue.pk
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert (delivery.status, delivery.last_error) == ("pending", _("connection refused"))
    assert KEY not in caplog.text and "key=" not in caplog.text
    assert "failed" in caplog.text  # the failure itself is logged
    hook.refresh_from_db()
    assert hook.last_error == _("connection refused") and KEY not in hook.last_error


@pytest.mark.django_db
def test_with_a_worker_the_retry_goes_to_the_queue_with_a_growing_countdown(
        fast, world, monkeypatch, django_capture_on_commit_callbacks):
    """With Redis: the emit only queues; each failed attempt queues the next with its backoff;
    a queue that is down leaves the delivery for the watch and raises nothing."""
    hook = WebhookFactory(station=world.station_a1, url=_down_url())
    sent = []

    def fake_send(task, args=(), *, check=True, **options):
        sent.append((task, args, options.get("countdown")))

    monkeypatch.setattr(queue, "queue_is_eager", lambda: False)
    monkeypatch.setattr(queue, "queue_send", fake_send)
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.webhook_emit(event="t", key="q", title="队列", station_id=world.station_a1.pk)
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert sent == [("zhoukou_grid.core.tasks.webhook_deliver", (delivery.pk,), None)]
    assert delivery.attempts == 0  # nothing sent in the request
    webhooks.webhook_deliver(delivery_id=delivery.pk)
    assert sent[-1][2] == 30
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    webhooks.webhook_deliver(delivery_id=delivery.pk)
    assert sent[-1][2] == 60

    def queue_down(*args, **kwargs):
        raise queue.QueueUnavailable("down")

    monkeypatch.setattr(queue, "queue_send", queue_down)
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.webhook_emit(event="t", key="q2", title="队列", station_id=world.station_a1.pk) == 1
    assert WebhookDelivery.objects.get(event_key="q2").status == "pending"


# --- The address rules --------------------------------------------------------------------

def _fake_dns(monkeypatch, answers: dict[str, str]):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", getaddrinfo)


REFUSED = [
    "ftp://files.example.cn/hook",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "http://127.0.0.1:8000/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://[fe80::1]/hook",
    "http://100.100.100.200/latest/meta-data/",
    "https://user:pw@hooks.example.cn/hook",
    "https://portal.zhoukou.example/api/v1/",
    "https://anything.grid.example.cn/hook",
    "http://rebind.example.cn/hook",  # a name that resolves to the metadata address
    "http://0.0.0.0/hook",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", REFUSED)
def test_addresses_that_are_not_http_or_point_inside_are_refused_in_chinese(url, settings, monkeypatch):
    settings.ALLOWED_HOSTS = ["portal.zhoukou.example", ".grid.example.cn"]
    settings.PORTAL_BASE_URL = "https://portal.zhoukou.example"
    _fake_dns(monkeypatch, {"rebind.example.cn": "169.254.169.254", "hooks.example.cn": "10.20.30.40"})
    with pytest.raises(webhooks.WebhookUrlRefused) as refused:
        webhooks.webhook_url_check(url)
    message = refused.value.messages[0]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message


@pytest.mark.django_db
def test_an_intranet_or_public_address_is_accepted(settings, monkeypatch):
    _fake_dns(monkeypatch, {"hooks.example.cn": "10.20.30.40", "qyapi.weixin.qq.com": "101.91.40.24"})
    assert webhooks.webhook_url_check("https://hooks.example.cn/x").addresses == ("10.20.30.40",)
    checked = webhooks.webhook_url_check(f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}")
    assert (checked.host, checked.port, checked.target) == (
        "qyapi.weixin.qq.com", 443, f"/cgi-bin/webhook/send?key={KEY}")
    # The tests' exemption is off by default: the fake server's address is refused without it.
    assert settings.WEBHOOK_ALLOW_HOSTS == []
    with pytest.raises(webhooks.WebhookUrlRefused):
        webhooks.webhook_url_check("http://127.0.0.1:9/hook")


@pytest.mark.django_db
def test_the_address_is_checked_again_at_send_time_dns_rebinding(fast, world, monkeypatch):
    hook = WebhookFactory(station=world.station_a1, url="http://hooks.example.cn/hook?key=" + KEY)
    _fake_dns(monkeypatch, {"hooks.example.cn": "10.20.30.40"})
    webhooks.webhook_url_check(webhooks.webhook_url(hook))  # fine when it was saved
    _fake_dns(monkeypatch, {"hooks.example.cn": "169.254.169.254"})  # then the name moves
    connections = []
    monkeypatch.setattr("urllib3.HTTPConnectionPool.urlopen", lambda *a, **k: connections.append(a))
    delivery = WebhookDelivery.objects.create(webhook=hook, event="t", event_key="rebind", message={"title": "x"})
    assert webhooks.webhook_deliver(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.last_error.startswith(_("refused address: %(reason)s") % {"reason": ""})
    assert connections == []


def test_the_mask_shows_where_not_the_secret():
    masked = webhooks.webhook_url_mask(f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}")
    assert masked == "https://qyapi.weixin.qq.com/…key=****7f3a"
    assert "secret" not in webhooks.webhook_url_mask("https://hooks.example.cn/services/T0/B0/secretsecret1234")


# --- The settings page --------------------------------------------------------------------

def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_a_county_admin_adds_changes_tests_and_disables_a_webhook_all_audited(
        fast, chat, world, personas, caplog):
    admin = _client(personas.county_admin)
    page = admin.get(reverse("webhooks:list"))
    assert page.status_code == 200
    with caplog.at_level(logging.DEBUG):
        response = admin.post(reverse("webhooks:list"), {
            "name": "甲一网格群", "grid": world.grids["a1"].grid.pk, "kind": "wecom", "url": chat.url})
    hook = Webhook.objects.get()
    assert response.status_code == 302 and response.url == reverse("webhooks:detail", args=[hook.pk])
    assert (hook.county, hook.grid, hook.station) == (world.county_a, world.grids["a1"].grid, None)
    assert webhooks.webhook_url(hook) == chat.url and KEY not in hook.url_enc
    listing = admin.get(reverse("webhooks:list")).content.decode()
    assert hook.url_masked in listing and "****7f3a" in listing and KEY not in listing
    detail = admin.get(reverse("webhooks:detail", args=[hook.pk])).content.decode()
    assert KEY not in detail and "****7f3a" in detail

    # Test message: delivered to the fake chat, the page says so.
    response = admin.post(reverse("webhooks:detail", args=[hook.pk]), {"action": "test"}, follow=True)
    assert response.status_code == 200 and len(chat.received) == 1
    assert chat.received[0]["body"]["msgtype"] == "markdown"
    # A new address (the old one kept when the field is empty), then disabled.
    new_url = chat.url.replace(KEY, "another-robot-key-9999")
    admin.post(reverse("webhooks:detail", args=[hook.pk]), {"action": "save", "name": "群", "kind": "json",
                                                            "url": ""})
    hook.refresh_from_db()
    assert (hook.name, hook.kind, webhooks.webhook_url(hook)) == ("群", "json", chat.url)
    admin.post(reverse("webhooks:detail", args=[hook.pk]), {"action": "save", "name": "群", "kind": "json",
                                                            "url": new_url})
    admin.post(reverse("webhooks:detail", args=[hook.pk]), {"action": "disable"})
    hook.refresh_from_db()
    assert webhooks.webhook_url(hook) == new_url and not hook.is_active

    actions = list(AuditLog.objects.filter(object_type="webhook", object_id=str(hook.pk)).order_by("pk")
                   .values_list("action", flat=True))
    assert actions == ["webhook.created", "webhook.tested", "webhook.changed", "webhook.changed", "webhook.disabled"]
    changed = AuditLog.objects.filter(action="webhook.changed").order_by("pk").last()
    assert changed.detail["address"] == [webhooks.webhook_url_mask(chat.url), webhooks.webhook_url_mask(new_url)]
    assert changed.county_id == world.county_a.pk
    everything = json.dumps(list(AuditLog.objects.values_list("detail", flat=True)), ensure_ascii=False)
    assert KEY not in everything and "another-robot-key-9999" not in everything
    assert KEY not in caplog.text

    # Disabled: nothing is sent to it any more.
    webhooks.webhook_emit(event="t", key="after", title="停用后", grid_id=world.grids["a1"].grid.pk)
    assert not WebhookDelivery.objects.filter(event_key="after").exists()


@pytest.mark.django_db
def test_the_form_refuses_a_bad_address_with_the_reason(world, personas):
    response = _client(personas.county_admin).post(reverse("webhooks:list"), {
        "name": "坏地址", "station": world.station_a1.pk, "kind": "wecom", "url": "http://169.254.169.254/x"})
    assert response.status_code == 400 and not Webhook.objects.exists()
    assert "169.254.169.254" in response.content.decode()


@pytest.mark.django_db
def test_outsiders_get_404_other_roles_403_and_the_list_is_scoped(world, personas):
    mine = WebhookFactory(station=world.station_a1, name="甲一所群")
    theirs = WebhookFactory(station=world.station_b1, name="乙一所群")
    other_admin = UserFactory(username="admin_b")
    RoleAssignmentFactory(user=other_admin, role=Role.COUNTY_ADMIN, county=world.county_b)
    other = _client(other_admin)
    assert other.get(reverse("webhooks:detail", args=[mine.pk])).status_code == 404
    assert other.post(reverse("webhooks:detail", args=[mine.pk]), {"action": "disable"}).status_code == 404
    assert other.post(reverse("webhooks:list"), {"name": "x", "station": world.station_a1.pk, "kind": "wecom",
                                                 "url": "https://hooks.example.cn/x"}).status_code == 400
    listing = other.get(reverse("webhooks:list")).content.decode()
    assert "乙一所群" in listing and "甲一所群" not in listing and mine.url_masked not in listing
    mine.refresh_from_db()
    assert mine.is_active
    for persona in (personas.station_staff, personas.grid_manager):
        assert _client(persona).get(reverse("webhooks:list")).status_code == 403
        assert _client(persona).get(reverse("webhooks:detail", args=[mine.pk])).status_code == 403
    assert _client(personas.county_admin).get(reverse("webhooks:detail", args=[theirs.pk])).status_code == 404


# --- What the apps send ---------------------------------------------------------------------

@pytest.mark.django_db
def test_a_projection_run_tells_the_station_and_grid_chats_once(fast, chat, world, personas,
                                                                django_capture_on_commit_callbacks):
    from loadforecast.models import Alert
    from loadforecast.services import projection_finish, projection_run
    from tests.loadforecast.test_run import DAYS, RUN_DATE, _tiny

    g = _tiny(world)
    station_hook = WebhookFactory(station=world.station_a1, url=chat.url, kind="json")
    grid_hook = WebhookFactory(grid=g.transformer.grid, url=chat.url, kind="wecom")
    with django_capture_on_commit_callbacks(execute=True):
        run = projection_run(run_date=RUN_DATE, days=DAYS)
    assert run.status == "done", run.error
    alerts = list(Alert.objects.filter(grid__station=world.station_a1).order_by("pk"))
    assert alerts
    bodies = {r["body"].get("event", "wecom"): r["body"] for r in chat.received}
    assert len(chat.received) == 2
    assert bodies[webhooks.EVENT_ALERTS]["data"]["alert_ids"] == [a.pk for a in alerts]
    assert g.transformer.code in bodies["wecom"]["markdown"]["content"]
    assert {d.webhook_id for d in WebhookDelivery.objects.filter(status="sent")} == {station_hook.pk, grid_hook.pk}
    with django_capture_on_commit_callbacks(execute=True):
        projection_finish(run_id=run.pk)  # a redelivered finishing step
    assert len(chat.received) == 2


@pytest.mark.django_db
def test_the_18_oclock_reminder_and_newly_overdue_hazards_reach_the_chats_once(
        fast, chat, world, django_capture_on_commit_callbacks):
    from tests.visits.factories import HazardFactory
    from visits.webhooks import reminder_webhooks

    today = timezone.localdate()
    grid = world.grids["a1"].grid
    WebhookFactory(grid=grid, url=chat.url, kind="json")
    HazardFactory(grid=grid, deadline=today - datetime.timedelta(days=1), description="表箱门损坏")
    HazardFactory(grid=grid, deadline=today - datetime.timedelta(days=5))
    HazardFactory(grid=world.grids["b1"].grid, deadline=today - datetime.timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert reminder_webhooks(today=today) == 2
    by_event = {r["body"]["event"]: r["body"] for r in chat.received}
    assert set(by_event) == {webhooks.EVENT_VISIT_REMINDER, webhooks.EVENT_HAZARDS_OVERDUE}
    assert by_event[webhooks.EVENT_VISIT_REMINDER]["data"]["overdue_hazards"] == 2
    overdue = by_event[webhooks.EVENT_HAZARDS_OVERDUE]
    assert len(overdue["data"]["hazard_ids"]) == 1 and "表箱门损坏" in overdue["lines"][0]
    with django_capture_on_commit_callbacks(execute=True):
        assert reminder_webhooks(today=today) == 0
    assert len(chat.received) == 2


def test_the_retry_watch_is_on_the_beat_schedule():
    from zhoukou_grid.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "zhoukou_grid.core.tasks.webhooks_retry_due" in tasks
    assert queue.queue_task("zhoukou_grid.core.tasks.webhook_deliver").name == "zhoukou_grid.core.tasks.webhook_deliver"


@pytest.mark.django_db
def test_the_list_costs_the_same_queries_for_one_webhook_or_many(world, personas):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    admin = _client(personas.county_admin)
    WebhookFactory(station=world.station_a1)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin.get(reverse("webhooks:list")).status_code == 200
        return len(queries)

    count()  # warms the caches of the page's frame (unread count…)
    one = count()
    for grid in ("a1", "a2", "a3"):
        WebhookFactory(grid=world.grids[grid].grid)
    WebhookFactory(station=world.station_a2)
    assert count() == one


def test_the_audit_log_reads_the_webhook_actions_in_chinese():
    from django.utils import translation

    from tests.words.test_chinese_ui import words_on
    from zhoukou_grid.core.audit_labels import action_label, detail_text

    with translation.override("zh-hans"):
        for action in ("webhook.created", "webhook.changed", "webhook.enabled", "webhook.disabled", "webhook.tested"):
            assert action_label(action) != action and words_on(action_label(action)) == [], action
        assert words_on(detail_text({"name": True, "status": "sent"})) == ["sent"]  # a value, not a key


@pytest.mark.django_db
def test_a_dns_server_that_does_not_answer_does_not_hold_the_caller(fast, monkeypatch):
    def stuck(*args, **kwargs):
        time.sleep(3)
        raise socket.gaierror("no answer")

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", stuck)
    started = time.monotonic()
    with pytest.raises(webhooks.WebhookUrlRefused) as refused:
        webhooks.webhook_url_check("https://hooks.example.cn/x")
    assert time.monotonic() - started < 1.5  # the connect timeout (0.5 s), not the resolver's 3 s
    assert refused.value.messages == [_("The host name of the address cannot be resolved.")]
