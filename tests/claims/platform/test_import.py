"""The platform layout as a declaration format: the reader, the code mappings as dated data,
row errors with their column, good rows kept, the same file twice accepted once."""

import csv
import datetime as dt
from decimal import Decimal

import pytest

from claims.models import Claim, Declaration, LineError
from claims.platform import fixtures, reader, services
from claims.platform.models import CodeMapping, PlatformSettlement
from claims.services import DuplicateDeclaration
from tests.claims.conftest import committed
from tests.claims.platform.conftest import MONTH, YEAR, declare, records

D = Decimal


def _line(declaration, ref):
    return declaration.lines.get(external_ref=ref)


@pytest.mark.django_db
def test_good_records_become_claims_with_their_platform_facts(pingshun):
    rows = records(pingshun, n=20)
    declaration = declare(rows)
    assert declaration.status == Declaration.Status.DONE
    assert declaration.lines_total == 20 and declaration.lines_refused == 0
    claim = Claim.objects.get(external_ref=rows[0]["setl_id"])
    first = rows[0]
    assert claim.total_cost == D(first["medfee_sumamt"])
    assert claim.in_policy_cost == D(first["inscp_scp_amt"])
    assert claim.out_of_catalog_cost == D(first["fulamt_ownpay_amt"]) + D(
        first["overlmt_selfpay"]
    ) + D(first["preselfpay_amt"])
    assert claim.basic_insurance_paid == D(first["hifp_pay"])
    assert claim.declared_assistance == D(first["maf_pay"])
    assert claim.kind == fixtures.KIND_OF[first["med_type"]]
    settlement = claim.platform
    assert settlement.setl_id == first["setl_id"] and settlement.med_type == first["med_type"]
    assert settlement.maf_pay == D(first["maf_pay"]) and settlement.clr_type == first["clr_type"]
    # The generator computes maf_pay as medaid does: every record agrees to the cent.
    assert set(PlatformSettlement.objects.values_list("outcome", flat=True)) == {"match"}
    assert declaration.claims_accepted == 20


@pytest.mark.django_db
def test_bad_rows_are_row_errors_naming_their_column_and_good_rows_stay(pingshun):
    rows = records(pingshun, n=8)
    rows[0]["med_type"] = "77"  # no such code
    rows[1]["med_type"] = "41"  # a platform code outside medical assistance (药店购药)
    rows[2]["hosp_lv"] = "99"
    rows[3]["medfee_sumamt"] = str(D(rows[3]["medfee_sumamt"]) + D("0.02"))
    rows[4]["maf_pay"] = "abc"
    rows[5]["enddate"] = "2024-13-40"
    rows[6]["psn_name"] = "张\x00三"  # PostgreSQL cannot store a NUL: refused, not a 500
    declaration = declare(rows)
    errors = dict(declaration.lines.exclude(error="").values_list("external_ref", "error"))
    assert errors == {
        rows[0]["setl_id"]: LineError.UNKNOWN_CODE,
        rows[1]["setl_id"]: LineError.UNKNOWN_CODE,
        rows[2]["setl_id"]: LineError.UNKNOWN_CODE,
        rows[3]["setl_id"]: LineError.SUM_MISMATCH,
        rows[4]["setl_id"]: LineError.BAD_AMOUNT,
        rows[5]["setl_id"]: LineError.BAD_DATE,
        rows[6]["setl_id"]: LineError.BAD_TEXT,
    }
    assert "med_type（医疗类别）=77" in _line(declaration, rows[0]["setl_id"]).error_detail
    assert "不属于医疗救助范围" in _line(declaration, rows[1]["setl_id"]).error_detail
    assert "hosp_lv（医院等级）=99" in _line(declaration, rows[2]["setl_id"]).error_detail
    assert "medfee_sumamt（医疗费总额）" in _line(declaration, rows[3]["setl_id"]).error_detail
    assert (
        "maf_pay（医疗救助基金支出）应为金额：abc"
        in _line(declaration, rows[4]["setl_id"]).error_detail
    )
    assert declaration.lines_refused == 7
    assert Claim.objects.count() == 1
    assert declaration.error_file  # the Chinese error file


def test_a_cent_of_rounding_in_the_sum_is_not_an_error():
    mappings = reader.Mappings(
        [("med_type", "21", dt.date(2020, 1, 1), None, "inpatient", "普通住院")]
    )
    raw = {
        "setl_id": "X1",
        "certno": "1",
        "med_type": "21",
        "enddate": "2024-03-01",
        "medfee_sumamt": "100.01",
        "inscp_scp_amt": "100.00",
        "fund_pay_sumamt": "60.00",
        "psn_cash_pay": "40.00",
        "maf_pay": "0",
        "fixmedins_code": "H",
    }
    line, _ = reader.read_record(2, raw, mappings)
    assert line[-2] == ""
    line, _ = reader.read_record(2, {**raw, "medfee_sumamt": "100.02"}, mappings)
    assert line[-2] == LineError.SUM_MISMATCH


def test_a_mapping_holds_only_within_its_dates():
    mappings = reader.Mappings(
        [
            (
                "med_type",
                "14",
                dt.date(2020, 1, 1),
                dt.date(2023, 12, 31),
                "outpatient_chronic",
                "门诊慢特病",
            ),
            ("med_type", "14", dt.date(2024, 1, 1), None, "outpatient_special", "门诊慢特病"),
        ]
    )
    assert mappings.lookup("med_type", "14", dt.date(2023, 6, 1))[0] == "outpatient_chronic"
    assert mappings.lookup("med_type", "14", dt.date(2024, 6, 1))[0] == "outpatient_special"
    assert mappings.lookup("med_type", "14", dt.date(2019, 6, 1))[0] is None


@pytest.mark.django_db
def test_an_ended_mapping_refuses_later_records_and_a_new_row_admits_them(pingshun):
    CodeMapping.objects.filter(dictionary="med_type", code="21").update(
        valid_to=dt.date(2024, 2, 29)
    )
    rows = [r for r in records(pingshun, n=30) if r["med_type"] == "21"][:3]
    declaration = declare(rows)
    assert set(declaration.lines.values_list("error", flat=True)) == {LineError.UNKNOWN_CODE}
    CodeMapping.objects.create(
        dictionary="med_type",
        code="21",
        label="普通住院",
        value="inpatient",
        valid_from=dt.date(2024, 3, 1),
    )
    assert declare(rows, month=4).claims_accepted == 3


@pytest.mark.django_db
@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_csv_in_utf8_or_gbk_with_field_names_or_chinese_headers(pingshun, tmp_path, encoding):
    rows = records(pingshun, n=10)
    path = tmp_path / "settle.csv"
    fixtures.write_csv(path, rows, encoding=encoding, labels=encoding == "gbk")
    with committed():
        declaration = services.platform_upload(
            path=path, file_name="settle.csv", year=YEAR, month=MONTH
        )
    declaration.refresh_from_db()
    assert declaration.claims_accepted == 10
    # The same file again is refused whole: nothing is accepted twice.
    with pytest.raises(DuplicateDeclaration):
        services.platform_upload(path=path, file_name="settle.csv", year=YEAR, month=MONTH)
    assert Claim.objects.count() == 10


@pytest.mark.django_db
def test_xlsx(pingshun, tmp_path):
    rows = records(pingshun, n=6)
    path = tmp_path / "settle.xlsx"
    fixtures.write_xlsx(path, rows)
    with committed():
        declaration = services.platform_upload(
            path=path, file_name="settle.xlsx", year=YEAR, month=MONTH
        )
    declaration.refresh_from_db()
    assert declaration.claims_accepted == 6


@pytest.mark.django_db
def test_a_file_that_is_not_a_settlement_list_is_refused_whole(pingshun, tmp_path):
    path = tmp_path / "other.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["公民身份号码", "结算单号"], ["1", "2"]])
    with pytest.raises(reader.PlatformFileError) as exc:
        services.platform_upload(path=path, file_name="other.csv", year=YEAR, month=MONTH)
    assert exc.value.code == "bad_header" and "setl_id（结算ID）" in exc.value.message
    assert not Declaration.objects.exists()


@pytest.mark.django_db
def test_the_demo_imports_a_platform_list_for_each_pooling_area(pingshun):
    from claims.demo import demo_platform_import
    from tests.claims.platform.conftest import jurisdiction

    jurisdiction("baoshan")
    with committed():
        summary = demo_platform_import(seed=1, year=YEAR, month=MONTH, per_area=20)
    assert len(summary) == 2
    assert PlatformSettlement.objects.exclude(outcome="pending").count() >= 30


@pytest.mark.django_db
def test_a_platform_file_passes_the_checks_every_declaration_file_passes(
    pingshun, tmp_path, settings
):
    from medaid.core.errors import Refusal

    xls = tmp_path / "list.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    with pytest.raises(Refusal) as exc:
        services.platform_upload(path=xls, file_name="list.xls", year=YEAR, month=MONTH)
    assert exc.value.code == "xls_format" and "另存为 .xlsx" in exc.value.message

    settings.CLAIMS_MAX_ROWS = 3
    with pytest.raises(Refusal) as exc:
        declare(records(pingshun, n=4))
    assert exc.value.code == "too_many_rows"
    assert not Declaration.objects.exists()
