"""Demo data for claims: hospitals of each level in every county, several months of one-stop
claims declared by the hospitals through the same upload service and tasks production uses
(most agreeing with medaid, a few not, a few refused), counter applications, and the month's
early warnings."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from django.db.models import Exists, OuterRef

from beneficiaries.models import County, Identity, Person
from beneficiaries.selectors import policy_on
from claims import imports, services
from claims.models import Claim, Hospital
from medaid import policy
from medaid.core.money import ZERO, to_yuan
from medaid.core.workdays import month_range

FEE_CLASS = {1: "class_3", 2: "county_2", 3: "provincial_municipal_2"}
LEVEL_NAME = {1: "中心卫生院", 2: "人民医院", 3: "中医医院"}


def demo_hospitals_create(counties) -> dict[int, list[Hospital]]:
    """A township health centre, a people's hospital and a hospital of Chinese medicine in each
    county (levels 1–3), each with its fee class; existing ones are kept."""
    out: dict[int, list[Hospital]] = defaultdict(list)
    for county in counties:
        for level in (1, 2, 3):
            hospital, _ = Hospital.objects.get_or_create(
                code=f"{county.code}H{level}",
                defaults={
                    "name": f"{county.name}{LEVEL_NAME[level]}",
                    "level": level,
                    "fee_class": FEE_CLASS[level],
                    "county": county,
                },
            )
            out[county.pk].append(hospital)
    return out


def _claim_facts(rng: random.Random, day: dt.date, level: int) -> dict:
    kind = rng.choices(
        ["inpatient", "outpatient_chronic", "outpatient_special", "negotiated_drug"],
        weights=[70, 15, 10, 5],
    )[0]
    if kind == "inpatient":
        in_policy = rng.uniform(2000, 30000) * (1 + level / 2)
        stay = rng.randint(2, 15)
    else:
        in_policy = rng.uniform(300, 4000)
        stay = 0
    in_policy = to_yuan(in_policy)
    out_of_catalog = to_yuan(float(in_policy) * rng.uniform(0, 0.15))
    basic = to_yuan(float(in_policy) * rng.uniform(0.5, 0.75))
    critical = (
        to_yuan(float(in_policy - basic) * rng.uniform(0, 0.3)) if in_policy > 15000 else ZERO
    )
    admitted = day - dt.timedelta(days=stay)
    return {
        "kind": kind,
        "admitted": admitted,
        "discharged": day,
        "in_policy_cost": in_policy,
        "out_of_catalog_cost": out_of_catalog,
        "total_cost": in_policy + out_of_catalog,
        "basic_insurance_paid": basic,
        "critical_illness_paid": critical,
    }


def demo_claims_create(
    *,
    seed: int,
    months: list[tuple[int, int]],
    per_hospital: int = 12,
    counties=None,
    monitor: bool = True,
) -> dict:
    """Create hospitals, declare `per_hospital` claims per hospital and month for existing
    people with an identity, register a few counter applications, then (`monitor`) run the
    monitoring and send the warning lists. `counties`: those of one jurisdiction (default every
    county); each month's claims are decided by the pack of the county's pooling area on that
    month's last day (beneficiaries.PoolingAreaPolicy). Returns a summary of what was
    created."""
    rng = random.Random(seed)
    if counties is None:
        counties = County.objects.all()
    counties = list(counties.select_related("pooling_area").order_by("code"))
    hospitals = demo_hospitals_create(counties)
    with_identity = Identity.objects.filter(person_id=OuterRef("pk"))
    people_by_county: dict[int, list[Person]] = defaultdict(list)
    for person in (
        Person.objects.filter(Exists(with_identity), county__in=counties)
        .order_by("id")
        .prefetch_related("identities")
    ):
        people_by_county[person.county_id].append(person)
    summary = {
        "hospitals": sum(len(h) for h in hospitals.values()),
        "declarations": 0,
        "claims": 0,
        "review": 0,
        "refused_lines": 0,
        "applications": 0,
    }
    # Each person's claims so far, per year, so that the hospital's figure is what a one-stop
    # settlement would have computed (a few are then misstated on purpose).
    history: dict[tuple[int, int], list[policy.ClaimFacts]] = defaultdict(list)
    for year, month in sorted(months):
        _, last_day = month_range(year, month)
        for county in counties:
            people = people_by_county.get(county.pk)
            area_policy = policy_on(pooling_area=county.pooling_area_id, day=last_day)
            code = area_policy.code
            if not people or not services.policy_covers(code, last_day):
                continue
            # The month's stays first, then each person's figures in date order, as the
            # one-stop settlement computed them at discharge.
            generated = []
            for hospital in hospitals[county.pk]:
                for i in range(per_hospital):
                    person = rng.choice(people)
                    day = dt.date(year, month, rng.randint(1, last_day.day))
                    facts = _claim_facts(rng, day, hospital.level)
                    if any(
                        c.kind == facts["kind"]
                        and c.admission_date <= day
                        and c.discharged >= facts["admitted"]
                        for c in history[(person.pk, year)]
                    ):
                        continue  # the same person is not in two hospitals at once
                    ref = f"{hospital.code}-{year}{month:02d}-{i:04d}"
                    claim = policy.ClaimFacts(
                        ref=ref,
                        hospital_level=hospital.level,
                        hospital_fee_class=hospital.fee_class or None,
                        **facts,
                    )
                    history[(person.pk, year)].append(claim)
                    generated.append((hospital, person, facts, claim))
            declared = {}
            for person in {g[1] for g in generated}:
                claims = sorted(history[(person.pk, year)], key=lambda c: c.discharged)
                case = policy.Case(
                    policy=code,
                    parameters=area_policy.parameters,
                    person=policy.PersonFacts(
                        identities=tuple(
                            policy.IdentityPeriod(code=x.code, start=x.start, end=x.end)
                            for x in person.identities.all()
                        ),
                        birth_date=person.birth_date,
                    ),
                    claims=tuple(claims),
                )
                try:
                    result = policy.decide(case)
                except (LookupError, ValueError):
                    continue
                declared.update({d.ref: d.total for d in result.claims})
            for hospital in hospitals[county.pk]:
                rows = []
                for h, person, facts, claim in generated:
                    if h != hospital or claim.ref not in declared:
                        continue
                    amount = declared[claim.ref]
                    if rng.random() < 0.04:
                        amount += to_yuan(rng.uniform(10, 500))  # the hospital's own mistake
                    rows.append(
                        {
                            "hospital_code": hospital.code,
                            "id_number": person.id_number,
                            "name": person.name,
                            "external_ref": claim.ref,
                            **{k: str(v) for k, v in facts.items()},
                            "other_paid": "0.00",
                            "declared_assistance": str(amount),
                        }
                    )
                if rng.random() < 0.3:
                    rows.append(
                        {
                            "hospital_code": hospital.code,
                            "id_number": "000000000000000000",
                            "name": "查无此人",
                            "external_ref": f"{hospital.code}-X{year}{month:02d}",
                            "kind": "inpatient",
                            "discharged": str(last_day),
                            "in_policy_cost": "1000.00",
                            "declared_assistance": "0",
                        }
                    )
                if not rows:
                    continue
                declaration = imports.declaration_from_rows(
                    rows=rows, year=year, month=month, hospital=hospital
                )
                declaration.refresh_from_db()
                summary["declarations"] += 1
                summary["claims"] += declaration.lines_total - declaration.lines_refused
                summary["review"] += declaration.claims_review
                summary["refused_lines"] += declaration.lines_refused
    summary["applications"] = _applications(rng, counties, people_by_county, hospitals, months)
    if months and monitor:
        summary.update(demo_monitor(months=months))
    return summary


def demo_monitor(*, months: list[tuple[int, int]]) -> dict:
    """The month's burden monitoring and warning lists, as of the last day of the latest month."""
    year, month = max(months)
    _, today = month_range(year, month)
    return {
        "warnings": services.burdens_monitor(today=today),
        "warning_lists": len(services.warning_lists_send(today=today)),
    }


def _applications(rng, counties, people_by_county, hospitals, months) -> int:
    """A few counter applications (手工报销) for stays outside the pooling area."""
    created = 0
    year, month = max(months)
    for county in counties:
        people = people_by_county.get(county.pk)
        if not people:
            continue
        outside, _ = Hospital.objects.get_or_create(
            code=f"{county.code}OUT",
            defaults={
                "name": "省外转诊医院（异地就医）",
                "level": 3,
                "county": county,
                "in_area": False,
                "in_province": False,
                "fee_class": "provincial_1",
            },
        )
        for i in range(2):
            person = rng.choice(people)
            day = dt.date(year, month, rng.randint(1, 20))
            facts = _claim_facts(rng, day, 3)
            facts["kind"] = "inpatient"
            facts["receipt_numbers"] = f"PJ{county.code[-4:]}{i:03d}"
            facts["hospital"] = outside
            try:
                app = services.application_create(
                    person=person,
                    applied=day + dt.timedelta(days=rng.randint(5, 40)),
                    created_by=None,
                    claims=[facts],
                    note="演示：异地就医手工报销",
                )
            except services.ClaimsError:
                continue
            if i == 0:
                services.application_submit(application=app, by=None)
            created += 1
    return created


def demo_claims_counts() -> dict:
    return {status: Claim.objects.filter(status=status).count() for status in Claim.Status.values}


def demo_platform_import(
    *, seed: int, year: int, month: int, per_area: int = 60, areas=None
) -> dict:
    """One platform settlement list per pooling area (claims.platform.fixtures: the area's mix
    of 医疗类别, a few reversals, a few maf_pay computed under the wrong identity), imported
    through the platform format for people with no claim that year yet (so the platform's figure
    needs no history). Returns each area's declaration summary."""
    from beneficiaries.models import PoolingArea
    from claims.platform import fixtures
    from claims.platform import services as platform_services

    rng = random.Random(seed + 17)
    out = {}
    _, last_day = month_range(year, month)
    if areas is None:
        areas = PoolingArea.objects.all()
    for area in areas.order_by("code"):
        code = policy_on(pooling_area=area, day=last_day).code
        if code not in fixtures.MED_TYPE_MIX or not services.policy_covers(code, last_day):
            continue
        counties = County.objects.filter(pooling_area=area).order_by("code")
        people = Person.objects.filter(county__in=counties).exclude(claims__discharged__year=year)[
            :400
        ]
        records = fixtures.settlement_records(
            policy_code=code,
            insured=fixtures.insured_from_db(Person.objects.filter(pk__in=people)),
            facilities=fixtures.facilities_from_db(Hospital.objects.filter(county__in=counties)),
            year=year,
            month=month,
            n=per_area,
            area=counties[0].code[:6],
            rng=rng,
            prefix=f"P{area.code}",
            reversals=0.05,
            wrong_identity=0.05,
        )
        declaration = platform_services.platform_from_rows(
            rows=list(records), year=year, month=month
        )
        declaration.refresh_from_db()
        out[area.name] = (
            f"平台结算清单 {declaration.lines_total} 行，受理 {declaration.claims_accepted}，"
            f"与平台金额不一致转复核 {declaration.claims_review}，拒收 {declaration.lines_refused}"
        )
    return out
