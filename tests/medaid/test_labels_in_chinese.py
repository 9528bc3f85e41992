"""Words, not codes: every model and field of our apps is labelled in Chinese at the source
(verbose_name), so no admin page, filter or export header shows an English field name, and
`makemessages` has nothing of ours to translate (our code emits no English msgid)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps

CJK = re.compile(r"[\u4e00-\u9fff]")
APPS = {"beneficiaries", "claims", "funds", "medaid"}
ROOT = Path(__file__).resolve().parents[2]


def _ours(model) -> bool:
    # pghistory's event tables name themselves after their model (「… event」): they are shown
    # only inside the history page, which labels them itself.
    return model._meta.app_label in APPS and not model.__name__.endswith("Event")


def test_every_model_and_field_has_a_chinese_label():
    missing = []
    for model in apps.get_models():
        if not _ours(model):
            continue
        if not CJK.search(str(model._meta.verbose_name)):
            missing.append(model._meta.label)
        for field in model._meta.get_fields():
            if field.auto_created or not getattr(field, "concrete", False):
                continue
            if not CJK.search(str(field.verbose_name)):
                missing.append(f"{model._meta.label}.{field.name}「{field.verbose_name}」")
    assert not missing, missing


def test_makemessages_finds_no_untranslated_string_of_ours(tmp_path):
    """Run makemessages over a copy of our code: any msgid it finds must be translated in
    locale/zh_Hans (today there is none: our strings are Chinese at the source)."""
    import shutil

    if shutil.which("xgettext") is None:
        pytest.skip("gettext (xgettext) is not installed")
    for name in ("medaid", "claims", "funds", "beneficiaries", "templates"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("migrations"))
    (tmp_path / "locale").mkdir()
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "zh_Hans"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    po = tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    if not po.exists():
        return  # no msgid at all
    text = po.read_text(encoding="utf-8")
    entries = re.findall(r'msgid "(.+?)"\nmsgstr ""\n(?!")', text)
    assert not entries, f"untranslated msgids: {entries}"
