"""Demo data of the customers app: households, returning residents, key customers and
their plans.

Steps for `zhoukou_grid.territory.seeding` (`SEED_STEPS`), run after the territory, households and
users. Each gets the shared `SeedContext`, its own `random.Random` and the scale, and
yields row tuples (COPY on PostgreSQL, bulk_create elsewhere), so the city scale
(600,000 residents) stays a streaming write.

Residents: placed relative to the day the seed runs (`SeedContext.season`). This season's
lists (the coming New Year, or the one whose festival window is still open) for every
village but a few that have not reported yet (`SeedContext.unreported_villages`), with
arrivals spread over the 25 days before New Year (more of them in the last ten days) and
departures mostly empty (the default stay) or between 初八 and 正月十五; a share listed
without an account (unlinked, as village lists often are). Last season's lists for the
villages that have not reported (the outlook estimates them from these) and for the
back-test stations (`SeedContext.backtest_station_ids`), dated around last season's New
Year. Until a resident has a season of its own, last season's people are others than this
season's (distinct match keys). Linked residents belong to a household of their own village. ID numbers
carry the county's area code, a birth date from 1955 to 2008 and a valid GB 11643
check digit. ID and phone numbers are written as the model stores them: encrypted, with
their HMACs and masked forms (`customers.models.personal_columns`), and so are the key
customers' contact phones and the plans' responsible phones (`contact_phone_columns`). `match_key` is
`ReturningResident.build_match_key` of the same values, unique across the run (a rare
random clash is drawn again).

The residents step reads a sample of the households just written (ids, accounts, names,
villages) in chunks: the household generator streams its rows and keeps none of them.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.db.models import Q

from zhoukou_grid.core.lunar_calendar import lunar_new_year
from zhoukou_grid.territory.demo import (
    GIVEN_NAME_CHARS,
    HOME_VILLAGE_SHARE,
    PHASES,
    SURNAME_CUM,
    SURNAME_VALUES,
    THREE_PHASE_SHARE,
    Row,
    Scale,
    SeedContext,
    TableStep,
    chinese_number,
    person_name,
    split_total,
)

from .models import Heating, KeyCustomer, ReturningResident, ServicePlan, contact_phone_columns, personal_columns

SHANGHAI = ZoneInfo("Asia/Shanghai")
ARRIVAL_WINDOW_DAYS = 25  # arrivals from New Year − 25 days to New Year's Eve
CHUBA_DAYS = 7  # 正月初八 is New Year + 7 days
YUANXIAO_DAYS = 14  # 正月十五
LISTS_BEFORE_NEW_YEAR_DAYS = 29  # when a past season's village lists came in


@dataclass(frozen=True)
class ResidentTargets:
    residents: int
    households: int  # distinct households the linked residents belong to
    unlinked_share: float = 0.08


RESIDENT_TARGETS = {
    "demo": ResidentTargets(2_400, 1_600),  # about a quarter of the households have someone working away
    "city": ResidentTargets(600_000, 400_000),
    "tiny": ResidentTargets(240, 150),
}
KEY_CUSTOMERS = {"demo": 40, "tiny": 24}  # otherwise 10 per 3 grids, like the demo county


def resident_targets(scale: Scale) -> ResidentTargets:
    if scale.name in RESIDENT_TARGETS:
        return RESIDENT_TARGETS[scale.name]
    households = scale.households * 4 // 15
    return ResidentTargets(households * 3 // 2, households)


def key_customer_count(scale: Scale) -> int:
    return KEY_CUSTOMERS.get(scale.name, scale.grids * 10 // 3)


# --- People ----------------------------------------------------------------------------

MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
                   "156", "157", "158", "159", "166", "173", "175", "176", "177", "180", "181", "182", "183",
                   "185", "186", "187", "188", "189", "191", "198", "199")
WORKPLACES = ("郑州", "北京", "上海", "深圳", "广州", "东莞", "苏州", "昆山", "杭州", "宁波", "义乌", "武汉",
              "西安", "天津", "合肥", "南京", "厦门", "佛山", "周口市区", "新疆")
WORKPLACE_CUM = tuple(itertools.accumulate((14, 10, 9, 8, 7, 6, 6, 5, 5, 3, 3, 4, 3, 3, 3, 3, 2, 2, 3, 1)))
HEATING_VALUES = (Heating.ELECTRIC_HEATER, Heating.AIR_CONDITIONER, Heating.ELECTRIC_BLANKET, Heating.HEAT_PUMP,
                  Heating.COAL, Heating.GAS, Heating.NONE, "")
HEATING_CUM = tuple(itertools.accumulate((30, 25, 20, 5, 8, 5, 5, 2)))
PERSONS_CUM = tuple(itertools.accumulate((30, 25, 25, 15, 5)))  # 1..5 persons coming home
EXTRA_LOADS = ("开小卖部（约3kW）", "理发店（约5kW）", "电焊作坊（约15kW）", "电动车充电（2辆）", "小饭馆（约10kW）",
               "磨面机（约7.5kW）")
BIRTH_START = date(1955, 1, 1)
BIRTH_DAYS = (date(2008, 12, 31) - BIRTH_START).days + 1


def _pick(rng: random.Random, values, cum):
    return values[bisect.bisect(cum, rng.random() * cum[-1])]


def mobile(rng: random.Random) -> str:
    return f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(100_000_000):08d}"


ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def _weighted(digits: str, weights) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True))


@functools.cache
def _id_tables() -> tuple[list[str], list[int], list[str], list[int]]:
    """Birth dates and sequence numbers with their share of the GB 11643 weighted sum, computed
    once: the city scale draws 500,000 ID numbers (digit by digit it cost half the step)."""
    births = [f"{BIRTH_START + timedelta(days=n):%Y%m%d}" for n in range(BIRTH_DAYS)]
    sequences = [f"{n:03d}" for n in range(1000)]
    return (births, [_weighted(b, ID_WEIGHTS[6:14]) for b in births],
            sequences, [_weighted(q, ID_WEIGHTS[14:]) for q in sequences])


@functools.cache
def _area_sum(area_code: str) -> int:
    return _weighted(area_code, ID_WEIGHTS[:6])


def id_number(rng: random.Random, area_code: str) -> str:
    """An 18-character ID number: area code, birth date (1955-2008), sequence, GB 11643 check digit."""
    births, birth_sums, sequences, sequence_sums = _id_tables()
    birth, sequence = rng.randrange(BIRTH_DAYS), rng.randrange(1000)
    total = _area_sum(area_code) + birth_sums[birth] + sequence_sums[sequence]
    return f"{area_code}{births[birth]}{sequences[sequence]}{ID_CHECK[total % 11]}"


def _given_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN_NAME_CHARS)
    return given + rng.choice(GIVEN_NAME_CHARS) if rng.random() < 0.75 else given


def _arrival(rng: random.Random, new_year: date) -> date:
    """Days before New Year: few a month ahead, most in the last ten days (腊月二十 onwards)."""
    days_before = min(ARRIVAL_WINDOW_DAYS, max(1, round(rng.triangular(0.5, ARRIVAL_WINDOW_DAYS + 0.5, 4))))
    return new_year - timedelta(days=days_before)


def _departure(rng: random.Random, new_year: date) -> date | None:
    draw = rng.random()
    if draw < 0.55:
        return None  # the default stay (DOMAIN 6.4)
    if draw < 0.95:
        return new_year + timedelta(days=CHUBA_DAYS + rng.randrange(YUANXIAO_DAYS - CHUBA_DAYS + 1))
    return new_year + timedelta(days=YUANXIAO_DAYS + rng.randrange(1, 15))


def listed_at(ctx: SeedContext, new_year: date) -> datetime:
    """When a season's village lists came in: a month before its New Year, never after
    the day before the seed's today (lists of a season still to come arrived lately)."""
    day = min(new_year - timedelta(days=LISTS_BEFORE_NEW_YEAR_DAYS), ctx.today - timedelta(days=1))
    return datetime(day.year, day.month, day.day, 9, 30, tzinfo=SHANGHAI)


# --- Returning residents ------------------------------------------------------------------

RESIDENT_FIELDS = (
    "village_id", "village_group", "household_id", "account_no", "head_name", "name",
    "id_number_enc", "id_number_hmac", "id_number_masked", "phone_enc", "phone_hmac", "phone_masked", "workplace", "persons", "arrival_date", "season", "departure_date", "heating", "extra_load", "note", "status", "source",
    "match_key", "created_at", "updated_at",
)
HOUSEHOLD_CHUNK = 20_000


MIGRATION_SIGMA = 2.0  # spread (lognormal) of the share of households working away, per district


def migration_weights(ctx: SeedContext) -> dict[int, float]:
    """Per transformer district, how likely its households are to be on a returning list:
    some villages send most of their young people away, others few (the same for both
    seasons, drawn once per run). Households of a district have contiguous ids."""
    weights = ctx.extras.get("migration_weights")
    if weights is None:
        rng = random.Random(f"{ctx.seed}:migration_weights")
        weights = {t.id: rng.lognormvariate(0.0, MIGRATION_SIGMA) for t in ctx.transformers.values()}
        ctx.extras["migration_weights"] = weights
    return weights


def _weighted_sample(rng: random.Random, ids: np.ndarray, weights: np.ndarray, count: int) -> list[int]:
    """`count` of `ids` drawn without replacement with the given weights (Efraimidis–Spirakis
    keys, one vectorised pass: 1.5 million households at city scale), in id order."""
    count = min(count, ids.size)
    if count <= 0:
        return []
    draws = np.random.default_rng(rng.getrandbits(64)).random(ids.size)
    keys = np.log(draws) / weights
    chosen = np.argpartition(-keys, count - 1)[:count]
    return sorted(int(i) for i in ids[chosen])


def _household_sample(ctx: SeedContext, rng: random.Random, count: int) -> list[int]:
    """The ids of `count` households written by this run, in id order, more of them in the
    districts with a larger migration weight."""
    first = ctx.first_ids.get("household")
    total = ctx.counts.get("household", 0)
    if first is None or total == 0:
        return []
    districts = [t for t in ctx.transformers.values() if t.household_count]
    if sum(t.household_count for t in districts) != total:  # not this run's districts: uniform
        return sorted(rng.sample(range(first, first + total), min(count, total)))
    weights = migration_weights(ctx)
    ids = np.concatenate([np.arange(t.first_household_id, t.first_household_id + t.household_count)
                          for t in districts])
    per_household = np.concatenate([np.full(t.household_count, weights[t.id]) for t in districts])
    return _weighted_sample(rng, ids, per_household, count)


def _households(ids: list[int]):
    """(id, account_no, name, village_id) of `ids`, fetched a chunk at a time as the rows are written."""
    from .models import Household

    for start in range(0, len(ids), HOUSEHOLD_CHUNK):
        chunk = ids[start:start + HOUSEHOLD_CHUNK]
        yield from Household.objects.filter(pk__in=chunk).order_by("pk").values_list(
            "pk", "account_no", "name", "village_id")


def _resident_writer(ctx: SeedContext, rng: random.Random, season: int):
    """Functions making resident rows of `season`: `row` a new person (match keys kept unique
    over every list the run writes, `ctx.extras["resident_keys"]`), `again` the same person
    as another season's row, with this season's dates."""
    new_year = lunar_new_year(season)
    villages = ctx.villages
    area_of_village = {v.id: v.grid.station.county.spec.code for v in villages.values()}
    groups_of_village = {v.id: v.groups for v in villages.values()}
    group_names = [f"{chinese_number(n)}组" for n in range(1, 20)]
    used_keys: set[str] = ctx.extras.setdefault("resident_keys", set())
    build_key = ReturningResident.build_match_key
    created = listed_at(ctx, new_year)

    def person(village_id: int, surname: str | None, account_no: str) -> tuple:
        while True:
            family = surname if surname and rng.random() < 0.7 else _pick(rng, SURNAME_VALUES, SURNAME_CUM)
            name = family + _given_name(rng)
            draw = rng.random()
            ident = id_number(rng, area_of_village[village_id]) if draw < 0.85 else ""
            phone = mobile(rng) if draw < 0.97 else ""
            ident_columns = personal_columns("id_number", ident, normalised=True)
            phone_columns = personal_columns("phone", phone, normalised=True)
            key = build_key(name=name, id_hmac=ident_columns["id_number_hmac"],
                            phone_hmac=phone_columns["phone_hmac"], village_id=village_id, account_no=account_no)
            if key not in used_keys:
                used_keys.add(key)
                return name, (*ident_columns.values(), *phone_columns.values()), key

    def row(village_id, household_id, account_no, head_name, surname):
        name, personal, key = person(village_id, surname, account_no)
        arrival = _arrival(rng, new_year)
        group = group_names[rng.randrange(groups_of_village[village_id])] if rng.random() < 0.6 else ""
        return (
            village_id, group, household_id, account_no, head_name, name, *personal,
            _pick(rng, WORKPLACES, WORKPLACE_CUM), _pick(rng, (1, 2, 3, 4, 5), PERSONS_CUM), arrival,
            season, _departure(rng, new_year), _pick(rng, HEATING_VALUES, HEATING_CUM),
            rng.choice(EXTRA_LOADS) if rng.random() < 0.03 else "", "",
            ReturningResident.Status.EXPECTED, ReturningResident.Source.IMPORT, key, created, created,
        )

    arrival_at = RESIDENT_FIELDS.index("arrival_date")
    after_dates = RESIDENT_FIELDS.index("heating")
    created_at = RESIDENT_FIELDS.index("created_at")

    def again(other: tuple) -> tuple:
        return (*other[:arrival_at], _arrival(rng, new_year), season, _departure(rng, new_year),
                *other[after_dates:created_at], created, created)

    return row, again


def _spread(rng: random.Random, households: int, residents: int) -> list[int]:
    """Residents per household: one each, the rest spread over them (families come home together)."""
    per_household = [1] * households
    for _ in range(max(0, residents - households)):
        per_household[rng.randrange(households)] += 1
    return per_household


def generate_residents(ctx: SeedContext, rng: random.Random, scale: Scale):
    """This season's lists: every village but the unreported ones."""
    targets = resident_targets(scale)
    unlinked = round(targets.residents * targets.unlinked_share)
    households = _household_sample(ctx, rng, targets.households)
    linked = targets.residents - unlinked
    if not households:
        linked, unlinked = 0, targets.residents
    per_household = _spread(rng, len(households), linked)
    unreported = ctx.unreported_villages()
    row, _ = _resident_writer(ctx, rng, ctx.season.season)
    villages = [v for v in ctx.villages.values() if v.id not in unreported]
    # The people of the villages with last season's lists too: mostly the same people then.
    listed: dict[int, list[tuple]] = ctx.extras.setdefault("listed_people", {})
    keep = last_season_villages(ctx)
    for (household_id, account_no, head_name, village_id), count in zip(_households(households), per_household,
                                                                        strict=True):
        if village_id in unreported:
            continue
        for _ in range(count):
            resident = row(village_id, household_id, account_no, head_name, head_name[0])
            if village_id in keep:
                listed.setdefault(village_id, []).append(resident)
            yield resident
    for _ in range(unlinked):
        village = villages[rng.randrange(len(villages))]
        # Listed by name only, sometimes with the head of household the clerk remembered.
        head_name = person_name(rng) if rng.random() < 0.5 else ""
        yield row(village.id, None, "", head_name, head_name[:1] or None)


def last_season_villages(ctx: SeedContext) -> set[int]:
    """The villages with last season's lists: the unreported ones and the back-test stations'."""
    stations = set(ctx.backtest_station_ids())
    return ctx.unreported_villages() | {v.id for v in ctx.villages.values() if v.grid.station.id in stations}


RETURNING_AGAIN = 0.85  # of this season's people, the share also on last season's list of their village
NEW_ON_LAST_LIST = 0.1  # last season's people who are not on this season's list, per one listed again


def generate_last_season_residents(ctx: SeedContext, rng: random.Random, scale: Scale):
    """Last season's lists of `last_season_villages`, linked residents only: in the villages
    that reported this season mostly the same people (their households, ID and phone
    numbers and match keys) with last season's dates, and a few others; in the villages that
    have not, people drawn as densely as this season's lists."""
    from .models import Household

    targets = resident_targets(scale)
    villages = sorted(last_season_villages(ctx))
    row, again = _resident_writer(ctx, rng, ctx.season.last_season)
    listed: dict[int, list[tuple]] = ctx.extras.get("listed_people", {})
    household_at = RESIDENT_FIELDS.index("household_id")
    taken: set[int] = set()
    new_in_village: dict[int, int] = {}
    for village_id in villages:
        people = [r for r in listed.get(village_id, ()) if rng.random() < RETURNING_AGAIN]
        taken.update(r[household_at] for r in listed.get(village_id, ()))
        new_in_village[village_id] = round(len(people) * NEW_ON_LAST_LIST)
        yield from (again(r) for r in people)
    rows = np.array(Household.objects.filter(village_id__in=villages).values_list("pk", "transformer_id", "village_id")
                    .order_by("pk"), dtype=np.int64).reshape(-1, 3)
    rows = rows[~np.isin(rows[:, 0], np.fromiter(taken, dtype=np.int64, count=len(taken)))]
    unreported = np.isin(rows[:, 2], np.fromiter(ctx.unreported_villages(), dtype=np.int64))
    share = targets.households / max(1, scale.households)
    wanted = round(int(unreported.sum()) * share) + sum(new_in_village.values())
    weights = migration_weights(ctx)
    households = _weighted_sample(rng, rows[:, 0], np.array([weights.get(int(t), 1.0) for t in rows[:, 1]]), wanted)
    linked = round(len(households) * (targets.residents * (1 - targets.unlinked_share)) / max(1, targets.households))
    per_household = _spread(rng, len(households), linked)
    for (household_id, account_no, head_name, village_id), count in zip(_households(households), per_household,
                                                                        strict=True):
        for _ in range(count):
            yield row(village_id, household_id, account_no, head_name, head_name[0])


# --- Key customers -------------------------------------------------------------------------

@dataclass(frozen=True)
class CategorySpec:
    category: str
    weight: int
    importance: tuple[str, ...]
    dual_share: float
    backup_share: float
    backup_kw: tuple[int, int]
    names: tuple[str, ...]  # {town} {village} {surname}
    loads: tuple[str, ...]
    seasonal: tuple[str, ...]


C = KeyCustomer.Category
I = KeyCustomer.Importance  # noqa: E741
CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(C.SCHOOL, 20, (I.SECOND,), 0.1, 0.2, (30, 80), ("{town}镇中心小学", "{village}小学", "{town}初级中学"),
                 ("教学楼照明", "食堂电炊具", "学生宿舍空调", "电教设备"),
                 ("寒假留守值班取暖", "开学前检查宿舍线路", "期末考试保电")),
    CategorySpec(C.NURSING_HOME, 12, (I.SECOND, I.FIRST), 0.2, 0.4, (20, 60), ("{town}敬老院", "{village}幸福院"),
                 ("老人房间电暖器", "厨房电器", "热水器", "呼叫系统"),
                 ("春节期间取暖负荷高", "老人用电安全检查", "除夕集体年夜饭")),
    CategorySpec(C.HOSPITAL, 12, (I.FIRST, I.SPECIAL), 0.6, 0.8, (100, 300), ("{town}卫生院", "{village}卫生室"),
                 ("门诊照明", "发热门诊", "冷链药品冰箱", "X光机", "手术室"),
                 ("春节值班门诊不停电", "冷链疫苗保电", "流感季发热门诊负荷")),
    CategorySpec(C.WATER, 10, (I.FIRST,), 0.6, 0.6, (50, 200), ("{town}自来水厂", "{village}集中供水站"),
                 ("深井泵", "加压泵", "消毒设备"), ("节日用水高峰加压泵满负荷", "低温防冻")),
    CategorySpec(C.TELECOM, 15, (I.SECOND,), 0.0, 0.5, (10, 30), ("中国移动{village}基站", "中国联通{town}汇聚机房",
                                                                  "中国电信{village}基站"),
                 ("通信设备", "机房空调", "蓄电池组"), ("春节话务高峰", "返乡人员上网流量增加")),
    CategorySpec(C.FARM, 15, (I.TEMPORARY, I.SECOND), 0.0, 0.5, (30, 150), ("{village}{surname}氏养殖场", "{town}生猪养殖基地",
                                                                            "{village}蔬菜大棚合作社"),
                 ("保温灯", "通风风机", "饲料粉碎机", "大棚卷帘机"), ("寒潮保温负荷", "春节期间人员少需远程监控")),
    CategorySpec(C.BUSINESS, 12, (I.TEMPORARY, I.SECOND), 0.0, 0.1, (20, 50), ("{village}百货超市", "{town}农贸市场",
                                                                               "{town}供销社"),
                 ("冷柜", "照明", "空调"), ("年货销售高峰", "节日延长营业")),
    CategorySpec(C.GOVERNMENT, 4, (I.SECOND,), 0.3, 0.3, (30, 100), ("{town}人民政府", "{town}派出所"),
                 ("办公照明", "值班室", "应急指挥"), ("春节应急值守", "防火防汛值班")),
)
CATEGORY_CUM = tuple(itertools.accumulate(spec.weight for spec in CATEGORIES))


def _landline(rng: random.Random) -> str:
    return f"0394-{rng.randrange(2, 9)}{rng.randrange(1_000_000):06d}"  # Zhoukou's area code


def generate_key_customers(ctx: SeedContext, rng: random.Random, scale: Scale):
    grids = list(ctx.grids.values())
    ids = ctx.id_counter("key_customer")
    serial_by_county: dict[int, int] = {}
    plan_inputs: list[tuple[int, int, str]] = []  # (customer id, grid id, category)
    used_names: set[str] = set()
    for index in range(key_customer_count(scale)):
        grid = grids[index % len(grids)] if index < len(grids) else grids[rng.randrange(len(grids))]
        village = ctx.villages[rng.choice(grid.village_ids)]
        transformer_id = rng.choice(grid.transformer_ids) if grid.transformer_ids else None
        spec = _pick(rng, CATEGORIES, CATEGORY_CUM)
        town = grid.station.town_name.removesuffix("镇").removesuffix("乡") or grid.station.town_name
        name = rng.choice(spec.names).format(town=town, village=village.name.removesuffix("村"),
                                             surname=village.surname)
        if name in used_names:
            name = f"{name}（{village.name}）"
        used_names.add(name)
        county = grid.station.county
        serial = serial_by_county[county.id] = serial_by_county.get(county.id, 0) + 1
        customer_id = next(ids)
        plan_inputs.append((customer_id, grid.id, spec.category))
        backup = rng.randrange(spec.backup_kw[0], spec.backup_kw[1] + 1, 5) if rng.random() < spec.backup_share else None
        feeder = f"10kV{town}{chinese_number(rng.randint(1, 4))}线"
        yield (
            customer_id, f"43{county.spec.code[-2:]}{serial:06d}", name, spec.category, rng.choice(spec.importance),
            grid.id, village.id, transformer_id, f"{grid.station.town_name}{village.name}",
            person_name(rng), *contact_phone_columns("contact_phone", mobile(rng)).values(),
            rng.choice(("值班室", person_name(rng))),
            *contact_phone_columns("contact_24h_phone", _landline(rng) if rng.random() < 0.5 else mobile(rng)).values(),
            KeyCustomer.Supply.DUAL if rng.random() < spec.dual_share else KeyCustomer.Supply.SINGLE, feeder, backup,
            "、".join(rng.sample(spec.loads, min(len(spec.loads), 2 + rng.randrange(2)))),
            "；".join(rng.sample(spec.seasonal, min(len(spec.seasonal), 1 + rng.randrange(2)))),
            ctx.today - timedelta(days=96) + timedelta(days=rng.randrange(110)),
        )
    ctx.extras["key_customers"] = plan_inputs


KEY_CUSTOMER_FIELDS = (
    "id", "account_no", "name", "category", "importance", "grid_id", "village_id", "transformer_id", "address",
    "contact_name", "contact_phone_enc", "contact_phone_hmac", "contact_phone_masked", "contact_24h_name",
    "contact_24h_phone_enc", "contact_24h_phone_hmac", "contact_24h_phone_masked", "supply", "feeder", "backup_kw",
    "main_loads", "seasonal_needs", "last_inspection",
)


# --- Plans -------------------------------------------------------------------------------------

class JsonList(list):
    """A list that COPY writes as JSON text (str() of a plain list is Python, not JSON)."""

    def __str__(self) -> str:
        return json.dumps(self, ensure_ascii=False)


HAZARDS = (
    ("配电室门锁损坏", "更换防盗门锁，钥匙交值班室"),
    ("电缆沟积水", "清理排水，加装盖板"),
    ("备用发电机蓄电池亏电", "更换蓄电池，每月试机一次"),
    ("进线电缆终端头发热", "红外测温复核，停电处理终端头"),
    ("漏电保护器未定期试跳", "每月试跳并登记"),
    ("配电箱锈蚀、箱门无法关闭", "更换配电箱"),
    ("私拉乱接临时线", "拆除临时线，按规范敷设"),
    ("接地电阻偏大", "补打接地极，复测合格"),
    ("双电源切换装置未试验", "节前做切换试验"),
    ("电暖器与可燃物距离过近", "调整摆放，张贴安全提示"),
)
MEASURES = (
    "节前对配电设施开展一次全面巡视", "春节期间网格经理24小时电话畅通", "提前核对双电源切换流程",
    "指导客户使用网上国网查询电费余额", "节日期间发电机每周试机", "重要负荷单独回路供电",
)
NEEDS = ("春节期间不能停电", "取暖负荷增加需核对容量", "希望提前通知计划停电", "需要指导安全用电", "负荷高峰需保电")
RISKS = ("单电源供电，线路故障即停电", "备用电源容量不足", "设备老化", "值班人员对应急流程不熟悉", "低温导致负荷骤增")


def _plan_texts(rng: random.Random) -> tuple[str, str, str, str, list[dict]]:
    needs = "；".join(rng.sample(NEEDS, 2))
    risks = "；".join(rng.sample(RISKS, 2))
    measures = "\n".join(rng.sample(MEASURES, 3))
    agenda = f"{rng.randint(15, 28)}日前走访，检查{rng.choice(('配电室', '发电机', '计量箱', '进线电缆'))}"
    hazards = [{"hazard": h, "remedy": r} for h, r in rng.sample(HAZARDS, rng.randint(1, 3))]
    return needs, risks, measures, agenda, hazards


def generate_plans(ctx: SeedContext, rng: random.Random, scale: Scale):
    """Every key customer has an approved plan; some were revised once (v1 superseded), and a
    quarter have a newer draft waiting for station staff."""
    from zhoukou_grid.territory.models import Grid, Role, RoleAssignment

    customers = ctx.extras.get("key_customers", [])
    grid_ids = sorted({grid_id for _, grid_id, _ in customers})
    grid_rows = Grid.objects.filter(pk__in=grid_ids).values_list("pk", "manager_id", "station_id", "station__county_id")
    managers = {pk: manager for pk, manager, _, _ in grid_rows}
    station_of = {pk: (station, county) for pk, _, station, county in grid_rows}
    approvers: dict[tuple[str, int], int] = {}
    for user_id, role, station_id, county_id in RoleAssignment.objects.filter(
        Q(role=Role.STATION_STAFF) | Q(role=Role.COUNTY_ADMIN)
    ).order_by("pk").values_list("user_id", "role", "station_id", "county_id"):
        approvers.setdefault((role, station_id or county_id), user_id)
    ids = ctx.id_counter("service_plan")
    first = ctx.today - timedelta(days=34)  # the plans were drafted over the last five weeks
    base = datetime(first.year, first.month, first.day, 10, 0, tzinfo=SHANGHAI)
    for customer_id, grid_id, _category in customers:
        manager = managers.get(grid_id)
        station_id, county_id = station_of[grid_id]
        approver = approvers.get((Role.STATION_STAFF, station_id)) or approvers.get((Role.COUNTY_ADMIN, county_id))
        # The responsible person's number is their work phone (profile), not typed on each plan.
        phone_columns = tuple(contact_phone_columns("responsible_phone", "").values())
        cadence = rng.choice((ServicePlan.Cadence.MONTHLY, ServicePlan.Cadence.MONTHLY, ServicePlan.Cadence.QUARTERLY))
        festival = rng.choice((ServicePlan.Cadence.WEEKLY, ServicePlan.Cadence.BIWEEKLY))
        revised = rng.random() < 0.3
        with_draft = rng.random() < 0.25
        drafted = base + timedelta(days=rng.randrange(20), minutes=rng.randrange(600))
        needs, risks, measures, agenda, hazards = _plan_texts(rng)
        versions = [(1, "", needs, risks, measures, agenda, hazards, cadence)]
        if revised:
            # The visit fixed the first hazard and found a new one.
            known = {item["hazard"] for item in hazards}
            found_h, found_r = rng.choice([pair for pair in HAZARDS if pair[0] not in known])
            new_hazards = hazards[1:] + [{"hazard": found_h, "remedy": found_r}]
            versions.append((2, "节前走访后修订", needs, risks, measures + "\n除夕前再走访一次", agenda, new_hazards,
                             cadence))
        if with_draft:
            last = versions[-1]
            draft_hazards = [dict(item) for item in last[6]]
            if draft_hazards:
                draft_hazards[0]["remedy"] += "（已复核）"
            versions.append((last[0] + 1, "走访后修订", last[2], last[3], last[4], f"{agenda}；复核整改", draft_hazards,
                             ServicePlan.Cadence.MONTHLY))
        approved_version = max(v[0] for v in versions if not (with_draft and v is versions[-1]))
        for version, note, v_needs, v_risks, v_measures, v_agenda, v_hazards, v_cadence in versions:
            created = drafted + timedelta(days=12 * (version - 1))
            if with_draft and version == versions[-1][0]:
                status, approved_at, approved_by = ServicePlan.Status.DRAFT, None, None
            else:
                status = ServicePlan.Status.APPROVED if version == approved_version else ServicePlan.Status.SUPERSEDED
                approved_at, approved_by = created + timedelta(days=2), approver
            yield (
                next(ids), customer_id, version, status, v_needs, v_risks, v_measures, JsonList(v_hazards), manager,
                *phone_columns, v_cadence, festival, v_agenda, note, created, manager, approved_at, approved_by,
            )


PLAN_FIELDS = (
    "id", "customer_id", "version", "status", "needs", "risks", "measures", "hazards", "responsible_id",
    "responsible_phone_enc", "responsible_phone_hmac", "responsible_phone_masked", "cadence", "festival_cadence", "agenda", "change_note", "created_at", "created_by_id",
    "approved_at", "approved_by_id",
)

# --- Households -------------------------------------------------------------------------

# Heads of household named by the sample returning-resident list (示例_朱口村返乡人员摸底表),
# by (grid code, village name): (name, village group or 0 = any).
PINNED_HOUSEHOLDS: dict[tuple[str, str], tuple[tuple[str, int], ...]] = {
    ("TK-WG-0201", "朱口村"): (
        ("董华", 1), ("吕宇", 0), ("田兰", 1), ("廖刚", 1), ("袁子", 0), ("龚玉然", 0), ("蒋小平", 0),
        ("康艳", 0), ("蒋浩", 1), ("熊晓", 0), ("叶军", 0), ("唐英", 1), ("胡华", 0), ("孟轩国", 1),
        ("程然", 1), ("龙春", 1),
    ),
    ("TK-WG-0201", "后常营村"): (
        ("常文", 0), ("梁平", 0), ("萧小", 0), ("文伟文", 0), ("任华金", 0), ("姚磊豪", 0), ("林杰", 0),
        ("段超博", 0),
    ),
    ("TK-WG-0202", "小王庄村"): (("朱明兰", 0),),
}


ACCOUNT_GAP_MAX = 4


def generate_households(ctx: SeedContext, rng: random.Random, scale: Scale) -> Iterator[Row]:
    """Households of every transformer district. Hot path of the city scale (1.5 million
    rows): plain locals, no per-row objects."""
    transformers = list(ctx.transformers.values())
    # At least 20 households a district where the scale allows (DOMAIN: 20-300).
    minimum = max(1, min(20, scale.households // len(transformers) // 2))
    per_transformer = split_total(
        scale.households, [rng.uniform(0.7, 1.3) * t.rated_kva ** 0.5 for t in transformers],
        minimums=[minimum] * len(transformers),
    )
    pinned_heads = {
        village.id: list(PINNED_HOUSEHOLDS[(village.grid.code, village.name)])
        for village in ctx.villages.values() if (village.grid.code, village.name) in PINNED_HOUSEHOLDS
    }
    ids = ctx.id_counter("household")
    random_ = rng.random
    randrange = rng.randrange
    given_chars = GIVEN_NAME_CHARS
    given_len = len(given_chars)
    surnames, surname_cum = SURNAME_VALUES, SURNAME_CUM
    surname_total = surname_cum[-1]
    bisect_ = bisect.bisect
    group_names = [chinese_number(n) for n in range(1, 20)]
    # Accounts: "41" + the county's last two code digits + a 6-digit serial with small gaps,
    # as numbers freed by closed accounts leave them.
    serial_by_county: dict[int, int] = {}
    for transformer, count in zip(transformers, per_transformer, strict=True):
        grid = transformer.grid
        county = grid.station.county
        prefix = "41" + county.spec.code[-2:]
        if county.id not in serial_by_county:
            serial_by_county[county.id] = rng.randrange(10_000, 200_000)
        serial = serial_by_county[county.id]
        town = grid.station.town_name
        home = transformer.village
        grid_villages = [ctx.villages[v] for v in grid.village_ids]
        line_first, line_count = transformer.first_line_id, transformer.line_count
        transformer.household_count = count
        for index in range(count):
            household_id = next(ids)
            if index == 0:
                transformer.first_household_id = household_id
            village = home if random_() < HOME_VILLAGE_SHARE else grid_villages[randrange(len(grid_villages))]
            if random_() < 0.35:
                surname = village.surname
            else:
                surname = surnames[bisect_(surname_cum, random_() * surname_total)]
            given = given_chars[randrange(given_len)]
            if random_() < 0.7:
                given += given_chars[randrange(given_len)]
            serial += 1 + randrange(ACCOUNT_GAP_MAX)
            phase = "ABC" if random_() < THREE_PHASE_SHARE else PHASES[randrange(3)]
            name, group = surname + given, randrange(village.groups)
            if pinned_heads and pinned_heads.get(village.id):
                name, pinned_group = pinned_heads[village.id].pop(0)
                group = pinned_group - 1 if pinned_group else group
            yield (
                household_id, f"{prefix}{serial:06d}", name, village.id, transformer.id,
                line_first + randrange(line_count), phase,
                f"{town}{village.name}{group_names[group]}组{1 + randrange(120)}号",
            )
        if serial > 999_999:
            raise ValueError("household account serials exhausted for a county")
        serial_by_county[county.id] = serial


SEED_STEPS = [
    TableStep(
        "household", "customers.Household",
        ("id", "account_no", "name", "village_id", "transformer_id", "line_id", "phase", "address"),
        generate_households,
    ),
    TableStep("returning_resident", "customers.ReturningResident", RESIDENT_FIELDS, generate_residents),
    TableStep("returning_resident_last_season", "customers.ReturningResident", RESIDENT_FIELDS,
              generate_last_season_residents),
    TableStep("key_customer", "customers.KeyCustomer", KEY_CUSTOMER_FIELDS, generate_key_customers),
    TableStep("service_plan", "customers.ServicePlan", PLAN_FIELDS, generate_plans),
]
