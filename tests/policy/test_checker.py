"""The pack checker (medaid.policy.checker): every shipped pack is clean, and each kind of fault
planted in a temporary copy of a pack is reported."""

import shutil
from pathlib import Path

import pytest

from medaid.policy import available_policies
from medaid.policy.checker import check_pack, cn_number, glossary_codes, locator_paths
from medaid.policy.glossary import CLAIM_KINDS, IDENTITY_CODES
from medaid.policy.loader import PACKS_DIR

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SEEDS = SHARED / "seeds"
GLOSSARY = SHARED / "domain" / "glossary.md"


@pytest.mark.parametrize("code", available_policies())
def test_every_shipped_pack_is_clean(code):
    report = check_pack(code, SEEDS, glossary_md=GLOSSARY)
    assert report.ok, "\n".join(str(f) for f in report.findings)
    assert report.refs > 20


def test_glossary_py_matches_the_shared_glossary():
    identities, kinds = glossary_codes(GLOSSARY.read_text(encoding="utf-8"))
    assert (identities, kinds) == (IDENTITY_CODES, CLAIM_KINDS)


def test_chinese_numbers():
    assert [cn_number(t) for t in ("十", "十四", "二十", "四十七", "十八", "三")] == [
        10,
        14,
        20,
        47,
        18,
        3,
    ]


def test_locator_paths():
    assert locator_paths("第三十三条（二）（三）")[0] == [
        [("article", 33), ("paren", 2)],
        [("article", 33), ("paren", 3)],
    ]
    assert locator_paths("四（二）表3、表4 一级")[0] == [
        [("section", 4), ("paren", 2), ("table", 3)],
        [("section", 4), ("paren", 2), ("table", 4)],
    ]
    assert locator_paths("第十四条至第十六条")[0] == [[("article", 14)], [("article", 16)]]
    paths, rest = locator_paths("（一）三类人员")
    assert (paths, rest) == ([[("paren", 1)]], "三类人员")
    assert locator_paths("四（二）1（1）每人每年累计救助不得超过200元")[0] == [
        [("section", 4), ("paren", 2), ("item", 1), ("sub", 1)]
    ]


def _copy(tmp_path: Path, code: str) -> Path:
    target = tmp_path / code
    shutil.copytree(PACKS_DIR / code, target)
    return target


def _edit(directory: Path, file: str, old: str, new: str) -> None:
    path = directory / file
    text = path.read_text(encoding="utf-8")
    assert old in text, (file, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _findings(code: str, directory: Path) -> list[tuple[str, str, str]]:
    report = check_pack(code, SEEDS, directory=directory, glossary_md=GLOSSARY)
    return [(f.kind, f.where, f.message) for f in report.findings]


def test_an_article_the_seed_does_not_have(tmp_path):
    pack = _copy(tmp_path, "pingshun")
    _edit(pack, "income.yaml", "平顺细则 第四十七条 四舍五入", "平顺细则 第九十七条 四舍五入")
    (found,) = _findings("pingshun", pack)
    assert found[0] == "citation" and "base_rounding" in found[1] and "第97条" in found[2]


def test_an_item_the_article_does_not_have(tmp_path):
    """第十四条 has items （一） to （六）; （九） is not there, though 第十条 exists."""
    pack = _copy(tmp_path, "pingshun")
    _edit(
        pack,
        "benefits.yaml",
        'ref: "平顺细则 第十四条（五）"}}}',
        'ref: "平顺细则 第十四条（九）"}}}',
    )
    (found,) = _findings("pingshun", pack)
    assert found[0] == "citation" and "dibao_edge" in found[1] and "第14条（9）" in found[2]


def test_a_nested_item_outside_its_section(tmp_path):
    """Kunming 四（二）has items 1 and 2 only: 四（二）3（1） does not exist."""
    pack = _copy(tmp_path, "kunming")
    _edit(pack, "benefits.yaml", "昆明办法 四（二）1（1）表2", "昆明办法 四（二）3（1）表2")
    (found,) = _findings("kunming", pack)
    assert found[0] == "citation" and "ratio.dibao.outpatient_general" in found[1]


def test_a_ref_that_cites_no_document(tmp_path):
    pack = _copy(tmp_path, "zhangye")
    _edit(
        pack, "pack.yaml", 'ref: "张政办发〔2022〕90号 本方案自2022年7月1日起执行"', 'ref: "见文件"'
    )
    (found,) = _findings("zhangye", pack)
    assert found[0] == "citation" and "versions" in found[1] and "cites no article" in found[2]


def test_a_phrase_the_seed_does_not_have(tmp_path):
    pack = _copy(tmp_path, "zhangye")
    _edit(pack, "pack.yaml", "本方案自2022年7月1日起执行", "本方案自2021年7月1日起执行")
    (found,) = _findings("zhangye", pack)
    assert found[0] == "citation" and "without an article" in found[2]


def test_a_parameter_that_starts_after_the_pack(tmp_path):
    pack = _copy(tmp_path, "pingshun")
    _edit(
        pack,
        "benefits.yaml",
        "counts_uncovered_kinds: {values: {2023-01-07:",
        "counts_uncovered_kinds: {values: {2023-06-01:",
    )
    (found,) = _findings("pingshun", pack)
    assert found[0] == "coverage" and "tilt.counts_uncovered_kinds" in found[1]
    assert "gap" in found[2] and "2023-06-01" in found[2]


def test_a_value_after_the_pack_expires(tmp_path):
    pack = _copy(tmp_path, "kunming")
    _edit(
        pack,
        "income.yaml",
        "    2022-01-01:",
        '    2022-07-01: {value: "26937", ref: "产品决定：测试"}\n    2022-01-01:',
    )
    (found,) = _findings("kunming", pack)
    assert found[0] == "coverage" and "2022-07-01" in found[1] and "validity" in found[2]


def test_two_values_for_the_same_date(tmp_path):
    """An overlap: plain YAML would silently keep the second value."""
    pack = _copy(tmp_path, "pingshun")
    _edit(
        pack,
        "income.yaml",
        "    2024-02-01:",
        '    2023-02-01: {value: "29000", ref: "平顺细则 第四十七条"}\n    2024-02-01:',
    )
    (found,) = _findings("pingshun", pack)
    assert found[0] == "load" and "written twice" in found[2]


def test_an_identity_not_in_the_glossary(tmp_path):
    pack = _copy(tmp_path, "pingshun")
    _edit(
        pack,
        "benefits.yaml",
        "identity:\n",
        "identity:\n  dibao_edgy: {values: {2023-01-07: "
        '{value: dibao_edge, ref: "平顺细则 第十条（一）"}}}\n',
    )
    (found,) = _findings("pingshun", pack)
    assert found[0] == "glossary" and "identity.dibao_edgy" in found[1]


def test_a_kind_not_in_the_glossary(tmp_path):
    """A misspelt kind in a ratio's name was silently never read."""
    pack = _copy(tmp_path, "pingshun")
    value = '{value: "0.70", ref: "平顺细则 第十四条（二）"}}}'
    line = "    inpatient:          {values: {2023-01-07: " + value
    _edit(
        pack,
        "benefits.yaml",
        line,
        line + "\n    inpatinet: {values: {2023-01-07: " + value,
    )
    (found,) = _findings("pingshun", pack)
    assert found[:2] == ("glossary", "benefits.yaml: ratio.dibao.inpatinet")
    assert "claim kind 'inpatinet'" in found[2]


def test_a_profile_not_declared(tmp_path):
    pack = _copy(tmp_path, "zhangye")
    _edit(
        pack,
        "benefits.yaml",
        "\ndeductible:\n",
        "\ndeductible:\n  dibao_egde: {values: {2022-07-01: "
        '{value: "2000", ref: "张政办发〔2022〕90号 四（二）2"}}}\n',
    )
    (found,) = _findings("zhangye", pack)
    assert found[:2] == ("glossary", "benefits.yaml: deductible.dibao_egde")
    assert "profile 'dibao_egde'" in found[2]


def test_a_seed_that_is_missing(tmp_path):
    pack = _copy(tmp_path, "yunnan")
    _edit(pack, "pack.yaml", "yunnan-2022-major-disease-insurance-and-assistance.txt", "nosuch.txt")
    found = _findings("yunnan", pack)
    assert found[0][0] == "citation" and "not found" in found[0][2]
