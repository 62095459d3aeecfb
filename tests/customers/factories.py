"""Factories of the key-customer plans (the outsider test finds them here by name)."""

from __future__ import annotations

import factory

from tests.factories import KeyCustomerFactory


class ServicePlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "customers.ServicePlan"

    customer = factory.SubFactory(KeyCustomerFactory)
    version = factory.Sequence(lambda n: n + 1)
    needs = "冬季取暖负荷增加"
    measures = "节前完成配电室巡视"
    hazards = factory.LazyFunction(lambda: [{"hazard": "配电室漏雨", "remedy": "节前修补屋顶"}])


class ResidentChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "customers.ResidentChange"

    village = factory.SubFactory("tests.factories.VillageFactory")
    resident = factory.SubFactory("tests.factories.ReturningResidentFactory", village=factory.SelfAttribute("..village"))
    kind = "created"
