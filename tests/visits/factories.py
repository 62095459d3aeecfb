"""Factories of rounds, visits, logs, hazards, issues and cards (the outsider test finds them by name)."""

from __future__ import annotations

import datetime

import factory
from django.utils import timezone

from tests.factories import CountyFactory, GridFactory, UserFactory, VillageFactory


class RoundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "visits.Round"

    name = factory.Sequence(lambda n: f"第{n}轮走访")
    station = None
    county = factory.SubFactory(CountyFactory)
    period_start = factory.LazyFunction(timezone.localdate)
    period_end = factory.LazyAttribute(lambda o: o.period_start + datetime.timedelta(days=6))
    daily_capacity = 5


class VisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "visits.Visit"

    grid = factory.SubFactory(GridFactory)
    grid_manager = factory.LazyAttribute(lambda o: o.grid.manager or UserFactory())
    village = factory.SubFactory(VillageFactory, grid=factory.SelfAttribute("..grid"))
    planned_date = factory.LazyFunction(timezone.localdate)


class RoundTargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "visits.RoundTarget"

    grid = factory.SubFactory(GridFactory)
    round = factory.SubFactory(RoundFactory, county=factory.SelfAttribute("..grid.station.county"))
    village = factory.SubFactory(VillageFactory, grid=factory.SelfAttribute("..grid"))
    source = "villages"


class HazardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "visits.Hazard"

    grid = factory.SubFactory(GridFactory)
    severity = "general"
    description = factory.Sequence(lambda n: f"表箱锈蚀{n}")
    deadline = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=7))
    found_at = factory.LazyFunction(timezone.now)
    found_by = factory.SubFactory(UserFactory)


class CustomerIssueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "visits.CustomerIssue"

    grid = factory.SubFactory(GridFactory)
    channel = "phone"
    category = "meter"
    description = factory.Sequence(lambda n: f"电表显示异常{n}")
    raised_at = factory.LazyFunction(timezone.now)
    raised_by = factory.SubFactory(UserFactory)
    due_at = factory.LazyAttribute(lambda o: o.raised_at + datetime.timedelta(hours=72))


class ServiceCardRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "visits.ServiceCardRecord"

    grid = factory.SubFactory(GridFactory)
    grid_manager = factory.SubFactory(UserFactory)
    village = factory.SubFactory(VillageFactory, grid=factory.SelfAttribute("..grid"))
    date = factory.LazyFunction(timezone.localdate)
    handed_out = 10


class VisitLogFactory(factory.django.DjangoModelFactory):
    """A log of a done visit (the visit is made done with it)."""

    class Meta:
        model = "visits.VisitLog"
        skip_postgeneration_save = True

    visit = factory.SubFactory(VisitFactory, status="done", done_at=factory.LazyFunction(timezone.now))
    client_key = factory.Sequence(lambda n: f"factory-log-{n}")
    submitted_by = factory.LazyAttribute(lambda o: o.visit.grid_manager)

    @factory.post_generation
    def copy_guidance(obj, create, extracted, **kwargs):
        """The visit keeps a copy of the log's guidance flags, as `visit_log_submit` does."""
        if create:
            obj.visit.guidance = obj.guidance_bits
            obj.visit.save(update_fields=["guidance"])


class PhotoFactory(factory.django.DjangoModelFactory):
    """A small PNG of a hazard before rectification (stored in MEDIA_ROOT like an upload)."""

    class Meta:
        model = "visits.Photo"

    grid = factory.SubFactory(GridFactory)
    hazard = factory.SubFactory(HazardFactory, grid=factory.SelfAttribute("..grid"))
    kind = "before"
    image = factory.django.ImageField(filename="photo.png", width=8, height=8, format="PNG")
    size_bytes = factory.LazyAttribute(lambda o: o.image.size)
    content_type = "image/png"
    uploaded_by = factory.SubFactory(UserFactory)


class CardRequestFactory(factory.django.DjangoModelFactory):
    """A request left on a service card's public page, with its photo (a small PNG)."""

    class Meta:
        model = "visits.CardRequest"

    grid = factory.SubFactory(GridFactory)
    issue = factory.SubFactory(CustomerIssueFactory, grid=factory.SelfAttribute("..grid"), channel="service_card",
                               raised_by=None)
    reference = factory.Sequence(lambda n: f"FW{n:08d}")
    phone_enc = factory.LazyFunction(lambda: _encrypt_callback_phone("13800001234"))
    phone_masked = "138****1234"
    photo = factory.django.ImageField(filename="request.png", width=8, height=8, format="PNG")
    photo_content_type = "image/png"


def _encrypt_callback_phone(phone: str) -> str:
    from visits.card_requests import PHONE_PURPOSE
    from zhoukou_grid.core import crypto

    return crypto.encrypt(phone, purpose=PHONE_PURPOSE)
