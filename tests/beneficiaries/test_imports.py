"""Rosters and change feeds: every bad input gets a clear Chinese reason on its row (or on the
file), good rows are not lost, and applying is idempotent."""

import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from python_calamine import load_workbook

from beneficiaries import exports, merge, services
from beneficiaries.imports import FileRefused
from beneficiaries.models import Identity, Person, RosterImport, RosterImportRow
from tests.beneficiaries.conftest import HEADERS, csv_upload, make_id, xlsx_upload

pytestmark = pytest.mark.django_db

STATED = date(2024, 3, 5)


def receive(department, upload, *, kind="feed", stated=STATED, **kw):
    batch, created = services.roster_import_receive(
        department=department,
        kind=kind,
        upload=upload,
        file_name=upload.name,
        stated_date=stated,
        channel="admin",
        **kw,
    )
    return batch, created


def load(department, upload, *, kind="feed", apply=True, **kw) -> RosterImport:
    batch, _ = receive(department, upload, kind=kind, **kw)
    services.roster_import_validate(batch=batch)
    if apply:
        services.roster_import_apply(batch=batch)
    batch.refresh_from_db()
    return batch


def errors(batch) -> dict[int, tuple[str, str]]:
    return {
        r.line_no: (r.error_code, r.error_message)
        for r in RosterImportRow.objects.filter(batch=batch).exclude(error_code="")
    }


def add(n, name, code="低保对象", start="2024-01-01", end=""):
    return ["新增", make_id(n), name, code, "", start, end]


def test_adds_people_and_identities_and_keeps_good_rows_next_to_bad(civil):
    bad_checksum = make_id(3)[:-1] + ("0" if make_id(3)[-1] != "0" else "1")
    batch = load(
        civil,
        csv_upload(
            [
                add(1, "张三"),
                add(2, "李四", "特困人员", "2024/2/1"),
                ["新增", bad_checksum, "王五", "低保对象", "", "2024-01-01", ""],
            ]
        ),
    )
    assert batch.status == RosterImport.Status.APPLIED
    assert batch.result["counts"] == {"added": 2, "error": 1}
    assert errors(batch)[4][0] == "id_checksum"
    assert "校验位错误" in errors(batch)[4][1]
    zhang = Person.objects.get(id_number=make_id(1))
    assert zhang.birth_date == date(1980, 1, 1) and zhang.county == civil.county
    identity = zhang.identities.get()
    assert (identity.code, identity.start, identity.end) == ("dibao", date(2024, 1, 1), None)
    assert identity.source_line == f"R{batch.pk}:2" and identity.department == civil


def test_id_normalisation_full_width_and_lower_x(civil):
    number = next(make_id(n) for n in range(1, 500) if make_id(n).endswith("X"))
    typed = number[:-1].translate({ord(str(d)): chr(0xFF10 + d) for d in range(10)}) + "x"
    batch = load(civil, csv_upload([["新增", typed, "赵六", "低保对象", "", "2024-01-01", ""]]))
    assert batch.result["counts"] == {"added": 1}
    assert Person.objects.filter(id_number=number).exists()


@pytest.mark.parametrize(
    ("row", "code", "text"),
    [
        (["新增", make_id(5), "甲", "低保户户", "", "2024-01-01", ""], "code_unknown", "无法识别"),
        (
            ["新增", make_id(5), "甲", "深度困难职工", "", "2024-01-01", ""],
            "code_department",
            "不由",
        ),
        (["新增", make_id(5), "甲", "低保对象", "", "2024-02-30", ""], "date_invalid", "日期无效"),
        (
            ["新增", make_id(5), "甲", "低保对象", "", "2024-03-01", "2024-02-01"],
            "end_before_start",
            "早于",
        ),
        (["新增", make_id(5), "甲", "低保对象", "", "1970-01-01", ""], "date_before_birth", "出生"),
        (["新增", make_id(5), "甲", "低保对象", "", "", ""], "start_missing", "起始日期为空"),
        (["退出", make_id(5), "甲", "低保对象", "", "", ""], "end_missing", "终止日期"),
        (
            ["迁入", make_id(5), "甲", "低保对象", "", "2024-01-01", ""],
            "action_unknown",
            "变动类型",
        ),
        (
            ["变更", make_id(5), "甲", "特困人员", "", "2024-01-01", ""],
            "old_code_missing",
            "原身份",
        ),
        (["新增", "5305021980", "甲", "低保对象", "", "2024-01-01", ""], "id_length", "18位"),
        (
            ["新增", "5.30502198001E+17", "甲", "低保对象", "", "2024-01-01", ""],
            "id_numeric_cell",
            "15位",
        ),
        (["新增", make_id(5), "", "低保对象", "", "2024-01-01", ""], "name_missing", "姓名为空"),
    ],
)
def test_row_errors_have_named_codes_and_chinese_text(civil, row, code, text):
    batch = load(civil, csv_upload([row, add(6, "好人")]))
    assert errors(batch)[2][0] == code
    assert text in errors(batch)[2][1]
    assert batch.result["counts"]["added"] == 1  # the good row is not lost


def test_dates_as_text_and_as_serials(civil):
    rows = [
        add(1, "甲", start="2024年1月5日"),
        add(2, "乙", start="20240105"),
        add(3, "丙", start="45296"),  # an Excel serial typed into a CSV
        add(4, "丁", start="2024.1.5"),
    ]
    load(civil, csv_upload(rows))
    assert set(Identity.objects.values_list("start", flat=True)) == {date(2024, 1, 5)}


def test_xlsx_date_cells_serial_numbers_numeric_ids_and_formulas(civil):
    rows = [
        ["新增", make_id(1), "甲", "低保对象", None, date(2024, 1, 5), None],
        ["新增", make_id(2), "乙", "低保对象", None, 45296, None],  # a serial in a General cell
        ["新增", float(make_id(3)[:15] + "000"), "丙", "低保对象", None, "2024-01-05", None],
        ["新增", make_id(4), "丁", "低保对象", None, "2024-01-05", None],
    ]
    upload = xlsx_upload(rows, formulas=[(4, 2, '="丁"', "丁")])
    batch = load(civil, upload)
    found = errors(batch)
    assert found[4][0] == "id_numeric_cell" and "15位有效数字" in found[4][1]
    assert found[5][0] == "formula" and "姓名" in found[5][1]
    assert sorted(Identity.objects.values_list("start", flat=True)) == [date(2024, 1, 5)] * 2


def test_duplicates_in_file_keep_the_first_line(civil):
    batch = load(civil, csv_upload([add(1, "甲"), add(1, "甲"), add(1, "甲", "特困人员")]))
    assert errors(batch) == {3: ("duplicate", errors(batch)[3][1])}
    assert "与第2行" in errors(batch)[3][1]
    assert Identity.objects.count() == 2


def test_same_id_with_two_names_in_file_and_name_contradicting_registry(civil):
    load(civil, csv_upload([add(1, "张三")]))
    batch = load(
        civil, csv_upload([add(1, "张叁", "特困人员"), add(2, "甲"), add(2, "乙", "特困人员")])
    )
    found = errors(batch)
    assert found[2][0] == "name_mismatch"
    assert found[3][0] == found[4][0] == "name_conflict_in_file"


def test_person_registered_in_another_county_is_refused(civil, other_county):
    Person.objects.create(
        id_number=make_id(1), name="甲", sex="M", birth_date=date(1980, 1, 1), county=other_county
    )
    batch = load(civil, csv_upload([add(1, "甲")]))
    assert errors(batch)[2][0] == "other_county"


def test_exit_change_and_history_never_overwritten(civil):
    load(civil, csv_upload([add(1, "甲"), add(2, "乙")]))
    batch = load(
        civil,
        csv_upload(
            [
                ["退出", make_id(1), "甲", "低保对象", "", "", "2024-02-29"],
                ["变更", make_id(2), "乙", "特困人员", "低保对象", "2024-03-01", ""],
            ]
        ),
        stated=date(2024, 3, 6),
    )
    assert batch.result["counts"] == {"ended": 1, "changed": 1}
    first = Identity.objects.get(person__id_number=make_id(1))
    assert first.end == date(2024, 2, 29)
    periods = list(
        Identity.objects.filter(person__id_number=make_id(2)).values_list("code", "start", "end")
    )
    assert periods == [
        ("dibao", date(2024, 1, 1), date(2024, 2, 29)),
        ("tekun", date(2024, 3, 1), None),
    ]
    # Re-entering later opens a second period; the closed one stays.
    load(civil, csv_upload([add(1, "甲", start="2024-06-01")]), stated=date(2024, 7, 1))
    assert list(
        Identity.objects.filter(person__id_number=make_id(1)).values_list("start", "end")
    ) == [(date(2024, 1, 1), date(2024, 2, 29)), (date(2024, 6, 1), None)]


def test_feed_removing_someone_never_there(civil):
    batch = load(
        civil, csv_upload([["退出", make_id(9), "无名", "低保对象", "", "", "2024-02-29"]])
    )
    assert errors(batch)[2][0] == "person_unknown"
    load(civil, csv_upload([add(1, "甲")]))
    batch = load(civil, csv_upload([["退出", make_id(1), "甲", "特困人员", "", "", "2024-02-29"]]))
    assert errors(batch)[2][0] == "not_registered"
    assert "不在册" in errors(batch)[2][1]


def test_exit_before_the_registered_start(civil):
    load(civil, csv_upload([add(1, "甲", start="2024-02-01")]))
    batch = load(civil, csv_upload([["退出", make_id(1), "甲", "低保对象", "", "", "2024-01-15"]]))
    assert errors(batch)[2][0] == "end_before_registered_start"


def test_same_file_twice_changes_nothing(civil):
    upload = csv_upload([add(1, "甲")])
    first = load(civil, upload)
    upload.seek(0)
    again, created = receive(civil, upload)
    assert not created and again.pk == first.pk
    assert RosterImport.objects.count() == 1 and Identity.objects.count() == 1


def test_same_rows_in_another_file_are_unchanged(civil):
    load(civil, csv_upload([add(1, "甲"), add(2, "乙")]))
    batch = load(
        civil, csv_upload([add(1, "甲"), add(2, "乙")], name="resaved.csv", encoding="gb18030")
    )
    assert batch.result["counts"] == {"unchanged": 2}
    assert Identity.objects.count() == 2
    services.roster_import_apply(batch=batch)  # applying an applied batch again: a no-op
    assert Identity.objects.count() == 2


def test_utf8_file_whose_head_ends_inside_a_character(civil):
    # The encoding is guessed from the first 64 KB: a cut through a three-byte character must
    # not make a UTF-8 file look like GBK (and be refused as undecodable).
    name = "测试甲乙丙丁戊己庚辛"
    ids = [make_id(n % 1000, date(1980 + n // 1000, 1, 1)) for n in range(1, 1200)]
    rows = [["新增", id_number, name, "低保对象", "", "2024-01-01"] for id_number in ids]
    upload = csv_upload(rows, name="long.csv")
    head = upload.read(65536)
    upload.seek(0)
    with pytest.raises(UnicodeDecodeError):
        head[: len(head) - 4].decode("utf-8")
    batch = load(civil, upload)
    assert batch.status == RosterImport.Status.APPLIED
    assert Identity.objects.count() == len(rows)


LONG_HEADERS = [*HEADERS, "户编号", "参保险种", "参保地区划代码"]


def test_last_line_of_a_person_sets_household_and_insurance(civil, township):
    load(civil, csv_upload([[*add(1, "甲"), "H1", "城乡居民", "530502"]], LONG_HEADERS))
    batch = load(
        civil,
        csv_upload(
            [
                # a registered person moves household and insurance
                [*add(1, "甲", code="低保边缘家庭成员", start="2024-02-01"), "H2", "职工", ""],
                # a new person on two lines: the later line's household stands
                [*add(2, "乙"), "H3", "", ""],
                [*add(2, "乙", code="低保边缘家庭成员"), "H4", "", "530521"],
                # a new person on one line holds what it says
                [*add(3, "丙"), "H5", "职工", ""],
            ],
            LONG_HEADERS,
        ),
        stated=date(2024, 3, 6),
    )
    assert batch.result["people_created"] == 2
    assert batch.result["people_updated"] == 2
    people = {
        p.id_number: (p.household.code, p.insurance_scheme, p.insured_place)
        for p in Person.objects.select_related("household")
    }
    assert people == {
        make_id(1): ("H2", "employee", "530502"),
        make_id(2): ("H4", "resident", "530521"),
        make_id(3): ("H5", "employee", ""),
    }
    # The same lines again change no one.
    again = load(
        civil,
        csv_upload(
            [[*add(1, "甲", code="低保边缘家庭成员", start="2024-02-01"), "H2", "职工", ""]],
            LONG_HEADERS,
            name="again.csv",
        ),
        stated=date(2024, 3, 6),
    )
    assert again.result["people_updated"] == 0


def test_stated_and_delivery_dates_are_kept(civil):
    batch, _ = receive(civil, csv_upload([add(1, "甲")]))
    assert batch.stated_date == STATED
    assert batch.delivered_at is not None
    assert batch.period == date(2024, 2, 1)  # a feed dated 5 March reports February


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("list.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "xls_format"),
        ("list.xlsx", "公民身份号码,姓名\n".encode(), "not_xlsx"),
        ("list.txt", "公民身份号码,姓名\n".encode(), "unknown_format"),
        ("list.csv", b"", "empty_file"),
    ],
)
def test_whole_file_refusals(civil, name, content, code):
    with pytest.raises(FileRefused) as refused:
        receive(civil, SimpleUploadedFile(name, content))
    assert refused.value.code == code
    assert RosterImport.objects.count() == 0


def test_huge_file_is_refused(civil, settings):
    settings.BENEFICIARIES_MAX_UPLOAD_BYTES = 1000
    rows = [add(n, "甲") for n in range(1, 40)]
    with pytest.raises(FileRefused) as refused:
        receive(civil, csv_upload(rows))
    assert refused.value.code == "file_too_large" and "过大" in refused.value.message


def test_too_many_rows_is_refused(civil, settings):
    settings.BENEFICIARIES_MAX_ROWS = 2
    batch, _ = receive(civil, csv_upload([add(n, "甲") for n in range(1, 5)]))
    with pytest.raises(FileRefused):
        services.roster_import_validate(batch=batch)
    batch.refresh_from_db()
    assert batch.status == RosterImport.Status.REJECTED and "超过" in batch.error


def test_missing_column_and_no_header(civil):
    batch, _ = receive(
        civil,
        csv_upload(
            [["新增", make_id(1), "低保对象", "2024-01-01"]],
            headers=["变动类型", "公民身份号码", "身份类别", "起始日期"],
        ),
    )
    with pytest.raises(FileRefused) as refused:
        services.roster_import_validate(batch=batch)
    assert refused.value.code == "missing_columns" and "姓名" in refused.value.message
    batch, _ = receive(civil, csv_upload([["a", "b"]], headers=["x", "y"], name="b.csv"))
    with pytest.raises(FileRefused) as refused:
        services.roster_import_validate(batch=batch)
    assert refused.value.code == "no_header"


def test_roster_with_only_headers_is_refused_but_an_empty_feed_means_no_changes(civil):
    batch, _ = receive(civil, csv_upload([]), kind="roster")
    with pytest.raises(FileRefused) as refused:
        services.roster_import_validate(batch=batch)
    assert refused.value.code == "no_rows"
    batch = load(civil, csv_upload([], headers=[*HEADERS, "备注"], name="empty-feed.csv"))
    assert batch.status == RosterImport.Status.APPLIED and batch.rows_total == 0


def test_title_rows_above_the_header_and_gbk_csv(civil):
    text = "隆阳区2024年3月低保变动名册\n" + "\n".join(
        ",".join(r)
        for r in [
            ["变动类型", "公民身份号码", "姓名", "身份类别", "起始日期", "终止日期"],
            ["新增", make_id(1), "甲", "低保对象", "2024-01-01", ""],
        ]
    )
    batch = load(civil, SimpleUploadedFile("gbk.csv", text.encode("gbk")))
    assert batch.result["counts"] == {"added": 1}


def test_failure_while_applying_rolls_the_whole_batch_back(civil, monkeypatch):
    batch, _ = receive(civil, csv_upload([add(1, "甲"), add(2, "乙")]))
    services.roster_import_validate(batch=batch)
    original = merge.insert_identities

    def explode(*args, **kwargs):
        original(*args, **kwargs)
        raise RuntimeError("磁盘已满")

    monkeypatch.setattr(merge, "insert_identities", explode)
    with pytest.raises(RuntimeError):
        services.roster_import_apply(batch=batch)
    batch.refresh_from_db()
    assert batch.status == RosterImport.Status.FAILED and "回滚" in batch.error
    assert Person.objects.count() == 0 and Identity.objects.count() == 0
    # Nothing accepted is lost: the staged rows are still there and apply after a retry.
    monkeypatch.setattr(merge, "insert_identities", original)
    services.roster_import_retry(batch=batch)
    services.roster_import_apply(batch=batch)
    assert Identity.objects.count() == 2


def test_preview_counts_without_changing_the_registry(civil):
    batch = load(civil, csv_upload([add(1, "甲"), add(1, "甲")]), apply=False)
    assert batch.preview["counts"] == {"added": 1, "error": 1}
    assert batch.preview["samples"]["added"][0]["line"] == 2
    assert Person.objects.count() == 0 and Identity.objects.count() == 0


def test_error_file_has_the_same_columns_plus_reason(civil, tmp_path):
    batch = load(
        civil,
        csv_upload(
            [
                add(1, "甲"),
                ["新增", "123", "乙", "低保对象", "", "2024-01-01", ""],
                add(2, "丙"),
                # refused only when applied: nobody to remove
                ["退出", make_id(9), "无名", "低保对象", "", "", "2024-02-29"],
            ]
        ),
    )
    path = tmp_path / "errors.xlsx"
    assert exports.errors_xlsx(batch, str(path)) == 2
    rows = load_workbook(str(path)).get_sheet_by_index(0).to_python()
    assert rows[0][-1] == "错误原因" and rows[0][:-1] == batch.headers
    assert rows[1][1] == "123" and "18位" in rows[1][-1]
    assert rows[2][:3] == ["退出", make_id(9), "无名"] and "无此人" in rows[2][-1]
    assert len(rows) == 3

    # A role without the full number (the auditor) gets the error file masked.
    from medaid.core.models import User

    auditor = User.objects.create_user("auditor_x", password="x" * 12)
    masked = tmp_path / "masked.xlsx"
    exports.errors_xlsx(batch, str(masked), user=auditor)
    masked_rows = load_workbook(str(masked)).get_sheet_by_index(0).to_python()
    assert masked_rows[2][1] == make_id(9)[:4] + "*" * 10 + make_id(9)[-4:]
    assert make_id(9) not in str(masked_rows)


def test_error_file_of_an_xlsx_keeps_the_cells_as_delivered(civil, tmp_path):
    batch = load(
        civil,
        xlsx_upload(
            [
                ["新增", make_id(1), "甲", "低保对象", None, date(2024, 1, 1)],
                ["新增", make_id(2), "乙", "无此类别", None, date(2024, 2, 1)],
                ["新增", make_id(3), "丙", "低保对象", None, 45352],
            ]
        ),
    )
    path = tmp_path / "errors.xlsx"
    assert exports.errors_xlsx(batch, str(path)) == 1
    rows = load_workbook(str(path)).get_sheet_by_index(0).to_python()
    assert rows[1][:6] == ["新增", make_id(2), "乙", "无此类别", "", "2024-02-01"]
    assert "身份类别无法识别" in rows[1][-1]


def test_full_roster_can_end_identities_absent_from_it(civil):
    load(civil, csv_upload([add(1, "甲"), add(2, "乙")]), kind="roster", stated=date(2024, 1, 20))
    batch = load(
        civil,
        csv_upload([add(1, "甲")], name="r2.csv"),
        kind="roster",
        stated=date(2024, 8, 15),
        end_absent=True,
    )
    assert batch.result["ended_absent"] == 1
    assert Identity.objects.get(person__id_number=make_id(2)).end == date(2024, 8, 14)


def test_templates_download_and_read_back(civil):
    book = exports.template_xlsx("feed")
    sheet = load_workbook(io.BytesIO(book)).get_sheet_by_index(0).to_python()
    assert sheet[0][:3] == ["变动类型", "公民身份号码", "姓名"]
    assert "公民身份号码" in exports.template_csv("roster").decode("utf-8-sig")


def test_the_roster_s_far_past_is_the_core_one(civil):
    """One date bound for every input (medaid.core.validators.FAR_PAST, 1900): a roster
    line of a person born in 1925 and certified in 1930 is taken (the roster's own bound was
    1950 once), one of 1899 is refused with the bound's year in its message."""
    from medaid.core.validators import FAR_PAST

    born_1925, born_1890 = make_id(7, date(1925, 3, 1)), make_id(8, date(1890, 3, 1))
    rows = [
        ["新增", born_1925, "甲", "低保对象", "", "1930-01-01", ""],
        ["新增", born_1890, "乙", "低保对象", "", "1899-06-01", ""],
    ]
    batch = load(civil, csv_upload(rows))
    assert batch.result["counts"]["added"] == 1
    assert Identity.objects.get(person__id_number=born_1925).start == date(1930, 1, 1)
    code, text = errors(batch)[3][:2]
    assert code == "date_too_early" and f"{FAR_PAST.year}年" in text
