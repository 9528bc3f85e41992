"""Platform-layout settlement lists that look real, for the demo, the tests and the bench: each
jurisdiction's mix of 医疗类别, the platform's codes, amounts that add up, and the platform's
maf_pay as a one-stop settlement computed it with the person's identity and pack — except for a
few records computed under the wrong identity. Reversals (冲销 with negative amounts, or
vali_flag 0) and re-sends (same content, or changed) are drawn from earlier records.

Records are generated person by person and streamed, so a 200 000-record file never sits in
memory.

maf_pay is the person's year as the platform settled it, record by record. A reversal drawn from
this file's own records takes one of them back afterwards, as the platform does: the person's
other records keep the maf_pay computed with it in the year, while our run decides the year
without it. Those records then differ by the deductible or cap the reversed one had used — with
the same identity — and the comparison names that reason (`Reason.REVERSAL`), not "same
identity, different amount"; a wrong-identity record that is itself reversed leaves the file,
so the wrong identities found are a few fewer than `counts["wrong_identity"]`."""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from claims.platform import dictionary
from claims.platform.reader import FIELDS
from medaid import policy
from medaid.core.money import ZERO, to_yuan

# 医疗类别 weights per pack: inpatient stays dominate everywhere; the western packs see more
# chronic-disease outpatient settlements, Pingshun (rural Shanxi) more plain inpatient stays.
MED_TYPE_MIX = {
    "baoshan": {"21": 55, "22": 3, "24": 2, "14": 18, "140201": 8, "15": 4, "11": 8, "28": 2},
    "kunming": {"21": 50, "23": 5, "14": 20, "140201": 10, "15": 5, "11": 8, "28": 2},
    "pingshun": {"21": 65, "14": 15, "140201": 8, "15": 3, "11": 5, "13": 4},
    "yunnan": {"21": 58, "14": 18, "140201": 10, "15": 6, "11": 5, "13": 3},
    "zhangye": {"21": 62, "22": 4, "14": 16, "140201": 8, "15": 3, "11": 4, "13": 3},
}
KIND_OF = {code: value for code, _, value in dictionary.MED_TYPE}
STAY_KINDS = {"inpatient", "day_surgery"}
HOSP_LV_OF_LEVEL = {3: "2", 2: "5", 1: "8"}  # 三级甲等, 二级甲等, 一级甲等
CLR_TYPE_OF = {True: "21", False: "11"}  # 住院 / 门诊 (dictionary.CLR_TYPE)


@dataclass(frozen=True)
class Insured:
    id_number: str
    name: str
    psn_no: str
    facts: policy.PersonFacts


@dataclass(frozen=True)
class Facility:
    code: str
    name: str
    level: int
    fee_class: str = ""


def insured_from_db(people) -> list[Insured]:
    """People (a queryset of beneficiaries.Person) as the generator takes them."""
    from beneficiaries.selectors import person_facts

    rows = list(people.order_by("id").values_list("id", "id_number", "name"))
    facts = person_facts(people=[pk for pk, _, _ in rows])
    return [
        Insured(id_number=i, name=name, psn_no=f"PSN{pk:012d}", facts=facts[pk])
        for pk, i, name in rows
        if facts[pk].identities
    ]


def facilities_from_db(hospitals) -> list[Facility]:
    return [Facility(h.code, h.name, h.level, h.fee_class or "") for h in hospitals]


def _wrong(facts: policy.PersonFacts, right: str) -> tuple[policy.PersonFacts, str]:
    """The same person under another identity (what a platform with stale identities used)."""
    code = "dibao" if right in ("tekun", "orphan") else "tekun"
    periods = tuple(
        policy.IdentityPeriod(code=code, start=p.start, end=p.end) for p in facts.identities
    )
    return policy.PersonFacts(identities=periods, birth_date=facts.birth_date), code


def _stay(rng: random.Random, kind: str, day: dt.date, level: int) -> dict:
    if kind in STAY_KINDS:
        in_policy = to_yuan(rng.uniform(2000, 30000) * (1 + level / 2))
        admitted = day - dt.timedelta(days=rng.randint(1, 14) if kind == "inpatient" else 0)
    else:
        in_policy = to_yuan(rng.uniform(200, 4000))
        admitted = day
    ownpay = to_yuan(float(in_policy) * rng.uniform(0, 0.1))
    overlmt = to_yuan(float(in_policy) * rng.uniform(0, 0.03))
    preself = to_yuan(float(in_policy) * rng.uniform(0, 0.05))
    hifp = to_yuan(float(in_policy) * rng.uniform(0.5, 0.75))
    hifmi = to_yuan(float(in_policy - hifp) * rng.uniform(0, 0.3)) if in_policy > 15000 else ZERO
    return {
        "admitted": admitted,
        "in_policy": in_policy,
        "ownpay": ownpay,
        "overlmt": overlmt,
        "preself": preself,
        "hifp": hifp,
        "hifmi": hifmi,
    }


def _record(
    *, setl_id, person: Insured, facility: Facility, med_type, day, stay, maf, identity, area, rng
) -> dict:
    total = stay["in_policy"] + stay["ownpay"] + stay["overlmt"] + stay["preself"]
    fund = stay["hifp"] + stay["hifmi"] + maf
    kind = KIND_OF[med_type]
    return {
        "setl_id": setl_id,
        "psn_no": person.psn_no,
        "certno": person.id_number,
        "psn_name": person.name,
        "insutype": "390" if rng.random() < 0.97 else "392",
        "psn_idet_type": dictionary.code_for("psn_idet_type", identity) if identity else "",
        "med_type": med_type,
        "begndate": stay["admitted"].isoformat(),
        "enddate": day.isoformat(),
        "medfee_sumamt": str(total),
        "fulamt_ownpay_amt": str(stay["ownpay"]),
        "overlmt_selfpay": str(stay["overlmt"]),
        "preselfpay_amt": str(stay["preself"]),
        "inscp_scp_amt": str(stay["in_policy"]),
        "hifp_pay": str(stay["hifp"]),
        "hifmi_pay": str(stay["hifmi"]),
        "hifob_pay": "0.00",
        "maf_pay": str(maf),
        "cvlserv_pay": "0.00",
        "oth_pay": "0.00",
        "fund_pay_sumamt": str(fund),
        "psn_cash_pay": str(total - fund),
        "acct_pay": "0.00",
        "hosp_lv": HOSP_LV_OF_LEVEL[facility.level],
        "fixmedins_code": facility.code,
        "fixmedins_name": facility.name,
        "insu_admdvs": area,
        "setl_time": f"{day.isoformat()} {rng.randint(8, 17):02d}:{rng.randint(0, 59):02d}:00",
        "vali_flag": "1",
        "clr_type": CLR_TYPE_OF[kind in STAY_KINDS],
        "refd_setl_flag": "0",
        "init_setl_id": "",
    }


def _of(result, refs: list[str]) -> list:
    """The decisions of `refs` (this visit's claims) from a decision of the person's year."""
    by_ref = {c.ref: c for c in result.claims}
    return [by_ref[ref] for ref in refs]


def reversal_of(record: dict, *, setl_id: str, by_flag: bool) -> dict:
    """The platform's reversal of `record`: its own row with vali_flag 0 (`by_flag`), or a 冲销
    record of its own setl_id with the amounts negated, pointing at the original."""
    if by_flag:
        return {**record, "vali_flag": "0"}
    money = {
        name: str(-Decimal(record[name]))
        for name in record
        if name.endswith(("_amt", "_pay", "_selfpay", "sumamt"))
    }
    return {
        **record,
        **money,
        "setl_id": setl_id,
        "refd_setl_flag": "1",
        "init_setl_id": record["setl_id"],
    }


def settlement_records(
    *,
    policy_code: str,
    insured: list[Insured],
    facilities: list[Facility],
    year: int,
    month: int,
    n: int,
    area: str,
    rng: random.Random,
    prefix: str = "S",
    earlier: list[dict] = (),
    reversals: float = 0.0,
    resends: float = 0.0,
    changed_resends: float = 0.0,
    wrong_identity: float = 0.0,
    counts: dict | None = None,
) -> Iterator[dict]:
    """`n` settlement records of the month (plus reversals and re-sends of `earlier` records,
    or of this file's own when there are none earlier), each person's in discharge order.
    `counts` receives how many of each kind were written (records, reversals, resends,
    changed, wrong_identity)."""
    counts = counts if counts is not None else {}
    for key in ("records", "reversals", "resends", "changed", "wrong_identity"):
        counts.setdefault(key, 0)
    mix = MED_TYPE_MIX[policy_code]
    codes, weights = list(mix), list(mix.values())
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    seq = 0
    own: list[dict] = []
    order = list(range(len(insured)))
    rng.shuffle(order)
    cursor = 0
    # More records than people visits people again: a later visit is decided with the person's
    # earlier claims of the month in the case (the platform's year goes on), not on its own.
    history: dict[int, tuple] = {}
    keep_history = n > len(insured)
    while counts["records"] < n and insured:
        at = order[cursor % len(order)]
        person = insured[at]
        cursor += 1
        k = 1 if rng.random() < 0.85 else 2
        planned = []
        earlier_claims = history.get(at, ())
        # A visit again comes after the person's earlier claims (the platform settled those
        # without it, and the engine decides a year in discharge order).
        first = max((c.discharged.day for c in earlier_claims), default=1)
        for _ in range(min(k, n - counts["records"])):
            med_type = rng.choices(codes, weights)[0]
            kind = KIND_OF[med_type]
            facility = rng.choice(facilities)
            day = dt.date(year, month, rng.randint(first, last))
            planned.append((med_type, kind, facility, day, _stay(rng, kind, day, facility.level)))
        planned.sort(key=lambda p: p[3])
        claims = tuple(
            policy.ClaimFacts(
                ref=f"{cursor}-{i}",
                kind=kind,
                discharged=day,
                admitted=stay["admitted"],
                hospital_level=facility.level,
                hospital_fee_class=facility.fee_class or None,
                in_policy_cost=stay["in_policy"],
                out_of_catalog_cost=stay["ownpay"] + stay["overlmt"] + stay["preself"],
                total_cost=stay["in_policy"] + stay["ownpay"] + stay["overlmt"] + stay["preself"],
                basic_insurance_paid=stay["hifp"],
                critical_illness_paid=stay["hifmi"],
            )
            for i, (_, kind, facility, day, stay) in enumerate(planned)
        )
        refs = [c.ref for c in claims]
        year_claims = tuple(sorted((*earlier_claims, *claims), key=lambda c: c.discharged))
        try:
            case = policy.Case(policy=policy_code, person=person.facts, claims=year_claims)
            result = policy.decide(case)
        except (LookupError, ValueError):
            continue
        if keep_history:
            history[at] = year_claims
        decided = _of(result, refs)
        wrong_at = -1
        wrong_result = None
        if wrong_identity and rng.random() < wrong_identity:
            right = decided[0].identity or ""
            facts, code = _wrong(person.facts, right)
            try:
                other = _of(
                    policy.decide(
                        policy.Case(policy=policy_code, person=facts, claims=year_claims)
                    ),
                    refs,
                )
            except (LookupError, ValueError):
                other = None
            if other is not None and other[0].total != decided[0].total:
                wrong_at, wrong_result = 0, (other[0].total, code)
        for i, (med_type, _, facility, day, stay) in enumerate(planned):
            mine = decided[i]
            maf, identity = mine.total, mine.identity or ""
            if i == wrong_at:
                maf, identity = wrong_result
                counts["wrong_identity"] += 1
            seq += 1
            record = _record(
                setl_id=f"{prefix}{year}{month:02d}{seq:08d}",
                person=person,
                facility=facility,
                med_type=med_type,
                day=day,
                stay=stay,
                maf=maf,
                identity=identity,
                area=area,
                rng=rng,
            )
            counts["records"] += 1
            yield record
            if reversals and not earlier and rng.random() < reversals and len(own) < 10_000:
                own.append(record)
    pool = list(earlier) or own
    if not pool:
        return
    for _ in range(round(n * reversals)):
        seq += 1
        original = pool.pop(rng.randrange(len(pool)))
        counts["reversals"] += 1
        yield reversal_of(
            original, setl_id=f"{prefix}R{year}{month:02d}{seq:08d}", by_flag=rng.random() < 0.5
        )
        if not pool:
            return
    for _ in range(round(n * resends)):
        if not earlier or not pool:
            break
        counts["resends"] += 1
        yield pool.pop(rng.randrange(len(pool)))
    for _ in range(round(n * changed_resends)):
        if not earlier or not pool:
            break
        counts["changed"] += 1
        original = pool.pop(rng.randrange(len(pool)))
        yield {**original, "setl_time": original["setl_time"][:11] + "23:59:59"}


def write_csv(
    path: Path, records: Iterable[dict], *, encoding: str = "utf-8", labels: bool = False
) -> int:
    """A platform export as .csv (`labels`: the Chinese headers instead of the field names)."""
    count = 0
    with open(path, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(list(FIELDS.values()) if labels else list(FIELDS))
        for record in records:
            writer.writerow([record.get(name, "") for name in FIELDS])
            count += 1
    return count


def write_xlsx(path: Path, records: Iterable[dict]) -> int:
    import xlsxwriter

    count = 0
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("结算清单")
    sheet.write_row(0, 0, list(FIELDS))
    for count, record in enumerate(records, start=1):
        sheet.write_row(count, 0, [record.get(name, "") for name in FIELDS])
    workbook.close()
    return count
