"""A replay's workbook (medaid/core/xlsx.py): the totals, one sheet per breakdown and the
largest changes per person, from the replay's stored results (no query of the claims)."""

from __future__ import annotations

from decimal import Decimal

from claims.replay.models import ReplayRun
from claims.replay.services import DIMENSION_LABELS, DIMENSIONS
from medaid.core import xlsx
from medaid.core.scoping import mask_id_number
from medaid.policy.glossary import IDENTITY_LABELS

_FIGURES = [
    xlsx.Column("明细数", 10, "int", total=True),
    xlsx.Column("现行救助金额", 16, "money"),
    xlsx.Column("草案救助金额", 16, "money"),
    xlsx.Column("差额", 16, "money"),
    xlsx.Column("变化明细数", 12, "int", total=True),
]


def _figures(row: dict) -> list:
    return [
        row["claims"],
        Decimal(row["current"]),
        Decimal(row["draft"]),
        Decimal(row["difference"]),
        row["changed"],
    ]


def replay_workbook(target, *, replay: ReplayRun, user=None) -> None:
    """Write `replay`'s results to `target` (a path or a binary file)."""
    totals = replay.results["totals"]
    meta = [
        f"统筹地区：{replay.pooling_area.name}",
        f"期间：{replay.start} 至 {replay.end}",
        "草案：" + ("；".join(_draft_lines(replay)) or "—"),
        f"救助对象 {totals['people']} 人，受影响 {totals['people_affected']} 人；"
        f"引擎拒算明细 {totals['refused']} 条（不计入金额）",
    ]
    reports = [
        xlsx.Report(
            title="政策模拟测算 合计",
            columns=[xlsx.Column("项目", 16), *_FIGURES],
            rows=[["全部", *_figures({**totals, "claims": totals["decided"]})]],
            sheet_name="合计",
            totals=False,
            meta=meta,
        )
    ]
    for dim in DIMENSIONS:
        label = DIMENSION_LABELS[dim]
        reports.append(
            xlsx.Report(
                title=f"政策模拟测算 按{label}",
                columns=[xlsx.Column(label, 20), *_FIGURES],
                rows=[[r["label"], *_figures(r)] for r in replay.results["by"][dim]],
                sheet_name=label,
            )
        )
    changes = replay.changes.select_related("person", "county").order_by("rank")
    reports.append(
        xlsx.Report(
            title="政策模拟测算 变化最大的救助对象",
            columns=[
                xlsx.Column("排名", 6, "int", total=False),
                xlsx.Column("姓名", 10),
                xlsx.Column("公民身份号码", 22),
                xlsx.Column("区县", 12),
                xlsx.Column("身份", 14),
                xlsx.Column("明细数", 8, "int", total=False),
                xlsx.Column("现行救助金额", 16, "money"),
                xlsx.Column("草案救助金额", 16, "money"),
                xlsx.Column("差额", 16, "money"),
            ],
            rows=[
                [
                    c.rank,
                    c.person.name,
                    mask_id_number(c.person.id_number, user),
                    c.county.name,
                    IDENTITY_LABELS.get(c.identity, c.identity),
                    c.claims,
                    c.current_total,
                    c.draft_total,
                    c.difference,
                ]
                for c in changes
            ],
            sheet_name="变化最大对象",
        )
    )
    xlsx.write_workbook(target, reports, engine="openpyxl")


def _draft_lines(replay: ReplayRun) -> list[str]:
    lines = [
        f"{d['parameter']} 自 {d['start']} 起 {d['value']}（{d['ref']}）" for d in replay.draft
    ]
    if replay.pack_code:
        lines.append(f"按政策包 {replay.pack_code} 计算")
    return lines
