"""The ledger's own checks: vouchers balance, no internal account overdrawn."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from funds.models import (
    INTERNAL_KINDS,
    Account,
    Entry,
    Posting,
)
from funds.reconciliation.base import (
    TOLERANCE,
    ReconcileResult,
    Row,
    Scope,
    add_difference,
    as_date,
    as_money,
    fetch,
)
from medaid.core.money import ZERO, yuan_text


def check_entries_balance(result: ReconcileResult, scope: Scope, today: dt.date) -> None:
    entry, posting = Entry._meta.db_table, Posting._meta.db_table
    where, params = ["1=1"], []
    if scope.county_id:
        where.append("e.county_id = %s")
        params.append(scope.county_id)
    if scope.first is not None:
        where.append("e.date >= %s AND e.date <= %s")
        params += [scope.first, scope.last]
    rows = fetch(
        f"""
        SELECT e.id, e.county_id, e.date, e.document_ref, COALESCE(SUM(p.amount), 0),
            COUNT(p.id)
        FROM {entry} e LEFT JOIN {posting} p ON p.entry_id = e.id
        WHERE {" AND ".join(where)}
        GROUP BY e.id, e.county_id, e.date, e.document_ref
        HAVING ABS(COALESCE(SUM(p.amount), 0)) > %s OR COUNT(p.id) < 2
        ORDER BY e.id
        """,
        [*params, float(TOLERANCE)],
    )
    for entry_id, county_id, date, ref, total, n in rows:
        date = as_date(date)
        add_difference(
            result,
            "entry_unbalanced",
            county_id,
            date.year,
            date.month,
            f"记账凭证 {ref} 各分录合计 {yuan_text(total)} 元（{n} 条分录），应为 0。",
            [
                Row(
                    "funds.Entry",
                    entry_id,
                    ZERO,
                    as_money(total),
                    "记账凭证借贷不平：各分录金额合计不为零"
                    + ("，或分录少于两条" if n < 2 else ""),
                    ref,
                )
            ],
        )
    future = scope.county(scope.dates(Entry.objects.filter(date__gt=today), "date"), "county_id")
    grouped: dict[tuple, list[Row]] = defaultdict(list)
    for e in future.values("id", "county_id", "date", "document_ref", "kind").order_by("id"):
        grouped[(e["county_id"], e["date"].year, e["date"].month)].append(
            Row(
                "funds.Entry",
                e["id"],
                today,
                e["date"],
                f"凭证日期 {e['date']} 晚于今天（{today}），记账日期不能是将来的日子",
                e["document_ref"],
            )
        )
    for (county_id, year, month), rows_ in grouped.items():
        add_difference(
            result,
            "entry_future",
            county_id,
            year,
            month,
            f"{len(rows_)} 张记账凭证的日期晚于今天。",
            rows_,
        )


def check_accounts_overdrawn(result: ReconcileResult, scope: Scope) -> None:
    """Day-end running balances of the internal accounts, one window query."""
    posting, entry, account = Posting._meta.db_table, Entry._meta.db_table, Account._meta.db_table
    where, params = [f"a.kind IN ({', '.join(['%s'] * len(INTERNAL_KINDS))})"], [*INTERNAL_KINDS]
    if scope.county_id:
        where.append("a.county_id = %s")
        params.append(scope.county_id)
    outer, outer_params = "", []
    if scope.first is not None:
        outer = "AND t.date >= %s AND t.date <= %s"
        outer_params = [scope.first, scope.last]
    rows = fetch(
        f"""
        SELECT t.account_id, t.county_id, t.code, t.date, t.balance FROM (
            SELECT p.account_id, a.county_id, a.code, e.date,
                SUM(SUM(p.amount)) OVER (PARTITION BY p.account_id ORDER BY e.date) AS balance
            FROM {posting} p
            JOIN {entry} e ON e.id = p.entry_id
            JOIN {account} a ON a.id = p.account_id
            WHERE {" AND ".join(where)}
            GROUP BY p.account_id, a.county_id, a.code, e.date
        ) t
        WHERE t.balance < %s {outer}
        ORDER BY t.account_id, t.date
        """,
        [*params, -float(TOLERANCE), *outer_params],
    )
    seen: set[int] = set()
    for account_id, county_id, code, date, balance in rows:
        if account_id in seen:
            continue
        seen.add(account_id)
        date = as_date(date)
        add_difference(
            result,
            "account_overdrawn",
            county_id,
            date.year,
            date.month,
            f"账户 {code} 在 {date} 日终余额为 {yuan_text(balance)} 元：支出早于资金到账。",
            [
                Row(
                    "funds.Account",
                    account_id,
                    ZERO,
                    as_money(balance),
                    f"{date} 日终余额为负（应不小于 0）",
                    code,
                )
            ],
        )
