"""The platform's person-identity records through the roster pipeline: the dated code mapping,
psn_no finding (and being recorded on) the person, backdating and ending periods with the
identity.changed event from the earliest day, and bad records as row errors beside good ones."""

import datetime as dt
import io
import json

import pytest

from beneficiaries import services
from beneficiaries.imports import FileRefused
from beneficiaries.models import (
    Department,
    DepartmentKind,
    Identity,
    IdentityTypeMapping,
    Person,
    RosterImport,
    RosterImportRow,
)
from beneficiaries.platform_fixtures import Holder, identity_records, psn_no_for, write_csv
from medaid.core.errors import Refusal
from medaid.core.models import OutboxEvent
from tests.beneficiaries.conftest import csv_upload, make_id

pytestmark = pytest.mark.django_db

HEADERS = ["psn_no", "certno", "psn_name", "psn_idet_type", "begntime", "endtime", "memo"]
STATED = dt.date(2024, 9, 5)


@pytest.fixture
def medical(county):
    for code, label, identity in (("2301", "特困供养人员", "tekun"), ("2303", "低保对象", "dibao")):
        IdentityTypeMapping.objects.get_or_create(
            code=code,
            valid_from=dt.date(2020, 1, 1),
            defaults={"label": label, "identity": identity},
        )
    return Department.objects.create(
        county=county, kind=DepartmentKind.MEDICAL_SECURITY, name="隆阳区医疗保障局"
    )


def person(county, n, name, psn_no=None):
    return Person.objects.create(
        id_number=make_id(n),
        name=name,
        sex="M",
        birth_date=dt.date(1980, 1, 1),
        county=county,
        psn_no=psn_no,
    )


def load(department, rows, *, apply=True, headers=HEADERS, name="idet.csv") -> RosterImport:
    batch, _ = services.roster_import_receive(
        department=department,
        kind="platform",
        upload=csv_upload(rows, headers=headers, name=name),
        file_name=name,
        stated_date=STATED,
        channel="admin",
    )
    services.roster_import_validate(batch=batch)
    if apply:
        services.roster_import_apply(batch=batch)
    batch.refresh_from_db()
    return batch


def errors(batch) -> dict[int, str]:
    return dict(
        RosterImportRow.objects.filter(batch=batch)
        .exclude(error_code="")
        .values_list("line_no", "error_code")
    )


def periods(p) -> list[tuple]:
    return list(
        Identity.objects.filter(person=p).order_by("start").values_list("code", "start", "end")
    )


def test_the_mapping_is_dated_data_read_on_the_records_first_day(county, medical):
    # From 2024 the province splits 低保: the same code now means 全额低保.
    IdentityTypeMapping.objects.filter(code="2303").update(valid_to=dt.date(2023, 12, 31))
    IdentityTypeMapping.objects.create(
        code="2303", label="低保对象（全额）", identity="dibao_full", valid_from=dt.date(2024, 1, 1)
    )
    IdentityTypeMapping.objects.create(
        code="2398", label="医疗保障对象（非救助）", identity="", valid_from=dt.date(2020, 1, 1)
    )
    a, b, c = make_id(1), make_id(2), make_id(3)
    batch = load(
        medical,
        [
            ["P001", a, "张三", "2303", "2023-03-01 00:00:00", "2023-12-31 23:59:59", ""],
            ["P002", b, "李四", "2303", "2024-02-01", "", ""],
            ["P003", c, "王五", "2398", "2024-02-01", "", ""],
        ],
    )
    assert periods(Person.objects.get(id_number=a)) == [
        ("dibao", dt.date(2023, 3, 1), dt.date(2023, 12, 31))
    ]
    assert periods(Person.objects.get(id_number=b)) == [("dibao_full", dt.date(2024, 2, 1), None)]
    assert errors(batch) == {4: "code_unknown"}
    assert "不属于医疗救助对象" in RosterImportRow.objects.get(batch=batch, line_no=4).error_message
    # The pair certno + psn_no is recorded on the people it created.
    assert Person.objects.get(id_number=a).psn_no == "P001"


def test_a_record_naming_only_psn_no_backdates_the_identity_and_recomputes_from_that_day(
    county, medical
):
    p = person(county, 1, "张三", psn_no="P001")
    Identity.objects.create(person=p, code="dibao", start=dt.date(2024, 6, 1))
    batch = load(medical, [["P001", "", "张三", "2303", "2024-02-01", "", "补认定"]])
    assert errors(batch) == {}
    assert periods(p) == [
        ("dibao", dt.date(2024, 2, 1), dt.date(2024, 5, 31)),
        ("dibao", dt.date(2024, 6, 1), None),
    ]
    event = OutboxEvent.objects.get(topic="identity.changed")
    assert event.payload["people"] == [[p.pk, "2024-02-01"]]
    assert event.payload["source"] == f"医保平台人员身份 #{batch.pk}"

    # The same records again (a new export): nothing changes, no event.
    again = load(medical, [["P001", "", "张三", "2303", "2024-02-01", "", "补认定（重发）"]])
    assert again.result["counts"] == {"unchanged": 1}
    assert OutboxEvent.objects.filter(topic="identity.changed").count() == 1


def test_an_end_on_the_platform_ends_the_open_period_and_recomputes_from_the_end(county, medical):
    p = person(county, 1, "张三")
    Identity.objects.create(person=p, code="dibao", start=dt.date(2024, 1, 1))
    batch = load(
        medical,
        [
            [
                "P001",
                make_id(1),
                "张三",
                "2303",
                "2024-01-01 00:00:00",
                "2024-06-30 23:59:59",
                "",
            ],
            ["P001", make_id(1), "张三", "2301", "2024-07-01 00:00:00", "", "转特困"],
        ],
    )
    assert errors(batch) == {}
    assert periods(p) == [
        ("dibao", dt.date(2024, 1, 1), dt.date(2024, 6, 30)),
        ("tekun", dt.date(2024, 7, 1), None),
    ]
    p.refresh_from_db()
    assert p.psn_no == "P001"  # a registered person takes the number of the pair
    assert batch.result["counts"] == {"ended": 1, "added": 1}
    event = OutboxEvent.objects.get(topic="identity.changed")
    assert event.payload["people"] == [[p.pk, "2024-06-30"]]


def test_bad_records_are_row_errors_and_the_good_rows_are_kept(county, medical):
    person(county, 5, "赵六", psn_no="P005")
    person(county, 6, "钱七", psn_no="P006")
    batch = load(
        medical,
        [
            ["P001", make_id(1), "张三", "9999", "2024-02-01", "", ""],  # unknown code
            ["P002", make_id(2), "李四", "2303", "2024-05-01", "2024-04-30", ""],  # end < begin
            ["P003", "", "王五", "2303", "2024-02-01", "", ""],  # psn_no nobody has
            ["P004", make_id(4), "孙八", "2303", "2024-02-01", "", ""],  # good
            ["P005", "", "赵六", "2303", "2024-02-01", "", ""],  # good: found by psn_no
            ["P006", make_id(7), "周九", "2303", "2024-02-01", "", ""],  # P006 is 钱七's
            ["", make_id(8), "吴十", "2303", "2024-02-01", "", ""],  # no psn_no
            ["P009", make_id(9), "郑一", "2303", "二〇二四年", "", ""],  # bad date
        ],
    )
    assert errors(batch) == {
        2: "code_unknown",
        3: "end_before_start",
        4: "psn_no_unknown",
        7: "psn_no_conflict",
        8: "psn_no_missing",
        9: "date_invalid",
    }
    messages = dict(
        RosterImportRow.objects.filter(batch=batch).values_list("line_no", "error_message")
    )
    assert "9999" in messages[2] and "终止日期早于起始日期" in messages[3]
    assert "无对应人员" in messages[4]
    assert batch.status == RosterImport.Status.APPLIED
    assert periods(Person.objects.get(id_number=make_id(4))) == [
        ("dibao", dt.date(2024, 2, 1), None)
    ]
    assert periods(Person.objects.get(psn_no="P005")) == [("dibao", dt.date(2024, 2, 1), None)]
    assert not Person.objects.filter(id_number__in=[make_id(1), make_id(2), make_id(7)]).exists()


def test_a_file_without_the_platform_header_is_refused_whole(county, medical):
    batch, _ = services.roster_import_receive(
        department=medical,
        kind="platform",
        upload=csv_upload([["P1", "张三", "2303"]], headers=["编号", "姓名", "类别"]),
        file_name="x.csv",
        stated_date=STATED,
        channel="admin",
    )
    with pytest.raises(FileRefused) as refused:
        services.roster_import_validate(batch=batch)
    assert refused.value.code == "no_header"
    batch.refresh_from_db()
    assert batch.status == RosterImport.Status.REJECTED and "psn_no" in batch.error

    missing = ["psn_no", "certno", "psn_name", "begntime"]
    batch, _ = services.roster_import_receive(
        department=medical,
        kind="platform",
        upload=csv_upload([["P1", "", "张三", "2024-01-01"]], headers=missing, name="y.csv"),
        file_name="y.csv",
        stated_date=STATED,
        channel="admin",
    )
    with pytest.raises(FileRefused) as refused:
        services.roster_import_validate(batch=batch)
    assert refused.value.code == "missing_columns" and "psn_idet_type" in refused.value.message


def test_only_the_medical_security_department_sends_platform_records(county, medical, civil):
    with pytest.raises(Refusal) as refused:
        services.roster_import_receive(
            department=civil,
            kind="platform",
            upload=csv_upload([["P1", "", "张三", "2303", "2024-01-01", "", ""]], headers=HEADERS),
            file_name="x.csv",
            stated_date=STATED,
            channel="admin",
        )
    assert refused.value.field == "department"


def test_settlement_pairs_record_psn_no_once_and_never_overwrite(county):
    a, b, c = (
        person(county, 1, "张三"),
        person(county, 2, "李四", psn_no="P2"),
        person(county, 3, "王五"),
    )
    d = person(county, 4, "孙八")
    recorded = services.people_psn_no_record(
        pairs=[(a.pk, "P1"), (b.pk, "P9"), (c.pk, "P2"), (d.pk, "P4"), (d.pk, "P5")]
    )
    assert recorded == 1
    assert dict(Person.objects.values_list("pk", "psn_no")) == {
        a.pk: "P1",  # recorded
        b.pk: "P2",  # already had one
        c.pk: None,  # P2 is 李四's
        d.pk: None,  # two numbers for one person: neither
    }


def test_the_fixture_generator_writes_files_the_import_reads(county, medical, tmp_path):
    holders = [
        Holder(make_id(n), f"测试{chr(0x4E00 + n)}", psn_no_for(make_id(n))) for n in range(1, 41)
    ]
    for holder in holders[:20]:  # half of them registered with their number already
        Person.objects.create(
            id_number=holder.id_number,
            name=holder.name,
            sex="M",
            birth_date=dt.date(1980, 1, 1),
            county=county,
            psn_no=holder.psn_no,
        )
    records = list(identity_records(holders, seed=3))
    records = [r for r in records if r["certno"] or r["psn_no"] <= holders[19].psn_no]
    target = tmp_path / "idet.csv"
    count = write_csv(records, target)
    with open(target, "rb") as handle:
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = SimpleUploadedFile("idet.csv", handle.read())
    batch, _ = services.roster_import_receive(
        department=medical,
        kind="platform",
        upload=upload,
        file_name="idet.csv",
        stated_date=STATED,
        channel="admin",
    )
    services.roster_import_validate(batch=batch)
    services.roster_import_apply(batch=batch)
    batch.refresh_from_db()
    assert batch.rows_total == count
    assert batch.rows_error == 0, errors(batch)


def test_the_management_command_imports_and_applies(county, medical, tmp_path):
    from django.core.management import call_command

    target = tmp_path / "idet.csv"
    target.write_text(
        ",".join(HEADERS)
        + f"\nP001,{make_id(1)},张三,2303,2024-02-01,,\nP002,,李四,2303,2024-02-01,,\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    call_command(
        "import_identities", str(target), county=county.code, stated=STATED, apply=True, stdout=out
    )
    assert "已入库" in out.getvalue() and "错误 1" in out.getvalue()
    assert Person.objects.get(psn_no="P001").identities.get().code == "dibao"
    out = io.StringIO()
    call_command("import_identities", str(target), county=county.code, stdout=out)
    assert "未重复导入" in out.getvalue()


# --- the same records as JSON ------------------------------------------------------------------


def json_load(department, document, *, apply=True, name="idet.json") -> RosterImport:
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    batch, _ = services.roster_import_receive(
        department=department,
        kind="platform",
        upload=SimpleUploadedFile(name, data),
        file_name=name,
        stated_date=STATED,
        channel="api",
    )
    services.roster_import_validate(batch=batch)
    if apply:
        services.roster_import_apply(batch=batch)
    batch.refresh_from_db()
    return batch


@pytest.mark.parametrize("envelope", ["array", "data", "output"])
def test_json_records_get_the_same_checks_and_row_errors(county, medical, envelope):
    person(county, 5, "赵六", psn_no="P005")
    records = [
        {"psn_no": "P001", "certno": make_id(1), "psn_name": "张三", "psn_idet_type": "9999",
         "begntime": "2024-02-01"},  # unknown code
        {"psn_no": "P004", "certno": make_id(4), "psn_name": "孙八", "psn_idet_type": 2303,
         "begntime": "2024-02-01 00:00:00", "endtime": None},  # good (a number for the code)
        {"psn_no": "P005", "psn_name": "赵六", "psn_idet_type": "2303",
         "begntime": "2024-02-01"},  # good: found by psn_no, no certno key at all
        {"psn_no": "P002", "certno": make_id(2), "psn_name": "李四", "psn_idet_type": "2303",
         "begntime": "2024-05-01", "endtime": "2024-04-30"},  # end < begin
        {"certno": make_id(8), "psn_name": "吴十", "psn_idet_type": "2303",
         "begntime": "2024-02-01"},  # no psn_no
        {"psn_no": "P009", "certno": make_id(9), "psn_name": "郑一", "psn_idet_type": "2303",
         "begntime": {"date": "2024-02-01"}},  # not a date
        {"人员编号": "P010", "证件号码": make_id(10), "人员姓名": "冯二", "人员身份类别": "2301",
         "开始时间": "2024-03-01"},  # good: the Chinese names, as the platform's export prints
    ]  # fmt: skip
    document = {
        "array": records,
        "data": {"data": records},
        "output": {"infcode": 0, "output": {"data": records}},
    }[envelope]
    batch = json_load(medical, document)
    assert batch.file_format == "json" and batch.rows_total == 7
    # A record's line is its place in the array.
    assert errors(batch) == {1: "code_unknown", 4: "end_before_start", 5: "psn_no_missing",
                             6: "date_invalid"}  # fmt: skip
    assert batch.status == RosterImport.Status.APPLIED
    assert periods(Person.objects.get(id_number=make_id(4))) == [
        ("dibao", dt.date(2024, 2, 1), None)
    ]
    assert Person.objects.get(id_number=make_id(4)).psn_no == "P004"
    assert periods(Person.objects.get(psn_no="P005")) == [("dibao", dt.date(2024, 2, 1), None)]
    assert periods(Person.objects.get(psn_no="P010")) == [("tekun", dt.date(2024, 3, 1), None)]


@pytest.mark.parametrize(
    ("content", "code", "words"),
    [
        (b'[{"psn_no": "P1", "psn_name": "\xe5\xbc\xa0\xe4\xb8\x89",\n "x": }]', "json_broken",
         "第2行"),
        (b'{"infcode": 0, "msg": "ok"}', "json_shape", "记录数组"),
        (b'[["P1", "2303"]]', "json_shape", "第1条记录不是对象"),
        (b'[{"certno": "1", "psn_name": "x", "psn_idet_type": "2303"}]', "no_header", "psn_no"),
        (b'[{"psn_no": "P1", "psn_name": "x", "begntime": "2024-01-01"}]', "missing_columns",
         "psn_idet_type"),
    ],
)  # fmt: skip
def test_a_json_file_that_cannot_be_read_is_refused_whole(county, medical, content, code, words):
    with pytest.raises(FileRefused) as refused:
        json_load(medical, content, apply=False)
    assert refused.value.code == code and words in refused.value.message
    batch = RosterImport.objects.get()
    assert batch.status == RosterImport.Status.REJECTED and words in batch.error


def test_json_is_taken_only_for_platform_records_and_only_when_it_is_json(county, medical, civil):
    with pytest.raises(FileRefused) as refused:
        services.roster_import_receive(
            department=civil,
            kind="roster",
            upload=io.BytesIO(b'[{"psn_no": "P1"}]'),
            file_name="list.json",
            stated_date=STATED,
            channel="admin",
        )
    assert refused.value.code == "unknown_format" and "JSON" in refused.value.message
    with pytest.raises(FileRefused) as refused:
        services.roster_import_receive(
            department=medical,
            kind="platform",
            upload=io.BytesIO("psn_no,psn_name\nP1,张三\n".encode()),
            file_name="idet.json",
            stated_date=STATED,
            channel="admin",
        )
    assert refused.value.code == "not_json"
