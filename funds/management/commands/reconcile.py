"""`python manage.py reconcile [--county CODE] [--year Y] [--month M] [--full]`: the fund's
reconciliation (`funds.reconciliation.reconcile`), a Chinese summary per county and month,
each difference with its rows, and a last line of JSON. Exit code 1 when there are
differences."""

import sys

from django.core.management.base import BaseCommand, CommandError

from beneficiaries.models import County
from funds.reconciliation import DEFAULT_SAMPLE, reconcile
from medaid.core.money import yuan_text


class Command(BaseCommand):
    help = (
        "基金对账：账簿、结算单、救助明细、申请、政策引擎重算与报表合计逐项核对；"
        "有差异时退出码为 1。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--county", help="区县代码（默认全部区县）")
        parser.add_argument("--year", type=int)
        parser.add_argument("--month", type=int)
        parser.add_argument("--full", action="store_true", help="全部救助对象重新计算（默认抽样）")
        parser.add_argument(
            "--sample", type=int, default=DEFAULT_SAMPLE, help="每个区县每年抽样重算的人数"
        )
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, county, year, month, full, sample, seed, **options):
        found = None
        if county:
            found = County.objects.filter(code=county).first()
            if found is None:
                raise CommandError(f"区县代码不存在：{county}")
        if month is not None and year is None:
            raise CommandError("按月对账须同时指定 --year")
        result = reconcile(
            county=found, year=year, month=month, full_recompute=full, sample=sample, seed=seed
        )
        out = self.stdout
        for period, differences in result.by_period():
            place = result.place(period.county_id, period.year, period.month)
            figures = ""
            if period.month and (period.statements or period.ledger_total):
                figures = (
                    f"结算单 {period.statements} 张，应付 {yuan_text(period.statements_total)} 元，"
                    f"支付凭证 {yuan_text(period.ledger_total)} 元；"
                )
            verdict = f"差异 {len(differences)} 项" if differences else "账实相符"
            out.write(f"{place}：{figures}{verdict}")
            for d in differences:
                out.write(f"  [{d.label}] {d.message}")
                for row in d.rows:
                    out.write(
                        f"    {row.model}#{row.id}"
                        + (f"（{row.ref}）" if row.ref else "")
                        + f" 应为 {_text(row.expected)}，实为 {_text(row.actual)}"
                        + f"：{row.explanation}"
                    )
        out.write(
            f"对账完成：{len(result.periods)} 个区县月份，抽样重算 {result.recomputed_people} 人"
            f"（{result.recomputed_claims} 笔），差异 {result.count} 项，"
            f"用时 {result.seconds:.1f} 秒。"
        )
        out.write(result.json())
        if result.count:
            sys.exit(1)


def _text(value) -> str:
    if value is None:
        return "—"
    return str(value)
