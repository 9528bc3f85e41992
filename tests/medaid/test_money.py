from decimal import Decimal

from medaid.core.money import to_yuan, yuan_plain, yuan_text


def test_half_up_at_the_cent():
    assert to_yuan(Decimal("0.005")) == Decimal("0.01")
    assert to_yuan(Decimal("2.675")) == Decimal("2.68")
    assert to_yuan(Decimal("-2.675")) == Decimal("-2.68")


def test_floats_by_their_repr_and_empty_as_zero():
    assert to_yuan(2.675) == Decimal("2.68")  # the binary value is 2.67499…
    assert to_yuan(None) == Decimal("0.00")
    assert to_yuan("") == Decimal("0.00")


def test_texts():
    assert yuan_text(Decimal("1234567.5")) == "1,234,567.50"
    assert yuan_text(-5) == "-5.00"
    assert yuan_text(None) == "—"
    assert yuan_plain(Decimal("1234.5")) == "1234.50"
