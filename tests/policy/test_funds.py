"""The statutory fund rules read from the packs (`packs/<code>/funds.yaml`): deadlines, the
settlement's paying account, funding shares by tier, and the overspend split at the year-end
close. Pure: no database."""

import shutil
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from medaid.policy import (
    PackError,
    RuleNotInPack,
    available_policies,
    expenditure_year_end_return,
    fund_deadlines,
    funding_shares,
    load_pack,
    overspend_split,
    settlement_paid_from,
)
from medaid.policy.loader import PACKS_DIR
from medaid.policy.rules import funds as rules

YEAR_END = date(2024, 12, 31)


def _weekdays(start: date, n: int) -> date:
    """A stand-in working-day calendar (Monday to Friday) for the pure tests."""
    day = start
    while n:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


# --- deadlines ---------------------------------------------------------------------------------


def test_baoshan_deadlines_article_19_and_20():
    rules_ = fund_deadlines("baoshan", date(2024, 3, 1))
    assert set(rules_) == {
        "allocation_plan",
        "allocation",
        "remittance",
        "county_matching",
        "surplus_return",
    }
    notice = date(2024, 3, 1)  # a Friday
    plan = rules_["allocation_plan"]
    # 第十九条: 10 working days for the plan, 30 calendar days for the allocation
    assert plan.due_on(notice, 2024, add_working_days=_weekdays) == date(2024, 3, 15)
    assert "第十九条" in plan.ref
    assert rules_["allocation"].due_on(notice, 2024) == date(2024, 3, 31)
    # 第二十条: 15 days to remit; county matching by 30 September of the year
    assert rules_["remittance"].due_on(date(2024, 3, 20), 2024) == date(2024, 4, 4)
    matching = rules_["county_matching"]
    assert matching.due_on(date(2024, 1, 1), 2024) == date(2024, 9, 30)
    assert "第二十条" in matching.ref


@pytest.mark.parametrize(
    ("starts_on", "due"),
    [
        (date(2024, 1, 1), date(2024, 3, 31)),
        (date(2024, 5, 17), date(2024, 6, 30)),
        (date(2024, 9, 30), date(2024, 9, 30)),
        (date(2024, 10, 1), date(2024, 12, 31)),
    ],
)
def test_baoshan_quarter_end_surplus_return_article_18(starts_on, due):
    rule = fund_deadlines("baoshan", starts_on)["surplus_return"]
    assert rule.quarter_end and "第十八条（一）" in rule.ref and "产品决定" in rule.ref
    assert rule.due_on(starts_on, starts_on.year) == due


def test_working_days_need_a_calendar():
    rule = fund_deadlines("baoshan", date(2024, 3, 1))["allocation_plan"]
    with pytest.raises(ValueError, match="工作日"):
        rule.due_on(date(2024, 3, 1), 2024)


def test_kunming_subsidy_timetable_and_year_end_return_section_6():
    rules_ = fund_deadlines("kunming", date(2024, 1, 1))
    assert {k: r.due_on(date(2024, 1, 1), 2024) for k, r in rules_.items()} == {
        "subsidy_headcount": date(2024, 6, 30),
        "subsidy_transfer": date(2024, 8, 30),
        "year_end_return": date(2024, 12, 31),
    }
    returns = expenditure_year_end_return("kunming", date(2024, 1, 1))
    assert returns is not None and "六（二）2" in returns.ref
    assert returns.due_on(date(2024, 1, 1), 2024) == date(2024, 12, 31)


@pytest.mark.parametrize("code", ["pingshun", "zhangye", "yunnan"])
def test_packs_without_fund_deadlines(code):
    on = load_pack(code).first_day
    assert fund_deadlines(code, on) == {}
    assert expenditure_year_end_return(code, on) is None
    assert expenditure_year_end_return("baoshan", date(2024, 1, 1)) is None


# --- the settlement's paying account ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "account", "article"),
    [
        ("baoshan", "expenditure", "第十八条（四）"),
        ("kunming", "expenditure", "六（五）1"),
        ("pingshun", "fiscal", "第二十六条"),
        ("zhangye", "expenditure", "七（四）"),
        ("yunnan", "expenditure", "（八）"),
    ],
)
def test_settlement_paid_from(code, account, article):
    paid = settlement_paid_from(code, load_pack(code).first_day)
    assert paid.account == account and article in paid.ref


def test_every_pack_says_which_account_pays_the_settlement():
    for code in available_policies():
        pack = load_pack(code)
        for start in pack.ranges:
            assert settlement_paid_from(code, start).account in {"expenditure", "fiscal"}


def test_a_pack_without_the_paying_account_is_refused_by_the_accessor(tmp_path: Path):
    shutil.copytree(PACKS_DIR / "zhangye", tmp_path / "zhangye")
    (tmp_path / "zhangye" / "funds.yaml").unlink()
    pack = load_pack("zhangye", tmp_path / "zhangye")
    with pytest.raises(RuleNotInPack):
        rules.settlement_paid_from(pack, date(2023, 1, 1))


# --- funding shares by tier (Kunming 六（三）) -------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "city", "county"),
    [(1, D("0.20"), D("0.80")), (2, D("0.60"), D("0.40")), (3, D("0.90"), D("0.10"))],
)
def test_kunming_tier_shares(tier, city, county):
    shares = funding_shares("kunming", date(2024, 1, 1), tier)
    assert (shares.city, shares.county) == (city, county)
    assert "六（三）" in shares.ref
    assert funding_shares("kunming", date(2024, 1, 1), 4) is None
    assert funding_shares("baoshan", date(2024, 1, 1), 1) is None


# --- overspend at the year-end close ------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "surplus", "from_surplus", "county"),
    [
        # 第二十一条（一）3 % (含) of a 1 000 000 budget: the city's surplus covers all 30000
        ("1030000", "1000000", "30000", "0"),
        # （二）4 %: the whole 40000 split 50/50 (Decision: the band applies to the whole)
        ("1040000", "1000000", "20000", "20000"),
        # （二）5 % exactly is still the shared band
        ("1050000", "1000000", "25000", "25000"),
        # （三）over 5 %: the county bears all
        ("1050000.01", "1000000", "0", "50000.01"),
        # （四）the surplus holds 10000 of the 30000 the city should cover: the county the rest
        ("1030000", "10000", "10000", "20000"),
    ],
)
def test_baoshan_overspend_bands_article_21(actual, surplus, from_surplus, county):
    split = overspend_split(
        "baoshan",
        YEAR_END,
        budget=D("1000000"),
        actual=D(actual),
        city_surplus=D(surplus),
        county_surplus=D("999999999"),  # the county's own fund plays no part in Baoshan
    )
    assert (split.from_surplus, split.county) == (D(from_surplus), D(county))
    assert split.city == split.unallocated == 0
    assert split.from_surplus + split.county == split.overspend
    assert split.surplus_level == "city"
    assert any("第二十一条" in ref for ref in split.refs)


def test_baoshan_progressive_reading_is_a_named_parameter():
    # flag off: 30000 (the first 3 %) + 10000 × 50 % = 35000 of a 40000 overspend
    split = overspend_split(
        "baoshan",
        YEAR_END,
        budget=D("1000000"),
        actual=D("1040000"),
        city_surplus=D("100000"),
        parameters={"funds.overspend.band_applies_to_whole": "false"},
    )
    assert (split.from_surplus, split.county) == (D("35000.00"), D("5000.00"))
    assert "分段分担" in split.lines[1]


def test_baoshan_ratio_is_of_the_budget_and_a_zero_budget_is_all_county():
    split = overspend_split(
        "baoshan", YEAR_END, budget=D("3000"), actual=D("3100"), city_surplus=D("1000")
    )
    assert split.share_of_budget == D("0.033333")
    assert (split.from_surplus, split.county) == (D("50.00"), D("50.00"))
    nothing = overspend_split(
        "baoshan", YEAR_END, budget=D("0"), actual=D("10"), city_surplus=D("1000")
    )
    assert (nothing.share_of_budget, nothing.county) == (D("1"), D("10.00"))


def test_pingshun_surplus_then_county_finance_article_27():
    split = overspend_split(
        "pingshun",
        YEAR_END,
        budget=D("100"),
        actual=D("130"),
        city_surplus=D("1000"),  # not Pingshun's: its fund is the county's own
        county_surplus=D("20"),
    )
    assert (split.from_surplus, split.county, split.surplus_level) == (D("20"), D("10"), "county")
    assert "第二十七条" in split.lines[1] and "县财政补足" in split.lines[1]


def test_an_underspend_carries_forward():
    under = overspend_split("pingshun", YEAR_END, budget=D("100"), actual=D("70.004"))
    assert under.overspend == 0 and under.surplus == D("30.00")
    assert "结转下年度" in under.lines[0]


def test_kunming_tier_shares_of_the_shortfall():
    split = overspend_split(
        "kunming", YEAR_END, budget=D("1000"), actual=D("1100.05"), tier=3, city_surplus=D("50")
    )
    # 100.05 × 90 % = 90.045 → 90.05 to the city, the rest to the county; no surplus is used
    assert (split.city, split.county, split.from_surplus) == (D("90.05"), D("10.00"), 0)
    assert "第3档" in split.lines[1]


@pytest.mark.parametrize("tier", [None, 7])
def test_kunming_without_a_known_tier_leaves_it_unallocated(tier):
    split = overspend_split("kunming", YEAR_END, budget=D("1000"), actual=D("1100"), tier=tier)
    assert split.unallocated == D("100.00") and split.city == split.county == 0


@pytest.mark.parametrize("code", ["zhangye", "yunnan"])
def test_a_pack_without_an_overspend_rule_leaves_it_unallocated(code):
    split = overspend_split(code, YEAR_END, budget=D("100"), actual=D("110"), city_surplus=D("50"))
    assert split.unallocated == D("10.00") and split.from_surplus == 0
    assert "未规定超支分担" in split.lines[1]


# --- validation ---------------------------------------------------------------------------------


@pytest.fixture
def baoshan_copy(tmp_path: Path) -> Path:
    shutil.copytree(PACKS_DIR / "baoshan", tmp_path / "baoshan")
    return tmp_path / "baoshan"


def _edit(folder: Path, old: str, new: str) -> None:
    path = folder / "funds.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_a_deadline_with_two_clocks_is_refused(baoshan_copy):
    _edit(
        baoshan_copy,
        "    allocation:\n",
        '    allocation:\n      month_day: {values: {2023-01-01: {value: "10-01", ref: "x"}}}\n',
    )
    with pytest.raises(PackError, match="more than one clock"):
        load_pack("baoshan", baoshan_copy)


def test_an_unknown_deadline_kind_is_refused(baoshan_copy):
    _edit(baoshan_copy, "    county_matching:\n", "    county_matchin:\n")
    with pytest.raises(PackError, match="unknown parameter name"):
        load_pack("baoshan", baoshan_copy)


def test_bands_without_their_parameters_are_refused(baoshan_copy):
    text = (baoshan_copy / "funds.yaml").read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if "shared_up_to" not in line]
    (baoshan_copy / "funds.yaml").write_text("\n".join(kept) + "\n", encoding="utf-8")
    with pytest.raises(PackError, match=r"funds\.overspend\.shared_up_to"):
        load_pack("baoshan", baoshan_copy)


def test_an_unknown_paying_account_is_refused(baoshan_copy):
    _edit(baoshan_copy, "value: expenditure,", "value: treasury,")
    with pytest.raises(PackError, match="fund_account"):
        load_pack("baoshan", baoshan_copy)
