"""A year in the life of one county (Close the loop): fourteen months, 2025-01 to 2026-02, driven
through the services the admin and the API call, on PostgreSQL, with a real Celery worker and
a real `celery beat` sending the outbox dispatcher (10 s) and the job sweeper (60 s).

Every month: the civil-affairs department's change feed backdates identities (people become
低保 from two months before, others leave 特困 early) — the merge emits `identity.changed`, the
dispatcher (beat's, or the one sent after the commit) delivers it and the worker recomputes
those people; two hospitals declare the month's stays (the worker checks, merges and decides
them); the review queue is answered; settled and unsettled claims are corrected; counter
applications are registered, submitted and approved (by a second supervisor above the
threshold); the month is settled on the worker (`funds.tasks.settle_month`), which pays the
statements and, through `settlement.posted`, marks the applications paid. Once a year the
premium subsidy roster is built, confirmed and transferred (and the quarter's additions), one
individuals payment voucher is reversed (its claims reopen and the next month pays them again),
and 2025 is closed with its overspend-sharing report.

The clock: the worker decides with today's clock (2026-12), but a month is settled on the
decisions made before its cut-off (`funds.settlement`). So at the end of each simulated month
the test moves the decisions and adjustments that month's work wrote to the month's last day
(as `tests/funds` does with `decided_at`); nothing else is touched behind the services' back.

It ends with: (1) every approved application settled is paid exactly once; (2) the ledger
reconciles (every entry balances, each statement's entry pays its total, what stands for each
claim is its current decision, and the month-by-month reconciliation lists no difference);
(3) an independent run of the engine over every person's final identities and claims agrees,
to the cent and per county-month, with the current decisions and with what the ledger paid.
"""

import calendar
import csv
import datetime as dt
import io
import random
import time
import zoneinfo
from collections import defaultdict
from decimal import Decimal
from itertools import groupby

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Count, Q, Sum

from beneficiaries import id_numbers
from beneficiaries import selectors as registry_selectors
from beneficiaries import services as registry
from beneficiaries.models import (
    ContributionYear,
    County,
    Department,
    DepartmentKind,
    Identity,
    Person,
    PoolingArea,
    PremiumTransferRequest,
    RosterImport,
)
from claims import imports, selectors
from claims import services as claims
from claims.models import (
    Adjustment,
    Application,
    ApplicationTransition,
    Claim,
    Decision,
    DecisionRun,
    Declaration,
    Hospital,
)
from funds import services as funds
from funds.exports import year_end_sharing_build
from funds.models import (
    Account,
    AccountKind,
    Entry,
    EntryKind,
    FundSource,
    MoneyMove,
    Posting,
    SettlementLine,
    SettlementRun,
    SettlementStatement,
    YearEndClose,
)
from funds.reconciliation import reconcile
from funds.tasks import settle_month
from medaid import policy
from medaid.core.models import Job, OutboxEvent
from medaid.core.roles import sync_roles
from medaid.core.services import staff_user_create
from tests.integration_support import wait_for
from tests.money_support import approved

SETTLED = ("succeeded", "failed")

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MONTHS = [(2025, m) for m in range(1, 13)] + [(2026, 1), (2026, 2)]
PEOPLE = 300
CLAIMS_PER_MONTH = 36
APPLICATIONS_PER_MONTH = 2
REVERSED_MONTH = (2025, 6)  # its individuals voucher is reversed early in July
THRESHOLD = Decimal("10000.00")  # SECOND_APPROVAL_THRESHOLD, for this county's scale
FUNDING = {1: ("1500000.00", "云财社第一批"), 7: ("1200000.00", "云财社第二批")}
MIX = [("tekun", 15), ("dibao", 45), ("dibao_edge", 40)]
SURNAMES = "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗段杞尹字寸"
GIVEN = "建国秀英明华丽芳志强玉兰德军桂香永福文斌海燕春梅国庆金凤成兴丽娟自强树林"
FEED_HEADERS = [
    "变动类型",
    "公民身份号码",
    "姓名",
    "身份类别",
    "原身份类别",
    "起始日期",
    "终止日期",
]
PREMIUM = {
    f"premium.{code}.amount": amount
    for code, amount in {
        "dibao": "260",
        "fanpin": "260",
        "severe_disability": "200",
        "low_income_elderly": "200",
        "low_income_minor": "200",
        "border_resident": "100",
    }.items()
}


def last_day(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def month_before(year: int, month: int, n: int = 1) -> tuple[int, int]:
    index = year * 12 + month - 1 - n
    return index // 12, index % 12 + 1


def yuan(value: float) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def csv_upload(rows, headers, name) -> SimpleUploadedFile:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode("utf-8"))


# --- waiting for the worker and beat --------------------------------------------------------


def _quiet(broker) -> bool:
    """Nothing queued or in flight on Redis, and nothing left half-done in the database."""
    if broker.llen("default") or broker.llen("heavy") or broker.hlen("unacked"):
        return False
    if OutboxEvent.objects.filter(state=OutboxEvent.State.PENDING).exists():
        return False
    if DecisionRun.objects.exclude(status=DecisionRun.Status.DONE).exists():
        return False
    if Declaration.objects.filter(
        status__in=[Declaration.Status.RECEIVED, Declaration.Status.PROCESSING]
    ).exists():
        return False
    return not Job.objects.filter(status__in=[Job.Status.PENDING, Job.Status.RUNNING]).exists()


def idle(broker, worker, what: str) -> None:
    def quiet_twice():
        if not _quiet(broker):
            return False
        time.sleep(0.3)
        return _quiet(broker)

    try:
        wait_for(quiet_twice, timeout=120, what=what)
    except AssertionError:
        parked = list(OutboxEvent.objects.exclude(state=OutboxEvent.State.DELIVERED).values())
        raise AssertionError(
            f"{what}: not quiet; events {parked}\n{worker.log()[-4000:]}"
        ) from None


class Clock:
    """The month's decisions and adjustments are dated in the month (see the module doc)."""

    def __init__(self):
        self.decision = Decision.objects.order_by("-id").values_list("id", flat=True).first() or 0
        self.adjustment = (
            Adjustment.objects.order_by("-id").values_list("id", flat=True).first() or 0
        )

    def close_month(self, year: int, month: int) -> None:
        moment = dt.datetime.combine(last_day(year, month), dt.time(18), tzinfo=TZ)
        Decision.objects.filter(id__gt=self.decision).update(decided_at=moment)
        Adjustment.objects.filter(id__gt=self.adjustment).update(created_at=moment)
        self.__init__()


# --- the municipality -------------------------------------------------------------------------


class Town:
    """One county and everything its year needs, built through the services."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        sync_roles()
        self.area = PoolingArea.objects.create(code="530500", name="保山市", policy_code="baoshan")
        self.county = County.objects.create(pooling_area=self.area, code="530502", name="隆阳区")
        self.civil = Department.objects.create(
            county=self.county, kind=DepartmentKind.CIVIL_AFFAIRS, name="隆阳区民政局"
        )
        self.hospitals = [
            Hospital.objects.create(
                code="530502H1",
                name="隆阳区中心卫生院",
                level=1,
                fee_class="class_3",
                county=self.county,
            ),
            Hospital.objects.create(
                code="530502H2",
                name="隆阳区人民医院",
                level=2,
                fee_class="county_2",
                county=self.county,
            ),
        ]
        self.outside = Hospital.objects.create(
            code="530502OUT",
            name="省外转诊医院（异地就医）",
            level=3,
            fee_class="provincial_1",
            county=self.county,
            in_area=False,
            in_province=False,
        )
        password = "medaid-year-2026"
        self.admin = staff_user_create(
            username="city_admin", password=password, role_key="city_administrator"
        )
        self.clerk = staff_user_create(
            username="clerk", password=password, role_key="counter_clerk", county=self.county
        )
        self.supervisors = [
            staff_user_create(
                username=f"supervisor{n}",
                password=password,
                role_key="supervisor",
                county=self.county,
            )
            for n in (1, 2)
        ]
        self.accounts = {
            (a.county_id, a.kind): a
            for a in funds.accounts_open_for_area(
                pooling_area=self.area, opened_on=dt.date(2025, 1, 1)
            )
        }
        for year, budget in ((2025, "900000.00"), (2026, "600000.00")):
            funds.budget_set(
                county=self.county,
                year=year,
                amount=Decimal(budget),
                county_matching=Decimal(budget) * Decimal("0.15"),
                document_ref=f"保财预〔{year}〕3号",
            )
            ContributionYear.objects.create(
                pooling_area=self.area,
                year=year,
                individual_contribution=Decimal("400.00"),
                collection_start=dt.date(year - 1, 9, 1),
                collection_end=dt.date(year - 1, 12, 31),
                parameters=PREMIUM,
            )
        self.people: list[dict] = []

    def fund(self, amount: Decimal, day: dt.date, ref: str) -> None:
        """Money along Baoshan's path: into the city's special account, 80 % on to the county's
        expenditure account (the rest stays for the premium subsidy)."""
        city = self.accounts[(None, AccountKind.FISCAL)]
        city_exp = self.accounts[(None, AccountKind.EXPENDITURE)]
        exp = self.accounts[(self.county.pk, AccountKind.EXPENDITURE)]
        funds.receipt_post(
            account=city,
            source=FundSource.CENTRAL_PROVINCIAL,
            amount=amount,
            date=day,
            document_ref=ref,
        )
        spend = (amount * Decimal("0.8")).quantize(CENT)
        funds.transfer_post(
            kind=EntryKind.TRANSFER,
            from_account=city,
            to_account=city_exp,
            amount=spend,
            date=day,
            document_ref=f"{ref}-拨",
        )
        funds.transfer_post(
            kind=EntryKind.DISBURSEMENT,
            from_account=city_exp,
            to_account=exp,
            amount=spend,
            date=day,
            document_ref=f"{ref}-下拨",
        )

    # --- the roster and the change feeds ---------------------------------------------------

    def roster_rows(self) -> list[list]:
        codes, weights = zip(*MIX, strict=True)
        rows, seen = [], set()
        n = 0
        while len(rows) < PEOPLE:
            birth = dt.date(1945, 1, 1) + dt.timedelta(days=self.rng.randrange(20000))
            sex = "MF"[n % 2]
            number = id_numbers.make(self.county.code, birth, n % 1000, sex=sex)
            n += 1
            if number in seen:
                continue
            seen.add(number)
            code = self.rng.choices(codes, weights)[0]
            start = dt.date(2023, 1, 1) + dt.timedelta(days=self.rng.randrange(700))
            name = self.rng.choice(SURNAMES) + "".join(
                self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2)))
            )
            rows.append([number, name, code, start.isoformat()])
            self.people.append({"id_number": number, "name": name})
        return rows

    def roster_import(self, broker, worker) -> RosterImport:
        """The department's full roster, received and applied as the admin's upload does: a
        job on the worker (validate, merge)."""
        batch, created = registry.roster_import_receive(
            department=self.civil,
            kind=RosterImport.Kind.ROSTER,
            upload=csv_upload(
                self.roster_rows(), ["公民身份号码", "姓名", "身份类别", "起始日期"], "roster.csv"
            ),
            file_name="隆阳区民政局2025年救助对象名册.csv",
            stated_date=dt.date(2025, 1, 2),
            channel=RosterImport.Channel.ADMIN,
            uploaded_by=self.admin,
        )
        assert created
        job = registry.roster_import_job_start(batch=batch, apply=True, by=self.admin)
        wait_for(
            lambda: Job.objects.get(pk=job.pk).status in (Job.Status.SUCCEEDED, Job.Status.FAILED),
            timeout=90,
            what="the roster job",
        )
        batch.refresh_from_db()
        assert batch.status == RosterImport.Status.APPLIED, (batch.error, worker.log()[-3000:])
        assert batch.rows_error == 0, list(
            batch.rows.values_list("error_code", "error_message")[:3]
        )
        ids = dict(Person.objects.filter(county=self.county).values_list("id_number", "id"))
        for p in self.people:
            p["id"] = ids[p["id_number"]]
        return batch

    def holders(self, code: str, on: dt.date) -> list[int]:
        return list(
            Identity.objects.filter(person__county=self.county, code=code, start__lte=on)
            .filter(Q(end__isnull=True) | Q(end__gte=on))
            .values_list("person_id", flat=True)
            .distinct()
        )

    def change_feed(self, year: int, month: int, stats: dict) -> RosterImport | None:
        """This month's feed: three 低保边缘 households become 低保 from two months before and
        two 特困 people leave from the middle of the month before last — preferably people with
        claims since then, so that the backdating reaches money already paid."""
        y2, m2 = month_before(year, month, 2)
        since = dt.date(y2, m2, 1)
        with_claims = set(
            Claim.objects.filter(county=self.county, discharged__gte=since).values_list(
                "person_id", flat=True
            )
        )
        by_id = {p["id"]: p for p in self.people}

        def pick(code: str, on: dt.date, n: int) -> list[int]:
            pool = sorted(self.holders(code, on))
            # Only open periods can be changed or ended by a feed.
            pool = [
                pid
                for pid in pool
                if Identity.objects.filter(
                    person_id=pid, code=code, end__isnull=True, start__lte=on
                ).exists()
            ]
            first = [pid for pid in pool if pid in with_claims]
            rest = [pid for pid in pool if pid not in with_claims]
            self.rng.shuffle(first)
            self.rng.shuffle(rest)
            return (first + rest)[:n]

        rows = []
        start = since
        for pid in pick("dibao_edge", start - dt.timedelta(days=1), 3):
            p = by_id[pid]
            rows.append(
                ["变更", p["id_number"], p["name"], "dibao", "dibao_edge", start.isoformat(), ""]
            )
        end = dt.date(y2, m2, 15)
        for pid in pick("tekun", end, 2):
            p = by_id[pid]
            rows.append(["退出", p["id_number"], p["name"], "tekun", "", "", end.isoformat()])
        if not rows:
            return None
        batch, _ = registry.roster_import_receive(
            department=self.civil,
            kind=RosterImport.Kind.FEED,
            upload=csv_upload(rows, FEED_HEADERS, f"feed-{year}{month:02d}.csv"),
            file_name=f"隆阳区民政局{year}年{month}月变动名册.csv",
            stated_date=dt.date(year, month, 20),
            channel=RosterImport.Channel.ADMIN,
            uploaded_by=self.admin,
        )
        registry.roster_import_validate(batch=batch, preview=False)
        summary = registry.roster_import_apply(batch=batch, applied_by=self.admin)
        batch.refresh_from_db()
        assert batch.rows_error == 0, summary
        assert summary["people_changed"] == len(rows), summary
        stats["feed_lines"] += len(rows)
        return batch

    # --- hospitals' declarations -----------------------------------------------------------

    def declare(self, year: int, month: int, people: list[int], stats: dict) -> list[int]:
        """Each hospital's file for the month, with the figure its one-stop settlement computed
        (the engine on what the registry said at discharge); a few misstated, one unknown."""
        rng = self.rng
        end = last_day(year, month)
        by_id = {p["id"]: p for p in self.people}
        rows_by_hospital: dict[int, list[dict]] = defaultdict(list)
        persons = registry_selectors.person_facts(people=people)
        for n, pid in enumerate(sorted(people)):
            hospital = rng.choice(self.hospitals)
            kind = rng.choices(["inpatient", "outpatient_chronic"], weights=[80, 20])[0]
            discharged = dt.date(year, month, rng.randint(1, end.day))
            if kind == "inpatient":
                in_policy = yuan(rng.uniform(3000, 26000) * (1 + hospital.level / 2))
                admitted = discharged - dt.timedelta(
                    days=rng.randint(0, min(9, discharged.day - 1))
                )
            else:
                in_policy = yuan(rng.uniform(300, 3000))
                admitted = discharged
            basic = yuan(float(in_policy) * rng.uniform(0.5, 0.72))
            critical = (
                yuan(float(in_policy - basic) * rng.uniform(0, 0.3)) if in_policy > 15000 else ZERO
            )
            out_of_catalog = yuan(float(in_policy) * rng.uniform(0, 0.12))
            facts = {
                "kind": kind,
                "admitted": admitted,
                "discharged": discharged,
                "in_policy_cost": in_policy,
                "out_of_catalog_cost": out_of_catalog,
                "total_cost": in_policy + out_of_catalog,
                "basic_insurance_paid": basic,
                "critical_illness_paid": critical,
            }
            ref = f"{hospital.code}-{year}{month:02d}-{n:04d}"
            earlier = [row.facts for row in selectors.year_claims(people=[pid], year=year)]
            new = policy.ClaimFacts(
                ref=ref,
                hospital_level=hospital.level,
                hospital_fee_class=hospital.fee_class or None,
                **facts,
            )
            result = policy.decide(
                policy.Case(policy="baoshan", person=persons[pid], claims=(*earlier, new))
            )
            declared = next(d.total for d in result.claims if d.ref == ref)
            if rng.random() < 0.04:
                declared += yuan(rng.uniform(10, 300))  # the hospital's own mistake
                stats["misstated"] += 1
            p = by_id[pid]
            rows_by_hospital[hospital.pk].append(
                {
                    "hospital_code": hospital.code,
                    "id_number": p["id_number"],
                    "name": p["name"],
                    "external_ref": ref,
                    **{k: str(v) for k, v in facts.items()},
                    "other_paid": "0.00",
                    "declared_assistance": str(declared),
                }
            )
        declarations = []
        for hospital in self.hospitals:
            rows = rows_by_hospital.get(hospital.pk, [])
            if hospital is self.hospitals[0]:
                rows.append(
                    {
                        "hospital_code": hospital.code,
                        "id_number": "000000000000000000",
                        "name": "查无此人",
                        "external_ref": f"{hospital.code}-X{year}{month:02d}",
                        "kind": "inpatient",
                        "discharged": str(end),
                        "in_policy_cost": "1000.00",
                        "declared_assistance": "0",
                    }
                )
            if not rows:
                continue
            declaration = imports.declaration_from_rows(
                rows=rows, year=year, month=month, hospital=hospital
            )
            declarations.append(declaration.pk)
            stats["declared_lines"] += len(rows)
        return declarations

    # --- counter applications --------------------------------------------------------------

    def apply_at_counter(self, year: int, month: int, people: list[int], stats: dict) -> None:
        rng = self.rng
        persons = {p.pk: p for p in Person.objects.filter(pk__in=people)}
        for i, pid in enumerate(people):
            discharged = dt.date(year, month, rng.randint(10, 20))
            in_policy = yuan(rng.uniform(20000, 60000))
            basic = yuan(float(in_policy) * rng.uniform(0.45, 0.6))
            application = claims.application_create(
                person=persons[pid],
                applied=discharged + dt.timedelta(days=rng.randint(1, 7)),
                created_by=self.clerk,
                claims=[
                    {
                        "hospital": self.outside,
                        "kind": "inpatient",
                        "admitted": discharged - dt.timedelta(days=rng.randint(3, 9)),
                        "discharged": discharged,
                        "in_policy_cost": in_policy,
                        "out_of_catalog_cost": yuan(float(in_policy) * 0.05),
                        "basic_insurance_paid": basic,
                        "critical_illness_paid": yuan(float(in_policy - basic) * 0.2),
                        "receipt_numbers": f"PJ{year}{month:02d}{i:03d}",
                    }
                ],
                note="异地就医手工报销",
            )
            claims.application_submit(application=application, by=self.clerk)
            first, second = self.supervisors if i % 2 == 0 else self.supervisors[::-1]
            app = claims.application_approve(application=application, by=first, note="同意")
            if app.state == Application.State.SECOND_REVIEW:
                assert app.total > THRESHOLD
                app = claims.application_approve(application=app, by=second, note="复核同意")
                stats["second_approvals"] += 1
            assert app.state == Application.State.APPROVED
            stats["applications"] += 1

    # --- premium subsidies -----------------------------------------------------------------

    def premium(self, year: int, on: dt.date, stats: dict, *, build: bool) -> None:
        """The year's roster (built on the collection period's first day, confirmed) or the
        quarter's additions, requested and transferred from the city's special account."""
        if build:
            roster = registry.subsidy_roster_build(
                county=self.county,
                year=year,
                decision_date=dt.date(year - 1, 9, 1),
                created_by=self.admin,
            )
            roster = registry.subsidy_roster_confirm(roster=roster)
        else:
            from beneficiaries.models import SubsidyRoster

            roster = SubsidyRoster.objects.get(county=self.county, year=year)
            registry.subsidy_additions_run(roster=roster, on=on)
        request = registry.premium_transfer_request_create(roster=roster)
        if request is None:
            return
        entry = funds.premium_transfer_post(
            request=request,
            from_account=self.accounts[(None, AccountKind.FISCAL)],
            date=on,
            created_by=self.admin,
        )
        # Posting it again is refused quietly: the same entry.
        assert (
            funds.premium_transfer_post(
                request=request,
                from_account=self.accounts[(None, AccountKind.FISCAL)],
                date=on,
                created_by=self.admin,
            ).pk
            == entry.pk
        )
        stats["premium_transfers"] += 1
        stats["premium_amount"] += request.amount


# --- the independent computation ------------------------------------------------------------


def engine_totals(county) -> dict[int, Decimal]:
    """The engine over every person's final identities and counted claims, built by the same
    selectors the recompute uses, year by year: claim id → total."""
    people = Person.objects.filter(county=county).values("id")
    facts = registry_selectors.person_facts(people=people)
    totals: dict[int, Decimal] = {}
    for year in sorted({y for y, _ in MONTHS}):
        rows = list(selectors.year_claims(people=people, year=year))
        for pid, group in groupby(rows, key=lambda r: r.person_id):
            group = list(group)
            for code, same_pack in groupby(group, key=lambda r: r.policy_code):
                case = selectors.build_case(
                    policy_code=code, person=facts[pid], claims=list(same_pack)
                )
                for decision in policy.decide(case).claims:
                    totals[int(decision.ref)] = decision.total
    return totals


def by_month(amounts: dict[int, Decimal]) -> dict[tuple[int, int], Decimal]:
    months = dict(Claim.objects.filter(pk__in=list(amounts)).values_list("pk", "discharged"))
    out: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for claim_id, amount in amounts.items():
        day = months[claim_id]
        out[(day.year, day.month)] += amount
    return dict(out)


# --- the year -------------------------------------------------------------------------------


def test_a_year_in_the_life_of_a_county(
    settings, celery_broker, celery_worker_process, celery_beat_process
):
    started = time.monotonic()
    settings.SECOND_APPROVAL_THRESHOLD = str(THRESHOLD)
    broker, worker, beat = celery_broker, celery_worker_process, celery_beat_process
    rng = random.Random(20250101)
    stats: dict = defaultdict(int)
    stats["premium_amount"] = ZERO
    town = Town(rng)
    county = town.county
    town.roster_import(broker, worker)
    idle(broker, worker, "the roster")
    clock = Clock()
    reversed_entry = None

    for index, (year, month) in enumerate(MONTHS):
        end = last_day(year, month)
        # Early in the month: the voucher reversed (the bank returned last month's batch).
        if (year, month) == month_before(*REVERSED_MONTH, -1):
            run = SettlementRun.objects.get(
                county=county, year=REVERSED_MONTH[0], month=REVERSED_MONTH[1]
            )
            statement = run.statements.get(payee="individuals")
            reversed_entry = statement.entry
            funds.entry_reverse(
                entry=reversed_entry,
                date=dt.date(year, month, 3),
                document_ref=f"冲{statement.number}",
                memo="个人账户信息有误，银行退回",
                created_by=town.admin,
            )
            stats["reversed_claims"] = statement.claim_count
        # Money arrives when it arrives: the year's first block in January, the second in July.
        if month in FUNDING:
            amount, ref = FUNDING[month]
            town.fund(Decimal(amount), dt.date(year, month, 6), f"{ref}（{year}）")
        # Premium subsidies: the year's roster in January, the additions each quarter's end.
        if month == 1:
            town.premium(year, dt.date(year, 1, 20), stats, build=True)
        elif month % 3 == 0:
            town.premium(year, end, stats, build=False)
        # The change feed backdates identities; the worker recomputes (outbox, then runs).
        if index >= 2:
            town.change_feed(year, month, stats)
        # The month's stays: hospitals declare, people with bills from outside apply.
        everyone = [p["id"] for p in town.people]
        chosen = rng.sample(everyone, CLAIMS_PER_MONTH + APPLICATIONS_PER_MONTH)
        town.declare(year, month, chosen[:CLAIMS_PER_MONTH], stats)
        town.apply_at_counter(year, month, chosen[CLAIMS_PER_MONTH:], stats)
        idle(broker, worker, f"declarations and recomputes of {year}-{month:02d}")
        # The review queue: medaid's own figure is accepted (never the hospital's).
        for claim in Claim.objects.filter(county=county, status=Claim.Status.REVIEW):
            claims.claim_review_resolve(
                claim=claim, by=town.supervisors[0], accept=True, note="按系统核定金额受理"
            )
            stats["reviewed"] += 1
        # Corrections: one claim already paid, one still waiting for its settlement.
        if index >= 1:
            for status in (Claim.Status.SETTLED, Claim.Status.ACCEPTED):
                candidates = list(
                    Claim.objects.filter(
                        county=county, status=status, source=Claim.Source.DECLARATION
                    ).order_by("id")
                )
                claim = rng.choice(candidates) if candidates else None
                if claim is None:
                    continue
                claims.claim_correct(
                    claim=claim,
                    changes={
                        "basic_insurance_paid": (
                            claim.basic_insurance_paid * Decimal("0.9")
                        ).quantize(CENT)
                    },
                    by=town.supervisors[0],
                    reason="医保结算单更正（基本医保支付金额有误）",
                )
                stats[f"corrected_{status}"] += 1
        idle(broker, worker, f"corrections of {year}-{month:02d}")
        clock.close_month(year, month)
        # The month's settlement, on the worker: staged, its posting proposed and approved by
        # two people, then posted by the job the approval sends.
        settle_month.delay(county.pk, year, month)
        wait_for(
            lambda y=year, m=month: SettlementRun.objects.filter(
                county=county, year=y, month=m, status__in=[*SETTLED, SettlementRun.Status.STAGED]
            ).exists(),
            timeout=120,
            what=f"the settlement of {year}-{month:02d} staged",
        )
        run = SettlementRun.objects.get(county=county, year=year, month=month)
        if run.status == SettlementRun.Status.STAGED:
            approved(MoneyMove.Kind.SETTLEMENT, run=run)
            wait_for(
                lambda r=run.pk: SettlementRun.objects.filter(pk=r, status__in=SETTLED).exists(),
                timeout=120,
                what=f"the settlement of {year}-{month:02d} posted",
            )
        run = SettlementRun.objects.get(county=county, year=year, month=month)
        assert run.status == SettlementRun.Status.SUCCEEDED, (run.error, worker.log()[-3000:])
        idle(broker, worker, f"the settlement of {year}-{month:02d} reaching its applications")
        # Approved applications whose claims are settled are paid (settlement.posted).
        assert (
            not Application.objects.filter(county=county, state=Application.State.APPROVED)
            .exclude(claims__status__in=[Claim.Status.ACCEPTED])
            .exists()
        )
        if (year, month) == (2025, 12):
            closes = funds.year_end_close(pooling_area=town.area, year=2025, closed_by=town.admin)
            stats["year_end_closes"] = len(closes)

    elapsed_months = time.monotonic() - started

    # --- (1) every approved and settled application is paid exactly once -------------------
    applications = Application.objects.filter(county=county)
    assert applications.count() == stats["applications"] == len(MONTHS) * APPLICATIONS_PER_MONTH
    # Some needed a second supervisor (above the threshold), some did not.
    assert 0 < stats["second_approvals"] < stats["applications"]
    assert not applications.exclude(state=Application.State.PAID).exists()
    paid = dict(
        ApplicationTransition.objects.filter(target=Application.State.PAID)
        .values_list("application")
        .annotate(n=Count("id"))
        .values_list("application", "n")
    )
    taken_back = dict(
        ApplicationTransition.objects.filter(source=Application.State.PAID)
        .values_list("application")
        .annotate(n=Count("id"))
        .values_list("application", "n")
    )
    in_reversed = set(
        SettlementLine.objects.filter(
            statement__entry=reversed_entry, adjustment__isnull=True
        ).values_list("claim__application", flat=True)
    )
    assert in_reversed and len(in_reversed) == stats["reversed_claims"]
    for app in applications:
        again = 1 if app.pk in in_reversed else 0
        assert paid.get(app.pk) == 1 + again, app
        assert taken_back.get(app.pk, 0) == again, app
    for claim in Claim.objects.filter(application__in=applications):
        standing = SettlementLine.objects.filter(
            claim=claim, adjustment__isnull=True, reopened=False
        )
        assert standing.count() == 1, claim  # one claim line that stands: paid once
    assert (
        not Claim.objects.filter(county=county).exclude(status__in=[Claim.Status.SETTLED]).exists()
    ), dict(Claim.objects.filter(county=county).values_list("status").annotate(n=Count("id")))

    # --- (2) the ledger reconciles ---------------------------------------------------------
    unbalanced = (
        Entry.objects.annotate(s=Sum("postings__amount")).exclude(s=0).values_list("pk", "s")
    )
    assert not list(unbalanced)
    payees = Posting.objects.filter(
        account__kind__in=[AccountKind.HOSPITAL, AccountKind.INDIVIDUALS], account__county=county
    )
    for st in SettlementStatement.objects.filter(county=county).select_related("entry"):
        assert st.posted_at is not None
        lines = st.lines.aggregate(s=Sum("amount"))["s"] or ZERO
        assert lines == st.total, st
        if st.total:
            assert payees.filter(entry=st.entry).aggregate(s=Sum("amount"))["s"] == st.total
        else:
            assert st.entry_id is None
    standing = dict(
        SettlementLine.objects.filter(statement__county=county, reopened=False)
        .values_list("claim")
        .annotate(s=Sum("amount"))
        .values_list("claim", "s")
    )
    current = dict(
        Decision.objects.filter(claim__county=county, is_current=True).values_list(
            "claim_id", "total"
        )
    )
    assert standing == current
    assert (
        not Adjustment.objects.filter(claim__county=county)
        .exclude(settlement_lines__reopened=False)
        .exists()
    ), "every adjustment is paid by a line that stands"
    # The reconciliation (funds.reconciliation) over the whole county, every decision
    # recomputed: no difference.
    result = reconcile(county=county, full_recompute=True)
    assert result.recomputed_claims == len(current)
    found = "\n".join(
        f"{d.check} {d.year}-{d.month}: {d.message} "
        + "; ".join(f"{r.ref} {r.expected}/{r.actual} {r.explanation}" for r in d.rows[:3])
        for d in result.differences
    )
    assert result.balanced, found

    # --- (3) an independent computation agrees to the cent ---------------------------------
    engine = engine_totals(county)
    assert set(engine) == set(current)
    assert by_month(engine) == by_month(current)
    assert by_month(engine) == by_month(standing)
    paid_total = payees.aggregate(s=Sum("amount"))["s"]
    assert paid_total == sum(engine.values()) == sum(standing.values())
    adjustments = Adjustment.objects.filter(claim__county=county)
    assert adjustments.filter(amount__lt=0).exists() and adjustments.filter(amount__gt=0).exists()
    claim_lines = SettlementLine.objects.filter(
        statement__county=county, reopened=False, adjustment__isnull=True
    ).aggregate(s=Sum("amount"))["s"]
    adjustment_lines = SettlementLine.objects.filter(
        statement__county=county, reopened=False, adjustment__isnull=False
    ).aggregate(s=Sum("amount"))["s"]
    assert claim_lines + adjustment_lines == paid_total

    # --- the year-end report: 2025 closed, its overspend shared ----------------------------
    close = YearEndClose.objects.get(county=county, year=2025)
    spent_2025 = -(
        Posting.objects.filter(
            entry__county=county,
            entry__date__year=2025,
            entry__kind__in=[
                EntryKind.HOSPITAL_PAYMENT,
                EntryKind.INDIVIDUAL_PAYMENT,
                EntryKind.PREMIUM_SUBSIDY,
            ],
            account__kind__in=[AccountKind.FISCAL, AccountKind.EXPENDITURE],
        ).aggregate(s=Sum("amount"))["s"]
    )
    assert close.actual == spent_2025
    assert close.overspend == max(ZERO, close.actual - close.budget)
    assert close.overspend > 0
    assert (
        close.from_surplus + close.city_share + close.county_share + close.unallocated
        == close.overspend
    )
    report = year_end_sharing_build(user=town.admin, county=None, parameters={"year": 2025})
    (sheet,) = report.reports
    header = [c.header for c in sheet.columns]
    (row,) = [r for r in sheet.rows if r[0] == county.name]
    figures = dict(zip(header, row, strict=True))
    assert figures["实际支出"] == close.actual
    assert figures["超支金额"] == close.overspend

    # --- the machinery did its part --------------------------------------------------------
    assert beat.sent("medaid.core.tasks.dispatch_outbox") >= 2
    assert "Traceback" not in worker.log() and " ERROR/" not in worker.log()
    assert not OutboxEvent.objects.exclude(state=OutboxEvent.State.DELIVERED).exists()
    assert OutboxEvent.objects.filter(topic="identity.changed").count() >= len(MONTHS) - 2
    assert OutboxEvent.objects.filter(topic="voucher.reversed").count() == 1
    assert DecisionRun.objects.filter(kind=DecisionRun.Kind.IDENTITY).exists()
    assert (
        PremiumTransferRequest.objects.filter(
            county=county, status=PremiumTransferRequest.Status.POSTED
        ).count()
        == stats["premium_transfers"]
    )
    assert stats["reviewed"] >= stats["misstated"] > 0
    print(
        f"\nyear in the life: {len(MONTHS)} months in {elapsed_months:.0f}s; "
        f"{Claim.objects.filter(county=county).count()} claims, "
        f"{adjustments.count()} adjustments, {dict(stats)}; paid {paid_total}; "
        f"2025 actual {close.actual} against budget {close.budget}"
    )
    assert Account.objects.exists()
