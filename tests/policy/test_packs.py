"""Pack loading: every pack loads and compiles; a malformed pack is refused at load, naming
the file, the key and the problem."""

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from medaid.policy import PackError, available_policies, load_pack
from medaid.policy.loader import PACKS_DIR

PACKS = ("baoshan", "kunming", "pingshun", "yunnan", "zhangye")
FIRST_VERSIONS = {
    "yunnan": date(2022, 7, 1),
    "kunming": date(2021, 1, 1),
    "pingshun": date(2023, 1, 7),
    "baoshan": date(2023, 1, 1),
    "zhangye": date(2022, 7, 1),
}


def test_available_policies():
    assert available_policies() == PACKS


@pytest.mark.parametrize("code", PACKS)
def test_every_pack_loads_with_its_versions(code):
    pack = load_pack(code)
    assert pack.first_day == FIRST_VERSIONS[code]
    # every date-range compiles, and every value carries its article
    for start in pack.ranges:
        terms = pack.terms(start)
        assert terms.version.start <= start
    for param in pack.parameters.values():
        assert all(v.ref for v in param.values), param.name


@pytest.mark.parametrize("code", PACKS)
def test_every_product_decision_is_a_named_parameter(code):
    """policies.md Decisions live in packs, marked 产品决定, not in code."""
    pack = load_pack(code)
    refs = [v.ref for p in pack.parameters.values() for v in p.values]
    assert any("产品决定" in ref for ref in refs)


def test_base_income_is_dated():
    yunnan = load_pack("yunnan")
    assert yunnan.snapshot(date(2023, 5, 1)).value("per_capita_disposable_income") == Decimal(
        "26937"
    )
    pingshun = load_pack("pingshun")
    assert pingshun.snapshot(date(2023, 3, 1)).value("per_capita_disposable_income") == Decimal(
        "29178"
    )


def test_unknown_pack():
    with pytest.raises(KeyError):
        load_pack("atlantis")
    with pytest.raises(KeyError):
        load_pack("../yunnan")
    # Longer than a file name may be: refused as unknown, not an OSError from the disk.
    with pytest.raises(KeyError):
        load_pack("x" * 5000)


@pytest.fixture
def broken(tmp_path: Path):
    """A writable copy of the yunnan pack; returns (directory, edit function)."""
    target = tmp_path / "yunnan"
    shutil.copytree(PACKS_DIR / "yunnan", target)

    def edit(file: str, old: str, new: str) -> None:
        path = target / file
        text = path.read_text(encoding="utf-8")
        assert old in text, old
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return target, edit


def refused(directory: Path) -> PackError:
    with pytest.raises(PackError) as info:
        load_pack("yunnan", directory)
    return info.value


def test_float_money_is_refused(broken):
    directory, edit = broken
    edit("benefits.yaml", 'value: "0.70"', "value: 0.70")
    error = refused(directory)
    assert error.file.endswith("benefits.yaml")
    assert error.key == "ratio.class_2.values.2022-07-01.value"
    assert "YAML number" in error.problem and "quoted" in error.problem


def test_integer_money_is_refused(broken):
    directory, edit = broken
    edit("income.yaml", 'value: "26937"', "value: 26937")
    error = refused(directory)
    assert error.key == "per_capita_disposable_income.values.2023-01-01.value"
    assert "YAML number" in str(error)


def test_missing_ref_is_refused(broken):
    directory, edit = broken
    edit("benefits.yaml", 'value: "0.60", ref: "云政办发〔2022〕40号 （十一）"', 'value: "0.60"')
    error = refused(directory)
    assert (error.key, error.problem) == (
        "ratio.class_3.values.2022-07-01.ref",
        "missing the article reference (ref)",
    )


def test_unknown_parameter_name_is_refused(broken):
    directory, edit = broken
    edit("benefits.yaml", "deductible_kinds:", "deductable_kinds:")
    error = refused(directory)
    assert error.key == "deductable_kinds" and "unknown parameter" in error.problem


def test_bad_date_is_refused(broken):
    directory, edit = broken
    edit("income.yaml", "2024-01-01:", "2024-13-01:")
    assert "ISO date" in refused(directory).problem


def test_value_before_first_version_is_refused(broken):
    directory, edit = broken
    edit("income.yaml", '2022-07-01: {value: "25666"', '2021-07-01: {value: "25666"')
    error = refused(directory)
    assert "before the pack's first version" in error.problem


def test_share_above_one_is_refused(broken):
    directory, edit = broken
    edit("benefits.yaml", 'value: "0.50"', 'value: "1.50"')
    assert "between 0 and 1" in refused(directory).problem


def test_unknown_kind_is_refused(broken):
    directory, edit = broken
    edit("benefits.yaml", "[inpatient, outpatient_chronic", "[inpatiant, outpatient_chronic")
    error = refused(directory)
    assert error.key.startswith("kinds.class_1") and "inpatiant" in error.problem


def test_undeclared_profile_is_refused(broken):
    directory, edit = broken
    edit("benefits.yaml", "{value: class_1, ref", "{value: class_9, ref")
    error = refused(directory)
    assert error.key == "identity.tekun" and "class_9" in error.problem


def test_covered_kind_without_ratio_is_refused(broken):
    directory, edit = broken
    edit(
        "benefits.yaml",
        '  class_4: {values: {2022-07-01: {value: "0.50", '
        'ref: "云政办发〔2022〕40号 （十一）"}}}\n',
        "",
    )
    error = refused(directory)
    assert error.key == "ratio.class_4" and "no ratio" in error.problem


def test_duplicate_parameter_is_refused(broken):
    directory, _ = broken
    shutil.copy(directory / "income.yaml", directory / "zz_income.yaml")
    error = refused(directory)
    assert error.key == "per_capita_disposable_income" and "defined twice" in error.problem


def test_null_where_not_allowed_is_refused(broken):
    directory, edit = broken
    edit("benefits.yaml", 'value: "0.70"', "value: null")
    assert "null is not allowed" in refused(directory).problem


def test_folder_and_code_must_match(broken):
    directory, edit = broken
    edit("pack.yaml", "code: yunnan", "code: kunming")
    error = refused(directory)
    assert error.file.endswith("pack.yaml") and error.key == "code"
