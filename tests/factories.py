"""factory_boy factories for the territory, the network and households."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from customers.models import Household
from zhoukou_grid.territory.models import County, Grid, LVLine, RoleAssignment, Station, Transformer, Village


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct-horse-battery-9")


class CountyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = County

    code = factory.Sequence(lambda n: f"41{n:04d}")
    name = factory.Sequence(lambda n: f"测试县{n}")


class StationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Station

    county = factory.SubFactory(CountyFactory)
    code = factory.Sequence(lambda n: f"GDS-{n:03d}")
    name = factory.Sequence(lambda n: f"测试供电所{n}")


class GridFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Grid

    station = factory.SubFactory(StationFactory)
    code = factory.Sequence(lambda n: f"WG-{n:04d}")
    name = factory.Sequence(lambda n: f"测试网格{n}")


class VillageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Village

    grid = factory.SubFactory(GridFactory)
    code = factory.Sequence(lambda n: f"411627{n:06d}")
    # "测试1村" is no substring of "测试11村": tests look for names in pages and files.
    name = factory.Sequence(lambda n: f"测试{n}村")


class TransformerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Transformer

    grid = factory.SubFactory(GridFactory)
    code = factory.Sequence(lambda n: f"TQ{n:06d}")
    name = factory.Sequence(lambda n: f"测试台区{n}")
    rated_kva = 200


class LVLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LVLine

    transformer = factory.SubFactory(TransformerFactory)
    code = factory.Sequence(lambda n: f"XL{n:07d}")
    conductor = "JKLYJ-95"
    section_mm2 = 95
    ampacity_a = 275


class HouseholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Household

    account_no = factory.Sequence(lambda n: f"41{n:08d}")
    name = factory.Sequence(lambda n: f"户主{n}")
    village = factory.SubFactory(VillageFactory)
    transformer = factory.SubFactory(TransformerFactory, grid=factory.SelfAttribute("..village.grid"))


class RoleAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleAssignment

    user = factory.SubFactory(UserFactory)


def _resident_match_key(o) -> str:
    from customers.models import ReturningResident, personal_index

    return ReturningResident.build_match_key(name=o.name, phone_hmac=personal_index("phone", o.phone or ""))


class ReturningResidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "customers.ReturningResident"

    village = factory.SubFactory(VillageFactory)
    name = factory.Sequence(lambda n: f"返乡人{n}")
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    arrival_date = factory.Faker("date_between_dates", date_start=__import__("datetime").date(2027, 1, 15),
                                 date_end=__import__("datetime").date(2027, 2, 4))
    # As the import builds it: from the phone's HMAC, never the number (docs/personal-data.md).
    match_key = factory.LazyAttribute(lambda o: _resident_match_key(o))


class KeyCustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "customers.KeyCustomer"

    account_no = factory.Sequence(lambda n: f"88{n:08d}")
    name = factory.Sequence(lambda n: f"重要客户{n}")
    category = "school"
    grid = factory.SubFactory(GridFactory)


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "zhoukou_grid.Notification"

    user = factory.SubFactory(UserFactory)
    kind = "test"
    title = factory.Sequence(lambda n: f"通知{n}")
    body = "正文"
    url = "/load/alerts/"


class AuditLogFactory(factory.django.DjangoModelFactory):
    """An audit row of a county (the county of the acting user, as audit_record records it)."""

    class Meta:
        model = "zhoukou_grid.AuditLog"

    county = factory.SubFactory(CountyFactory)
    action = "export"
    object_type = "customers.household"


class WebhookFactory(factory.django.DjangoModelFactory):
    """A group-chat webhook of a station (a station of `county` when only that is given, a
    new station when nothing is); the address is stored encrypted as the settings page
    stores it, without the address check."""

    class Meta:
        model = "zhoukou_grid.Webhook"

    county = None
    station = None
    grid = None
    name = factory.Sequence(lambda n: f"供电所群{n}")
    kind = "wecom"
    url = factory.Sequence(lambda n: f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=factory-key-{n:04d}")

    @classmethod
    def _create(cls, model_class, *args, url, county=None, station=None, grid=None, **kwargs):
        from zhoukou_grid.core.webhooks import webhook_url_store

        if station is None and grid is None:
            station = (Station.objects.filter(county=county).order_by("pk").first() if county else None) \
                or StationFactory(**({"county": county} if county else {}))
        county = county or (station or grid.station).county
        webhook = model_class(*args, county=county, station=station, grid=grid, **kwargs)
        webhook_url_store(webhook, url)
        webhook.save()
        return webhook
