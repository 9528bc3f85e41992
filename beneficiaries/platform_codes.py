"""人员身份类别 as medaid first reads it: the rows the data migration seeds into
`IdentityTypeMapping` (from then on they are data, edited in the admin with dates), the fixture
generators' codes and docs/formats.md's table. The province's extension of the national
dictionary (our reading; a province whose codes differ adds its own rows)."""

import datetime as dt

SEEDED_FROM = dt.date(2020, 1, 1)

PSN_IDET_TYPE = (
    ("2301", "特困供养人员", "tekun"),
    ("2302", "孤儿（含事实无人抚养儿童）", "orphan"),
    ("2303", "低保对象", "dibao"),
    ("2304", "低保边缘家庭成员", "dibao_edge"),
    ("2305", "返贫致贫人口", "fanpin"),
    ("2306", "纳入监测范围的农村易返贫致贫人口", "rural_monitored"),
    ("2307", "过渡期内已脱贫人口", "poverty_lifted"),
    ("2308", "因病致贫重病患者", "illness_poverty"),
    ("2309", "突发严重困难人口", "sudden_hardship"),
    ("2310", "丧失劳动能力的一二级重度残疾人", "severe_disability"),
    ("2311", "深度困难职工", "deep_hardship_worker"),
    ("2312", "相对困难职工", "relative_hardship_worker"),
    ("2399", "其他特殊困难人员", "other_special"),
)


def code_for(identity: str) -> str:
    """The first platform code that maps to our `identity` (the fixture generators write it)."""
    return next(code for code, _, value in PSN_IDET_TYPE if value == identity)
