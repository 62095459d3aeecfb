"""Deterministic demo and city-scale data: territory, network assets and households.

Pure generation, no database: every step is a generator of row tuples, driven by a
`random.Random` seeded from (seed, step name), so the same seed always gives the same
rows and a step added later does not change the rows of the steps before it.
`zhoukou_grid.territory.seeding` writes the rows (COPY on PostgreSQL, bulk_create elsewhere).

Shapes follow the county's own spreadsheets (see tests/fixtures/samples): county 411627
太康县, station TK-GDS-02 朱口供电所, grid TK-WG-0201 朱口一网格, village 411627108201
朱口村 (county + 3-digit town + 3-digit village), transformer TQ41162700001 朱口村1号台区,
LV line TQ41162700001-L1, household account 10 digits. The demo grid TK-WG-0201 holds
朱口村 and 后常营村, and 小王庄村 lies in the neighbouring grid, which is what the sample
returning-resident lists expect.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from zhoukou_grid.core.lunar_calendar import lunar_new_year

# --- Scales -----------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """How many rows of each kind to generate, in total (the generator hits them exactly)."""

    name: str
    counties: int
    stations: int
    grids: int
    villages: int
    transformers: int
    lines: int
    households: int
    batch_size: int = 20_000
    description: str = ""

    def expected_counts(self) -> dict[str, int]:
        return {
            "county": self.counties,
            "station": self.stations,
            "grid": self.grids,
            "village": self.villages,
            "transformer": self.transformers,
            "lvline": self.lines,
            "household": self.households,
        }


SCALES: dict[str, Scale] = {
    "demo": Scale("demo", 1, 3, 12, 40, 150, 400, 6_000, description="one county for `make run`"),
    "city": Scale(
        "city", 10, 200, 2_000, 6_000, 60_000, 150_000, 1_500_000, description="the whole city, for benchmarks"
    ),
    # Tests only: the same code path as `city`, with batches small enough to flush many times.
    "tiny": Scale("tiny", 2, 6, 10, 20, 40, 90, 900, batch_size=97, description="tests only"),
}


# --- Reference tables ---------------------------------------------------------------

@dataclass(frozen=True)
class CountySpec:
    code: str
    name: str
    abbr: str
    # (town base name, town kind, statistical town code or None = assign one)
    towns: tuple[tuple[str, str, int | None], ...]


def _towns(spec: str) -> tuple[tuple[str, str, int | None], ...]:
    """'老冢镇:103 朱口镇:108 王集乡' -> ((老冢, 镇, 103), (朱口, 镇, 108), (王集, 乡, None))."""
    result = []
    for item in spec.split():
        name, _, code = item.partition(":")
        for kind in ("回族镇", "街道", "镇", "乡"):
            if name.endswith(kind):
                result.append((name[: -len(kind)], kind, int(code) if code else None))
                break
        else:
            raise ValueError(f"town without kind: {item}")
    return tuple(result)


# 太康县 comes first: the demo county. Its first three stations are the ones the samples use.
COUNTIES: tuple[CountySpec, ...] = (
    CountySpec("411627", "太康县", "TK", _towns(
        "老冢镇:103 朱口镇:108 王集乡:203 常营镇:101 逊母口镇:102 毛庄镇:104 马头镇:105 板桥镇:106 符草楼镇:107 "
        "转楼镇:109 龙曲镇:110 清集镇:111 高朝乡:201 芝麻洼乡:202 杨庙乡:204 高贤乡:205 张集乡:206 "
        "大许寨乡:207 独塘乡:208 五里口乡:209 城郊乡:210"
    )),
    CountySpec("411602", "川汇区", "CH", _towns(
        "城北街道 陈州街道 七一路街道 荷花路街道 人和街道 小桥街道 华耀城街道 文昌街道 金海路街道 搬口街道 "
        "李埠口乡 许湾乡"
    )),
    CountySpec("411603", "淮阳区", "HY", _towns(
        "白楼镇 朱集镇 鲁台镇 四通镇 临蔡镇 安岭镇 新站镇 豆门乡 冯塘乡 刘振屯乡 王店乡 大连乡 葛店乡 黄集乡 "
        "齐老乡 郑集乡 曹河乡 许湾乡"
    )),
    CountySpec("411621", "扶沟县", "FG", _towns(
        "城关镇 崔桥镇 江村镇 白潭镇 韭园镇 练寺镇 大新镇 包屯镇 汴岗镇 曹里乡 柴岗乡 固城乡 吕潭乡 大李庄乡 城郊乡"
    )),
    CountySpec("411622", "西华县", "XH", _towns(
        "娲城街道 红花集镇 聂堆镇 东夏亭镇 西夏亭镇 逍遥镇 奉母镇 址坊镇 昆山乡 皮营乡 田口乡 清河驿乡 东王营乡 "
        "大王庄乡 李大庄乡 叶埠口乡 黄土桥乡 艾岗乡"
    )),
    CountySpec("411623", "商水县", "SS", _towns(
        "黄寨镇 练集镇 魏集镇 固墙镇 白寺镇 巴村镇 谭庄镇 邓城镇 胡吉镇 城关乡 平店乡 袁老乡 化河乡 姚集乡 舒庄乡 "
        "大武乡 张明乡 郝岗乡 张庄乡 汤庄乡"
    )),
    CountySpec("411624", "沈丘县", "SQ", _towns(
        "槐店回族镇 刘庄店镇 留福集镇 老城镇 赵德营镇 付井镇 纸店镇 新安集镇 白集镇 刘湾镇 莲池镇 洪山镇 北城街道 "
        "东城街道 范营乡 李老庄乡 北杨集乡 周营乡 大邢庄乡 冯营乡"
    )),
    CountySpec("411625", "郸城县", "DC", _towns(
        "洺北街道 洺南街道 宁平镇 宜路镇 钱店镇 汲冢镇 石槽镇 南丰镇 白马镇 城郊乡 虎岗乡 汲水乡 张完乡 丁村乡 "
        "双楼乡 秋渠乡 东风乡 巴集乡 李楼乡 胡集乡"
    )),
    CountySpec("411628", "鹿邑县", "LY", _towns(
        "真源街道 卫真街道 玄武镇 宋河镇 太清宫镇 王皮溜镇 试量镇 辛集镇 马铺镇 贾滩镇 杨湖口镇 张店镇 观堂镇 "
        "涡北镇 生铁冢镇 唐集乡 邱集乡 穆店乡 任集乡 郑家集乡"
    )),
    CountySpec("411681", "项城市", "XC", _towns(
        "花园街道 水寨街道 东方街道 莲花街道 千佛阁街道 光武街道 南顿镇 孙店镇 李寨镇 贾岭镇 高寺镇 新桥镇 付集镇 "
        "官会镇 丁集镇 秣陵镇 王明口镇 范集镇 郑郭镇 永丰镇"
    )),
)

# Villages the sample spreadsheets name, by (county code, station number, grid number).
PINNED_VILLAGES: dict[tuple[str, int, int], tuple[str, ...]] = {
    ("411627", 2, 1): ("朱口村", "后常营村"),
    ("411627", 2, 2): ("小王庄村",),
}

# Common surnames with rough relative frequencies (most frequent first).
SURNAMES_WEIGHTED: tuple[tuple[str, int], ...] = (
    ("王", 72), ("李", 70), ("张", 68), ("刘", 55), ("陈", 45), ("杨", 32), ("赵", 22), ("黄", 18),
    ("周", 17), ("吴", 16), ("徐", 14), ("孙", 14), ("马", 12), ("朱", 11), ("胡", 11), ("郭", 11),
    ("何", 9), ("高", 9), ("林", 8), ("罗", 8), ("郑", 8), ("梁", 8), ("谢", 6), ("宋", 6), ("唐", 6),
    ("许", 5), ("韩", 5), ("冯", 5), ("邓", 5), ("曹", 5), ("彭", 4), ("曾", 4), ("田", 4), ("董", 4),
    ("袁", 4), ("潘", 3), ("于", 3), ("蒋", 3), ("蔡", 3), ("余", 3), ("杜", 3), ("叶", 3), ("程", 3),
    ("苏", 3), ("魏", 3), ("吕", 3), ("丁", 3), ("任", 3), ("沈", 2), ("姚", 2), ("卢", 2), ("常", 2),
    ("崔", 2), ("孟", 2), ("付", 2), ("范", 2), ("贾", 2), ("侯", 2), ("史", 2), ("葛", 2),
)
VILLAGE_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯曹田董袁蒋程魏吕丁任常崔孟范贾侯史葛"
VILLAGE_SUFFIXES = "庄楼营寨集店桥湾屯岗"
VILLAGE_PREFIXES = "前后东西南北大小新"
GIVEN_NAME_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰玉华建国红金凤海林春梅云志永德保长庆书文新福生荣振"
    "东玲燕萍宇浩鹏飞俊峰亮辉彬鑫欣怡佳晨雪琳雨婷瑞博宏广利民学家成富贵喜占全"
)
CHINESE_DIGITS = "零一二三四五六七八九"

# Typical rural ratings (kVA) and how often each is met.
RATINGS_KVA: tuple[int, ...] = (50, 100, 160, 200, 250, 315, 400, 500, 630)
RATING_WEIGHTS: tuple[int, ...] = (4, 10, 10, 20, 8, 22, 18, 5, 3)

# No-load and load losses (P0, Pk) in W of oil-immersed 10 kV distribution transformers,
# by efficiency series (GB/T 6451 S9/S11 tables; S13 about 30 % lower no-load loss).
LOSSES_W: dict[str, dict[int, tuple[int, int]]] = {
    "S9": {50: (170, 870), 100: (290, 1500), 160: (400, 2200), 200: (480, 2600), 250: (560, 3050),
           315: (670, 3650), 400: (800, 4300), 500: (960, 5150), 630: (1200, 6200)},
    "S11": {50: (130, 870), 100: (200, 1500), 160: (280, 2200), 200: (340, 2600), 250: (400, 3050),
            315: (480, 3650), 400: (570, 4300), 500: (680, 5150), 630: (810, 6200)},
    "S13": {50: (100, 870), 100: (150, 1500), 160: (200, 2200), 200: (240, 2600), 250: (290, 3050),
            315: (340, 3650), 400: (410, 4300), 500: (480, 5150), 630: (570, 6200)},
}
YEARS: tuple[int, ...] = tuple(range(1998, 2026))
# Rural grid upgrade waves: few old units left, most from 2013 on.
YEAR_WEIGHTS: tuple[int, ...] = tuple(1 if y < 2006 else 2 if y < 2013 else 4 if y < 2021 else 3 for y in YEARS)

# XLPE-insulated aluminium aerial cable, ampacity in air (A) by cross-section (mm²).
AMPACITY_A: dict[int, int] = {70: 215, 95: 275, 120: 320}

PHASES = ("A", "B", "C")
THREE_PHASE_SHARE = 0.08  # shops, workshops, irrigation pumps
HOME_VILLAGE_SHARE = 0.85  # households of a transformer district living in its own village
TIE_PROBABILITY = 0.45  # a transformer tied to the next one in its grid


def chinese_number(n: int) -> str:
    """1 -> 一, 10 -> 十, 12 -> 十二, 20 -> 二十, 35 -> 三十五 (for 1..99)."""
    if not 0 < n < 100:
        raise ValueError(n)
    tens, ones = divmod(n, 10)
    if tens == 0:
        return CHINESE_DIGITS[ones]
    head = "" if tens == 1 else CHINESE_DIGITS[tens]
    return head + "十" + (CHINESE_DIGITS[ones] if ones else "")


def split_total(total: int, weights: Sequence[float], minimums: Sequence[int] | None = None) -> list[int]:
    """Split `total` into len(weights) whole parts proportional to the weights, each at least
    its minimum (default 1), summing exactly to `total` (largest remainder method)."""
    count = len(weights)
    minimums = list(minimums) if minimums is not None else [1] * count
    rest = total - sum(minimums)
    if count == 0 or rest < 0:
        raise ValueError(f"cannot split {total} into {count} parts with minimums {sum(minimums)}")
    weight_sum = float(sum(weights))
    raw = [rest * w / weight_sum for w in weights]
    parts = [int(r) for r in raw]
    short = rest - sum(parts)
    by_remainder = sorted(range(count), key=lambda i: (parts[i] - raw[i], i))
    for i in by_remainder[:short]:
        parts[i] += 1
    return [p + m for p, m in zip(parts, minimums, strict=True)]


# --- The demo season, relative to the day the seed runs ------------------------------------

#: The festival window around a New Year N: N − 15 … N + 14 (docs/domain.md §6.7 defaults;
#: loadforecast.outlook_engine.OutlookSettings holds the same numbers, a test checks).
WINDOW_DAYS_BEFORE = 15
WINDOW_DAYS_AFTER = 14
#: Share of each station's villages that have not sent this season's list yet (at least one
#: per station with three villages or more; never a village of the sample spreadsheets).
UNREPORTED_SHARE = 0.12
#: The stations (first of the first county) whose last festival is metered and projected,
#: for the back-test page.
BACKTEST_STATIONS = 3


@dataclass(frozen=True)
class DemoSeason:
    """The seasons the demo is placed in, for a seed run on `today`.

    `season` is the one the season outlook looks at on `today` (the first New Year on or
    after today − 14 days: while the festival window is still open it is the current
    one, the day after it the next); `last_season` the one before, whose festival has
    passed and is back-tested.
    """

    today: dt.date
    season: int
    new_year: dt.date
    last_season: int
    last_new_year: dt.date

    @property
    def eve(self) -> dt.date:
        return self.new_year - dt.timedelta(days=1)

    @property
    def last_window(self) -> tuple[dt.date, dt.date]:
        return (self.last_new_year - dt.timedelta(days=WINDOW_DAYS_BEFORE),
                self.last_new_year + dt.timedelta(days=WINDOW_DAYS_AFTER))


def demo_season(today: dt.date) -> DemoSeason:
    season = today.year - 1
    while lunar_new_year(season) < today - dt.timedelta(days=WINDOW_DAYS_AFTER):
        season += 1
    return DemoSeason(today=today, season=season, new_year=lunar_new_year(season), last_season=season - 1,
                      last_new_year=lunar_new_year(season - 1))


# --- What the steps keep for the steps after them ------------------------------------------

@dataclass(slots=True)
class CountyRec:
    id: int
    spec: CountySpec
    station_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class StationRec:
    id: int
    county: CountyRec
    number: int  # within the county: TK-GDS-02 is 2
    code: str
    name: str
    town_name: str  # 朱口镇
    town_code: int  # 108
    grid_ids: list[int] = field(default_factory=list)
    next_village_no: int = 201
    village_names: set[str] = field(default_factory=set)


@dataclass(slots=True)
class GridRec:
    id: int
    station: StationRec
    number: int
    code: str
    name: str
    village_ids: list[int] = field(default_factory=list)
    transformer_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class VillageRec:
    id: int
    grid: GridRec
    code: str
    name: str
    surname: str  # the family the village is named after, common among its households
    groups: int  # village groups (村民小组)


@dataclass(slots=True)
class TransformerRec:
    id: int
    grid: GridRec
    village: VillageRec  # the village the district is in and named after
    code: str
    rated_kva: int
    first_line_id: int = 0
    line_count: int = 0
    first_household_id: int = 0
    household_count: int = 0


@dataclass
class SeedContext:
    """Shared state of one seeding run: the first id free in each table, and the records
    later steps need (territory and transformers; never the households themselves)."""

    seed: int
    scale: Scale
    first_ids: dict[str, int]
    today: dt.date = field(default_factory=dt.date.today)  # the seed's "today" (Asia/Shanghai)
    counties: dict[int, CountyRec] = field(default_factory=dict)
    stations: dict[int, StationRec] = field(default_factory=dict)
    grids: dict[int, GridRec] = field(default_factory=dict)
    villages: dict[int, VillageRec] = field(default_factory=dict)
    transformers: dict[int, TransformerRec] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    # Whatever later steps want to hand on to the steps after them, by step name.
    extras: dict[str, object] = field(default_factory=dict)

    def id_counter(self, table: str) -> Iterator[int]:
        return itertools.count(self.first_ids.get(table, 1))

    @property
    def season(self) -> DemoSeason:
        return demo_season(self.today)

    def unreported_villages(self) -> set[int]:
        """Villages with no list of this season (yet): drawn once per run, the same for a seed."""
        cached = self.extras.get("unreported_villages")
        if cached is None:
            rng = random.Random(f"{self.seed}:unreported_villages")
            pinned = {name for names in PINNED_VILLAGES.values() for name in names}
            cached = set()
            for station in self.stations.values():
                villages = [v for g in station.grid_ids for v in self.grids[g].village_ids
                            if self.villages[v].name not in pinned]
                if len(villages) < 3:
                    continue
                count = max(1, round(len(villages) * UNREPORTED_SHARE))
                cached.update(rng.sample(villages, count))
            self.extras["unreported_villages"] = cached
        return cached

    def backtest_station_ids(self) -> list[int]:
        """The stations whose last festival the demo meters and projects (the back-test)."""
        if not self.counties:
            return []
        first = self.counties[min(self.counties)]
        return sorted(first.station_ids)[:BACKTEST_STATIONS]


Row = tuple
StepFunction = Callable[[SeedContext, random.Random, Scale], Iterator[Row]]


@dataclass(frozen=True)
class TableStep:
    """One table's rows: `fields` are model attribute names in row order (`id` first when
    the step assigns ids itself)."""

    name: str
    model: str  # "app_label.ModelName"
    fields: tuple[str, ...]
    generate: StepFunction


# --- Steps --------------------------------------------------------------------------------

def generate_counties(ctx: SeedContext, rng: random.Random, scale: Scale) -> Iterator[Row]:
    if scale.counties > len(COUNTIES):
        raise ValueError(f"at most {len(COUNTIES)} counties")
    ids = ctx.id_counter("county")
    for spec in COUNTIES[: scale.counties]:
        rec = CountyRec(next(ids), spec)
        ctx.counties[rec.id] = rec
        yield (rec.id, spec.code, spec.name)


def _generated_town(rng: random.Random, used: set[str]) -> tuple[str, str]:
    while True:
        base = rng.choice(VILLAGE_SURNAMES) + rng.choice("集庄店营寨楼岗桥口湖")
        if base not in used:
            return base, rng.choice("镇乡")


def generate_stations(ctx: SeedContext, rng: random.Random, scale: Scale) -> Iterator[Row]:
    counties = list(ctx.counties.values())
    per_county = split_total(scale.stations, [rng.uniform(0.8, 1.2) for _ in counties])
    ids = ctx.id_counter("station")
    for county, count in zip(counties, per_county, strict=True):
        towns = list(county.spec.towns)
        used_bases = {base for base, _, _ in towns}
        while len(towns) < count:
            base, kind = _generated_town(rng, used_bases)
            used_bases.add(base)
            towns.append((base, kind, None))
        if count > 99:
            raise ValueError("at most 99 stations per county (station codes have two digits)")
        used_codes = {code for _, _, code in towns if code}
        next_code = {"镇": 101, "回族镇": 101, "乡": 201, "街道": 1}
        for number, (base, kind, town_code) in enumerate(towns[:count], start=1):
            if town_code is None:
                series = next_code[kind]
                while series in used_codes:
                    series += 1
                town_code = series
                used_codes.add(town_code)
            rec = StationRec(
                id=next(ids), county=county, number=number,
                code=f"{county.spec.abbr}-GDS-{number:02d}", name=f"{base}供电所",
                town_name=base + kind, town_code=town_code,
            )
            ctx.stations[rec.id] = rec
            county.station_ids.append(rec.id)
            yield (rec.id, county.id, rec.code, rec.name)


def generate_grids(ctx: SeedContext, rng: random.Random, scale: Scale) -> Iterator[Row]:
    stations = list(ctx.stations.values())
    per_station = split_total(scale.grids, [rng.uniform(0.7, 1.3) for _ in stations])
    ids = ctx.id_counter("grid")
    for station, count in zip(stations, per_station, strict=True):
        if count > 99:
            raise ValueError("at most 99 grids per station (grid codes have two digits per level)")
        base = station.name.removesuffix("供电所")
        for number in range(1, count + 1):
            rec = GridRec(
                id=next(ids), station=station, number=number,
                code=f"{station.county.spec.abbr}-WG-{station.number:02d}{number:02d}",
                name=f"{base}{chinese_number(number)}网格",
            )
            ctx.grids[rec.id] = rec
            station.grid_ids.append(rec.id)
            yield (rec.id, station.id, rec.code, rec.name)


def _village_name(rng: random.Random, used: set[str]) -> tuple[str, str]:
    while True:
        surname = rng.choice(VILLAGE_SURNAMES)
        suffix = rng.choice(VILLAGE_SUFFIXES)
        shape = rng.random()
        if shape < 0.5:
            name = f"{surname}{suffix}村"
        elif shape < 0.8:
            name = f"{rng.choice(VILLAGE_PREFIXES)}{surname}{suffix}村"
        else:
            name = f"{surname}{rng.choice(VILLAGE_SURNAMES)}{suffix}村"
        if name not in used:
            return name, surname


def _surname_in(name: str, rng: random.Random) -> str:
    """The family a village name points to (后常营村 -> 常), or a common one (老冢村)."""
    return next((ch for ch in name if ch in VILLAGE_SURNAMES), None) or rng.choice(VILLAGE_SURNAMES[:10])


def generate_villages(ctx: SeedContext, rng: random.Random, scale: Scale) -> Iterator[Row]:
    grids = list(ctx.grids.values())
    pins = [PINNED_VILLAGES.get((g.station.county.spec.code, g.station.number, g.number), ()) for g in grids]
    per_grid = split_total(
        scale.villages, [rng.uniform(0.6, 1.4) for _ in grids], minimums=[max(1, len(p)) for p in pins]
    )
    for grid in grids:  # pinned names are reserved in their station before any name is drawn
        pinned = PINNED_VILLAGES.get((grid.station.county.spec.code, grid.station.number, grid.number), ())
        grid.station.village_names.update(pinned)
    ids = ctx.id_counter("village")
    for grid, count, pinned in zip(grids, per_grid, pins, strict=True):
        station = grid.station
        for index in range(count):
            if index < len(pinned):
                name = pinned[index]
                surname = _surname_in(name, rng)
            elif station.next_village_no == 201 and station.town_name[-1] in "镇乡" \
                    and f"{station.name.removesuffix('供电所')}村" not in station.village_names:
                # The first village of a town is usually the one the town is named after.
                name = f"{station.name.removesuffix('供电所')}村"
                surname = _surname_in(name, rng)
            else:
                name, surname = _village_name(rng, station.village_names)
            station.village_names.add(name)
            if station.next_village_no > 999:
                raise ValueError("at most 799 villages per town")
            code = f"{station.county.spec.code}{station.town_code:03d}{station.next_village_no:03d}"
            station.next_village_no += 1
            rec = VillageRec(next(ids), grid, code, name, surname, groups=rng.randint(3, 9))
            ctx.villages[rec.id] = rec
            grid.village_ids.append(rec.id)
            yield (rec.id, grid.id, code, name)


def _pick_weighted(rng: random.Random, values: Sequence, cum_weights: Sequence[float]):
    return values[bisect.bisect(cum_weights, rng.random() * cum_weights[-1])]


RATING_CUM = tuple(itertools.accumulate(RATING_WEIGHTS))
YEAR_CUM = tuple(itertools.accumulate(YEAR_WEIGHTS))


def generate_transformers(ctx: SeedContext, rng: random.Random, scale: Scale) -> Iterator[Row]:
    grids = list(ctx.grids.values())
    per_grid = split_total(scale.transformers, [rng.uniform(0.6, 1.4) for _ in grids])
    ids = ctx.id_counter("transformer")
    serial_by_county: dict[int, int] = {}
    for grid, count in zip(grids, per_grid, strict=True):
        villages = [ctx.villages[v] for v in grid.village_ids]
        districts_in_village: dict[int, int] = {}
        county = grid.station.county
        for index in range(count):
            village = villages[index % len(villages)]
            number = districts_in_village[village.id] = districts_in_village.get(village.id, 0) + 1
            serial = serial_by_county[county.id] = serial_by_county.get(county.id, 0) + 1
            if serial > 99_999:
                raise ValueError("at most 99,999 transformers per county")
            code = f"TQ{county.spec.code}{serial:05d}"
            rated_kva = _pick_weighted(rng, RATINGS_KVA, RATING_CUM)
            year = _pick_weighted(rng, YEARS, YEAR_CUM)
            if year < 2006:
                series = "S9"
            elif year < 2016:
                series = "S11"
            else:
                series = "S13" if rng.random() < 0.7 else "S11"
            # Older ledgers often lack the test report.
            losses_known = rng.random() < (0.75 if year < 2006 else 0.95)
            p0_w, pk_w = LOSSES_W[series][rated_kva] if losses_known else (None, None)
            rec = TransformerRec(next(ids), grid, village, code, rated_kva)
            ctx.transformers[rec.id] = rec
            grid.transformer_ids.append(rec.id)
            yield (rec.id, grid.id, code, f"{village.name}{number}号台区", rated_kva, p0_w, pk_w, year)


def generate_ties(ctx: SeedContext, rng: random.Random, scale: Scale) -> Iterator[Row]:
    """Neighbouring districts of a grid, tied along a chain: 0 to 2 ties per transformer.
    The relation is symmetrical, so each tie is stored in both directions."""
    for grid in ctx.grids.values():
        chain = grid.transformer_ids
        for left, right in itertools.pairwise(chain):
            if rng.random() < TIE_PROBABILITY:
                yield (left, right)
                yield (right, left)


def _section_choices(rated_kva: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    if rated_kva <= 100:
        return (70, 95), (0.7, 1.0)
    if rated_kva <= 250:
        return (70, 95, 120), (0.3, 0.8, 1.0)
    return (95, 120), (0.4, 1.0)


def generate_lines(ctx: SeedContext, rng: random.Random, scale: Scale) -> Iterator[Row]:
    transformers = list(ctx.transformers.values())
    per_transformer = split_total(
        scale.lines, [rng.uniform(0.5, 1.5) * (t.rated_kva / 200) ** 0.5 for t in transformers]
    )
    ids = ctx.id_counter("lvline")
    for transformer, count in zip(transformers, per_transformer, strict=True):
        sections, cum = _section_choices(transformer.rated_kva)
        for number in range(1, count + 1):
            line_id = next(ids)
            if number == 1:
                transformer.first_line_id, transformer.line_count = line_id, count
            section = _pick_weighted(rng, sections, cum)
            yield (
                line_id, transformer.id, f"{transformer.code}-L{number}", f"JKLYJ-1/{section}",
                section, AMPACITY_A[section], rng.randrange(150, 900, 10),
            )


SURNAME_VALUES = tuple(s for s, _ in SURNAMES_WEIGHTED)
SURNAME_CUM = tuple(itertools.accumulate(w for _, w in SURNAMES_WEIGHTED))


def person_name(rng: random.Random) -> str:
    """A common Chinese name: a frequent surname and one or two given-name characters."""
    surname = _pick_weighted(rng, SURNAME_VALUES, SURNAME_CUM)
    given_length = 2 if rng.random() < 0.7 else 1
    return surname + "".join(rng.choice(GIVEN_NAME_CHARS) for _ in range(given_length))


def grid_manager_accounts(ctx: SeedContext, rng: random.Random) -> list[tuple[int, str, str]]:
    """(grid id, username, name) of one grid manager (网格经理) per grid: gm_tk-wg-0101."""
    return [(grid.id, f"gm_{grid.code.lower()}", person_name(rng)) for grid in ctx.grids.values()]


TABLE_STEPS: tuple[TableStep, ...] = (
    TableStep("county", "zhoukou_grid.County", ("id", "code", "name"), generate_counties),
    TableStep("station", "zhoukou_grid.Station", ("id", "county_id", "code", "name"), generate_stations),
    TableStep("grid", "zhoukou_grid.Grid", ("id", "station_id", "code", "name"), generate_grids),
    TableStep("village", "zhoukou_grid.Village", ("id", "grid_id", "code", "name"), generate_villages),
    TableStep(
        "transformer", "zhoukou_grid.Transformer",
        ("id", "grid_id", "code", "name", "rated_kva", "p0_w", "pk_w", "year"), generate_transformers,
    ),
    TableStep(
        "transformer_ties", "zhoukou_grid.Transformer_ties", ("from_transformer_id", "to_transformer_id"),
        generate_ties,
    ),
    TableStep(
        "lvline", "zhoukou_grid.LVLine",
        ("id", "transformer_id", "code", "conductor", "section_mm2", "ampacity_a", "length_m"), generate_lines,
    ),
)


# --- Demo users -----------------------------------------------------------------------

@dataclass(frozen=True)
class DemoUser:
    """A demo login. The passwords are public (printed by `make run`): demo data only."""

    username: str
    password: str
    role: str  # zhoukou_grid.territory.models.Role value
    display_name: str
    # Preferred territory code; when the scale does not have it, the first of its level.
    territory_code: str = ""
    superuser: bool = False
    staff: bool = False


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "zg-Company-2027!", "company_admin", "周口市公司管理员", superuser=True, staff=True),
    DemoUser("county_admin", "zg-Taikang-2027!", "county_admin", "太康县公司管理员", "411627", staff=True),
    DemoUser("station_staff", "zg-Zhukou-Station-27", "station_staff", "朱口供电所 李静", "TK-GDS-02"),
    DemoUser("grid_manager", "zg-Grid-0201-Zhang", "grid_manager", "张伟", "TK-WG-0201"),
    DemoUser("grid_manager2", "zg-Grid-0202-Wang", "grid_manager", "王秀英", "TK-WG-0202"),
    DemoUser("village_clerk", "zg-Zhukou-Clerk-27", "village_clerk", "朱口村文书 刘芳", "411627108201"),
)
