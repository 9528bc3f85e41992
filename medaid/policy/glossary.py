"""The project's canonical codes (shared/domain/glossary.md) with their Chinese labels.

One source for every code the engine, the packs, the preview contract and the apps share: the
facts (`facts.IDENTITY_CODES` …), the pack schema and the trace labels derive from here, and
the Django models can take the `*_CHOICES` tuples as `choices=` as they are. A jurisdiction may
add identity codes of its own in its pack.yaml; it may not rename these.

Codes are (code, label) pairs in the glossary's order, so a choice list keeps a stable order.
"""

from __future__ import annotations

#: 身份 — identity.code.
IDENTITY_CHOICES: tuple[tuple[str, str], ...] = (
    ("tekun", "特困人员"),
    ("orphan", "孤儿（含事实无人抚养儿童）"),
    ("dibao", "低保对象"),
    ("dibao_full", "一、二类（全额）低保对象"),
    ("dibao_partial", "三、四类（差额）低保对象"),
    ("fanpin", "返贫致贫人口"),
    ("dibao_edge", "低保边缘家庭成员"),
    ("rural_monitored", "纳入监测范围的农村易返贫致贫人口"),
    ("sudden_hardship", "突发严重困难人口"),
    ("poverty_lifted", "过渡期内已脱贫人口"),
    ("deep_hardship_worker", "深度困难职工"),
    ("relative_hardship_worker", "相对困难职工"),
    ("illness_poverty", "因病致贫重病患者"),
    ("severe_disability", "丧失劳动能力的一二级重度残疾人"),
    ("low_income_elderly", "低收入家庭60周岁以上老年人"),
    ("low_income_minor", "低收入家庭未成年人"),
    ("low_income_other", "低收入家庭重度残疾人、重病患者"),
    ("border_resident", "边境一线行政村农村居民"),
    ("other_special", "其他特殊困难人员"),
)

#: 救助项目 — claim.kind.
CLAIM_KIND_CHOICES: tuple[tuple[str, str], ...] = (
    ("inpatient", "住院"),
    ("day_surgery", "日间手术"),
    ("outpatient_chronic", "门诊慢性病"),
    ("outpatient_special", "门诊特殊病"),
    ("outpatient_general", "普通门诊"),
    ("outpatient_emergency", "门诊急诊抢救"),
    ("negotiated_drug", "国家谈判药品门诊保障（特药）"),
)

#: 收费标准类别 (Pingshun 第二十一条) — a hospital's fee class, not its level nor a beneficiary
#: class.
FEE_CLASS_CHOICES: tuple[tuple[str, str], ...] = (
    ("provincial_1", "省内一类"),
    ("provincial_municipal_2", "省市级二类"),
    ("county_2", "县级二类"),
    ("class_3", "三类"),
)

#: 结算方式 — claim.settlement.
SETTLEMENT_CHOICES: tuple[tuple[str, str], ...] = (
    ("direct", "直接救助（“一站式”结算）"),
    ("application", "依申请救助"),
)

#: The departments identities and change feeds come from, and warnings go to.
DEPARTMENT_KIND_CHOICES: tuple[tuple[str, str], ...] = (
    ("civil_affairs", "民政"),
    ("rural_revitalization", "乡村振兴"),
    ("trade_union", "工会"),
    ("disabled_federation", "残联"),
    ("health", "卫体"),
    ("medical_security", "医保"),
)

#: 基金法定时限 — the statutory fund deadlines a pack may set (`funds.deadline.<kind>.*`).
FUND_DEADLINE_CHOICES: tuple[tuple[str, str], ...] = (
    ("allocation_plan", "提供资金分配方案和绩效目标"),
    ("allocation", "上级补助资金下达到区县"),
    ("remittance", "下达资金上解市级财政专户"),
    ("county_matching", "县级配套资金上解"),
    ("subsidy_headcount", "确定资助参保人数"),
    ("subsidy_transfer", "资助参保资金划转居民医保基金"),
    ("year_end_return", "支出户利息及年末余额缴回财政专户"),
    ("surplus_return", "季末结余资金退回市级财政专户"),
)

#: 基金账户 — the fund's own accounts at each level (Baoshan 第十八条; Kunming 六（二）).
FUND_ACCOUNT_CHOICES: tuple[tuple[str, str], ...] = (
    ("fiscal", "医疗救助基金财政专户"),
    ("expenditure", "医疗救助基金支出户"),
)

IDENTITY_LABELS: dict[str, str] = dict(IDENTITY_CHOICES)
KIND_LABELS: dict[str, str] = dict(CLAIM_KIND_CHOICES)
FEE_CLASS_LABELS: dict[str, str] = dict(FEE_CLASS_CHOICES)
SETTLEMENT_LABELS: dict[str, str] = dict(SETTLEMENT_CHOICES)
DEPARTMENT_LABELS: dict[str, str] = dict(DEPARTMENT_KIND_CHOICES)
FUND_DEADLINE_LABELS: dict[str, str] = dict(FUND_DEADLINE_CHOICES)
FUND_ACCOUNT_LABELS: dict[str, str] = dict(FUND_ACCOUNT_CHOICES)

IDENTITY_CODES: frozenset[str] = frozenset(IDENTITY_LABELS)
CLAIM_KINDS: frozenset[str] = frozenset(KIND_LABELS)
FEE_CLASSES: frozenset[str] = frozenset(FEE_CLASS_LABELS)
SETTLEMENTS: frozenset[str] = frozenset(SETTLEMENT_LABELS)
DEPARTMENT_KINDS: frozenset[str] = frozenset(DEPARTMENT_LABELS)
FUND_DEADLINE_KINDS: frozenset[str] = frozenset(FUND_DEADLINE_LABELS)
FUND_ACCOUNTS: frozenset[str] = frozenset(FUND_ACCOUNT_LABELS)
