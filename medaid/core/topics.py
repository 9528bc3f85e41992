"""The outbox's topics: every fact one app tells another, named once. The emitting app's
service emits it (`medaid.core.outbox.event_emit`) inside the transaction of the change; the
one reacting app registers its handler in its `AppConfig.ready`."""

# beneficiaries → claims: identities opened, closed or backdated (roster merge, change feed,
# certification, a clerk's edit). Payload: {"people": [[person_id, "YYYY-MM-DD"], ...],
# "source": "..."}, the date being the earliest day whose identity changed for that person.
IDENTITY_CHANGED = "identity.changed"

# funds → claims: a batch of settlement statements was posted. Payload: {"run": id,
# "claims": [ids of the counter-application claims it paid]}.
SETTLEMENT_POSTED = "settlement.posted"

# funds → claims: a settlement payment voucher was reversed; its claims are open again.
# Payload: {"entry": id, "reversal": id, "claims": [ids]}.
VOUCHER_REVERSED = "voucher.reversed"

# beneficiaries → claims: an approved parameter change (or change of the area's pack) whose
# effective date has come. Payload: {"pooling_area": id, "start": "YYYY-MM-DD", "change": id};
# the claims of the area discharged on or after `start` are decided again.
PARAMETER_CHANGED = "parameter.changed"

# beneficiaries → claims: a parameter change was submitted for approval (four eyes). Payload:
# {"change": id, "pooling_area": id, "parameter": name, "start": "YYYY-MM-DD", "value": text,
# "ref": document, "key": the change's label}. Claims replays the area's year of `start` with
# the change as the draft, so the approval page can show what it would cost.
PARAMETER_CHANGE_SUBMITTED = "parameter_change.submitted"

LABELS = {
    IDENTITY_CHANGED: "救助身份变动",
    SETTLEMENT_POSTED: "结算单已入账",
    VOUCHER_REVERSED: "结算支付凭证已冲销",
    PARAMETER_CHANGED: "政策参数变更已批准",
    PARAMETER_CHANGE_SUBMITTED: "参数变更已提交审批",
}
