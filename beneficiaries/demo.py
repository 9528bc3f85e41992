"""Realistic synthetic jurisdictions for `make demo`: one pooling area per policy pack (保山市
under the Baoshan pack, 曲靖市 under Yunnan's provincial rules, 昆明市 under the Kunming pack
until 2022-06-30 and Yunnan's after, 平顺县 under Pingshun's, 张掖市 under Zhangye's), each
with real counties and townships, every department, households and people whose identities
(those the pack knows) have histories: periods closed and reopened, several identities at
once, people who left."""

import datetime as dt
import random
from dataclasses import dataclass, field

from django.db import transaction

from beneficiaries import id_numbers
from beneficiaries.models import (
    County,
    Department,
    DepartmentKind,
    Household,
    Identity,
    Person,
    PoolingArea,
    PoolingAreaPolicy,
    Township,
)

TODAY = dt.date(2026, 10, 31)

SURNAMES = "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗段杞尹番字寸"
GIVEN = "建国秀英明华丽芳志强玉兰德军桂香永福文斌海燕春梅国庆金凤成兴丽娟自强树林"

# Who certifies which identity (glossary.md).
DEPARTMENT_OF = {
    "tekun": DepartmentKind.CIVIL_AFFAIRS,
    "orphan": DepartmentKind.CIVIL_AFFAIRS,
    "dibao": DepartmentKind.CIVIL_AFFAIRS,
    "dibao_edge": DepartmentKind.CIVIL_AFFAIRS,
    "illness_poverty": DepartmentKind.CIVIL_AFFAIRS,
    "low_income_elderly": DepartmentKind.CIVIL_AFFAIRS,
    "low_income_minor": DepartmentKind.CIVIL_AFFAIRS,
    "fanpin": DepartmentKind.RURAL_REVITALIZATION,
    "rural_monitored": DepartmentKind.RURAL_REVITALIZATION,
    "sudden_hardship": DepartmentKind.RURAL_REVITALIZATION,
    "border_resident": DepartmentKind.RURAL_REVITALIZATION,
    "deep_hardship_worker": DepartmentKind.TRADE_UNION,
    "relative_hardship_worker": DepartmentKind.TRADE_UNION,
    "severe_disability": DepartmentKind.DISABLED_FEDERATION,
    "dibao_full": DepartmentKind.CIVIL_AFFAIRS,
    "dibao_partial": DepartmentKind.CIVIL_AFFAIRS,
    "low_income_other": DepartmentKind.CIVIL_AFFAIRS,
    "poverty_lifted": DepartmentKind.RURAL_REVITALIZATION,
    "other_special": DepartmentKind.CIVIL_AFFAIRS,
}
# A county's caseload, roughly as Yunnan's counties report it.
MIX = [
    ("dibao", 34),
    ("rural_monitored", 16),
    ("dibao_edge", 12),
    ("fanpin", 8),
    ("tekun", 7),
    ("illness_poverty", 5),
    ("deep_hardship_worker", 3),
    ("relative_hardship_worker", 3),
    ("orphan", 1),
    ("sudden_hardship", 3),
    ("low_income_elderly", 4),
    ("severe_disability", 4),
]


@dataclass(frozen=True)
class Jurisdiction:
    """One pooling area of the demo, named by the pack it walks. `policies`: the area's dated
    pack assignment (beneficiaries.PoolingAreaPolicy) as (start, pack, ref); none: the area's
    `policy_code` decides. `window`: when its people's identities start, so that they hold
    them on the days its claims happen (`months`). `login`: the suffix of its staff logins,
    who work in its first county. `scale`: its share of `--people-per-county`."""

    key: str
    code: str
    name: str
    policy_code: str
    counties: tuple[tuple[str, str, tuple[str, ...]], ...]
    mix: tuple[tuple[str, int], ...]
    window: tuple[dt.date, dt.date]
    months: tuple[tuple[int, int], ...]
    login: str
    policies: tuple[tuple[dt.date, str, str], ...] = ()
    border_counties: frozenset[str] = field(default_factory=frozenset)
    scale: float = 1.0


DEMO_MONTHS = tuple((2026, m) for m in range(7, 11))
JURISDICTIONS: dict[str, Jurisdiction] = {
    j.key: j
    for j in (
        Jurisdiction(
            key="baoshan",
            code="530500",
            name="保山市",
            policy_code="baoshan",
            counties=(
                ("530502", "隆阳区", ("永昌街道", "兰城街道", "板桥镇", "金鸡乡")),
                ("530521", "施甸县", ("甸阳镇", "由旺镇", "姚关镇")),
                ("530581", "腾冲市", ("腾越街道", "和顺镇", "固东镇", "猴桥镇")),
                ("530523", "龙陵县", ("龙山镇", "镇安镇", "勐糯镇")),
                ("530524", "昌宁县", ("田园镇", "柯街镇", "卡斯镇")),
            ),
            mix=tuple(MIX),
            window=(dt.date(2022, 1, 1), dt.date(2026, 6, 30)),
            months=DEMO_MONTHS,
            login="longyang",
            # Border villages (Baoshan 第八条（二）) exist only in 腾冲市 and 龙陵县.
            border_counties=frozenset({"530581", "530523"}),
        ),
        # A prefecture applying the provincial measures as they stand (云政办发〔2022〕40号).
        Jurisdiction(
            key="yunnan",
            code="530300",
            name="曲靖市",
            policy_code="yunnan",
            counties=(
                ("530302", "麒麟区", ("南宁街道", "越州镇", "东山镇")),
                ("530303", "沾益区", ("西平街道", "白水镇", "盘江镇")),
                ("530381", "宣威市", ("宛水街道", "羊场镇", "热水镇")),
                ("530326", "会泽县", ("金钟街道", "娜姑镇", "待补镇")),
            ),
            mix=(
                ("dibao", 36),
                ("rural_monitored", 16),
                ("dibao_edge", 12),
                ("fanpin", 8),
                ("tekun", 8),
                ("illness_poverty", 6),
                ("deep_hardship_worker", 4),
                ("relative_hardship_worker", 4),
                ("sudden_hardship", 4),
                ("other_special", 2),
            ),
            window=(dt.date(2022, 7, 1), dt.date(2026, 6, 30)),
            months=DEMO_MONTHS,
            login="qilin",
            scale=0.25,
        ),
        # The Kunming pack is valid 2021-01-01 to 2022-06-30; from 2022-07-01 Yunnan's measures
        # decide Kunming's claims (云政办发〔2022〕40号 （十八））. The demo's claims are of the
        # first half of 2022, so that the Kunming pack decides them.
        Jurisdiction(
            key="kunming",
            code="530100",
            name="昆明市",
            policy_code="kunming",
            policies=(
                (dt.date(2021, 1, 1), "kunming", "昆明市城乡医疗救助管理实施办法 七（四）施行时间"),
                (
                    dt.date(2022, 7, 1),
                    "yunnan",
                    "云政办发〔2022〕40号 （十八）本措施自2022年7月1日起施行",
                ),
            ),
            counties=(
                ("530102", "五华区", ("华山街道", "护国街道", "红云街道")),
                ("530103", "盘龙区", ("拓东街道", "鼓楼街道", "龙泉街道")),
                ("530111", "官渡区", ("关上街道", "小板桥街道", "六甲街道")),
                ("530112", "西山区", ("金碧街道", "碧鸡街道", "马街街道")),
            ),
            mix=(
                ("dibao", 40),
                ("tekun", 10),
                ("low_income_elderly", 14),
                ("low_income_minor", 8),
                ("low_income_other", 12),
                ("other_special", 6),
                ("poverty_lifted", 10),
            ),
            window=(dt.date(2019, 6, 1), dt.date(2021, 12, 31)),
            months=tuple((2022, m) for m in range(3, 7)),
            login="wuhua",
            scale=0.25,
        ),
        # A county-level pooling area (Shanxi): the area is the county itself, coded by its
        # 12-digit statistical code so that its accounts are not the county's.
        Jurisdiction(
            key="pingshun",
            code="140425000000",
            name="平顺县（县级统筹）",
            policy_code="pingshun",
            counties=(
                (
                    "140425",
                    "平顺县",
                    ("青羊镇", "龙溪镇", "石城镇", "苗庄镇", "杏城镇", "北耽车乡"),
                ),
            ),
            mix=(
                ("dibao", 34),
                ("rural_monitored", 16),
                ("fanpin", 10),
                ("tekun", 8),
                ("orphan", 2),
                ("dibao_edge", 12),
                ("illness_poverty", 8),
                ("sudden_hardship", 4),
            ),
            window=(dt.date(2023, 1, 7), dt.date(2026, 6, 30)),
            months=DEMO_MONTHS,
            login="pingshun",
            scale=0.5,
        ),
        Jurisdiction(
            key="zhangye",
            code="620700",
            name="张掖市",
            policy_code="zhangye",
            counties=(
                ("620702", "甘州区", ("东街街道", "梁家墩镇", "沙井镇")),
                ("620722", "民乐县", ("洪水镇", "六坝镇", "南古镇")),
                ("620723", "临泽县", ("沙河镇", "蓼泉镇", "平川镇")),
                ("620724", "高台县", ("城关镇", "南华镇", "宣化镇")),
                ("620725", "山丹县", ("清泉镇", "位奇镇")),
            ),
            mix=(
                ("dibao_full", 16),
                ("dibao_partial", 20),
                ("fanpin", 8),
                ("rural_monitored", 14),
                ("poverty_lifted", 14),
                ("tekun", 7),
                ("orphan", 1),
                ("dibao_edge", 10),
                ("illness_poverty", 6),
                ("sudden_hardship", 4),
            ),
            window=(dt.date(2022, 7, 1), dt.date(2026, 6, 30)),
            months=DEMO_MONTHS,
            login="ganzhou",
            scale=0.2,
        ),
    )
}


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


@transaction.atomic
def demo_registry_create(
    *, seed: int, people_per_county: int, jurisdiction: str = "baoshan"
) -> dict:
    """Create one jurisdiction's pooling area (with its dated pack assignment) and registry.
    Idempotent by construction only on an empty database: the demo command flushes first."""
    spec = JURISDICTIONS[jurisdiction]
    rng = random.Random(f"{seed}-{spec.key}")
    area = PoolingArea.objects.create(code=spec.code, name=spec.name, policy_code=spec.policy_code)
    PoolingAreaPolicy.objects.bulk_create(
        PoolingAreaPolicy(pooling_area=area, start=start, policy_code=code, ref=ref)
        for start, code, ref in spec.policies
    )
    codes, weights = zip(*spec.mix, strict=True)
    per_county = max(1, round(people_per_county * spec.scale))
    people_total = identities_total = 0
    for county_code, county_name, townships in spec.counties:
        county = County.objects.create(pooling_area=area, code=county_code, name=county_name)
        towns = Township.objects.bulk_create(
            Township(county=county, code=f"{county_code}{i + 1:03d}", name=t)
            for i, t in enumerate(townships)
        )
        departments = {
            d.kind: d
            for d in Department.objects.bulk_create(
                Department(county=county, kind=kind, name=f"{county_name}{label}")
                for kind, label in DepartmentKind.choices
            )
        }
        people, plans = [], []
        household, members_left = None, 0
        households = []
        for n in range(per_county):
            if members_left == 0:
                town = rng.choice(towns)
                household = Household(
                    county=county,
                    code=f"{county_code}-{len(households) + 1:06d}",
                    township=town,
                    address=f"{town.name}{rng.randrange(1, 40)}村{rng.randrange(1, 12)}组",
                )
                households.append(household)
                members_left = rng.choice((1, 2, 2, 3, 3, 4))
            members_left -= 1
            code_ = rng.choices(codes, weights)[0]
            if code_ in ("orphan", "low_income_minor"):
                birth = _day(rng, dt.date(2008, 1, 1), dt.date(2018, 12, 31))
            elif code_ == "low_income_elderly":
                birth = _day(rng, dt.date(1935, 1, 1), dt.date(1958, 12, 31))
            else:
                birth = _day(rng, dt.date(1940, 1, 1), dt.date(2005, 12, 31))
            sex = rng.choice("MF")
            person = Person(
                id_number=id_numbers.make(county_code, birth, n % 1000, sex=sex),
                name=_name(rng),
                sex=sex,
                birth_date=birth,
                county=county,
                township=household.township,
                household=household,
                insured_place=county_code,
                insurance_scheme=(
                    Person.InsuranceScheme.EMPLOYEE
                    if code_.endswith("_worker")
                    else Person.InsuranceScheme.RESIDENT
                ),
            )
            people.append(person)
            plans.append(code_)
        Household.objects.bulk_create(households, batch_size=2000)
        for person in people:
            person.household_id = person.household.pk
        # ID numbers repeat when two people share a birth date and sequence: keep the first.
        seen, unique_people, unique_plans = set(), [], []
        for person, plan in zip(people, plans, strict=True):
            if person.id_number not in seen:
                seen.add(person.id_number)
                unique_people.append(person)
                unique_plans.append(plan)
        Person.objects.bulk_create(unique_people, batch_size=2000)
        by_number = dict(Person.objects.filter(county=county).values_list("id_number", "id"))
        identities = []
        for person, code_ in zip(unique_people, unique_plans, strict=True):
            identities.extend(
                _history(rng, by_number[person.id_number], code_, departments, spec.window)
            )
            if county_code in spec.border_counties and rng.random() < 0.15:
                identities.append(
                    _period(
                        by_number[person.id_number],
                        "border_resident",
                        dt.date(2023, 1, 1),
                        None,
                        departments,
                    )
                )
        Identity.objects.bulk_create(identities, batch_size=5000)
        people_total += len(unique_people)
        identities_total += len(identities)
    return {
        "统筹区": f"{spec.name}（政策包 {_packs_text(spec)}）",
        "区县": "、".join(name for _, name, _ in spec.counties),
        "救助对象": people_total,
        "身份记录": identities_total,
    }


def _packs_text(spec: Jurisdiction) -> str:
    if not spec.policies:
        return spec.policy_code
    return "，".join(f"{code} 自 {start.isoformat()}" for start, code, _ in spec.policies)


def _period(person_id, code, start, end, departments) -> Identity:
    return Identity(
        person_id=person_id,
        code=code,
        start=start,
        end=end,
        department=departments[DEPARTMENT_OF[code]],
        certified_on=start,
        source_line="演示名册",
    )


def _history(
    rng: random.Random, person_id: int, code: str, departments, window: tuple[dt.date, dt.date]
) -> list[Identity]:
    """One person's periods, starting inside `window`: mostly one open period; some moved
    between identities (a change closes a period and opens another), some left, some hold a
    second identity."""
    start = _day(rng, *window)
    roll = rng.random()
    change = start + dt.timedelta(days=rng.randrange(60, 400))
    if roll < 0.12 and code in ("dibao", "rural_monitored", "fanpin") and change < TODAY:
        # Moved: e.g. 低保 → 低保边缘 after the household's income rose.
        later = {"dibao": "dibao_edge", "rural_monitored": "fanpin", "fanpin": "dibao"}[code]
        return [
            _period(person_id, code, start, change - dt.timedelta(days=1), departments),
            _period(person_id, later, change, None, departments),
        ]
    if roll < 0.18:
        # Left the scheme; some came back after a gap.
        end = _day(rng, start + dt.timedelta(days=30), start + dt.timedelta(days=500))
        periods = [_period(person_id, code, start, end, departments)]
        if rng.random() < 0.4:
            periods.append(
                _period(
                    person_id,
                    code,
                    end + dt.timedelta(days=rng.randrange(30, 200)),
                    None,
                    departments,
                )
            )
        return periods
    periods = [_period(person_id, code, start, None, departments)]
    if roll > 0.95 and code in ("tekun", "dibao"):
        periods.append(_period(person_id, "severe_disability", start, None, departments))
    return periods


def demo_parameter_change(*, proposer, approver, area_name: str = "保山市") -> dict:
    """One dated parameter change entered and approved by two people (issue #16 part 1), so the
    area's parameter history page shows it: Baoshan's base for 2026 from 2026-08-01 (保政办规
    〔2022〕2号 第十二条 动态调整; the pack sets no effective-date rule, so the date entered
    holds). The figure is demo data, not the published statistic. Its day has come, so its
    approval recomputes the area's claims from that day (parameter.changed)."""
    from beneficiaries.services import (
        parameter_change_approve,
        parameter_change_propose,
        parameter_change_submit,
    )

    area = PoolingArea.objects.get(name=area_name)
    change = parameter_change_propose(
        pooling_area=area,
        by=proposer,
        parameter="per_capita_disposable_income",
        value="30500",
        issuer="云南省统计局",
        document_number="云统公报〔2026〕1号（演示）",
        article="全省居民人均可支配收入",
        published_on=dt.date(2026, 7, 15),
        start=dt.date(2026, 8, 1),
        reason="演示：按省统计部门公布的数据动态调整起付标准基数（演示数据，非真实统计值）",
    )
    parameter_change_submit(change=change, by=proposer)
    parameter_change_approve(change=change, by=approver, note="演示：复核无误")
    return {
        "参数变更": f"{change.key} {change.parameter} = {change.value}，"
        f"{change.effective_date} 起（{change.effective_rule}），已由第二人批准"
    }
