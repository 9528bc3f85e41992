"""Maker–checker for money moves (资金变动复核): a manual ledger entry, a voucher reversal, a
month's settlement posting, the year-end close with its overspend sharing, and a premium-subsidy
transfer are each proposed by one person with a reason (`move_propose`) and wait, 待复核, until
a second person holding `funds.check_moneymove` — never the maker — approves them with a reason
(`move_approve`, which posts) or refuses them (`move_refuse`). One `MoneyMove` row per move
holds both people, both reasons, both times and the accounts and amounts the maker saw; every
voucher it posts points back to it (`Entry.move`), so the audit (pghistory on the row) and the
printed voucher show them.

Each kind is a pair: a *prepare* function that checks everything the posting will check
without writing anything (what the confirmation page shows), and a *post* function, the
existing posting service run by the approval. A settlement posts as a job: the approval sends
the run again, and the run marks the move 已记账 when its last statement is posted.

Locks: the approval locks the move's row, so two checkers approving at once post once; the
second is told it is no longer waiting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from beneficiaries.models import County, PoolingArea, PremiumTransferRequest
from funds import settlement
from funds.models import (
    Account,
    AccountKind,
    Entry,
    EntryKind,
    FundSource,
    MoneyMove,
    SettlementRun,
    YearEndClose,
)
from funds.services import (
    FLOWS,
    FundsError,
    entry_date_check,
    entry_reverse,
    entry_texts_check,
    period_open_check,
    premium_transfer_post,
    receipt_check,
    receipt_post,
    transfer_check,
    transfer_post,
    year_end_close,
)
from medaid.core.jobs import job_create, task_send
from medaid.core.money import to_yuan
from medaid.core.roles import operation_label
from medaid.core.scoping import user_may_see_county

Kind = MoneyMove.Kind
State = MoneyMove.State

CHECKER_PERMISSION = "funds.check_moneymove"
# The maker's permission is the one the move's own operation always needed.
MAKER_PERMISSIONS = {
    Kind.MANUAL_ENTRY: "funds.post_entry",
    Kind.REVERSAL: "funds.reverse_entry",
    Kind.SETTLEMENT: "funds.settle_month",
    Kind.YEAR_END: "funds.close_year",
    Kind.PREMIUM_TRANSFER: "beneficiaries.approve_premiumtransferrequest",
}
REASON_MAX = 500


@dataclass
class Proposal:
    """What a move will do, as the confirmation page shows it and the row keeps it."""

    pooling_area: PoolingArea
    county: County | None
    summary: str
    amount: Decimal
    lines: list[dict]
    payload: dict = field(default_factory=dict)
    targets: dict = field(default_factory=dict)


def _line(account: Account | str, amount) -> dict:
    name = account if isinstance(account, str) else account.name
    return {"account": name, "amount": str(to_yuan(amount))}


# --- the five kinds: prepare (check, write nothing) and post ---------------------------------


def manual_entry_prepare(
    *,
    entry_kind: str,
    to_account: Account,
    amount,
    date: dt.date,
    document_ref: str,
    from_account: Account | None = None,
    source: str = "",
    related_ref: str = "",
    memo: str = "",
) -> Proposal:
    """A manual entry (资金收入, 下达, 上解, 拨付 …) checked as `receipt_post` /
    `transfer_post` will check it. `entry_kind` is the entry's 业务类型."""
    kind = entry_kind
    entry_date_check(date)
    document_ref = entry_texts_check(document_ref=document_ref, related_ref=related_ref, memo=memo)
    if kind not in EntryKind.values:
        raise FundsError("未知的业务类型。", code="unknown_kind", field="kind")
    if kind == EntryKind.RECEIPT:
        source = source or FundSource.OTHER
        receipt_check(account=to_account, source=source)
        amount = to_yuan(amount)
        if amount <= 0:
            raise FundsError("金额必须大于零。", code="non_positive_amount", field="amount")
        origin = f"资金来源：{FundSource(source).label}"
        county = to_account.county
        lines = [_line(origin, -amount), _line(to_account, amount)]
    else:
        if from_account is None:
            raise FundsError("请选择付出账户。", code="missing_account", field="from_account")
        amount = transfer_check(
            kind=kind, from_account=from_account, to_account=to_account, amount=amount
        )
        county = to_account.county if to_account.county_id else from_account.county
        lines = [_line(from_account, -amount), _line(to_account, amount)]
    period_open_check(pooling_area=to_account.pooling_area, county=county, on=date)
    return Proposal(
        pooling_area=to_account.pooling_area,
        county=county,
        summary=f"{EntryKind(kind).label} {document_ref}（{date:%Y-%m-%d}）",
        amount=amount,
        lines=lines,
        payload={
            "entry_kind": kind,
            "source": source,
            "from_account": from_account.pk if from_account else None,
            "to_account": to_account.pk,
            "amount": str(amount),
            "date": date.isoformat(),
            "document_ref": document_ref,
            "related_ref": related_ref,
            "memo": memo,
        },
    )


def _manual_entry_post(move: MoneyMove, checker) -> None:
    p = move.payload
    common = {
        "amount": Decimal(p["amount"]),
        "date": dt.date.fromisoformat(p["date"]),
        "document_ref": p["document_ref"],
        "memo": p["memo"],
        "created_by": checker,
        "move": move,
    }
    to_account = Account.objects.get(pk=p["to_account"])
    if p["entry_kind"] == EntryKind.RECEIPT:
        receipt_post(account=to_account, source=p["source"], **common)
    else:
        transfer_post(
            kind=p["entry_kind"],
            from_account=Account.objects.get(pk=p["from_account"]),
            to_account=to_account,
            source=p["source"],
            related_ref=p["related_ref"],
            **common,
        )


def reversal_prepare(*, entry: Entry) -> Proposal:
    """Reversing `entry` today, in the open month, with every posting negated."""
    if entry.reverses_id is not None:
        raise FundsError("冲销凭证不能再次冲销，请重新录入正确凭证。", code="reverse_reversal")
    if Entry.objects.filter(reverses=entry).exists():
        raise FundsError(f"凭证 {entry} 已被冲销，不能重复冲销。", code="already_reversed")
    today = timezone.localdate()
    period_open_check(pooling_area=entry.pooling_area, county=entry.county, on=today)
    postings = list(entry.postings.select_related("account").order_by("amount", "pk"))
    return Proposal(
        pooling_area=entry.pooling_area,
        county=entry.county,
        summary=f"冲销 {entry}（原记账日期 {entry.date:%Y-%m-%d}）",
        amount=sum((p.amount for p in postings if p.amount > 0), Decimal("0.00")),
        lines=[_line(p.account, -p.amount) for p in postings],
        payload={"document_ref": f"冲销-{entry.document_ref}"},
        targets={"target_entry": entry},
    )


def _reversal_post(move: MoneyMove, checker) -> None:
    entry_reverse(
        entry=move.target_entry,
        date=timezone.localdate(),
        document_ref=move.payload["document_ref"],
        memo=f"冲销 {move.target_entry.document_ref}：{move.maker_reason}"[:500],
        created_by=checker,
        move=move,
    )


def settlement_prepare(*, run: SettlementRun) -> Proposal:
    """Posting a staged run's statements from the county's paying account."""
    if run.status != SettlementRun.Status.STAGED:
        raise FundsError(
            f"{run}当前状态为“{run.get_status_display()}”，只有待复核记账的结算批次可以提交记账。",
            code="run_not_staged",
        )
    county = run.county
    statements = list(
        run.statements.filter(posted_at__isnull=True).select_related("hospital").order_by("pk")
    )
    account = settlement.paying_account(county, settlement.period_bounds(run.year, run.month)[1])
    owed = sum((st.total for st in statements), Decimal("0.00"))
    lines = [_line(account, -owed)] + [
        _line(st.hospital.name if st.hospital else f"{county.name}救助对象个人", st.total)
        for st in statements
    ]
    return Proposal(
        pooling_area=county.pooling_area,
        county=county,
        summary=f"{run} 结算单 {len(statements)} 张（{settlement.period_covered(run)}）",
        amount=owed,
        lines=lines,
        payload={"run": run.pk},
        targets={"settlement_run": run},
    )


def _settlement_post(move: MoneyMove, checker) -> None:
    """Approved: the run's posting is long work, so it is sent as the run's next job; the run
    marks the move posted when it is done."""
    run = SettlementRun.objects.select_for_update().get(pk=move.settlement_run_id)
    args = [run.county_id, run.year, run.month]
    run.job = job_create(
        kind=settlement.JOB_KIND,
        parameters={"county_id": run.county_id, "year": run.year, "month": run.month},
        county=run.county,
        created_by=checker,
        task=settlement.JOB_TASK,
        task_args=args,
    )
    run.save(update_fields=["job"])
    move.state = State.APPROVED
    task_send(settlement.JOB_TASK, *args)


def year_end_prepare(*, pooling_area: PoolingArea, year: int) -> Proposal:
    """The year-end close and overspend sharing as closing now would give it (computed by the
    closing service in a savepoint that is rolled back)."""
    from funds.exports import year_end_trial

    if YearEndClose.objects.filter(county__pooling_area=pooling_area, year=year).exists():
        raise FundsError(f"{pooling_area}{year}年度已决算，不能重复决算。", code="already_closed")
    closes = [
        c
        for c in year_end_trial(user=None, year=year)
        if c.county.pooling_area_id == pooling_area.pk
    ]
    if not closes:
        raise FundsError(f"{pooling_area}{year}年度没有区县预算，无法决算。", code="no_budget")
    lines = [
        {
            "account": (
                f"{c.county}：预算 {c.budget}，实际 {c.actual}，超支 {c.overspend}；"
                f"滚存结余弥补 {c.from_surplus}，市级承担 {c.city_share}，"
                f"县级承担 {c.county_share}，未规定分担 {c.unallocated}，结余 {c.surplus}"
            ),
            "amount": str(c.overspend),
        }
        for c in closes
    ]
    return Proposal(
        pooling_area=pooling_area,
        county=None,
        summary=f"{pooling_area}{year}年度年终决算（{len(closes)} 个区县）",
        amount=sum((c.overspend for c in closes), Decimal("0.00")),
        lines=lines,
        payload={"year": year},
    )


def _year_end_post(move: MoneyMove, checker) -> None:
    year_end_close(pooling_area=move.pooling_area, year=move.payload["year"], closed_by=checker)


def premium_transfer_prepare(
    *, request: PremiumTransferRequest, from_account: Account, date: dt.date
) -> Proposal:
    """A premium-subsidy transfer request paid from `from_account` to the resident insurance
    fund, as `premium_transfer_post` will post it."""
    if request.status != PremiumTransferRequest.Status.REQUESTED:
        raise FundsError(
            f"该划转申请状态为“{request.get_status_display()}”，不能提交记账。",
            code="request_not_open",
        )
    if (from_account.kind, AccountKind.RESIDENT_INSURANCE) not in FLOWS[EntryKind.PREMIUM_SUBSIDY]:
        raise FundsError(
            "资助参保资金只能从财政专户或支出户划转。",
            code="flow_not_allowed",
            field="from_account",
        )
    period_open_check(pooling_area=from_account.pooling_area, county=request.county, on=date)
    amount = to_yuan(request.amount)
    return Proposal(
        pooling_area=from_account.pooling_area,
        county=request.county,
        summary=f"{request}，{request.headcount} 人（{date:%Y-%m-%d}）",
        amount=amount,
        lines=[
            _line(from_account, -amount),
            _line(f"{request.county.name}城乡居民基本医疗保险基金", amount),
        ],
        payload={"from_account": from_account.pk, "date": date.isoformat()},
        targets={"premium_request": request},
    )


def _premium_transfer_post(move: MoneyMove, checker) -> None:
    premium_transfer_post(
        request=move.premium_request,
        from_account=Account.objects.get(pk=move.payload["from_account"]),
        date=dt.date.fromisoformat(move.payload["date"]),
        created_by=checker,
        move=move,
    )


PREPARE: dict[str, Callable[..., Proposal]] = {
    Kind.MANUAL_ENTRY: manual_entry_prepare,
    Kind.REVERSAL: reversal_prepare,
    Kind.SETTLEMENT: settlement_prepare,
    Kind.YEAR_END: year_end_prepare,
    Kind.PREMIUM_TRANSFER: premium_transfer_prepare,
}
POST: dict[str, Callable[[MoneyMove, object], None]] = {
    Kind.MANUAL_ENTRY: _manual_entry_post,
    Kind.REVERSAL: _reversal_post,
    Kind.SETTLEMENT: _settlement_post,
    Kind.YEAR_END: _year_end_post,
    Kind.PREMIUM_TRANSFER: _premium_transfer_post,
}


# --- propose, approve, refuse ----------------------------------------------------------------


def _require(user, permission: str) -> None:
    if user is None or not user.is_active or not user.has_perm(permission):
        raise FundsError(f"没有“{operation_label(permission)}”的权限。", code="permission_denied")


def _in_scope(user, county_id: int | None) -> None:
    if not user_may_see_county(user, county_id):
        raise FundsError("该资金变动不在您的管辖范围内。", code="out_of_scope")


def _reason(text: str, field_name: str) -> str:
    text = (text or "").strip()
    if not text:
        raise FundsError("请填写事由（复核意见）。", code="reason_required", field=field_name)
    if len(text) > REASON_MAX:
        raise FundsError(
            f"事由不能超过 {REASON_MAX} 个字（现为 {len(text)} 个字）。",
            code="reason_too_long",
            field=field_name,
        )
    return text


def move_check_maker(*, kind: str, maker) -> None:
    """Refuse a maker who lacks the move's permission (the confirmation page asks first)."""
    _require(maker, MAKER_PERMISSIONS[kind])


def move_propose(*, kind: str, maker, reason: str, **params) -> MoneyMove:
    """Record the move as 待复核: checked as its posting will be, nothing posted. `params` are
    the kind's prepare arguments. One open move per voucher, run or transfer request."""
    move_check_maker(kind=kind, maker=maker)
    reason = _reason(reason, "maker_reason")
    proposal = PREPARE[kind](**params)
    _in_scope(maker, proposal.county.pk if proposal.county else None)
    try:
        with transaction.atomic():
            return MoneyMove.objects.create(
                kind=kind,
                pooling_area=proposal.pooling_area,
                county=proposal.county,
                summary=proposal.summary[:500],
                amount=proposal.amount,
                lines=proposal.lines,
                payload=proposal.payload,
                maker=maker,
                maker_reason=reason,
                **proposal.targets,
            )
    except IntegrityError as exc:
        raise FundsError(
            "该凭证（结算批次、划转申请）已有待复核或已记账的资金变动，不能重复提交。",
            code="move_already_open",
        ) from exc


def _decided(move: MoneyMove, checker, reason: str) -> MoneyMove:
    """Lock the move and check that `checker` may decide it now."""
    _require(checker, CHECKER_PERMISSION)
    reason = _reason(reason, "checker_reason")
    move = MoneyMove.objects.select_for_update().get(pk=move.pk)
    if move.state != State.PENDING:
        raise FundsError(
            f"该资金变动{move.get_state_display()}，不能再次复核。", code="move_not_pending"
        )
    if move.maker_id == checker.pk:
        raise FundsError(
            "复核人不能是制单人，请由另一位具有复核权限的人员复核。", code="checker_is_maker"
        )
    _in_scope(checker, move.county_id)
    move.checker = checker
    move.checker_reason = reason
    move.checked_at = timezone.now()
    return move


def move_approve(*, move: MoneyMove, checker, reason: str) -> MoneyMove:
    """Approve and post in one transaction: if the posting is refused (a balance fallen short,
    a month closed since), nothing is written and the move stays 待复核 for the checker to
    refuse or try again."""
    with transaction.atomic():
        move = _decided(move, checker, reason)
        move.state = State.POSTED
        POST[move.kind](move, checker)
        if move.state == State.POSTED:
            move.posted_at = timezone.now()
        move.save()
    return move


def move_refuse(*, move: MoneyMove, checker, reason: str) -> MoneyMove:
    """Refuse with a reason; nothing is posted, and the target may be proposed again."""
    with transaction.atomic():
        move = _decided(move, checker, reason)
        move.state = State.REFUSED
        move.save()
    return move
