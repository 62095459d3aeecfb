"""In-app notifications and their email copy: sending, the list, marking read, the badge."""

from __future__ import annotations

import logging

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import NotificationFactory, UserFactory
from zhoukou_grid.core.models import Notification
from zhoukou_grid.core.notifications import notification_send, notifications_mark_read, unread_count

LIST = reverse("portal:notification_list")
MARK = reverse("portal:notification_mark_read")


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db(transaction=True)
def test_send_writes_one_row_each_and_mails_those_with_an_address():
    with_mail = UserFactory(username="wang", email="wang@example.com")
    without_mail = UserFactory(username="li", email="")
    inactive = UserFactory(username="gone", email="gone@example.com", is_active=False)
    with transaction.atomic():
        rows = notification_send(recipients=[with_mail, without_mail.pk, inactive, with_mail], kind="alerts",
                                 title="3 alerts", body="worst: T1", url="/load/alerts/")
        assert len(mail.outbox) == 0  # nothing leaves before the commit
    assert {r.user_id for r in rows} == {with_mail.pk, without_mail.pk}
    assert Notification.objects.count() == 2
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["wang@example.com"]
    assert "3 alerts" in message.subject and "worst: T1" in message.body and "/load/alerts/" in message.body


@pytest.mark.django_db(transaction=True)
def test_email_links_are_absolute_when_the_portal_address_is_set(settings):
    settings.PORTAL_BASE_URL = "https://grid.example.intranet/"
    user = UserFactory(username="wang", email="wang@example.com")
    notification_send(recipients=[user], kind="alerts", title="t", body="b", url="/load/alerts/?station=3")
    assert "https://grid.example.intranet/load/alerts/?station=3" in mail.outbox[0].body
    # The in-app row keeps the relative link: it opens on whatever host the user is on.
    assert Notification.objects.get().url == "/load/alerts/?station=3"


@pytest.mark.django_db(transaction=True)
def test_nothing_is_mailed_for_a_rolled_back_change():
    user = UserFactory(username="wang", email="wang@example.com")
    with pytest.raises(RuntimeError), transaction.atomic():
        notification_send(recipients=[user], kind="alerts", title="t", body="b", url="")
        raise RuntimeError
    assert not mail.outbox and not Notification.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_failing_mail_server_is_logged_without_addresses_and_never_breaks_the_caller(settings, caplog):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1  # nothing listens
    user = UserFactory(username="wang", email="secret.person@example.com")
    with caplog.at_level(logging.WARNING, logger="zhoukou_grid.core.notifications"):
        rows = notification_send(recipients=[user], kind="alerts", title="t", body="b", url="")
    assert len(rows) == 1 and Notification.objects.count() == 1
    assert "notification emails not sent" in caplog.text
    assert "secret.person" not in caplog.text


@pytest.mark.django_db
def test_email_false_sends_no_mail(django_capture_on_commit_callbacks):
    user = UserFactory(username="wang", email="wang@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        notification_send(recipients=[user], kind="visits", title="t", email=False)
    assert not mail.outbox and Notification.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_mark_read_touches_only_the_users_own_rows():
    me, other = UserFactory(username="me"), UserFactory(username="other")
    mine = [NotificationFactory(user=me) for _ in range(3)]
    theirs = NotificationFactory(user=other)
    assert notifications_mark_read(user=me, ids=[mine[0].pk, theirs.pk]) == 1
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert unread_count(me) == 2
    assert notifications_mark_read(user=me) == 2
    assert notifications_mark_read(user=me) == 0
    assert unread_count(me) == 0 and unread_count(other) == 1


@pytest.mark.django_db
def test_the_list_shows_unread_first_and_pages(personas):
    me = personas.station_staff
    old_unread = NotificationFactory(user=me, title="未读旧")
    read = NotificationFactory(user=me, title="已读新")
    notifications_mark_read(user=me, ids=[read.pk])
    NotificationFactory(user=personas.grid_manager, title="别人的")
    response = client_for(me).get(LIST)
    assert response.status_code == 200
    text = response.content.decode()
    assert text.index("未读旧") < text.index("已读新")
    assert "别人的" not in text
    assert reverse("portal:notification_detail", args=[old_unread.pk]) in text
    for _ in range(25):
        NotificationFactory(user=me)
    page2 = client_for(me).get(LIST, {"page": 2})
    assert page2.status_code == 200 and len(page2.context["object_list"]) == 7


@pytest.mark.django_db
def test_someone_elses_notification_is_a_404_like_a_missing_one(personas):
    theirs = NotificationFactory(user=personas.grid_manager)
    client = client_for(personas.station_staff)
    assert client.get(reverse("portal:notification_detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("portal:notification_detail", args=[987654]) ).status_code == 404
    assert client.post(MARK, {"id": theirs.pk}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert client_for(personas.grid_manager).get(
        reverse("portal:notification_detail", args=[theirs.pk])).status_code == 200


@pytest.mark.django_db
def test_mark_one_then_all_read_from_the_page_and_open_follows_only_local_links(personas):
    me = personas.station_staff
    first, second = NotificationFactory(user=me, url="/load/alerts/?station=1"), NotificationFactory(user=me)
    evil = NotificationFactory(user=me, url="https://evil.example.com/")
    client = client_for(me)
    response = client.post(MARK, {"id": first.pk, "open": "1"})
    assert response.status_code == 302 and response["Location"] == "/load/alerts/?station=1"
    first.refresh_from_db()
    assert first.read_at is not None
    assert client.post(MARK, {"id": evil.pk, "open": "1"})["Location"] == LIST
    assert client.post(MARK).status_code == 302
    second.refresh_from_db()
    assert second.read_at is not None
    assert client.get(MARK).status_code == 405


@pytest.mark.django_db
def test_the_top_bar_badge_counts_unread_and_costs_at_most_one_query(personas):
    me = personas.station_staff
    NotificationFactory(user=me)
    NotificationFactory(user=me)
    client = client_for(me)
    home = client.get(reverse("home")).content.decode()
    assert 'data-unread>2<' in home
    with CaptureQueriesContext(connection) as cached:
        client.get(reverse("home"))
    assert not [q for q in cached.captured_queries if "zhoukou_grid_notification" in q["sql"]]
    # Sending or reading drops the cached count: the badge follows at once, with one COUNT.
    notification_send(recipients=[me], kind="t", title="third", email=False)
    with CaptureQueriesContext(connection) as fresh:
        home = client.get(reverse("home")).content.decode()
    assert 'data-unread>3<' in home
    assert len([q for q in fresh.captured_queries if "zhoukou_grid_notification" in q["sql"]]) == 1
    notifications_mark_read(user=me)
    assert "data-unread" not in client.get(reverse("home")).content.decode()
