"""Words for the audit log as people read it: the action (`plan.printed` -> 服务方案 打印),
the kind of object (`customers.returningresident` -> 返乡人员) and the detail (key: value),
instead of the code's own names and raw JSON. The stored rows keep the code's names."""

from __future__ import annotations

from django.apps import apps
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

WHAT = {
    "alert": gettext_lazy("Alert"), "alerts": gettext_lazy("Alerts"), "api": gettext_lazy("App interface"),
    "cards": gettext_lazy("Service cards"), "service_cards": gettext_lazy("Service cards"),
    "hazard": gettext_lazy("Hazard"), "import": gettext_lazy("Import"), "issue": gettext_lazy("Issue"),
    "keycustomer": gettext_lazy("Key customer"), "measure": gettext_lazy("Measure"),
    "personal_data": gettext_lazy("Personal data"), "photo": gettext_lazy("Photo"),
    "plan": gettext_lazy("Service plan"), "serviceplan": gettext_lazy("Service plan"),
    "projection": gettext_lazy("Load projection"), "resident": gettext_lazy("Returning resident"),
    "role": gettext_lazy("Role"), "round": gettext_lazy("Visit round"), "sessions": gettext_lazy("Sign-in sessions"),
    "user": gettext_lazy("User"), "visit": gettext_lazy("Visit"), "visitlog": gettext_lazy("Visit log"),
    "visits": gettext_lazy("Visits"), "export": gettext_lazy("Export"), "grid": gettext_lazy("Grid"),
    "household": gettext_lazy("Household"), "customer": gettext_lazy("Key customer"),
    "webhook": gettext_lazy("Group chat robot"),
}

DONE = {
    "acknowledged": gettext_lazy("acknowledged"), "closed": gettext_lazy("closed"),
    "dismissed": gettext_lazy("dismissed"), "notified": gettext_lazy("notified"), "create": gettext_lazy("created"),
    "created": gettext_lazy("created"), "update": gettext_lazy("changed"), "updated": gettext_lazy("changed"),
    "changed": gettext_lazy("changed"), "partial_update": gettext_lazy("changed"), "destroy": gettext_lazy("deleted"),
    "deleted": gettext_lazy("deleted"), "recorded": gettext_lazy("recorded"), "reported": gettext_lazy("reported"),
    "errors_downloaded": gettext_lazy("error workbook downloaded"), "opened": gettext_lazy("opened"),
    "revealed": gettext_lazy("number shown in full"), "done": gettext_lazy("done"), "planned": gettext_lazy("planned"),
    "contact_phone_hmacs_rotated": gettext_lazy("index keys renewed"),
    "contact_phone_keys_rotated": gettext_lazy("encryption keys renewed"),
    "hmac_rotated": gettext_lazy("index keys renewed"), "keys_rotated": gettext_lazy("encryption keys renewed"),
    "added": gettext_lazy("added"), "approved": gettext_lazy("approved"), "drafted": gettext_lazy("drafted"),
    "printed": gettext_lazy("printed"), "requested": gettext_lazy("requested"), "arrived": gettext_lazy("arrived"),
    "departed": gettext_lazy("left"), "linked": gettext_lazy("linked to a household"),
    "personal_data_erased": gettext_lazy("personal data erased"), "assigned": gettext_lazy("given"),
    "removed": gettext_lazy("taken away"), "scheduled": gettext_lazy("scheduled"),
    "targets_built": gettext_lazy("targets listed"), "ended": gettext_lazy("ended"),
    "activated": gettext_lazy("reactivated"), "deactivated": gettext_lazy("deactivated"),
    "cancelled": gettext_lazy("cancelled"), "missed": gettext_lazy("missed"), "moved": gettext_lazy("moved"),
    "reassigned": gettext_lazy("reassigned"), "submitted": gettext_lazy("submitted"),
    "reminders_sent": gettext_lazy("reminders sent"), "notify": gettext_lazy("notified"),
    "rectified": gettext_lazy("rectified"), "rechecked": gettext_lazy("rechecked"),
    "resolved": gettext_lazy("resolved"), "in_progress": gettext_lazy("in progress"),
    "confirmed": gettext_lazy("confirmed"), "escalated": gettext_lazy("escalated"),
    "enabled": gettext_lazy("enabled"), "disabled": gettext_lazy("disabled"),
    "tested": gettext_lazy("test message sent"),
}

KEYS = {
    "kind": gettext_lazy("kind"), "fields": gettext_lazy("fields"), "field": gettext_lazy("field"),
    "rows": gettext_lazy("rows"), "customer": gettext_lazy("key customer"), "version": gettext_lazy("version"),
    "to": gettext_lazy("to"), "from": gettext_lazy("from"), "station_id": gettext_lazy("station"),
    "station": gettext_lazy("station"), "stations": gettext_lazy("stations"), "grid_id": gettext_lazy("grid"),
    "grid": gettext_lazy("grid"), "grids": gettext_lazy("grids"), "run_date": gettext_lazy("run date"),
    "role": gettext_lazy("role"), "recipients": gettext_lazy("recipients"),
    "personal_data": gettext_lazy("personal data"), "ids": gettext_lazy("records"), "format": gettext_lazy("format"),
    "count": gettext_lazy("count"), "alert": gettext_lazy("alert"), "visit": gettext_lazy("visit"),
    "visit_log": gettext_lazy("visit log"), "unplaced": gettext_lazy("not placed"), "type": gettext_lazy("type"),
    "tokens": gettext_lazy("app tokens"), "sessions": gettext_lazy("sessions"), "source": gettext_lazy("source"),
    "skip_invalid": gettext_lazy("valid rows only"), "rejected": gettext_lazy("rejected"),
    "new": gettext_lazy("new"), "updated": gettext_lazy("updated"), "unchanged": gettext_lazy("unchanged"),
    "reason": gettext_lazy("reason"), "posted": gettext_lazy("cards posted"),
    "handed_out": gettext_lazy("cards handed out"), "planned_date": gettext_lazy("planned date"),
    "household": gettext_lazy("household"), "hazards": gettext_lazy("hazards"), "hazard": gettext_lazy("hazard"),
    "issues": gettext_lazy("issues"), "filters": gettext_lazy("filters"),
    "address": gettext_lazy("address"), "name": gettext_lazy("name"), "status": gettext_lazy("status"),
}

VALUES = {
    "phone": gettext_lazy("phone"), "id_number": gettext_lazy("ID number"),
    "contact_phone": gettext_lazy("contact phone"), "contact_24h_phone": gettext_lazy("24-hour contact phone"),
    "responsible_phone": gettext_lazy("responsible person's phone"), "csv": "CSV", "xlsx": "XLSX",
    "lost_phone": gettext_lazy("lost phone"), "deactivated": gettext_lazy("deactivated"),
    "sign_out_everywhere": gettext_lazy("signed out everywhere"), "password_changed": gettext_lazy("password changed"),
}


def action_label(action: str) -> str:
    what, _dot, done = action.partition(".")
    if what in WHAT and (not done or done in DONE):
        return _("%(what)s %(done)s") % {"what": WHAT[what], "done": DONE[done]} if done else str(WHAT[what])
    return action


def object_type_label(object_type: str) -> str:
    if "." in object_type:
        try:
            return str(apps.get_model(object_type)._meta.verbose_name)
        except (LookupError, ValueError):
            return object_type
    return str(WHAT.get(object_type, object_type))


def _value(value) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return "、".join(_value(item) for item in value)
    if isinstance(value, dict):
        return detail_text(value)
    if isinstance(value, str) and value in VALUES:
        return str(VALUES[value])
    return str(value)


def detail_text(detail: dict | None) -> str:
    if not detail:
        return ""
    return "；".join(f"{KEYS.get(key, key)}：{_value(value)}" for key, value in sorted(detail.items()))
