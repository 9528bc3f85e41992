"""The Yunnan 因病致贫重病患者 test (云政办发〔2022〕40号（二）), before 民政 certifies.

All must hold: (1) insured in Yunnan; (2) in-catalogue personal cost in the 90 days (含) up to
the application ≥ 80 % (含) of the previous year's provincial per-capita disposable income; (3)
household per-capita income ≤ 4 × (含) the local urban 低保 standard and per-capita financial
assets ≤ 2 × (含) the previous year's provincial urban per-capita disposable income. The limits
computed from the base are rounded to the cent, like every base-derived amount.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP

from medaid.core.money import CENT
from medaid.policy.errors import RuleNotInPack
from medaid.policy.facts import CertificationFacts
from medaid.policy.parameters import Pack
from medaid.policy.results import CertificationResult, CertificationTest
from medaid.policy.trace import pct, yuan


def certify_illness_poverty(
    pack: Pack, facts: CertificationFacts, overrides: tuple[tuple[str, str], ...] = ()
) -> CertificationResult:
    snap = pack.snapshot(facts.application_date, overrides)
    if snap.get("certification.cost_share_of_base") is None:
        raise RuleNotInPack(f"{pack.code}: 本政策未规定因病致贫重病患者认定条件")
    base = snap.get("per_capita_disposable_income")
    urban = snap.get("urban_per_capita_disposable_income")
    share = snap.get("certification.cost_share_of_base")
    income_multiple = snap.get("certification.income_multiple_of_dibao")
    assets_multiple = snap.get("certification.assets_multiple_of_urban_income")
    window = snap.value("certification.window_days")
    reach_back = snap.value("certification.reach_back_days")

    cost_limit = (base.value * share.value).quantize(CENT, ROUND_HALF_UP)
    income_limit = (facts.local_urban_dibao_standard * income_multiple.value).quantize(CENT)
    assets_limit = (urban.value * assets_multiple.value).quantize(CENT, ROUND_HALF_UP)
    tests = (
        CertificationTest(
            "insured_in_province",
            facts.insured_in_province,
            facts.insured_in_province,
            None,
            "云政办发〔2022〕40号 （二）1",
        ),
        CertificationTest(
            "personal_cost",
            facts.personal_in_catalog_cost_90d >= cost_limit,
            facts.personal_in_catalog_cost_90d,
            cost_limit,
            share.ref,
        ),
        CertificationTest(
            "household_income",
            facts.household_income_per_capita <= income_limit,
            facts.household_income_per_capita,
            income_limit,
            income_multiple.ref,
        ),
        CertificationTest(
            "financial_assets",
            facts.financial_assets_per_capita <= assets_limit,
            facts.financial_assets_per_capita,
            assets_limit,
            assets_multiple.ref,
        ),
    )
    mark = {True: "符合", False: "不符合"}
    steps = [
        ("text", f"因病致贫重病患者认定测算：{pack.title}，申请日 {facts.application_date}", ""),
        ("text", f"1. 在省内参加基本医疗保险：{mark[tests[0].passed]}", tests[0].ref),
        (
            "text",
            f"2. 申请前 {window} 天（含）内医保目录内个人负担 {yuan(tests[1].value)} ≥ "
            f"{yuan(cost_limit)}（= {base.value.normalize():f} × {pct(share.value)}）："
            f"{mark[tests[1].passed]}",
            share.ref,
            base.ref,
        ),
        (
            "text",
            f"3. 家庭人均收入 {yuan(tests[2].value)} ≤ 城市低保标准 "
            f"{yuan(facts.local_urban_dibao_standard)} × {income_multiple.value.normalize():f} = "
            f"{yuan(income_limit)}：{mark[tests[2].passed]}",
            income_multiple.ref,
        ),
        (
            "text",
            f"   家庭人均金融资产 {yuan(tests[3].value)} ≤ 上年全省城市居民人均可支配收入 "
            f"{urban.value.normalize():f} × {assets_multiple.value.normalize():f} = "
            f"{yuan(assets_limit)}：{mark[tests[3].passed]}",
            assets_multiple.ref,
            urban.ref,
        ),
    ]
    certified = all(t.passed for t in tests)
    steps.append(
        (
            "text",
            f"结论：{'符合' if certified else '不符合'}认定条件"
            + (
                f"；认定之前 {reach_back} 天（含）内及认定后的个人自付费用纳入救助"
                if certified
                else ""
            ),
        )
    )
    return CertificationResult(
        certified=certified,
        tests=tests,
        reach_back_days=reach_back or 0,
        policy=pack.code,
        policy_version=snap.version.start.isoformat(),
        steps=tuple(steps),
    )
