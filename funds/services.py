"""Every write to the fund: accounts, ledger entries (and their reversals), statutory deadlines,
budgets and the year-end close. The monthly settlement lives in `funds.settlement`.

Locks: a service that takes money out of an internal account locks that account's row
(`SELECT … FOR UPDATE`) for the length of its transaction, so two payments can never both see
the same balance. Callers hold no lock beforehand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from beneficiaries.models import County, PoolingArea, PremiumTransferRequest
from beneficiaries.services import premium_transfer_request_mark_posted
from claims.services import claims_reopen
from funds.models import (
    INTERNAL_KINDS,
    SPENDING_KINDS,
    Account,
    AccountKind,
    Budget,
    Deadline,
    Entry,
    EntryKind,
    FundSource,
    MoneyMove,
    Posting,
    SettlementLine,
    YearEndClose,
    sum_money,
)
from medaid import policy
from medaid.core import topics, validators
from medaid.core.errors import Refusal
from medaid.core.money import to_yuan
from medaid.core.outbox import event_emit
from medaid.core.workdays import add_working_days


class FundsError(Refusal):
    """A refused fund operation: `FundsError(message, code=…)`, the Chinese message for the
    clerk."""


# Which account kinds each entry kind moves money between: (from, to).
FLOWS: dict[str, set[tuple[str, str]]] = {
    EntryKind.RECEIPT: {
        (AccountKind.SOURCE, AccountKind.FISCAL),
        # Interest earned on the expenditure account (Baoshan Art.18(二)(四); Kunming §六(二)2).
        (AccountKind.SOURCE, AccountKind.EXPENDITURE),
    },
    EntryKind.ALLOCATION: {(AccountKind.FISCAL, AccountKind.FISCAL)},
    EntryKind.REMITTANCE: {(AccountKind.FISCAL, AccountKind.FISCAL)},
    EntryKind.TRANSFER: {(AccountKind.FISCAL, AccountKind.EXPENDITURE)},
    EntryKind.DISBURSEMENT: {(AccountKind.EXPENDITURE, AccountKind.EXPENDITURE)},
    EntryKind.HOSPITAL_PAYMENT: {
        (AccountKind.EXPENDITURE, AccountKind.HOSPITAL),
        (AccountKind.FISCAL, AccountKind.HOSPITAL),  # Pingshun Art.26: paid from the 专户
    },
    EntryKind.INDIVIDUAL_PAYMENT: {
        (AccountKind.EXPENDITURE, AccountKind.INDIVIDUALS),
        (AccountKind.FISCAL, AccountKind.INDIVIDUALS),
    },
    EntryKind.PREMIUM_SUBSIDY: {
        (AccountKind.FISCAL, AccountKind.RESIDENT_INSURANCE),
        (AccountKind.EXPENDITURE, AccountKind.RESIDENT_INSURANCE),
    },
    EntryKind.INTEREST_REMIT: {(AccountKind.EXPENDITURE, AccountKind.FISCAL)},
    EntryKind.YEAR_END_RETURN: {(AccountKind.EXPENDITURE, AccountKind.FISCAL)},
    EntryKind.SURPLUS_RETURN: {
        (AccountKind.EXPENDITURE, AccountKind.FISCAL),
        (AccountKind.FISCAL, AccountKind.FISCAL),
    },
    EntryKind.OVERSPEND_COVER: {
        (AccountKind.FISCAL, AccountKind.EXPENDITURE),
        (AccountKind.FISCAL, AccountKind.FISCAL),
    },
}


# --- Accounts --------------------------------------------------------------------------------


def _level_code(pooling_area: PoolingArea, county: County | None) -> str:
    return county.code if county is not None else pooling_area.code


def account_open(
    *,
    kind: str,
    pooling_area: PoolingArea,
    county: County | None = None,
    source: str = "",
    hospital=None,
    name: str = "",
    bank_name: str = "",
    bank_account: str = "",
    opened_on: dt.date | None = None,
) -> Account:
    """Open (or return the already open) account. Codes are derived, so opening twice is safe."""
    level = _level_code(pooling_area, county)
    level_name = county.name if county is not None else pooling_area.name
    if kind == AccountKind.HOSPITAL:
        code, default_name = f"hospital:{hospital.code}", hospital.name
        county = hospital.county
    elif kind == AccountKind.INDIVIDUALS:
        code, default_name = f"{level}:individuals", f"{level_name}救助对象个人"
    elif kind == AccountKind.SOURCE:
        code = f"{level}:source:{source}"
        default_name = f"{level_name}{FundSource(source).label}"
    else:
        code, default_name = f"{level}:{kind}", f"{level_name}{AccountKind(kind).label}"
    account, _ = Account.objects.get_or_create(
        code=code,
        defaults={
            "kind": kind,
            "name": name or default_name,
            "pooling_area": pooling_area,
            "county": county,
            "source": source,
            "hospital": hospital,
            "bank_name": bank_name,
            "bank_account": bank_account,
            "opened_on": opened_on,
        },
    )
    return account


def accounts_open_for_area(*, pooling_area: PoolingArea, opened_on: dt.date | None = None):
    """Open the fiscal special and expenditure accounts at city level and for every county
    (Baoshan Art.18 lists all four; Kunming §六(二); a county-run fund such as Pingshun uses its
    county's pair)."""
    opened = []
    for county in [None, *pooling_area.counties.all()]:
        for kind in INTERNAL_KINDS:
            opened.append(
                account_open(
                    kind=kind, pooling_area=pooling_area, county=county, opened_on=opened_on
                )
            )
    return opened


def account_lock_and_balance(account: Account, *, on: dt.date | None = None) -> Decimal:
    """Lock the account's row for this transaction and return its balance, or with `on` what
    it can pay on that day (`account_available`)."""
    Account.objects.select_for_update().filter(pk=account.pk).order_by().values_list("pk").get()
    return account.balance() if on is None else account_available(account, on=on)


def account_available(account: Account, *, on: dt.date) -> Decimal:
    """What the account can pay by a voucher dated `on`: the least of its day-end balances from
    that day on. A payment dated in the past spends the money the account held then, and every
    later day-end balance already counts on it — money received after `on` cannot pay it."""
    available = running = account.balance(until=on)
    later = (
        account.postings.filter(entry__date__gt=on)
        .values("entry__date")
        .annotate(amount=Sum("amount"))
        .order_by("entry__date")
    )
    for day in later:
        running += day["amount"]
        available = min(available, running)
    return to_yuan(available)


# --- Entries ---------------------------------------------------------------------------------


def entry_date_check(date: dt.date) -> dt.date:
    """A voucher is dated the day its money moved: never after today (a future-dated entry
    is what `reconcile` reports as entry_future), never before FAR_PAST."""
    return validators.day(date, field="date", label="记账日期", today=timezone.localdate())


def entry_texts_check(*, document_ref: str, related_ref: str = "", memo: str = "") -> str:
    """An entry's texts refused (never cut) past their columns; returns the document ref."""
    document_ref = validators.text(
        document_ref, field="document_ref", label="单据文号", max_length=128
    )
    if not document_ref:
        raise FundsError(
            "记账凭证必须填写单据文号。", code="missing_document", field="document_ref"
        )
    validators.text(related_ref, field="related_ref", label="关联文号", max_length=128)
    validators.text(memo, field="memo", label="摘要", max_length=500, multiline=True)
    return document_ref


def _checked(
    document_ref: str, postings, *, related_ref: str = "", memo: str = ""
) -> tuple[str, list[tuple[Account, Decimal]]]:
    """The invariants of one entry, checked before anything is written."""
    document_ref = entry_texts_check(document_ref=document_ref, related_ref=related_ref, memo=memo)
    lines = [(account, to_yuan(amount)) for account, amount in postings]
    if len(lines) < 2:
        raise FundsError("记账凭证至少需要两条分录。", code="too_few_postings")
    if any(amount == 0 for _, amount in lines):
        raise FundsError("分录金额不能为零。", code="zero_posting")
    if len({account.pk for account, _ in lines}) != len(lines):
        raise FundsError("同一记账凭证中同一账户只能出现一次。", code="duplicate_account")
    if sum(amount for _, amount in lines) != 0:
        raise FundsError("记账凭证借贷不平：各分录金额合计必须为零。", code="unbalanced")
    return document_ref, lines


def period_close(*, pooling_area: PoolingArea, county: County | None, on: dt.date):
    """The year-end close that closed `on` for this county (for a city-level entry: any
    county of the pooling area), or None while the period is open. The year-end close is the
    ledger's close: once a county's year is closed, every month of it is."""
    closes = YearEndClose.objects.filter(county__pooling_area=pooling_area, year=on.year)
    if county is not None:
        closes = closes.filter(county=county)
    return closes.select_related("county").order_by("closed_at").first()


def period_open_check(*, pooling_area: PoolingArea, county: County | None, on: dt.date) -> None:
    """Refuse a posting dated inside a closed period; a correction goes into the open month."""
    close = period_close(pooling_area=pooling_area, county=county, on=on)
    if close is not None:
        raise FundsError(
            f"{close.county}{on.year}年度已于 {timezone.localtime(close.closed_at):%Y-%m-%d} "
            f"办理年终决算，{on:%Y年%m月}已关账，不能记账。更正请记入未关账的月份，"
            "作为调整凭证并在“关联文号”中注明原凭证号。",
            code="period_closed",
            field="date",
        )


def _check_balances(lines, *, on: dt.date | None = None) -> None:
    """Lock every internal account the lines take money from and refuse an overdraft (with
    `on`, the vouchers' date: on that day or any later one). Locks are taken in id order so
    that two writers touching the same accounts cannot deadlock."""
    outflow: dict[int, Decimal] = {}
    accounts = {}
    for account, amount in lines:
        if account.kind in INTERNAL_KINDS:
            outflow[account.pk] = outflow.get(account.pk, Decimal(0)) - amount
            accounts[account.pk] = account
    for pk in sorted(outflow):
        if outflow[pk] <= 0:
            continue
        account = accounts[pk]
        balance = account_lock_and_balance(account, on=on)
        if balance < outflow[pk]:
            held = "当前余额" if on is None else f"{on} 起可用余额"
            raise FundsError(
                f"{account.name}余额不足：{held} {balance} 元，本次需支出 {outflow[pk]} 元，"
                f"差额 {outflow[pk] - balance} 元。",
                code="insufficient_balance",
            )


@transaction.atomic
def entries_post_many(
    *,
    pooling_area: PoolingArea,
    county: County | None,
    date: dt.date,
    entries: Sequence[dict],
    created_by=None,
    move: MoneyMove | None = None,
) -> list[Entry]:
    """Write many entries at once (bulk inserts), each checked as `entry_post` checks one:
    every item is a dict of kind, document_ref, postings, and optionally memo, source and
    idempotency_key. Overdrafts are judged on the net of all of them. For set-based jobs
    (the monthly settlement); the caller makes sure no key was posted before."""
    entry_date_check(date)
    period_open_check(pooling_area=pooling_area, county=county, on=date)
    checked = [
        (item, *_checked(item["document_ref"], item["postings"], memo=item.get("memo", "")))
        for item in entries
    ]
    _check_balances([line for _, _, lines in checked for line in lines], on=date)
    rows = Entry.objects.bulk_create(
        Entry(
            kind=item["kind"],
            source=item.get("source", ""),
            pooling_area=pooling_area,
            county=county,
            date=date,
            document_ref=ref,
            memo=item.get("memo", ""),
            idempotency_key=item.get("idempotency_key"),
            created_by=created_by,
            move=move,
        )
        for item, ref, _ in checked
    )
    Posting.objects.bulk_create(
        Posting(entry=entry, account=account, amount=amount, date=entry.date)
        for entry, (_, _, lines) in zip(rows, checked, strict=True)
        for account, amount in lines
    )
    return rows


@transaction.atomic
def entry_post(
    *,
    kind: str,
    pooling_area: PoolingArea,
    date: dt.date,
    document_ref: str,
    postings: Sequence[tuple[Account, Decimal]],
    county: County | None = None,
    source: str = "",
    related_ref: str = "",
    memo: str = "",
    idempotency_key: str | None = None,
    reverses: Entry | None = None,
    created_by=None,
    move: MoneyMove | None = None,
) -> Entry:
    """Write one balanced, immutable entry. Refuses an unbalanced entry, a posting of zero, a
    missing document reference, a date inside a closed period (`period_open_check`), and
    taking more out of an internal account than it holds.
    With `idempotency_key`, posting the same key again returns the first entry unchanged.
    Locks the rows of the internal accounts it debits."""
    if idempotency_key:
        existing = Entry.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    entry_date_check(date)
    period_open_check(pooling_area=pooling_area, county=county, on=date)
    document_ref, lines = _checked(document_ref, postings, related_ref=related_ref, memo=memo)
    _check_balances(lines, on=date)
    try:
        with transaction.atomic():
            entry = Entry.objects.create(
                kind=kind,
                source=source,
                pooling_area=pooling_area,
                county=county,
                date=date,
                document_ref=document_ref,
                related_ref=related_ref,
                memo=memo,
                idempotency_key=idempotency_key,
                reverses=reverses,
                created_by=created_by,
                move=move,
            )
            Posting.objects.bulk_create(
                Posting(entry=entry, account=account, amount=amount, date=date)
                for account, amount in lines
            )
    except IntegrityError as exc:
        if idempotency_key and Entry.objects.filter(idempotency_key=idempotency_key).exists():
            return Entry.objects.get(idempotency_key=idempotency_key)
        if reverses is not None:
            raise FundsError(
                f"凭证 {reverses} 已被冲销，不能重复冲销。", code="already_reversed"
            ) from exc
        raise
    _deadlines_after_entry(entry)
    return entry


def transfer_post(
    *,
    kind: str,
    from_account: Account,
    to_account: Account,
    amount,
    date: dt.date,
    document_ref: str,
    source: str = "",
    related_ref: str = "",
    memo: str = "",
    county: County | None = None,
    idempotency_key: str | None = None,
    created_by=None,
    move: MoneyMove | None = None,
) -> Entry:
    """Move `amount` from one account to another as an entry of `kind`, checking that the kind
    allows that flow (e.g. 上解 goes from a county's fiscal special account to the city's)."""
    amount = transfer_check(
        kind=kind, from_account=from_account, to_account=to_account, amount=amount
    )
    if county is None:
        county = to_account.county if to_account.county_id else from_account.county
    return entry_post(
        kind=kind,
        pooling_area=from_account.pooling_area,
        county=county,
        date=date,
        document_ref=document_ref,
        source=source,
        related_ref=related_ref,
        memo=memo,
        idempotency_key=idempotency_key,
        created_by=created_by,
        move=move,
        postings=[(from_account, -amount), (to_account, amount)],
    )


def transfer_check(*, kind: str, from_account: Account, to_account: Account, amount) -> Decimal:
    """The flow rules of `transfer_post`, checked without writing: the amount in yuan, or a
    refusal."""
    amount = to_yuan(amount)
    if amount <= 0:
        raise FundsError("金额必须大于零。", code="non_positive_amount")
    if (from_account.kind, to_account.kind) not in FLOWS[kind]:
        raise FundsError(
            f"{EntryKind(kind).label}不能从{from_account.get_kind_display()}"
            f"转入{to_account.get_kind_display()}。",
            code="flow_not_allowed",
        )
    if kind == EntryKind.ALLOCATION and not (
        from_account.county_id is None and to_account.county_id is not None
    ):
        raise FundsError("资金下达须由市级财政专户下达到区县财政专户。", code="flow_not_allowed")
    if kind in (EntryKind.REMITTANCE, EntryKind.SURPLUS_RETURN) and not (
        from_account.county_id is not None and to_account.county_id is None
    ):
        raise FundsError("上解、结余退回须由区县账户转入市级财政专户。", code="flow_not_allowed")
    if kind in (EntryKind.TRANSFER, EntryKind.INTEREST_REMIT, EntryKind.YEAR_END_RETURN) and (
        from_account.county_id != to_account.county_id
    ):
        raise FundsError("专户与支出户之间的划转须在同一级次内进行。", code="flow_not_allowed")
    return amount


def receipt_post(
    *,
    account: Account,
    source: str,
    amount,
    date: dt.date,
    document_ref: str,
    memo: str = "",
    created_by=None,
    move: MoneyMove | None = None,
) -> Entry:
    """Record money received into a fiscal special (or, for interest, expenditure) account from
    one of the statutory sources (Baoshan Art.16; Kunming §六(一); Pingshun Art.22)."""
    receipt_check(account=account, source=source)
    origin = account_open(
        kind=AccountKind.SOURCE,
        pooling_area=account.pooling_area,
        county=account.county,
        source=source,
    )
    return transfer_post(
        kind=EntryKind.RECEIPT,
        from_account=origin,
        to_account=account,
        amount=amount,
        date=date,
        document_ref=document_ref,
        source=source,
        memo=memo,
        county=account.county,
        created_by=created_by,
        move=move,
    )


def receipt_check(*, account: Account, source: str) -> None:
    """The rules of `receipt_post`, checked without writing."""
    if source not in FundSource.values:
        raise FundsError("未知的资金来源。", code="unknown_source", field="source")
    if account.kind not in INTERNAL_KINDS:
        raise FundsError("资金收入只能记入财政专户或支出户。", code="flow_not_allowed")
    if account.kind == AccountKind.EXPENDITURE and source != FundSource.INTEREST:
        raise FundsError(
            "支出户只能直接收取利息收入，其他资金须经财政专户。", code="flow_not_allowed"
        )


def entry_reverse(
    *,
    entry: Entry,
    date: dt.date,
    document_ref: str,
    memo: str = "",
    created_by=None,
    move: MoneyMove | None = None,
) -> Entry:
    """Correct a posted entry the only way a ledger allows: a new entry with every posting
    negated. An entry is reversed at most once; a reversal is not itself reversed.

    When the entry paid a settlement statement, the statement's lines are marked reopened
    (kept as the record of what the voucher paid) and their claims open again, so the next
    settlement run of the county pays them anew; the claims app hears of it
    (`voucher.reversed`) and takes their applications back from paid.

    A person's reversal is proposed and approved as a money move (`funds.moves`), which checks
    the maker's `funds.reverse_entry` and the checker's `funds.check_moneymove`; this is the
    posting the approval runs. Dated `date`, the open month: a reversal of an entry in a
    closed period is the correction in the open one, referencing the original."""
    if entry.reverses_id is not None:
        raise FundsError("冲销凭证不能再次冲销，请重新录入正确凭证。", code="reverse_reversal")
    with transaction.atomic():
        if Entry.objects.select_for_update().filter(reverses=entry).exists():
            raise FundsError(f"凭证 {entry} 已被冲销，不能重复冲销。", code="already_reversed")
        reversal = entry_post(
            kind=entry.kind,
            source=entry.source,
            pooling_area=entry.pooling_area,
            county=entry.county,
            date=date,
            document_ref=document_ref,
            related_ref=entry.document_ref,
            memo=memo or f"冲销 {entry.document_ref}",
            reverses=entry,
            created_by=created_by,
            move=move,
            postings=[(p.account, -p.amount) for p in entry.postings.select_related("account")],
        )
        _settlement_reopen(entry, reversal)
    return reversal


def _settlement_reopen(entry: Entry, reversal: Entry) -> None:
    lines = SettlementLine.objects.filter(statement__entry=entry, reopened=False)
    claim_ids = list(lines.filter(adjustment__isnull=True).values_list("claim_id", flat=True))
    if not lines.update(reopened=True):
        return
    claims_reopen(claim_ids=claim_ids, at=timezone.now())
    event_emit(
        topics.VOUCHER_REVERSED,
        {"entry": entry.pk, "reversal": reversal.pk, "claims": claim_ids},
        key=f"county:{entry.county_id}" if entry.county_id else "",
    )


# --- Statutory deadlines ---------------------------------------------------------------------


def fund_deadlines(pooling_area: PoolingArea, on: dt.date) -> dict[str, policy.DeadlineRule]:
    """The pack's statutory fund deadlines in force on `on` (none before its first version)."""
    try:
        return policy.fund_deadlines(pooling_area.policy_code, on)
    except LookupError:
        return {}


def deadline_open(
    *,
    kind: str,
    pooling_area: PoolingArea,
    county: County | None,
    year: int,
    document_ref: str,
    starts_on: dt.date,
    amount: Decimal | None = None,
) -> Deadline | None:
    """Open the deadline `kind` if the pooling area's pack has that rule; None otherwise."""
    rule = fund_deadlines(pooling_area, starts_on).get(kind)
    if rule is None:
        return None
    deadline, _ = Deadline.objects.get_or_create(
        kind=kind,
        pooling_area=pooling_area,
        county=county,
        year=year,
        document_ref=document_ref,
        defaults={
            "starts_on": starts_on,
            "due_on": rule.due_on(starts_on, year, add_working_days=add_working_days),
            "amount": amount,
            "rule_ref": rule.ref,
        },
    )
    return deadline


def deadline_complete(
    *,
    deadline: Deadline,
    completed_on: dt.date,
    completed_ref: str = "",
    entry: Entry | None = None,
) -> Deadline:
    if deadline.completed_on is None:
        deadline.completed_on = completed_on
        deadline.completed_ref = completed_ref or (entry.document_ref if entry else "")
        deadline.completed_entry = entry
        deadline.save(update_fields=["completed_on", "completed_ref", "completed_entry"])
    return deadline


@transaction.atomic
def funding_notice_register(
    *, pooling_area: PoolingArea, document_ref: str, received_on: dt.date, amount=None
) -> list[Deadline]:
    """A higher-level funding notice (上级补助资金指标文件) starts two clocks (Baoshan Art.19):
    the allocation plan to finance, and finance's allocation to the counties."""
    amount = to_yuan(amount) if amount is not None else None
    opened = [
        deadline_open(
            kind=kind,
            pooling_area=pooling_area,
            county=None,
            year=received_on.year,
            document_ref=document_ref,
            starts_on=received_on,
            amount=amount,
        )
        for kind in (Deadline.Kind.ALLOCATION_PLAN, Deadline.Kind.ALLOCATION)
    ]
    return [d for d in opened if d is not None]


def _remitted(entry_filter: Q) -> Decimal:
    return sum_money(
        Posting.objects.filter(entry_filter, entry__kind=EntryKind.REMITTANCE, amount__lt=0)
    )


def _deadlines_after_entry(entry: Entry) -> None:
    """Open and close the deadlines an entry starts or fulfils. Reversals do neither."""
    if entry.reverses_id is not None:
        return
    open_ = Deadline.objects.filter(pooling_area=entry.pooling_area, completed_on__isnull=True)
    if entry.kind == EntryKind.ALLOCATION:
        if entry.related_ref:
            for d in open_.filter(kind=Deadline.Kind.ALLOCATION, document_ref=entry.related_ref):
                deadline_complete(deadline=d, completed_on=entry.date, entry=entry)
        amount = sum_money(entry.postings.filter(amount__gt=0))
        deadline_open(
            kind=Deadline.Kind.REMITTANCE,
            pooling_area=entry.pooling_area,
            county=entry.county,
            year=entry.date.year,
            document_ref=entry.document_ref,
            starts_on=entry.date,
            amount=amount,
        )
    elif entry.kind == EntryKind.REMITTANCE:
        if entry.related_ref:
            for d in open_.filter(
                kind=Deadline.Kind.REMITTANCE, county=entry.county, document_ref=entry.related_ref
            ):
                paid = -_remitted(Q(entry__related_ref=d.document_ref, entry__county=d.county))
                if d.amount is None or paid >= d.amount:
                    deadline_complete(deadline=d, completed_on=entry.date, entry=entry)
        if entry.source == FundSource.COUNTY:
            for d in open_.filter(
                kind=Deadline.Kind.COUNTY_MATCHING, county=entry.county, year=entry.date.year
            ):
                paid = -_remitted(
                    Q(
                        entry__source=FundSource.COUNTY,
                        entry__county=d.county,
                        entry__date__year=d.year,
                    )
                )
                if d.amount is None or paid >= d.amount:
                    deadline_complete(deadline=d, completed_on=entry.date, entry=entry)
    elif entry.kind == EntryKind.PREMIUM_SUBSIDY:
        for d in open_.filter(
            kind=Deadline.Kind.SUBSIDY_TRANSFER, county=entry.county, year=entry.date.year
        ):
            deadline_complete(deadline=d, completed_on=entry.date, entry=entry)
    elif entry.kind == EntryKind.YEAR_END_RETURN:
        for d in open_.filter(
            kind=Deadline.Kind.YEAR_END_RETURN, county=entry.county, year=entry.date.year
        ):
            deadline_complete(deadline=d, completed_on=entry.date, entry=entry)
    elif entry.kind == EntryKind.SURPLUS_RETURN and entry.county_id is not None:
        # A return settles the oldest quarter still open that had begun by then.
        d = (
            open_.filter(
                kind=Deadline.Kind.SURPLUS_RETURN, county=entry.county, starts_on__lte=entry.date
            )
            .order_by("due_on")
            .first()
        )
        if d is not None:
            deadline_complete(deadline=d, completed_on=entry.date, entry=entry)


# --- Budgets and the year-end close ----------------------------------------------------------


@transaction.atomic
def budget_check(*, year, amount, county_matching=0, document_ref: str = "") -> None:
    """The checks of `budget_set`, also run by the admin's form so it shows them in place."""
    validators.year(year, field="year", label="预算年度", today=timezone.localdate())
    validators.money(amount, field="amount", label="支出预算", kind="fund")
    validators.money(county_matching, field="county_matching", label="县级配套资金", kind="fund")
    validators.text(document_ref, field="document_ref", label="预算批复文号", max_length=128)


def budget_set(
    *, county: County, year: int, amount, county_matching=0, document_ref: str = ""
) -> Budget:
    """Set a county's budget for a year, and open the year's deadlines its pack sets:
    county matching funds (Baoshan Art.20), the quarter-end surplus returns (Baoshan
    Art.18(一)(四)), premium-subsidy headcount and transfer and the expenditure account's
    year-end return (Kunming §六(二)(五)). Refuses a year outside ten back and one ahead,
    an amount that is negative, has a third decimal or is past the fund maximum."""
    budget_check(
        year=year, amount=amount, county_matching=county_matching, document_ref=document_ref
    )
    budget, _ = Budget.objects.update_or_create(
        county=county,
        year=year,
        defaults={
            "amount": to_yuan(amount),
            "county_matching": to_yuan(county_matching),
            "document_ref": document_ref,
        },
    )
    area = county.pooling_area
    ref = document_ref or f"{year}年度预算"
    if budget.county_matching > 0:
        deadline_open(
            kind=Deadline.Kind.COUNTY_MATCHING,
            pooling_area=area,
            county=county,
            year=year,
            document_ref=ref,
            starts_on=dt.date(year, 1, 1),
            amount=budget.county_matching,
        )
    for kind in (
        Deadline.Kind.SUBSIDY_HEADCOUNT,
        Deadline.Kind.SUBSIDY_TRANSFER,
        Deadline.Kind.YEAR_END_RETURN,
    ):
        deadline_open(
            kind=kind,
            pooling_area=area,
            county=county,
            year=year,
            document_ref=ref,
            starts_on=dt.date(year, 1, 1),
        )
    for quarter in range(4):
        deadline_open(
            kind=Deadline.Kind.SURPLUS_RETURN,
            pooling_area=area,
            county=county,
            year=year,
            document_ref=f"{ref} 第{quarter + 1}季度",
            starts_on=dt.date(year, 3 * quarter + 1, 1),
        )
    return budget


def county_spending_parts(*, county: County, year: int) -> tuple[Decimal, Decimal]:
    """What the fund actually spent for a county in a year, from the ledger, net of reversals:
    (payments to hospitals and individuals, premium subsidies transferred to the resident
    insurance fund).

    Where premium transfers belong: to the county whose people they insure, whichever account
    paid them. Subsidising a county's people's premiums is part of that county's assistance
    spending (Baoshan Art.8(四); Kunming §六(五)1) and counts against its budget at the
    year-end close — even when the city pays it from its own fiscal special account (Baoshan:
    the city pays), so the county's own accounts show only the medical payments. The entry's
    `county` says whose spending it is; a year's spending is the outflows from internal
    accounts of the spending kinds dated in that year."""
    rows = (
        Posting.objects.filter(
            entry__county=county,
            entry__kind__in=SPENDING_KINDS,
            entry__date__year=year,
            account__kind__in=INTERNAL_KINDS,
        )
        .values("entry__kind")
        .annotate(s=Sum("amount"))
        .order_by()
    )
    by_kind = {row["entry__kind"]: -to_yuan(row["s"] or 0) for row in rows}
    premium = by_kind.pop(EntryKind.PREMIUM_SUBSIDY, Decimal("0.00"))
    return sum(by_kind.values(), Decimal("0.00")), premium


def county_spending(*, county: County, year: int) -> Decimal:
    """What the fund actually spent for a county in a year: payments to hospitals and
    individuals and premium subsidies (`county_spending_parts`)."""
    return sum(county_spending_parts(county=county, year=year), Decimal("0.00"))


def _balance(accounts, until: dt.date | None = None) -> Decimal:
    postings = Posting.objects.filter(account__in=accounts)
    if until is not None:
        postings = postings.filter(entry__date__lte=until)
    return postings.aggregate(s=Sum("amount"))["s"] or Decimal(0)


@transaction.atomic
def year_end_close(*, pooling_area: PoolingArea, year: int, closed_by=None) -> list[YearEndClose]:
    """Close a year for every county of the pooling area that has a budget: actual against
    budget, surplus carried forward, an overspend shared as the pack says
    (`medaid.policy.overspend_split`). The accumulated surplus (历年滚存结余) is what the fund's
    fiscal special account at the pack's surplus level holds now — the city's is drawn on by
    the counties in code order, a county's own by that county.
    Locks the pooling area's fiscal special accounts; refuses a county already closed."""
    code, on = pooling_area.policy_code, dt.date(year, 12, 31)
    fiscal = (
        Account.objects.select_for_update(of=("self",))
        .filter(pooling_area=pooling_area, kind=AccountKind.FISCAL)
        .order_by("pk")
    )
    fiscal_by_county = {a.county_id: a for a in fiscal}
    city_surplus = _balance([fiscal_by_county[None]]) if None in fiscal_by_county else Decimal(0)
    year_end_return = policy.expenditure_year_end_return(code, on)
    closes = []
    budgets = Budget.objects.filter(county__pooling_area=pooling_area, year=year).select_related(
        "county__funding_tier"
    )
    for budget in budgets.order_by("county__code"):
        county = budget.county
        if YearEndClose.objects.filter(county=county, year=year).exists():
            raise FundsError(f"{county}{year}年度已决算，不能重复决算。", code="already_closed")
        own = fiscal_by_county.get(county.pk)
        county_surplus = _balance([own]) if own else Decimal(0)
        medical, premium = county_spending_parts(county=county, year=year)
        actual = medical + premium
        split = policy.overspend_split(
            code,
            on,
            budget=budget.amount,
            actual=actual,
            city_surplus=city_surplus,
            county_surplus=county_surplus,
            tier=county.funding_tier.tier if county.funding_tier else None,
        )
        available = {"city": city_surplus, "county": county_surplus}.get(
            split.surplus_level, Decimal(0)
        )
        if split.surplus_level == "city":
            city_surplus = max(Decimal(0), city_surplus - split.from_surplus)
        lines = list(split.lines)
        if year_end_return is not None:
            left = to_yuan(
                _balance(
                    Account.objects.filter(county=county, kind=AccountKind.EXPENDITURE), until=on
                )
            )
            if left > 0:
                lines.append(
                    f"依据{year_end_return.ref}，支出户年末余额 {left} 元应于 "
                    f"{year_end_return.due_on(on, year)} 前缴回财政专户。"
                )
        closes.append(
            YearEndClose.objects.create(
                county=county,
                year=year,
                policy_code=code,
                budget=budget.amount,
                actual=actual,
                premium_subsidies=premium,
                overspend=split.overspend,
                overspend_ratio=split.share_of_budget,
                accumulated_surplus_before=available,
                from_surplus=split.from_surplus,
                city_share=split.city,
                county_share=split.county,
                unallocated=split.unallocated,
                surplus=split.surplus,
                # On 31 December: a year closed in January leaves January's postings out.
                closing_balance=_balance(
                    Account.objects.filter(county=county, kind__in=INTERNAL_KINDS), until=on
                ),
                explanation=lines,
                closed_by=closed_by,
            )
        )
    if not closes:
        raise FundsError(f"{pooling_area}{year}年度没有区县预算，无法决算。", code="no_budget")
    return closes


def premium_transfer_post(
    *, request, from_account: Account, date: dt.date, created_by=None, move=None
) -> Entry:
    """Post a premium-subsidy transfer request (beneficiaries.PremiumTransferRequest) as one
    entry to the resident insurance fund, on the verified headcount (Baoshan Art.8(四);
    Kunming §六(五)1). Idempotent: the request's own key refuses a second posting, and a
    posted request is returned as it is. Locks the request row."""
    with transaction.atomic():
        request = PremiumTransferRequest.objects.select_for_update().get(pk=request.pk)
        if request.status == PremiumTransferRequest.Status.POSTED:
            return Entry.objects.get(pk=request.posted_entry_id)
        if request.status != PremiumTransferRequest.Status.REQUESTED:
            raise FundsError("该划转申请已撤销，不能记账。", code="request_not_open")
        resident_fund = account_open(
            kind=AccountKind.RESIDENT_INSURANCE,
            pooling_area=from_account.pooling_area,
            county=request.county,
        )
        entry = transfer_post(
            kind=EntryKind.PREMIUM_SUBSIDY,
            from_account=from_account,
            to_account=resident_fund,
            amount=request.amount,
            date=date,
            document_ref=f"资助参保划转申请 {request.pk}",
            memo=f"{request.county.name}{request.year}年度资助参保 {request.headcount} 人",
            county=request.county,
            idempotency_key=f"premium-transfer:{request.pk}",
            created_by=created_by,
            move=move,
        )
        premium_transfer_request_mark_posted(request=request, entry_id=entry.pk)
    return entry
