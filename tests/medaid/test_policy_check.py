"""`manage.py policy_check`: every shipped pack passes; a planted fault fails the command."""

import io
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from medaid.policy import available_policies
from medaid.policy.loader import PACKS_DIR

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def _run(*args, **options) -> str:
    out = io.StringIO()
    call_command("policy_check", *args, stdout=out, shared=SHARED, **options)
    return out.getvalue()


def test_every_pack_passes():
    text = _run()
    for code in available_policies():
        assert f"{code}: 通过" in text, text


def test_one_pack_by_code():
    assert _run("kunming").startswith("kunming: 通过")


def test_a_planted_fault_fails_with_the_finding(tmp_path):
    pack = tmp_path / "pingshun"
    shutil.copytree(PACKS_DIR / "pingshun", pack)
    income = pack / "income.yaml"
    income.write_text(
        income.read_text(encoding="utf-8").replace("第四十七条 四舍五入", "第九十七条 四舍五入"),
        encoding="utf-8",
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 个政策包未通过"):
        call_command("policy_check", "pingshun", pack_dir=pack, shared=SHARED, stdout=out)
    assert "[citation]" in out.getvalue() and "第97条" in out.getvalue()


def test_unknown_pack_and_missing_seeds(tmp_path):
    with pytest.raises(CommandError, match="未知的政策包"):
        _run("nosuch")
    with pytest.raises(CommandError, match="找不到政策原文"):
        call_command("policy_check", shared=tmp_path, stdout=io.StringIO())
