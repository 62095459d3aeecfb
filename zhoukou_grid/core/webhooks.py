"""Outgoing webhooks: the stations' and grids' group chats (企业微信群机器人) and other systems.

The apps call `webhook_emit` (or `webhook_emit_many`) with an event: its type, a key that
names it once and for all (the same key twice is one message), the station and/or grid it
concerns, a title, a few lines and a link. For each active webhook of that station or grid
a `WebhookDelivery` row is created once per (webhook, event key); after the transaction
commits, the Celery task `webhook_deliver` sends it.

Sending (`webhook_deliver`):
- the URL is checked again at send time and the connection goes to the address that was
  checked (no second DNS answer in between: DNS rebinding), no redirects followed;
- connect and read timeouts (`WEBHOOK_CONNECT_TIMEOUT`, `WEBHOOK_READ_TIMEOUT`);
- a failed attempt is retried with exponential backoff (`WEBHOOK_BACKOFF_SECONDS` x 2^n)
  up to `WEBHOOK_MAX_ATTEMPTS`, then the delivery is failed; the webhook keeps its last
  error, last success and consecutive failures for the settings page;
- a delivery is claimed before it is sent, and a sent one is never sent again;
- nothing raises into the caller: an emit that cannot be queued stays waiting for
  `webhooks_retry_due` (beat, every minute); in-process (no Redis) the sends of one
  request have a time budget (`WEBHOOK_EAGER_BUDGET_SECONDS`), one attempt each.

Never logged or stored in an error: the URL (it is the secret). Errors are our own words
("timeout", "HTTP 500"), never an exception's text, which would hold the URL.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import json
import logging
import re
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from zhoukou_grid.core import crypto
from zhoukou_grid.core.models import Webhook, WebhookDelivery
from zhoukou_grid.territory.models import Grid

logger = logging.getLogger(__name__)

URL_PURPOSE = "webhook_url"
MAX_URL_LENGTH = 1000
MAX_ANSWER_BYTES = 64 * 1024
WECOM_MAX_BYTES = 4000  # WeCom takes at most 4096 bytes of markdown or text
SCHEMA = "zhoukou-grid.webhook/1"
CLAIM_EXPIRES = timedelta(minutes=5)

# Event types (the JSON payload's "event").
EVENT_ALERTS = "alert.new_or_raised"
EVENT_OUTLOOK = "outlook.heavy"
EVENT_OUTLOOK_ORDER_BY = "outlook.order_by"
EVENT_VISIT_REMINDER = "visit.reminder"
EVENT_ISSUE_CREATED = "issue.created"
EVENT_HAZARDS_OVERDUE = "hazard.overdue"
EVENT_TEST = "webhook.test"

METADATA_HOSTS = {"metadata.google.internal", "metadata", "metadata.goog", "instance-data",
                  "instance-data.ec2.internal"}
# Cloud metadata services outside the link-local range (Alibaba Cloud, AWS over IPv6).
METADATA_ADDRESSES = {ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("fd00:ec2::254")}


# --- The URL: checked, masked, stored encrypted -----------------------------------------

class WebhookUrlRefused(ValidationError):
    """A URL the portal does not post to (the message is for the settings form)."""


def _allowed_hosts() -> set[str]:
    return {str(host).lower().rstrip(".") for host in getattr(settings, "WEBHOOK_ALLOW_HOSTS", []) or []}


def _portal_hosts() -> tuple[set[str], set[str]]:
    """The portal's own names: exact names, and suffixes (ALLOWED_HOSTS' ".example.com")."""
    exact, suffixes = set(), set()
    for host in settings.ALLOWED_HOSTS:
        host = str(host).lower().rstrip(".")
        if host in ("", "*"):
            continue
        if host.startswith("."):
            suffixes.add(host)
            exact.add(host[1:])
        else:
            exact.add(host.split(":")[0] if host.count(":") == 1 else host)
    base = urlsplit(getattr(settings, "PORTAL_BASE_URL", "") or "").hostname
    if base:
        exact.add(base.lower().rstrip("."))
    return exact, suffixes


def _refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (address.is_loopback or address.is_link_local or address.is_unspecified or address.is_multicast
            or address.is_reserved or address in METADATA_ADDRESSES)


_resolver = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


def _resolve(host: str, port: int) -> list[str]:
    """The host's addresses; none when the name does not resolve within the connect timeout
    (getaddrinfo itself has no timeout: a dead DNS server must not hold the caller)."""
    future = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=float(settings.WEBHOOK_CONNECT_TIMEOUT))
    except (OSError, UnicodeError, concurrent.futures.TimeoutError):
        return []
    addresses: list[str] = []
    for info in infos:
        address = info[4][0].split("%")[0]
        if address not in addresses:
            addresses.append(address)
    return addresses


@dataclass(frozen=True)
class CheckedUrl:
    scheme: str
    host: str
    port: int
    target: str  # path and query
    addresses: tuple[str, ...]


def webhook_url_check(url: str) -> CheckedUrl:
    """The URL's parts and the addresses it may be posted to, or WebhookUrlRefused (in the
    portal's language). Resolves the host name: call it when the URL is saved and again
    before each send (a name may point elsewhere by then)."""
    url = (url or "").strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise WebhookUrlRefused(_("Enter a web address of at most %(max)d characters.") % {"max": MAX_URL_LENGTH})
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookUrlRefused(_("This is not a valid web address.")) from None
    if parts.scheme not in ("http", "https"):
        raise WebhookUrlRefused(_("Only http:// and https:// addresses can be used."))
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise WebhookUrlRefused(_("This is not a valid web address."))
    if parts.username or parts.password:
        raise WebhookUrlRefused(_("The address must not contain a user name or password."))
    port = port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    exempt = host in _allowed_hosts()
    if not exempt:
        exact, suffixes = _portal_hosts()
        if host in exact or any(host.endswith(suffix) for suffix in suffixes):
            raise WebhookUrlRefused(_("The address points at the portal itself."))
        if host in METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
            raise WebhookUrlRefused(_("The address points at a local or cloud metadata address."))
    addresses = _resolve(host, port)
    if not addresses:
        raise WebhookUrlRefused(_("The host name of the address cannot be resolved."))
    if not exempt:
        for address in addresses:
            if _refused_address(ipaddress.ip_address(address)):
                raise WebhookUrlRefused(
                    _("The address points at a loopback, link-local or metadata address (%(address)s).")
                    % {"address": address})
    return CheckedUrl(scheme=parts.scheme, host=host, port=port, target=target, addresses=tuple(addresses))


def webhook_url_mask(url: str) -> str:
    """`https://qyapi.weixin.qq.com/…key=****abcd`: where it goes, never the secret."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        return "****"
    host = (parts.hostname or "").lower()
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    key = dict(parse_qsl(parts.query)).get("key", "")
    if key:
        return f"{origin}/…key=****{key[-4:]}" if len(key) >= 8 else f"{origin}/…key=****"
    rest = (parts.path or "") + (f"?{parts.query}" if parts.query else "")
    return f"{origin}/…****{rest[-4:]}" if len(rest) >= 12 else f"{origin}/…"


def webhook_url_store(webhook: Webhook, url: str) -> None:
    webhook.url_enc = crypto.encrypt(url.strip(), purpose=URL_PURPOSE)
    webhook.url_masked = webhook_url_mask(url)


def webhook_url(webhook: Webhook) -> str:
    return crypto.decrypt(webhook.url_enc, purpose=URL_PURPOSE)


# --- Emitting events ------------------------------------------------------------------

@dataclass
class WebhookEvent:
    """One thing to tell the chats of a station and/or a grid.

    `key` names the event once and for all (e.g. `alerts:run12:…:grid3`): a second emit with
    the same key sends nothing more. `station_too`: a grid's event also goes to the webhooks
    of the grid's station."""

    event: str
    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    url: str = ""
    station_id: int | None = None
    grid_id: int | None = None
    station_too: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None


def webhook_targets() -> tuple[set[int], set[int]]:
    """(station ids, grid ids) having an active webhook: callers that build their messages
    from queries ask this first and build only for those."""
    stations, grids = set(), set()
    for station_id, grid_id in Webhook.objects.filter(is_active=True).values_list("station_id", "grid_id"):
        if station_id:
            stations.add(station_id)
        if grid_id:
            grids.add(grid_id)
    return stations, grids


def webhook_emit(*, event: str, key: str, title: str, lines: list[str] | tuple = (), url: str = "",
                 station_id: int | None = None, grid_id: int | None = None, station_too: bool = False,
                 data: dict | None = None, occurred_at: datetime | None = None) -> int:
    """Queue one event for the webhooks of `station_id` and/or `grid_id`; see `WebhookEvent`.
    Returns how many deliveries were created. Never raises (a broken webhook must not break
    the work that caused the event)."""
    return webhook_emit_many([WebhookEvent(event=event, key=key, title=title, lines=list(lines), url=url,
                                           station_id=station_id, grid_id=grid_id, station_too=station_too,
                                           data=data or {}, occurred_at=occurred_at)])


def webhook_emit_many(events: list[WebhookEvent]) -> int:
    """Queue several events in three queries; see `webhook_emit`."""
    try:
        with transaction.atomic():
            return _emit(events)
    except Exception:  # noqa: BLE001 - the caller's work goes on; the failure is logged without data
        logger.exception("webhooks: could not queue %d event(s)", len(events))
        return 0


def _emit(events: list[WebhookEvent]) -> int:
    if not events:
        return 0
    grid_ids = {e.grid_id for e in events if e.grid_id}
    station_of_grid = dict(Grid.objects.filter(pk__in={e.grid_id for e in events if e.grid_id and e.station_too})
                           .values_list("pk", "station_id")) if any(e.station_too for e in events) else {}
    station_ids = {e.station_id for e in events if e.station_id} | set(station_of_grid.values())
    hooks = list(Webhook.objects.filter(is_active=True).filter(Q(station_id__in=station_ids) | Q(grid_id__in=grid_ids))
                 .values_list("pk", "station_id", "grid_id"))
    if not hooks:
        return 0
    now = timezone.now()
    wanted: dict[tuple[int, str], WebhookDelivery] = {}
    for event in events:
        stations = {event.station_id, station_of_grid.get(event.grid_id) if event.station_too else None} - {None}
        for pk, station_id, grid_id in hooks:
            if (station_id and station_id in stations) or (grid_id and grid_id == event.grid_id):
                wanted.setdefault((pk, event.key[:200]), WebhookDelivery(
                    webhook_id=pk, event=event.event[:40], event_key=event.key[:200], message=_message(event, now)))
    if not wanted:
        return 0
    existing = set(WebhookDelivery.objects.filter(
        webhook_id__in={pk for pk, _key in wanted}, event_key__in={key for _pk, key in wanted})
        .values_list("webhook_id", "event_key"))
    new = [delivery for pair, delivery in wanted.items() if pair not in existing]
    WebhookDelivery.objects.bulk_create(new, ignore_conflicts=True)
    keys = {d.event_key for d in new}
    transaction.on_commit(lambda: webhook_dispatch(keys=keys))
    return len(new)


def _message(event: WebhookEvent, now: datetime) -> dict[str, Any]:
    return {"title": event.title, "lines": [str(line) for line in event.lines][:30], "url": event.url,
            "station_id": event.station_id, "grid_id": event.grid_id, "data": event.data,
            "occurred_at": (event.occurred_at or now).isoformat()}


def webhook_dispatch(*, keys: set[str] | None = None, ids: list[int] | None = None) -> int:
    """Hand the waiting deliveries (of these event keys, or these ids) to the queue; in-process
    (no worker) send them now within the time budget. Never raises."""
    from zhoukou_grid.core.queue import QueueUnavailable, queue_is_eager, queue_send

    try:
        rows = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        rows = rows.filter(event_key__in=keys) if keys is not None else rows.filter(pk__in=ids or [])
        pending = list(rows.order_by("pk").values_list("pk", flat=True))
        if queue_is_eager():
            deadline = time.monotonic() + float(settings.WEBHOOK_EAGER_BUDGET_SECONDS)
            for pk in pending:
                if time.monotonic() >= deadline:
                    break  # the rest waits for webhooks_retry_due
                webhook_deliver(delivery_id=pk, budget=max(0.5, deadline - time.monotonic()))
            return len(pending)
        for pk in pending:
            queue_send("zhoukou_grid.core.tasks.webhook_deliver", (pk,), check=pk == pending[0])
        return len(pending)
    except QueueUnavailable:
        logger.warning("webhooks: the task queue is unavailable; deliveries wait for the retry watch")
    except Exception:  # noqa: BLE001
        logger.exception("webhooks: dispatching failed; deliveries wait for the retry watch")
    return 0


# --- Rendering -------------------------------------------------------------------------

_MARKDOWN_SPECIAL = str.maketrans({"[": "［", "]": "］", "(": "（", ")": "）", "<": "＜", ">": "＞", "*": "＊",
                                   "`": "｀", "#": "＃", "\n": " ", "\r": " "})
_LONG_NUMBER = re.compile(r"\d{7,}")


def webhook_safe_text(text: str, *, limit: int = 80) -> str:
    """Text typed by people (a customer's request, a hazard's description) made safe for a
    chat: no markdown (no links, mentions or colours smuggled in), no long numbers (phone
    or ID numbers stay in the portal), cut to `limit` characters."""
    text = _LONG_NUMBER.sub(lambda m: m.group()[:3] + "****" + m.group()[-2:], str(text))
    text = text.translate(_MARKDOWN_SPECIAL).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _absolute(url: str) -> str:
    base = (getattr(settings, "PORTAL_BASE_URL", "") or "").rstrip("/")
    if not url or url.startswith(("http://", "https://")):
        return url
    return f"{base}{url}" if base else url


def _cut(text: str, limit: int = WECOM_MAX_BYTES) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "…"


def webhook_body(webhook: Webhook, delivery: WebhookDelivery, *, now: datetime | None = None) -> dict[str, Any]:
    """The JSON posted for this delivery, in the webhook's format."""
    message = delivery.message
    link = _absolute(message.get("url", ""))
    if webhook.kind == Webhook.Kind.JSON:
        return {
            "schema": SCHEMA, "id": f"zg-delivery-{delivery.pk}", "event": delivery.event,
            "idempotency_key": delivery.event_key, "occurred_at": message.get("occurred_at"),
            "sent_at": (now or timezone.now()).isoformat(),
            "station_id": message.get("station_id"), "grid_id": message.get("grid_id"),
            "webhook": {"id": webhook.pk, "station_id": webhook.station_id, "grid_id": webhook.grid_id},
            "title": message.get("title", ""), "lines": message.get("lines", []),
            "links": {"portal": link} if link else {}, "data": message.get("data", {}),
        }
    title, lines = message.get("title", ""), message.get("lines", [])
    if webhook.kind == Webhook.Kind.WECOM_TEXT:
        text = "\n".join([title, *lines, *([link] if link else [])])
        return {"msgtype": "text", "text": {"content": _cut(text)}}
    parts = [f"**{title}**", *(f"> {line}" for line in lines)]
    if link:
        parts.append(f"[{_('Open in the portal')}]({link})")
    return {"msgtype": "markdown", "markdown": {"content": _cut("\n".join(parts))}}


# --- Sending ---------------------------------------------------------------------------

class _SendFailed(Exception):
    """One attempt failed; the message is our own words (never the URL)."""


def _post(url: str, body: dict, *, timeout_total: float | None = None) -> None:
    """POST `body` to the checked address of `url`; raises _SendFailed."""
    import urllib3

    try:
        checked = webhook_url_check(url)
    except ValidationError as refused:
        raise _SendFailed(_("refused address: %(reason)s") % {"reason": refused.messages[0]}) from None
    connect = float(settings.WEBHOOK_CONNECT_TIMEOUT)
    read = float(settings.WEBHOOK_READ_TIMEOUT)
    total = connect + read if timeout_total is None else min(connect + read, timeout_total)
    timeout = urllib3.Timeout(connect=min(connect, total), read=min(read, total), total=total)
    address = checked.addresses[0]
    default_port = 443 if checked.scheme == "https" else 80
    host_header = checked.host if checked.port == default_port else f"{checked.host}:{checked.port}"
    if ":" in checked.host:
        host_header = f"[{checked.host}]" + ("" if checked.port == default_port else f":{checked.port}")
    # The connection goes to the address just checked, the name only in Host and TLS (SNI,
    # certificate check): a DNS answer changed after the check cannot redirect it.
    if checked.scheme == "https":
        import certifi

        pool = urllib3.HTTPSConnectionPool(address, checked.port, timeout=timeout, retries=False, maxsize=1,
                                           server_hostname=checked.host, assert_hostname=checked.host,
                                           cert_reqs="CERT_REQUIRED", ca_certs=certifi.where())
    else:
        pool = urllib3.HTTPConnectionPool(address, checked.port, timeout=timeout, retries=False, maxsize=1)
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    try:
        response = pool.urlopen("POST", checked.target, body=payload, redirect=False, retries=False,
                                preload_content=False, assert_same_host=False,
                                headers={"Host": host_header, "Content-Type": "application/json; charset=utf-8",
                                         "User-Agent": "ZhoukouGridPortal-Webhook/1"})
        try:
            answer = response.read(MAX_ANSWER_BYTES)
        finally:
            response.release_conn()
    except urllib3.exceptions.NewConnectionError as error:
        # Before the timeouts: urllib3's NewConnectionError is also a ConnectTimeoutError.
        if isinstance(error.__cause__, ConnectionRefusedError):
            raise _SendFailed(_("connection refused")) from None
        if isinstance(error.__cause__, (TimeoutError, socket.timeout)):
            raise _SendFailed(_("timeout")) from None
        raise _SendFailed(_("connection failed")) from None
    except (TimeoutError, urllib3.exceptions.TimeoutError):
        raise _SendFailed(_("timeout")) from None
    except urllib3.exceptions.SSLError:
        raise _SendFailed(_("TLS error")) from None
    except (urllib3.exceptions.HTTPError, OSError):
        raise _SendFailed(_("connection failed")) from None
    finally:
        pool.close()
    if not 200 <= response.status < 300:
        raise _SendFailed(_("HTTP %(status)d") % {"status": response.status})
    try:
        answer_json = json.loads(answer or b"{}")
    except ValueError:
        answer_json = {}
    # A WeCom robot answers 200 with {"errcode": 93000, "errmsg": …} when it refuses.
    if isinstance(answer_json, dict) and answer_json.get("errcode") not in (None, 0):
        raise _SendFailed(_("refused by the chat (errcode %(code)s)") % {"code": str(answer_json["errcode"])[:12]})


def _claim(delivery_id: int, now: datetime) -> bool:
    return bool(WebhookDelivery.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=2)),
        pk=delivery_id, status=WebhookDelivery.Status.PENDING,
    ).update(status=WebhookDelivery.Status.SENDING, claimed_at=now))


def backoff_seconds(attempts: int) -> int:
    """The wait before attempt `attempts + 1`: 30 s, 60 s, 120 s, … (WEBHOOK_BACKOFF_SECONDS)."""
    return int(settings.WEBHOOK_BACKOFF_SECONDS) * 2 ** max(0, attempts - 1)


def webhook_deliver(*, delivery_id: int, budget: float | None = None, single: bool = False) -> str:
    """One attempt at one delivery (the task's body). Returns the delivery's status after it.
    A sent or failed delivery, or one another worker holds, is left alone. `single`: no
    retry (a test message)."""
    from zhoukou_grid.core.queue import QueueUnavailable, queue_is_eager, queue_send

    now = timezone.now()
    if not _claim(delivery_id, now):
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    webhook = delivery.webhook
    error = ""
    if not webhook.is_active:
        error = _("webhook disabled")
    else:
        try:
            _post(webhook_url(delivery.webhook), webhook_body(webhook, delivery, now=now), timeout_total=budget)
        except _SendFailed as failed:
            error = str(failed)[:300]
        except Exception:  # noqa: BLE001 - recorded as a failure; the traceback holds no URL
            logger.exception("webhooks: delivery %s failed unexpectedly", delivery_id)
            error = _("internal error")
    done = timezone.now()
    attempts = delivery.attempts + 1
    if not error:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.SENT, attempts=attempts, sent_at=done, last_error="", claimed_at=None)
        Webhook.objects.filter(pk=webhook.pk).update(last_success_at=done, consecutive_failures=0, last_error="")
        return WebhookDelivery.Status.SENT
    final = single or attempts >= int(settings.WEBHOOK_MAX_ATTEMPTS) or not webhook.is_active
    wait = backoff_seconds(attempts)
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        status=WebhookDelivery.Status.FAILED if final else WebhookDelivery.Status.PENDING, attempts=attempts,
        last_error=error, claimed_at=None, next_attempt_at=None if final else done + timedelta(seconds=wait))
    if webhook.is_active:
        Webhook.objects.filter(pk=webhook.pk).update(last_failure_at=done, last_error=error,
                                                     consecutive_failures=F("consecutive_failures") + 1)
    logger.warning("webhooks: delivery %s to webhook %s failed (attempt %s): %s", delivery_id, webhook.pk,
                   attempts, error)
    if not final and not queue_is_eager():
        try:
            queue_send("zhoukou_grid.core.tasks.webhook_deliver", (delivery_id,), countdown=wait)
        except QueueUnavailable:
            pass  # webhooks_retry_due sends it when it is due
    return WebhookDelivery.Status.FAILED if final else WebhookDelivery.Status.PENDING


def webhooks_retry_due(*, now: datetime | None = None) -> int:
    """Beat, every minute: deliveries due for a retry (or whose message to the queue was
    lost), and claims of workers that died. Returns how many were handed on."""
    now = now or timezone.now()
    WebhookDelivery.objects.filter(status=WebhookDelivery.Status.SENDING,
                                   claimed_at__lt=now - CLAIM_EXPIRES).update(status=WebhookDelivery.Status.PENDING,
                                                                               claimed_at=None)
    due = list(WebhookDelivery.objects.filter(
        Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lte=now - timedelta(minutes=1)),
        status=WebhookDelivery.Status.PENDING).order_by("pk").values_list("pk", flat=True)[:500])
    if due:
        # Claims compare with the real clock: a due row's time is moved to now.
        WebhookDelivery.objects.filter(pk__in=due, next_attempt_at__gt=timezone.now()).update(
            next_attempt_at=timezone.now())
        webhook_dispatch(ids=due)
    return len(due)


def webhook_send_test(*, webhook: Webhook, user) -> WebhookDelivery:
    """A test message (the settings page's "send a test"): a new delivery each time, sent at
    once (in-process, one attempt) so the page shows the outcome."""
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, event=EVENT_TEST, event_key=f"test:{webhook.pk}:{now.timestamp():.6f}",
        message=_message(WebhookEvent(
            event=EVENT_TEST, key="", title=_("Test message from the Zhoukou Grid Service Portal"),
            lines=[_("This group receives the portal's messages for %(place)s.") % {
                "place": str(webhook.station or webhook.grid)}]), now))
    webhook_deliver(delivery_id=delivery.pk, single=True)
    delivery.refresh_from_db()
    return delivery


# --- Settings: the county admins' services ---------------------------------------------

def _target(user, *, station_id: int | None, grid_id: int | None):
    """The station or grid (exactly one) of the user's territory, and its county id."""
    from django.http import Http404

    from zhoukou_grid.core.scoping import for_user
    from zhoukou_grid.territory.models import Station

    if bool(station_id) == bool(grid_id):
        raise ValidationError(_("Choose a station or a grid (one of them)."))
    if station_id:
        station = for_user(user, Station, include_context=False).filter(pk=station_id).first()
        if station is None:
            raise Http404
        return station, None, station.county_id
    grid = for_user(user, Grid, include_context=False).select_related("station").filter(pk=grid_id).first()
    if grid is None:
        raise Http404
    return None, grid, grid.station.county_id


def _require(user, perm: str) -> None:
    from django.core.exceptions import PermissionDenied

    if not user.has_perm(perm):
        raise PermissionDenied


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Enter a name.")]})
    return name[:100]


@transaction.atomic
def webhook_create(*, user, name: str, kind: str, url: str, station_id: int | None = None,
                   grid_id: int | None = None) -> Webhook:
    """A new webhook of a station or grid of the user's territory (the URL checked first)."""
    from zhoukou_grid.core.audit import audit_record

    _require(user, "zhoukou_grid.add_webhook")
    station, grid, county_id = _target(user, station_id=station_id, grid_id=grid_id)
    if kind not in Webhook.Kind.values:
        raise ValidationError({"kind": [_("Choose a format.")]})
    try:
        webhook_url_check(url)
    except WebhookUrlRefused as refused:
        raise ValidationError({"url": refused.messages}) from None
    webhook = Webhook(county_id=county_id, station=station, grid=grid, name=_clean_name(name), kind=kind,
                      created_by=user)
    webhook_url_store(webhook, url)
    webhook.save()
    audit_record(user=user, action="webhook.created", object_type="webhook", object_id=webhook.pk,
                 detail={"station": webhook.station_id, "grid": webhook.grid_id, "kind": kind,
                         "address": webhook.url_masked})
    return webhook


@transaction.atomic
def webhook_update(*, user, webhook_id: int, name: str, kind: str, url: str = "") -> Webhook:
    """Change a webhook's name, format or (when `url` is given) address; audited, with the
    masked addresses before and after, never the full ones."""
    from zhoukou_grid.core.audit import audit_record
    from zhoukou_grid.core.scoping import get_for_user_or_404

    webhook = get_for_user_or_404(user, Webhook, pk=webhook_id)
    _require(user, "zhoukou_grid.change_webhook")
    if kind not in Webhook.Kind.values:
        raise ValidationError({"kind": [_("Choose a format.")]})
    changed: dict[str, Any] = {}
    name = _clean_name(name)
    if name != webhook.name:
        changed["name"] = True
        webhook.name = name
    if kind != webhook.kind:
        changed["kind"] = [webhook.kind, kind]
        webhook.kind = kind
    if url.strip():
        try:
            webhook_url_check(url)
        except WebhookUrlRefused as refused:
            raise ValidationError({"url": refused.messages}) from None
        before = webhook.url_masked
        webhook_url_store(webhook, url)
        changed["address"] = [before, webhook.url_masked]
        # A new address starts with a clean record.
        webhook.consecutive_failures, webhook.last_error = 0, ""
    if changed:
        webhook.save()
        audit_record(user=user, action="webhook.changed", object_type="webhook", object_id=webhook.pk,
                     detail=changed)
    return webhook


@transaction.atomic
def webhook_set_active(*, user, webhook_id: int, active: bool) -> Webhook:
    from zhoukou_grid.core.audit import audit_record
    from zhoukou_grid.core.scoping import get_for_user_or_404

    webhook = get_for_user_or_404(user, Webhook, pk=webhook_id)
    _require(user, "zhoukou_grid.change_webhook")
    if webhook.is_active != active:
        webhook.is_active = active
        webhook.save(update_fields=["is_active", "updated_at"])
        audit_record(user=user, action="webhook.enabled" if active else "webhook.disabled", object_type="webhook",
                     object_id=webhook.pk)
    return webhook


def webhook_test(*, user, webhook_id: int) -> WebhookDelivery:
    """Send a test message now (one attempt); audited."""
    from zhoukou_grid.core.audit import audit_record
    from zhoukou_grid.core.scoping import get_for_user_or_404

    webhook = get_for_user_or_404(user, Webhook, pk=webhook_id)
    _require(user, "zhoukou_grid.change_webhook")
    delivery = webhook_send_test(webhook=webhook, user=user)
    audit_record(user=user, action="webhook.tested", object_type="webhook", object_id=webhook.pk,
                 detail={"status": delivery.status})
    return delivery
