"""Every worked example in shared/domain/examples must pass to the cent (see its README)."""

import json
from decimal import Decimal
from pathlib import Path

import pytest

from medaid.policy.contract import preview

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared/domain/examples"
FILES = sorted(EXAMPLES.glob("*.json"))


def test_examples_are_there():
    assert FILES, f"no worked examples found in {EXAMPLES}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_worked_example(path: Path):
    example = json.loads(path.read_text(encoding="utf-8"))
    out = preview(example["case"])
    assert "error" not in out, out
    claims = {c["ref"]: c for c in out["claims"]}
    for key, want in example["expect"].items():
        if key == "_ineligible":
            assert all(claims[ref]["eligible"] is False for ref in want), example["why"]
            continue
        if key == "_total":
            got = out["totals"]["total"]
        elif key == "_premium":
            got = out["premium"]["subsidy"]
        else:
            got = claims[key]["total"]
        assert Decimal(got) == Decimal(want), f"{key}: {got} != {want} — {example['why']}"
