"""Money: yuan as `Decimal` with 2 places, and the one rounding rule, ROUND_HALF_UP applied at
the end of each computed amount (never on the way). Never float.

Pure Python on purpose: the policy engine rounds with it too, and the engine imports nothing
that loads Django.
"""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_yuan(value) -> Decimal:
    """Round a computed amount to the cent (ROUND_HALF_UP). Empty is 0.00; a float goes through
    its shortest repr, never its binary value; anything else goes through `Decimal(str(...))`."""
    if value is None or value == "":
        return ZERO
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def yuan_text(value) -> str:
    """`12345.6` → `12,345.60`, `-5` → `-5.00`; empty → `—`. The one amount format people read."""
    if value is None or value == "":
        return "—"
    return f"{to_yuan(value):,.2f}"


def yuan_plain(value) -> str:
    """`12345.6` → `12345.60`: the machine form (JSON contracts, CSV files)."""
    return f"{to_yuan(value):f}"
