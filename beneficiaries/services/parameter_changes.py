"""参数变更 (issue #16 part 1): a dated policy value — or a change of which pack decides a
pooling area — entered by a policy officer with its document, approved by a second person, and
only then laid over the pack's YAML (`selectors.amendments_for`).

propose → 草稿; submit → 待审核; approve (another person, `approve_parameterchange`) → 已批准;
send back → 已退回 (the proposer revises and submits again); withdraw → 已撤回 (frees the
parameter and day for another change). Every refusal is a `ParameterChangeError` with a Chinese
message, and nothing is written. An approved change whose day has come already reaches back:
it emits `parameter.changed`, and the claims app recomputes what it reaches.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from beneficiaries import selectors
from beneficiaries.models import ParameterChange, PoolingArea, PoolingAreaPolicy
from medaid import policy as engine
from medaid.core import topics, validators
from medaid.core.errors import Refusal
from medaid.core.outbox import event_emit
from medaid.policy.errors import OverrideError, PackError
from medaid.policy.parameters import describe

PROPOSE = "beneficiaries.propose_parameterchange"
APPROVE = "beneficiaries.approve_parameterchange"

# The kinds of parameter a change may set as one text value (lists of codes are the pack's).
CHANGEABLE_KINDS = ("amount", "share", "factor", "count", "flag", "date", "month_day")

# What is clearly wrong for a value, beyond what the engine's types refuse: a yuan amount
# above the largest figure any claim may carry, a share of an income above ten times it, a
# published income of zero or above a million yuan.
MAX_YUAN = validators.MAX_AMOUNT["claim"]
MAX_SHARE_OF_INCOME = Decimal("10")
MAX_INCOME = Decimal("1000000")
_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")

State = ParameterChange.State
Kind = ParameterChange.Kind


class ParameterChangeError(Refusal):
    """A parameter change that cannot be entered, submitted or decided as asked."""

    code = "parameter_change"


# --- reads the form needs ---------------------------------------------------------------------


def parameter_choices(*, pooling_area: PoolingArea | int, day: dt.date) -> list[tuple[str, str]]:
    """(name, Chinese description with the value in force) of every parameter a change may
    set in the pack deciding the area on `day`; [] before that pack's first day."""
    code = selectors.policy_on(pooling_area=pooling_area, day=day).code
    pack = engine.load_pack(code)
    if day < pack.first_day:
        return []
    out = []
    for name, param in sorted(pack.parameters.items()):
        if param.kind.partition(":")[0] not in (*CHANGEABLE_KINDS, "one"):
            continue
        now = param.at(day)
        shown = "—" if now is None or now.value is None else f"{now.value}"
        if now is not None and now.unit != "yuan" and now.value is not None:
            shown += "（占基数比例）"
        out.append((name, f"{describe(pack, name)}（{name}，现值 {shown}）"))
    return out


def effective_on(
    *, pooling_area: PoolingArea, parameter: str, published_on: dt.date, start: dt.date | None
) -> tuple[dt.date | None, str, str]:
    """(effective date, the rule it followed, the pack) for a change of `parameter`: the rule
    of the pack in force on the date entered (or on publication, when the pack computes it)."""
    code = selectors.policy_on(pooling_area=pooling_area, day=start or published_on).code
    pack = engine.load_pack(code)
    day, rule = pack.change_effective(parameter, published_on, start)
    if day is not None and day != start:
        code = selectors.policy_on(pooling_area=pooling_area, day=day).code
    return day, rule, code


# --- checks ------------------------------------------------------------------------------------


_MAX_LENGTH = {"issuer": 100, "document_number": 100, "article": 100, "reason": 500}


def _required(data: dict) -> None:
    labels = {
        "issuer": "发文机关",
        "document_number": "文号",
        "article": "条款",
        "published_on": "公布日期",
        "reason": "变更事由",
    }
    for field, label in labels.items():
        value = data.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ParameterChangeError(
                f"请填写{label}：参数变更须注明依据文件（发文机关、文号、条款、公布日期）和事由",
                code="document_missing",
                field=field,
            )
        if isinstance(value, str) and field in _MAX_LENGTH:
            # The publication date as text (the API's) is read as a date by `_build`.
            validators.text(value, field=field, label=label, max_length=_MAX_LENGTH[field])
    validators.text(data.get("value"), field="value", label="取值", max_length=200)


def _check_value(pack, name: str, raw: str, day: dt.date) -> None:
    """The value's type and sanity, in Chinese, before the engine's own check."""
    param = pack.parameters[name]
    kind = param.kind.partition(":")[0]
    before = param.at(day)
    unit = before.unit if before is not None else "yuan"
    text = raw.strip()
    if not text:
        raise ParameterChangeError("请填写取值", code="value_missing", field="value")
    if param.kind in ("amount", "share", "factor"):
        if text.startswith("-"):
            raise ParameterChangeError(
                f"取值不能为负数：{text}", code="value_negative", field="value"
            )
        if not _DECIMAL.match(text):
            raise ParameterChangeError(
                f"取值须为数字（如 30924 或 0.10）：{text}", code="value_not_number", field="value"
            )
        number = Decimal(text)
        if param.kind == "share" and number > 1:
            raise ParameterChangeError(
                f"比例不能大于 1（100%）：{text}", code="value_out_of_range", field="value"
            )
        if param.kind == "amount" and unit == "yuan":
            if -number.as_tuple().exponent > 2:
                raise ParameterChangeError(
                    f"金额最多两位小数：{text}", code="value_out_of_range", field="value"
                )
            if number > MAX_YUAN:
                raise ParameterChangeError(
                    f"金额 {text} 元超过合理上限 {MAX_YUAN:,.0f} 元，请核对",
                    code="value_out_of_range",
                    field="value",
                )
        if param.kind == "amount" and unit != "yuan" and number > MAX_SHARE_OF_INCOME:
            raise ParameterChangeError(
                f"该参数按基数的比例计（现值 {before.value}），{text} 超过基数的 10 倍，请核对",
                code="value_out_of_range",
                field="value",
            )
        if name.endswith("per_capita_disposable_income") and not 0 < number <= MAX_INCOME:
            raise ParameterChangeError(
                f"人均可支配收入须大于 0 且不超过 {MAX_INCOME:,.0f} 元：{text}",
                code="value_out_of_range",
                field="value",
            )
    elif kind == "count" and not text.isdigit():
        raise ParameterChangeError(
            f"取值须为不小于 0 的整数：{text}", code="value_not_number", field="value"
        )
    elif kind == "flag" and text not in ("true", "false"):
        raise ParameterChangeError(
            "取值须为 true（是）或 false（否）", code="value_not_flag", field="value"
        )
    elif kind == "date":
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise ParameterChangeError(
                f"取值须为日期 YYYY-MM-DD：{text}", code="value_not_date", field="value"
            ) from None


def _check_pack_day(pack, day: dt.date) -> None:
    if day < pack.first_day:
        raise ParameterChangeError(
            f"生效日期 {day} 早于政策包《{pack.short}》的首个版本（{pack.first_day}），"
            "该日期之前没有可变更的政策",
            code="date_before_policy",
            field="start",
        )
    if pack.expires is not None and day > pack.expires:
        raise ParameterChangeError(
            f"生效日期 {day} 晚于政策包《{pack.short}》的有效期（至 {pack.expires}）",
            code="date_after_policy",
            field="start",
        )


def _check_duplicate(change: ParameterChange) -> None:
    same = ParameterChange.objects.filter(
        pooling_area_id=change.pooling_area_id,
        kind=change.kind,
        parameter=change.parameter,
        effective_date=change.effective_date,
    ).exclude(state=State.WITHDRAWN)
    if change.pk:
        same = same.exclude(pk=change.pk)
    other = same.first()
    if other is not None:
        raise ParameterChangeError(
            f"{change.pooling_area}已有同一{'参数' if change.kind == Kind.PARAMETER else '事项'}"
            f"（{change.subject}）自 {change.effective_date} 起的{other.key}"
            f"（{other.get_state_display()}）；请修改或撤回那一条，不要重复录入",
            code="duplicate_change",
            field="parameter",
        )


def _check(change: ParameterChange) -> None:
    """Everything a change must be to be saved, submitted or approved (re-checked at each step
    against the changes approved by then)."""
    if change.kind == Kind.POLICY:
        if change.policy_code not in engine.available_policies():
            raise ParameterChangeError(
                f"没有政策包 {change.policy_code}", code="unknown_policy", field="policy_code"
            )
        clash = PoolingAreaPolicy.objects.filter(
            pooling_area_id=change.pooling_area_id, start=change.effective_date
        ).first()
        if clash is not None:
            raise ParameterChangeError(
                f"{change.pooling_area}自 {change.effective_date} 起已适用 {clash.policy_code}",
                code="duplicate_change",
                field="start",
            )
        _check_pack_day(engine.load_pack(change.policy_code), change.effective_date)
        _check_duplicate(change)
        return
    pack = engine.load_pack(change.policy_code)
    _check_pack_day(pack, change.effective_date)
    if change.parameter not in pack.parameters or change.parameter not in dict(
        parameter_choices(pooling_area=change.pooling_area_id, day=change.effective_date)
    ):
        raise ParameterChangeError(
            f"政策包《{pack.short}》没有可变更的参数 {change.parameter}",
            code="unknown_parameter",
            field="parameter",
        )
    _check_value(pack, change.parameter, change.value, change.effective_date)
    _check_duplicate(change)
    amendments = selectors.amendments_for(
        pooling_area=change.pooling_area_id, policy_code=change.policy_code, drafts=[change]
    )
    try:
        engine.amend_pack(change.policy_code, amendments)
    except OverrideError as exc:
        raise ParameterChangeError(
            f"该取值不能用于政策包《{pack.short}》：{exc.problem}",
            code="value_refused",
            field="value",
        ) from exc
    except PackError as exc:
        raise ParameterChangeError(
            f"按该取值，政策包《{pack.short}》在某一时段无法计算：{exc.problem}",
            code="value_refused",
            field="value",
        ) from exc


def _may(user, permission: str, action: str) -> None:
    if user is None or not user.has_perm(permission):
        raise ParameterChangeError(f"没有{action}参数变更的权限", code="permission_denied")


def _build(change: ParameterChange, data: dict) -> None:
    """Fill `change` from the form's data, computing the effective date by the pack's rule."""
    try:
        _required(data)
        today = timezone.localdate()
        published = validators.day(
            data["published_on"], field="published_on", label="公布日期", today=today
        )
        start = validators.day(
            data.get("start"), field="start", label="生效日期", today=today, ahead="planned"
        )
    except ParameterChangeError:
        raise
    except Refusal as exc:
        raise ParameterChangeError(exc.message, code=exc.code, field=exc.field) from exc
    change.kind = data.get("kind") or Kind.PARAMETER
    change.issuer = data["issuer"].strip()
    change.document_number = data["document_number"].strip()
    change.article = data["article"].strip()
    change.published_on = published
    change.entered_start = start
    change.reason = data["reason"].strip()
    if change.kind == Kind.POLICY:
        change.parameter = ""
        change.value = ""
        change.policy_code = (data.get("policy_code") or "").strip()
        if start is None:
            raise ParameterChangeError(
                "请填写自哪天起适用该政策包", code="date_missing", field="start"
            )
        change.effective_date = start
        change.effective_rule = "按录入的起始日期"
        return
    change.parameter = (data.get("parameter") or "").strip()
    change.value = (data.get("value") or "").strip()
    if not change.parameter:
        raise ParameterChangeError(
            "请选择要变更的参数", code="parameter_missing", field="parameter"
        )
    day, rule, code = effective_on(
        pooling_area=change.pooling_area,
        parameter=change.parameter,
        published_on=published,
        start=start,
    )
    if day is None:
        raise ParameterChangeError(
            "请填写生效日期（本政策包对该参数未规定生效规则）", code="date_missing", field="start"
        )
    change.effective_date, change.effective_rule, change.policy_code = day, rule, code


# --- the flow ----------------------------------------------------------------------------------


def parameter_change_propose(*, pooling_area: PoolingArea, by, **data) -> ParameterChange:
    """Enter a change as a draft (草稿). `data`: kind, parameter, value, policy_code (适用政策包
    only), issuer, document_number, article, published_on, start (the date entered; the pack's
    rule may compute another), reason."""
    _may(by, PROPOSE, "录入")
    change = ParameterChange(pooling_area=pooling_area, proposed_by=by)
    _build(change, data)
    _check(change)
    return _save(change)


def parameter_change_revise(*, change: ParameterChange, by, **data) -> ParameterChange:
    """The proposer corrects a draft or a change sent back (it stays or becomes 草稿)."""
    _may(by, PROPOSE, "修改")
    with transaction.atomic():
        locked = ParameterChange.objects.select_for_update().get(pk=change.pk)
        if locked.state not in (State.DRAFT, State.RETURNED):
            raise ParameterChangeError(
                f"{locked.key}状态为“{locked.get_state_display()}”，不能修改", code="state"
            )
        if locked.proposed_by_id != by.pk:
            raise ParameterChangeError("只有录入人可以修改该变更", code="not_proposer")
        _build(locked, data)
        locked.state = State.DRAFT
        _check(locked)
        return _save(locked)


def _save(change: ParameterChange) -> ParameterChange:
    try:
        with transaction.atomic():
            change.save()
    except IntegrityError as exc:  # a second person entered the same change meanwhile
        raise ParameterChangeError(
            f"已有同一参数自 {change.effective_date} 起的变更，请勿重复录入",
            code="duplicate_change",
            field="parameter",
        ) from exc
    return change


def _locked(change: ParameterChange, *states: str) -> ParameterChange:
    locked = ParameterChange.objects.select_for_update().get(pk=change.pk)
    if locked.state not in states:
        raise ParameterChangeError(
            f"{locked.key}状态为“{locked.get_state_display()}”，不能执行此操作", code="state"
        )
    return locked


def parameter_change_submit(*, change: ParameterChange, by) -> ParameterChange:
    """草稿 → 待审核 (checked again against what is approved by now)."""
    _may(by, PROPOSE, "提交")
    with transaction.atomic():
        locked = _locked(change, State.DRAFT, State.RETURNED)
        if locked.proposed_by_id != by.pk:
            raise ParameterChangeError("只有录入人可以提交该变更", code="not_proposer")
        _check(locked)
        locked.state = State.SUBMITTED
        locked.submitted_at = timezone.now()
        locked.save(update_fields=["state", "submitted_at", "updated_at"])
        if locked.kind != Kind.POLICY:
            # The approver sees what the change would cost before deciding: claims replays
            # the area's year under it (a pack change has no single value to replay).
            event_emit(
                topics.PARAMETER_CHANGE_SUBMITTED,
                {
                    "change": locked.pk,
                    "pooling_area": locked.pooling_area_id,
                    "parameter": locked.parameter,
                    "start": locked.effective_date.isoformat(),
                    "value": locked.value,
                    "ref": locked.citation,
                    "key": locked.key,
                },
                key=f"pooling_area:{locked.pooling_area_id}",
            )
    return locked


def parameter_change_withdraw(*, change: ParameterChange, by) -> ParameterChange:
    """The proposer withdraws a change not yet approved (已撤回; the day is free again)."""
    _may(by, PROPOSE, "撤回")
    with transaction.atomic():
        locked = _locked(change, State.DRAFT, State.SUBMITTED, State.RETURNED)
        if locked.proposed_by_id != by.pk:
            raise ParameterChangeError("只有录入人可以撤回该变更", code="not_proposer")
        locked.state = State.WITHDRAWN
        locked.save(update_fields=["state", "updated_at"])
    return locked


def parameter_change_send_back(*, change: ParameterChange, by, note: str) -> ParameterChange:
    """The second person returns a submitted change to its proposer with a reason."""
    _may(by, APPROVE, "审核")
    if not (note or "").strip():
        raise ParameterChangeError("退回须填写审核意见", code="note_missing", field="note")
    with transaction.atomic():
        locked = _locked(change, State.SUBMITTED)
        if locked.proposed_by_id == by.pk:
            raise ParameterChangeError("不能审核本人录入的参数变更", code="own_change")
        locked.state = State.RETURNED
        locked.approved_by = by
        locked.decided_at = timezone.now()
        locked.decision_note = note.strip()[:500]
        locked.save()
    return locked


def parameter_change_approve(*, change: ParameterChange, by, note: str = "") -> ParameterChange:
    """A second person — not the proposer, holding `approve_parameterchange` — approves; the
    change is laid over the pack from its date on (a 适用政策包 change becomes the area's dated
    pack row). One whose date has come reaches back: `parameter.changed` is emitted in the same
    transaction and the claims app recomputes the area's claims discharged from that day."""
    _may(by, APPROVE, "审核")
    with transaction.atomic():
        locked = _locked(change, State.SUBMITTED)
        if locked.proposed_by_id == by.pk:
            raise ParameterChangeError(
                "不能审核本人录入的参数变更：须由另一位具有审核权限的人员批准", code="own_change"
            )
        _check(locked)
        locked.state = State.APPROVED
        locked.approved_by = by
        locked.decided_at = timezone.now()
        locked.decision_note = (note or "").strip()[:500]
        locked.save()
        if locked.kind == Kind.POLICY:
            PoolingAreaPolicy.objects.create(
                pooling_area_id=locked.pooling_area_id,
                start=locked.effective_date,
                policy_code=locked.policy_code,
                parameters={},
                ref=f"{locked.citation}；{locked.key}"[:200],
            )
        if locked.effective_date <= timezone.localdate():
            event_emit(
                topics.PARAMETER_CHANGED,
                {
                    "pooling_area": locked.pooling_area_id,
                    "start": locked.effective_date.isoformat(),
                    "change": locked.pk,
                },
                key=f"pooling_area:{locked.pooling_area_id}",
            )
    return locked
