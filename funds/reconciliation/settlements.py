"""Statements against their lines, their vouchers and the ledger; claims and applications
against what was settled."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Exists, F, Max, OuterRef, Q, Sum
from django.db.models.functions import ExtractMonth, ExtractYear

from beneficiaries.models import County
from claims.models import Adjustment, Application, Claim, Decision
from funds.models import (
    INTERNAL_KINDS,
    Account,
    Entry,
    EntryKind,
    Posting,
    SettlementLine,
    SettlementRun,
    SettlementStatement,
    YearEndClose,
)
from funds.reconciliation.base import (
    CHECKS,
    TOLERANCE,
    Difference,
    ReconcileResult,
    Row,
    Scope,
    add_difference,
    as_date,
    as_money,
    differs,
    fetch,
    month_index,
)
from funds.settlement import period_bounds
from medaid.core.money import ZERO, yuan_text


def check_statements(result: ReconcileResult, scope: Scope, today: dt.date) -> None:
    st, run, line = (
        SettlementStatement._meta.db_table,
        SettlementRun._meta.db_table,
        SettlementLine._meta.db_table,
    )
    entry, posting, account = Entry._meta.db_table, Posting._meta.db_table, Account._meta.db_table
    close = YearEndClose._meta.db_table
    where, params = scope.sql_runs("r")
    internal = ", ".join(f"'{k}'" for k in INTERNAL_KINDS)
    tol = float(TOLERANCE)
    # The period figures are sums, taken by the database; only the statements where something
    # differs (a superset of what the loop below reports: it decides each row exactly and
    # words it) come back to Python, so that the check's cost is the database's aggregates
    # whatever the number of statements.
    period_figures(result, where, params)
    kinds = (EntryKind.HOSPITAL_PAYMENT, EntryKind.INDIVIDUAL_PAYMENT)
    rows = fetch(
        f"""
        WITH s AS (
            SELECT st.id, st.run_id, r.county_id, r.year, r.month, st.payee, st.hospital_id,
                st.total, st.claims_total, st.adjustments_total, st.claim_count,
                st.adjustment_count, st.declared_total, st.posted_at, st.entry_id
            FROM {st} st JOIN {run} r ON r.id = st.run_id
            WHERE {where}
        ),
        l AS (
            SELECT l.statement_id,
                SUM(l.amount) AS total,
                SUM(CASE WHEN l.adjustment_id IS NULL THEN l.amount ELSE 0 END) AS claims_total,
                SUM(CASE WHEN l.adjustment_id IS NULL THEN 0 ELSE l.amount END) AS adj_total,
                SUM(CASE WHEN l.adjustment_id IS NULL THEN 1 ELSE 0 END) AS claims,
                SUM(CASE WHEN l.adjustment_id IS NULL THEN 0 ELSE 1 END) AS adjustments,
                SUM(CASE WHEN l.declared IS NULL THEN 0 ELSE l.amount END) AS decided,
                SUM(COALESCE(l.declared, 0)) AS declared,
                SUM(CASE WHEN l.reopened THEN 0 ELSE 1 END) AS standing
            FROM {line} l JOIN s ON s.id = l.statement_id
            GROUP BY l.statement_id
        ),
        pay AS (
            SELECT p.entry_id,
                SUM(CASE WHEN a.kind IN ('hospital', 'individuals') THEN p.amount ELSE 0 END)
                    AS paid,
                SUM(CASE WHEN a.kind IN ({internal}) THEN p.amount ELSE 0 END) AS paid_from,
                MAX(CASE WHEN a.kind = 'hospital' THEN a.hospital_id END) AS hospital_id,
                MAX(CASE WHEN a.kind = 'individuals' THEN 1 ELSE 0 END) AS to_individuals
            FROM {posting} p JOIN s ON s.entry_id = p.entry_id
            JOIN {account} a ON a.id = p.account_id
            GROUP BY p.entry_id
        )
        SELECT s.id, s.county_id, s.year, s.month, s.payee, s.hospital_id, s.total,
            s.claims_total, s.adjustments_total, s.claim_count, s.adjustment_count,
            s.declared_total, s.posted_at, s.entry_id,
            COALESCE(l.total, 0), COALESCE(l.claims_total, 0), COALESCE(l.adj_total, 0),
            COALESCE(l.claims, 0), COALESCE(l.adjustments, 0), COALESCE(l.decided, 0),
            COALESCE(l.declared, 0), COALESCE(l.standing, 0),
            e.kind, e.date, e.document_ref, pay.paid, pay.paid_from, pay.hospital_id,
            pay.to_individuals, rev.id,
            CASE WHEN EXISTS (
                SELECT 1 FROM {close} y
                WHERE y.county_id = s.county_id AND y.year = s.year
                  AND y.closed_at <= e.created_at
            ) THEN 1 ELSE 0 END
        FROM s
        LEFT JOIN l ON l.statement_id = s.id
        LEFT JOIN {entry} e ON e.id = s.entry_id
        LEFT JOIN pay ON pay.entry_id = s.entry_id
        LEFT JOIN {entry} rev ON rev.reverses_id = s.entry_id
        WHERE ABS(COALESCE(l.total, 0) - s.total) > %s
           OR ABS(COALESCE(l.claims_total, 0) - s.claims_total) > %s
           OR ABS(COALESCE(l.adj_total, 0) - s.adjustments_total) > %s
           OR ABS(s.claims_total + s.adjustments_total - s.total) > %s
           OR COALESCE(l.claims, 0) <> s.claim_count
           OR COALESCE(l.adjustments, 0) <> s.adjustment_count
           OR ABS(COALESCE(l.declared, 0) - s.declared_total) > %s
           OR (s.payee = 'hospital' AND ABS(s.declared_total - COALESCE(l.decided, 0)) > %s)
           OR s.posted_at IS NULL
           OR s.entry_id IS NULL
           OR ABS(COALESCE(pay.paid, 0) - s.total) > %s
           OR ABS(COALESCE(pay.paid_from, 0) + s.total) > %s
           OR e.kind <> CASE WHEN s.payee = 'hospital' THEN %s ELSE %s END
           OR (s.payee = 'hospital'
               AND COALESCE(pay.hospital_id, -1) <> COALESCE(s.hospital_id, -1))
           OR (s.payee <> 'hospital' AND COALESCE(pay.to_individuals, 0) = 0)
           OR (rev.id IS NOT NULL AND COALESCE(l.standing, 0) > 0)
           OR e.date > %s
           OR {month_index("e.date")} <> s.year * 12 + s.month
        ORDER BY s.year, s.month, s.county_id, s.id
        """,
        [*params, *[tol] * 8, *kinds, today],
    )
    codes = dict(County.objects.values_list("id", "code"))
    for (
        sid,
        county_id,
        year,
        month,
        payee,
        hospital_id,
        total,
        claims_total,
        adjustments_total,
        claim_count,
        adjustment_count,
        declared_total,
        posted_at,
        entry_id,
        l_total,
        l_claims_total,
        l_adj_total,
        l_claims,
        l_adjustments,
        l_decided,
        l_declared,
        l_standing,
        e_kind,
        e_date,
        e_ref,
        paid,
        paid_from,
        paid_hospital,
        to_individuals,
        reversal_id,
        closed_before,
    ) in rows:
        number = f"JS{year}{month:02d}-{codes.get(county_id, '')}-{sid:06d}"

        def add(check, message, rows_, county_id=county_id, year=year, month=month):
            add_difference(result, check, county_id, year, month, message, rows_)

        problems = []
        if differs(l_total, total):
            problems.append(("应付合计", total, l_total))
        if differs(l_claims_total, claims_total):
            problems.append(("本期救助金额", claims_total, l_claims_total))
        if differs(l_adj_total, adjustments_total):
            problems.append(("追补（扣减）金额", adjustments_total, l_adj_total))
        if differs(as_money(claims_total) + as_money(adjustments_total), total):
            problems.append(
                (
                    "应付合计（本期救助＋追补）",
                    as_money(claims_total) + as_money(adjustments_total),
                    total,
                )
            )
        if int(l_claims) != claim_count:
            problems.append(("结算人次", claim_count, int(l_claims)))
        if int(l_adjustments) != adjustment_count:
            problems.append(("调整笔数", adjustment_count, int(l_adjustments)))
        if differs(l_declared, declared_total):
            problems.append(("医院申报救助金额", declared_total, l_declared))
        if problems:
            add(
                "statement_lines",
                f"结算单 {number} 与其结算明细不符："
                + "；".join(
                    f"{name}为 {show(exp)}，明细合计 {show(act)}" for name, exp, act in problems
                )
                + "。",
                [
                    Row(
                        "funds.SettlementStatement",
                        sid,
                        exp if isinstance(exp, int) else as_money(exp),
                        act if isinstance(act, int) else as_money(act),
                        f"结算单“{name}”与结算明细合计不符",
                        number,
                    )
                    for name, exp, act in problems
                ],
            )
        if payee == "hospital" and differs(declared_total, l_decided):
            result.notes.append(
                Difference(
                    "declared_differs",
                    county_id,
                    year,
                    month,
                    f"结算单 {number} 医院申报救助金额与核定金额存在差额"
                    "（医院申报差错，不影响支付）。",
                    [
                        Row(
                            "funds.SettlementStatement",
                            sid,
                            as_money(declared_total),
                            as_money(l_decided),
                            "医院申报与核定差额",
                            number,
                        )
                    ],
                )
            )
        if posted_at is None:
            add(
                "not_posted",
                f"结算单 {number} 尚未入账。",
                [
                    Row(
                        "funds.SettlementStatement",
                        sid,
                        as_money(total),
                        None,
                        "结算单未入账",
                        number,
                    )
                ],
            )
            continue
        if entry_id is None:
            if differs(total, 0):
                add(
                    "entry_amount",
                    f"结算单 {number} 已入账但没有记账凭证，应付 {yuan_text(total)} 元。",
                    [
                        Row(
                            "funds.SettlementStatement",
                            sid,
                            as_money(total),
                            ZERO,
                            "结算单没有支付凭证",
                            number,
                        )
                    ],
                )
            continue
        kind = EntryKind.HOSPITAL_PAYMENT if payee == "hospital" else EntryKind.INDIVIDUAL_PAYMENT
        entry_rows = []
        if differs(paid, total):
            entry_rows.append(
                Row(
                    "funds.Entry",
                    entry_id,
                    as_money(total),
                    as_money(paid),
                    "凭证付给收款方的金额",
                    e_ref,
                )
            )
        if differs(-as_money(paid_from), total):
            entry_rows.append(
                Row(
                    "funds.Entry",
                    entry_id,
                    as_money(total),
                    -as_money(paid_from),
                    "凭证从基金账户付出的金额",
                    e_ref,
                )
            )
        if e_kind != kind:
            entry_rows.append(Row("funds.Entry", entry_id, kind, e_kind, "凭证业务类型", e_ref))
        if payee == "hospital" and paid_hospital != hospital_id:
            entry_rows.append(
                Row("funds.Entry", entry_id, hospital_id, paid_hospital, "凭证收款医疗机构", e_ref)
            )
        if payee == "individuals" and not to_individuals:
            entry_rows.append(
                Row(
                    "funds.Entry",
                    entry_id,
                    "individuals",
                    None,
                    "凭证收款方应为救助对象个人",
                    e_ref,
                )
            )
        if entry_rows:
            add(
                "entry_amount",
                f"结算单 {number}（应付 {yuan_text(total)} 元）与其记账凭证 {e_ref} 不符。",
                entry_rows,
            )
        # A voucher reversed through `entry_reverse` reopens every line of its statement (the
        # next run pays them again, which `decision_changed` checks): only a reversal that
        # left lines standing is a difference.
        if reversal_id is not None and l_standing:
            add(
                "entry_reversed",
                f"结算单 {number} 的支付凭证 {e_ref} 已被冲销，结算单却仍为已入账。",
                [Row("funds.Entry", reversal_id, None, entry_id, "冲销了结算单的支付凭证", e_ref)],
            )
        first, last, _ = period_bounds(year, month)
        e_date = as_date(e_date)
        if closed_before and last < e_date <= today:
            # Paid late for a month the year-end close had already closed: `posting_date`
            # dates it the day it was paid, in the open period (the ledger check counts it
            # in that month).
            continue
        if not first <= e_date <= min(last, today):
            add(
                "entry_date",
                f"结算单 {number} 的支付凭证日期 {e_date} 不在结算期间 {first} 至 "
                f"{min(last, today)} 之内（不得晚于今天）。",
                [
                    Row(
                        "funds.Entry",
                        entry_id,
                        min(last, today),
                        e_date,
                        "结算凭证日期应为结算月份最后一天，当月结算为结算当天",
                        e_ref,
                    )
                ],
            )


def period_figures(result: ReconcileResult, where: str, params: list) -> None:
    """Per county and month: the statements, their total, and what their claim lines paid."""
    st, run, line = (
        SettlementStatement._meta.db_table,
        SettlementRun._meta.db_table,
        SettlementLine._meta.db_table,
    )
    for county_id, year, month, n, total in fetch(
        f"""
        SELECT r.county_id, r.year, r.month, COUNT(*), SUM(st.total)
        FROM {st} st JOIN {run} r ON r.id = st.run_id
        WHERE {where}
        GROUP BY r.county_id, r.year, r.month
        """,
        params,
    ):
        period = result.period(county_id, year, month)
        period.statements += n
        period.statements_total += as_money(total)
    for county_id, year, month, claims_total in fetch(
        f"""
        SELECT r.county_id, r.year, r.month, SUM(l.amount)
        FROM {line} l JOIN {st} st ON st.id = l.statement_id JOIN {run} r ON r.id = st.run_id
        WHERE l.adjustment_id IS NULL AND {where}
        GROUP BY r.county_id, r.year, r.month
        """,
        params,
    ):
        result.period(county_id, year, month).claims_total += as_money(claims_total)


def paid_late():
    """Posted statements of a month that the county's year-end close had closed before their
    voucher was written, so that the voucher is dated in a later, open month."""
    closed = YearEndClose.objects.filter(
        county_id=OuterRef("run__county_id"),
        year=OuterRef("run__year"),
        closed_at__lte=OuterRef("entry__created_at"),
    )
    return (
        SettlementStatement.objects.filter(posted_at__isnull=False, entry__isnull=False)
        .annotate(
            paid_in=ExtractYear("entry__date") * 12 + ExtractMonth("entry__date"),
            settled_in=F("run__year") * 12 + F("run__month"),
        )
        .filter(Exists(closed), paid_in__gt=F("settled_in"))
    )


def show(value) -> str:
    return str(value) if isinstance(value, int) else f"{yuan_text(value)} 元"


def check_ledger_against_statements(result: ReconcileResult, scope: Scope, runs) -> None:
    """Per county and month: the payments in the ledger against the posted statements, less
    the statements whose voucher was reversed that month."""
    payments = scope.county(
        scope.dates(
            Posting.objects.filter(
                entry__kind__in=[EntryKind.HOSPITAL_PAYMENT, EntryKind.INDIVIDUAL_PAYMENT],
                account__kind__in=["hospital", "individuals"],
            ),
            "entry__date",
        ),
        "entry__county_id",
    )
    ledger = {
        (r["county"], r["y"], r["m"]): as_money(r["s"])
        for r in payments.annotate(
            county=F("entry__county_id"),
            y=ExtractYear("entry__date"),
            m=ExtractMonth("entry__date"),
        )
        .values("county", "y", "m")
        .annotate(s=Sum("amount"))
        .order_by()
    }
    posted = {
        (r["run__county_id"], r["run__year"], r["run__month"]): as_money(r["s"])
        for r in SettlementStatement.objects.filter(run__in=scope.runs(), posted_at__isnull=False)
        .values("run__county_id", "run__year", "run__month")
        .annotate(s=Sum("total"))
        .order_by()
    }
    # A statement's voucher reversed (`entry_reverse`) takes its total back in the month of
    # the reversal, where the ledger shows the reversing entry.
    reversals = scope.county(
        scope.dates(
            Entry.objects.filter(
                reverses__settlement_statement__run__in=scope.runs(),
                reverses__settlement_statement__posted_at__isnull=False,
            ),
            "date",
        ),
        "county_id",
    )

    def shift(statements, keys: tuple[str, str, str], total: str, sign: int, field: str):
        """Move the statements' total, per county and month, in or out of `posted`, and
        keep it on the period (the reports check counts the month's own vouchers with it)."""
        for r in statements.values(*keys).annotate(s=Sum(total)).order_by():
            key = tuple(r[k] for k in keys)
            posted[key] = posted.get(key, ZERO) + sign * as_money(r["s"])
            setattr(result.period(*key), field, as_money(r["s"]))

    shift(
        reversals.annotate(y=ExtractYear("date"), m=ExtractMonth("date")),
        ("county_id", "y", "m"),
        "reverses__settlement_statement__total",
        -1,
        "reversed_total",
    )
    # A statement of a month the year-end close had closed, paid late, counts in the month of
    # its voucher (`posting_date` dates it the day it was paid), not in the month it settled.
    shift(
        paid_late().filter(run__in=scope.runs()),
        ("run__county_id", "run__year", "run__month"),
        "total",
        -1,
        "paid_late_total",
    )
    shift(
        scope.county(scope.dates(paid_late(), "entry__date"), "entry__county_id").annotate(
            y=ExtractYear("entry__date"), m=ExtractMonth("entry__date")
        ),
        ("entry__county_id", "y", "m"),
        "total",
        1,
        "paid_for_closed_total",
    )
    for key in sorted(set(ledger) | set(posted), key=lambda k: (k[1], k[2], k[0] or 0)):
        county_id, year, month = key
        period = result.period(county_id, year, month)
        period.ledger_total = ledger.get(key, ZERO)
        if differs(ledger.get(key), posted.get(key)):
            add_difference(
                result,
                "ledger_total",
                county_id,
                year,
                month,
                f"本月支付医疗机构和救助对象的记账凭证合计 {yuan_text(ledger.get(key))} 元，"
                f"已入账结算单合计 {yuan_text(posted.get(key))} 元。",
                [
                    Row(
                        "funds.SettlementRun",
                        next(
                            (
                                r.pk
                                for r in runs
                                if (r.county_id, r.year, r.month) == (county_id, year, month)
                            ),
                            None,
                        ),
                        posted.get(key, ZERO),
                        ledger.get(key, ZERO),
                        "已入账结算单合计（应为）与支付凭证合计（实为）",
                    )
                ],
            )
    orphans = scope.county(
        scope.dates(
            Entry.objects.filter(
                kind__in=[EntryKind.HOSPITAL_PAYMENT, EntryKind.INDIVIDUAL_PAYMENT],
                reverses__isnull=True,
                settlement_statement__isnull=True,
            ),
            "date",
        ),
        "county_id",
    ).annotate(paid=Sum("postings__amount", filter=Q(postings__amount__gt=0)))
    grouped: dict[tuple, list[Row]] = defaultdict(list)
    for e in orphans.values("id", "county_id", "date", "document_ref", "paid").order_by("id"):
        grouped[(e["county_id"], e["date"].year, e["date"].month)].append(
            Row(
                "funds.Entry",
                e["id"],
                None,
                as_money(e["paid"]),
                "支付凭证不属于任何结算单",
                e["document_ref"],
            )
        )
    for (county_id, year, month), rows in grouped.items():
        add_difference(
            result,
            "payment_without_statement",
            county_id,
            year,
            month,
            f"{len(rows)} 张支付定点医疗机构或救助对象的凭证没有对应的结算单。",
            rows,
        )


def check_settled_against_decisions(result: ReconcileResult, scope: Scope) -> None:
    """Per settled claim: settled (its lines that stand: a reversed voucher's lines are
    reopened and no longer count) + adjustments not yet settled by a standing line = the
    current decision. One query over the scope's standing claim lines (one per claim)."""
    line, st, run = (
        SettlementLine._meta.db_table,
        SettlementStatement._meta.db_table,
        SettlementRun._meta.db_table,
    )
    decision, adjustment, claim = (
        Decision._meta.db_table,
        Adjustment._meta.db_table,
        Claim._meta.db_table,
    )
    where, params = scope.sql_runs("r")
    # A claim has one standing claim line (a unique constraint): what stands for it is that
    # line plus its standing adjustment lines, which are few — aggregated apart, so that the
    # year's claim lines are scanned once and joined by hash, and the claims table is read only
    # for the claims that differ.
    rows = fetch(
        f"""
        WITH cl AS (
            SELECT l.claim_id, l.amount, r.county_id, r.year, r.month
            FROM {line} l
            JOIN {st} st ON st.id = l.statement_id
            JOIN {run} r ON r.id = st.run_id
            WHERE l.adjustment_id IS NULL AND l.reopened = %s AND {where}
        ),
        adj AS (
            SELECT l.claim_id, SUM(l.amount) AS amount
            FROM {line} l
            WHERE l.adjustment_id IS NOT NULL AND l.reopened = %s
            GROUP BY l.claim_id
        ),
        pending AS (
            SELECT a.claim_id, SUM(a.amount) AS amount
            FROM {adjustment} a
            WHERE NOT EXISTS (
                SELECT 1 FROM {line} l WHERE l.adjustment_id = a.id AND l.reopened = %s)
            GROUP BY a.claim_id
        ),
        diff AS (
            SELECT cl.claim_id, cl.county_id, cl.year, cl.month, d.id AS decision_id,
                d.total, cl.amount + COALESCE(adj.amount, 0) AS settled,
                COALESCE(pending.amount, 0) AS pending
            FROM cl
            LEFT JOIN {decision} d ON d.claim_id = cl.claim_id AND d.is_current = %s
            LEFT JOIN adj ON adj.claim_id = cl.claim_id
            LEFT JOIN pending ON pending.claim_id = cl.claim_id
            WHERE d.id IS NULL
               OR ABS(cl.amount + COALESCE(adj.amount, 0) + COALESCE(pending.amount, 0)
                      - d.total) > %s
        )
        SELECT diff.claim_id, c.external_ref, diff.county_id, diff.year, diff.month,
            diff.decision_id, diff.total, diff.settled, diff.pending
        FROM diff JOIN {claim} c ON c.id = diff.claim_id
        ORDER BY diff.year, diff.month, diff.county_id, diff.claim_id
        """,
        [False, *params, False, False, True, float(TOLERANCE)],
    )
    grouped: dict[tuple, list[Row]] = defaultdict(list)
    for claim_id, ref, county_id, year, month, decision_id, total, settled, pending in rows:
        grouped[(county_id, year, month)].append(
            Row(
                "claims.Decision" if decision_id else "claims.Claim",
                decision_id or claim_id,
                as_money(total) if decision_id else None,
                as_money(settled) + as_money(pending),
                f"救助明细 {ref}：已结算 {yuan_text(settled)} 元"
                + (f"、待结算调整 {yuan_text(pending)} 元" if as_money(pending) else "")
                + (
                    f"，当前救助决定 {yuan_text(total)} 元，且没有相应的结算调整"
                    if decision_id
                    else "，没有当前救助决定"
                ),
                ref,
            )
        )
    for (county_id, year, month), items in grouped.items():
        add_difference(
            result,
            "decision_changed",
            county_id,
            year,
            month,
            f"{len(items)} 笔已结算救助明细的结算金额（含调整）与当前救助决定不符。",
            items,
        )


def standing_claim_line():
    """The claim's standing claim line, for an anti-join (NOT EXISTS): a NOT IN over the year's
    million lines is hashed only while it fits in memory, and otherwise re-scanned per claim."""
    return SettlementLine.objects.filter(
        claim_id=OuterRef("pk"), adjustment__isnull=True, reopened=False
    )


def check_claim_states(result: ReconcileResult, scope: Scope, runs) -> None:
    # Settled, but no claim line holds it.
    settled = scope.county(
        scope.dates(Claim.objects.filter(status=Claim.Status.SETTLED), "discharged"), "county_id"
    ).filter(~Exists(standing_claim_line()))
    grouped: dict[tuple, list[Row]] = defaultdict(list)
    for c in settled.values("id", "external_ref", "county_id", "discharged").order_by("id"):
        grouped[(c["county_id"], c["discharged"].year, c["discharged"].month)].append(
            Row(
                "claims.Claim",
                c["id"],
                "accepted",
                "settled",
                "状态为已结算，但没有任何结算单结算过它",
                c["external_ref"],
            )
        )
    for (county_id, year, month), rows in grouped.items():
        add_difference(
            result,
            "settled_without_line",
            county_id,
            year,
            month,
            f"{len(rows)} 笔救助明细状态为已结算，但没有结算单。",
            rows,
        )
    # Held by a line of a posted statement, not settled.
    lines = (
        SettlementLine.objects.filter(
            adjustment__isnull=True,
            reopened=False,
            statement__posted_at__isnull=False,
            statement__run__in=scope.runs(),
        )
        .exclude(claim__status=Claim.Status.SETTLED)
        .values(
            "claim_id",
            "claim__external_ref",
            "claim__status",
            "statement__run__county_id",
            "statement__run__year",
            "statement__run__month",
        )
        .order_by("claim_id")
    )
    grouped = defaultdict(list)
    for row in lines:
        grouped[
            (
                row["statement__run__county_id"],
                row["statement__run__year"],
                row["statement__run__month"],
            )
        ].append(
            Row(
                "claims.Claim",
                row["claim_id"],
                Claim.Status.SETTLED,
                row["claim__status"],
                "已在入账的结算单中支付，状态却不是已结算",
                row["claim__external_ref"],
            )
        )
    for (county_id, year, month), rows in grouped.items():
        add_difference(
            result,
            "line_not_settled",
            county_id,
            year,
            month,
            f"{len(rows)} 笔救助明细已支付，但未标记为已结算。",
            rows,
        )
    # Accepted, unsettled, although a staged run should have taken it. The accepted claims
    # without a line are few (those accepted since the last run): one query, matched here
    # against the runs.
    staged = sorted((r for r in runs if r.staged_at is not None), key=lambda r: (r.year, r.month))
    if not staged:
        return
    candidates = (
        scope.county(Claim.objects.filter(status=Claim.Status.ACCEPTED), "county_id")
        .filter(county_id__in={r.county_id for r in staged})
        .filter(~Exists(standing_claim_line()))
        .filter(decisions__is_current=True)
        .values(
            "id",
            "external_ref",
            "county_id",
            "discharged",
            "updated_at",
            "decisions__decided_at",
            "decisions__total",
        )
    )
    by_county = defaultdict(list)
    for run in staged:
        by_county[run.county_id].append((run, *period_bounds(run.year, run.month)))
    grouped = defaultdict(list)
    for c in candidates.iterator(chunk_size=5000):
        for run, _, last, cutoff in by_county.get(c["county_id"], ()):
            decided = c["decisions__decided_at"]
            if (
                c["discharged"] <= last
                and decided < cutoff
                and decided < run.staged_at
                and c["updated_at"] < run.staged_at
            ):
                grouped[(run.county_id, run.year, run.month)].append(
                    Row(
                        "claims.Claim",
                        c["id"],
                        as_money(c["decisions__total"]),
                        ZERO,
                        f"已受理、截至 {run.period} 末应结算，未被 {run.period}结算",
                        c["external_ref"],
                    )
                )
                break
    for (county_id, year, month), rows in grouped.items():
        add_difference(
            result,
            "unsettled",
            county_id,
            year,
            month,
            f"截至{year}年{month}月末已受理、应结未结的救助明细 {len(rows)} 笔，合计 "
            f"{yuan_text(sum((r.expected for r in rows), ZERO))} 元"
            "（含医院申报和已审批的窗口申请）。",
            rows,
        )


def check_applications(result: ReconcileResult, scope: Scope) -> None:
    """Approved and wholly settled → paid; paid → each claim settled exactly once."""
    apps = scope.county(Application.objects.all(), "county_id").annotate(
        n_claims=Count("claims", distinct=True),
        n_settled=Count("claims", filter=Q(claims__status=Claim.Status.SETTLED), distinct=True),
        n_lines=Count(
            "claims__settlement_lines",
            filter=Q(
                claims__settlement_lines__adjustment__isnull=True,
                claims__settlement_lines__reopened=False,
                claims__settlement_lines__statement__posted_at__isnull=False,
            ),
            distinct=True,
        ),
        run_year=Max("claims__settlement_lines__statement__run__year"),
        run_month=Max("claims__settlement_lines__statement__run__month"),
    )
    unpaid = apps.filter(state=Application.State.APPROVED, n_claims__gt=0).filter(
        n_settled=F("n_claims")
    )
    paid = apps.filter(state=Application.State.PAID).exclude(
        n_lines=F("n_claims"), n_settled=F("n_claims")
    )
    fields = ("id", "number", "county_id", "applied", "total", "n_claims", "n_settled", "n_lines")
    for check, qs, explain in (
        (
            "application_not_paid",
            unpaid,
            "申请已批准且全部明细已结算，状态仍为“已批准”，应为“已支付”",
        ),
        (
            "application_paid_twice",
            paid,
            "申请已支付，但其明细并非每笔恰好在一张已入账结算单中结算一次",
        ),
    ):
        grouped: dict[tuple, list[Row]] = defaultdict(list)
        for a in qs.values(*fields, "run_year", "run_month").order_by("id"):
            year = a["run_year"] or a["applied"].year
            month = a["run_month"] or a["applied"].month
            if (scope.year and year != scope.year) or (scope.month and month != scope.month):
                continue
            expected, actual = (
                ("paid", "approved")
                if check == "application_not_paid"
                else (a["n_claims"], a["n_lines"])
            )
            grouped[(a["county_id"], year, month)].append(
                Row(
                    "claims.Application",
                    a["id"],
                    expected,
                    actual,
                    f"{explain}（明细 {a['n_claims']} 笔，已结算 {a['n_settled']} 笔，"
                    f"结算单明细 {a['n_lines']} 笔，救助合计 {yuan_text(a['total'])} 元）",
                    a["number"],
                )
            )
        for (county_id, year, month), rows in grouped.items():
            add_difference(
                result,
                check,
                county_id,
                year,
                month,
                f"{len(rows)} 件救助申请：{CHECKS[check]}。",
                rows,
            )
