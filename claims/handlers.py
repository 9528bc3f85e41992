"""How the claims app reacts to what the other apps tell it through the outbox
(`medaid.core.topics`). Each handler runs inside the transaction that marks its event
delivered, so what it writes and the delivery commit together; each is idempotent."""

from __future__ import annotations

from claims import services
from medaid.core import topics
from medaid.core.outbox import handler_register


def on_settlement_posted(payload: dict) -> None:
    """The counter applications whose claims the posted statements paid become paid, once."""
    if payload.get("claims"):
        services.applications_mark_paid(claim_ids=payload["claims"])


def on_voucher_reversed(payload: dict) -> None:
    """A reversed payment voucher: its claims are open again (the funds app reopened them with
    the reversal) and their applications are no longer paid."""
    if payload.get("claims"):
        services.applications_payment_reversed(claim_ids=payload["claims"])


def register() -> None:
    handler_register(topics.SETTLEMENT_POSTED, "救助申请标记已支付", on_settlement_posted)
    handler_register(topics.VOUCHER_REVERSED, "救助申请恢复待支付", on_voucher_reversed)
