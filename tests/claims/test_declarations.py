import csv
import datetime as dt
from decimal import Decimal

import pytest

from claims import imports, services
from claims.models import Claim, Decision, Declaration, LineError, ReviewReason
from tests.claims.conftest import committed, line, make_person

D = Decimal


def declare(hospital, rows, year=2024, month=3):
    with committed():
        declaration = imports.declaration_from_rows(
            rows=rows, year=year, month=month, hospital=hospital
        )
    declaration.refresh_from_db()
    return declaration


@pytest.fixture
def eager_commit():
    return None


@pytest.mark.django_db
def test_agreeing_claim_is_accepted_and_disagreeing_goes_to_review(
    hospital, tekun, dibao, eager_commit
):
    declaration = declare(
        hospital,
        [
            # 特困: 100 % of the 4 000 self-pay.
            line(tekun, "A1", declared_assistance="4000.00"),
            # 低保: 70 % of 4 000 = 2 800, the hospital says 3 000.
            line(dibao, "A2", declared_assistance="3000.00"),
        ],
    )
    assert declaration.status == Declaration.Status.DONE
    a1 = Claim.objects.get(external_ref="A1")
    a2 = Claim.objects.get(external_ref="A2")
    assert a1.status == Claim.Status.ACCEPTED
    assert a1.decisions.get(is_current=True).total == D("4000.00")
    assert a2.status == Claim.Status.REVIEW
    assert a2.review_reason == ReviewReason.AMOUNT_MISMATCH
    decision = a2.decisions.get(is_current=True)
    assert decision.total == D("2800.00")
    assert a2.declared_assistance == D("3000.00")
    assert decision.trace and all(isinstance(t, str) for t in decision.trace)
    assert decision.policy_code == "pingshun" and decision.parameters_hash
    assert declaration.claims_accepted == 1 and declaration.claims_review == 1
    assert declaration.declared_total == D("7000.00")
    assert declaration.computed_total == D("6800.00")


@pytest.mark.django_db
def test_bad_lines_are_refused_each_with_its_reason(hospital, tekun, county, eager_commit):
    other = make_person(county, "tekun")
    rows = [
        line(tekun, "OK1"),
        line(
            tekun, "NEG", basic_insurance_paid="-1", admitted="2024-01-01", discharged="2024-01-02"
        ),
        line(
            tekun,
            "PAID",
            basic_insurance_paid="11000.00",
            admitted="2024-01-03",
            discharged="2024-01-04",
        ),
        line(tekun, "COST", total_cost="5000.00", admitted="2024-01-05", discharged="2024-01-06"),
        line(tekun, "BACK", admitted="2024-02-10", discharged="2024-02-01"),
        line(tekun, "HOSP", hospital_code="NOPE", admitted="2024-01-07", discharged="2024-01-08"),
        {**line(tekun, "WHO"), "id_number": "999999999999999999"},
        line(tekun, "OLD", admitted="2022-05-01", discharged="2022-05-03"),
        line(tekun, "LATE", admitted="2024-04-01", discharged="2024-04-03"),
        line(other, "OK1", admitted="2024-02-11", discharged="2024-02-12"),
        line(tekun, "DATE", discharged="2024-13-45"),
        line(tekun, "AMT", in_policy_cost="abc"),
        {**line(tekun, "MISS"), "kind": ""},
    ]
    declaration = declare(hospital, rows)
    refused = dict(
        declaration.lines.exclude(error="").exclude(line_no=10).values_list("external_ref", "error")
    )
    assert refused == {
        "NEG": LineError.NEGATIVE_AMOUNT,
        "PAID": LineError.PAID_EXCEEDS_COST,
        "COST": LineError.COST_MISMATCH,
        "BACK": LineError.DISCHARGE_BEFORE_ADMISSION,
        "HOSP": LineError.UNKNOWN_HOSPITAL,
        "WHO": LineError.UNKNOWN_PERSON,
        "OLD": LineError.NO_POLICY,
        "LATE": LineError.FUTURE_DATE,
        "DATE": LineError.BAD_DATE,
        "AMT": LineError.BAD_AMOUNT,
        "MISS": LineError.MISSING_FIELD,
    }
    # The second OK1 is the same hospital's settlement number again: refused, not counted twice.
    dup = declaration.lines.get(line_no=10)
    assert dup.error == LineError.DUPLICATE_IN_FILE
    assert Claim.objects.count() == 1
    assert declaration.lines_total == 13 and declaration.lines_refused == 12
    assert declaration.error_file.name.endswith(".xlsx")
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_path(declaration.error_file.path).get_sheet_by_index(0)
    text = str(sheet.to_python())
    assert "身份证号不在救助对象名册中" in text and "出院日期早于入院日期" in text


@pytest.mark.django_db
def test_same_file_twice_is_refused_and_nothing_counted_twice(hospital, tekun, eager_commit):
    rows = [line(tekun, "A1")]
    declare(hospital, rows)
    with pytest.raises(services.DuplicateDeclaration) as err:
        declare(hospital, rows)
    assert "不重复导入" in err.value.message
    assert Declaration.objects.count() == 1
    assert Claim.objects.count() == 1 and Decision.objects.count() == 1


@pytest.mark.django_db
def test_already_declared_ref_in_a_new_file_is_refused(hospital, tekun, eager_commit):
    declare(hospital, [line(tekun, "A1")])
    second = declare(
        hospital,
        [
            line(tekun, "A1", declared_assistance="4000.0"),
            line(tekun, "A3", admitted="2024-03-20", discharged="2024-03-21"),
        ],
    )
    assert second.lines.get(external_ref="A1").error == LineError.ALREADY_DECLARED
    assert Claim.objects.filter(external_ref="A1").count() == 1


@pytest.mark.django_db
def test_stay_declared_by_two_hospitals_is_queued_and_not_counted(
    hospital, hospital_b, dibao, eager_commit
):
    declare(hospital, [line(dibao, "A1", declared_assistance="2800.00")])
    second = declare(
        hospital_b,
        [
            line(
                dibao,
                "B1",
                hospital_code="H002",
                admitted="2024-03-05",
                discharged="2024-03-15",
                declared_assistance="2800.00",
            )
        ],
    )
    b1 = Claim.objects.get(external_ref="B1")
    assert b1.status == Claim.Status.REVIEW
    assert b1.review_reason == ReviewReason.OVERLAP_OTHER_HOSPITAL
    assert not b1.decisions.exists()  # kept out of the person's year until reviewed
    assert second.claims_review == 1
    a1 = Claim.objects.get(external_ref="A1")
    assert a1.status == Claim.Status.ACCEPTED


@pytest.mark.django_db
def test_reviewer_refusing_a_claim_recomputes_the_year(hospital, dibao, clerk, eager_commit):
    declare(hospital, [line(dibao, "A1", declared_assistance="9999.00")])
    claim = Claim.objects.get(external_ref="A1")
    assert claim.status == Claim.Status.REVIEW
    services.claim_review_resolve(claim=claim, by=clerk, accept=True, note="按系统计算金额受理")
    claim.refresh_from_db()
    assert claim.status == Claim.Status.ACCEPTED
    assert claim.decisions.get(is_current=True).total == D("2800.00")


def _write_csv(path, rows):
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(imports.TEMPLATE_HEADERS)
        for row in rows:
            writer.writerow([row.get(field, "") for field in imports.FIELDS])


@pytest.mark.django_db
def test_csv_and_xlsx_files(hospital, tekun, tmp_path, eager_commit):
    rows = [
        line(tekun, "C1"),
        {**line(tekun, "C2"), "kind": "住院", "admitted": "2024/03/11", "discharged": "2024/03/12"},
    ]
    path = tmp_path / "march.csv"
    _write_csv(path, rows)
    with committed():
        declaration = imports.declaration_upload(
            path=path, file_name="march.csv", year=2024, month=3
        )
    declaration.refresh_from_db()
    assert declaration.hospital == hospital
    assert declaration.lines_refused == 0
    assert set(Claim.objects.values_list("external_ref", flat=True)) == {"C1", "C2"}

    import xlsxwriter

    xpath = tmp_path / "march2.xlsx"
    wb = xlsxwriter.Workbook(str(xpath))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, imports.TEMPLATE_HEADERS)
    row = line(tekun, "X1", admitted="2024-03-20", discharged="2024-03-22")
    values = [row.get(f, "") for f in imports.FIELDS]
    values[imports.FIELDS.index("in_policy_cost")] = 10000.0
    ws.write_row(1, 0, values)
    ws.write_datetime(1, imports.FIELDS.index("discharged"), dt.datetime(2024, 3, 22))
    wb.close()
    with committed():
        declaration = imports.declaration_upload(
            path=xpath, file_name="march2.xlsx", year=2024, month=3, hospital=hospital
        )
    declaration.refresh_from_db()
    assert declaration.lines_refused == 0, list(declaration.lines.values("error", "error_detail"))
    x1 = Claim.objects.get(external_ref="X1")
    assert x1.in_policy_cost == D("10000.00") and x1.discharged == dt.date(2024, 3, 22)


@pytest.mark.django_db
def test_bad_header_is_refused_with_a_reason(tmp_path, hospital):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(imports.DeclarationFileError) as err:
        imports.declaration_upload(path=path, file_name="x.csv", year=2024, month=3)
    assert "表头" in err.value.message


@pytest.mark.django_db
def test_small_declarations_waiting_together_are_decided_in_one_run(hospital, tekun, dibao):
    # Received, not yet processed (the on-commit sends do not run inside the test's
    # transaction): the first one's task takes the other, waiting beside it, into its batch.
    first = imports.declaration_from_rows(
        rows=[line(tekun, "B1")], year=2024, month=3, hospital=hospital
    )
    second = imports.declaration_from_rows(
        rows=[line(dibao, "B2", admitted="2024-03-02", discharged="2024-03-05")],
        year=2024,
        month=3,
        hospital=hospital,
    )
    refused = imports.declaration_from_rows(
        rows=[{**line(tekun, "B3"), "id_number": "999999999999999999"}],
        year=2024,
        month=3,
        hospital=hospital,
    )
    assert Declaration.objects.filter(status=Declaration.Status.RECEIVED).count() == 3

    services.declaration_process(declaration_id=first.pk)

    for declaration in (first, second, refused):
        declaration.refresh_from_db()
        assert declaration.status == Declaration.Status.DONE
    (run,) = first.runs.all()
    assert set(run.declarations.values_list("pk", flat=True)) == {first.pk, second.pk}
    assert run.people == 2 and "同批 2 份申报" in run.reason
    assert Claim.objects.get(external_ref="B1").decisions.get(is_current=True).total == D("4000.00")
    assert second.claims_accepted == 0 and second.claims_review == 1  # 70 % of 4 000 ≠ 4 000
    assert refused.lines_refused == 1 and not refused.runs.exists()
    # The second's own task, arriving later, finds nothing left to do.
    assert services.declaration_prepare(declaration_id=second.pk) == []


def _three_declarations(hospital, hospital_b, tekun, dibao):
    """Rows whose fate depends on what an earlier declaration did: a reference declared again,
    a reference whose first line was refused, a stay overlapping one at another hospital, and a
    line of another hospital in a hospital's own declaration."""
    stranger = {**line(tekun, "R1"), "id_number": "999999999999999999"}
    return [
        (
            hospital,
            [
                line(dibao, "A1", declared_assistance="2800.00"),
                line(tekun, "A2", admitted="2024-03-11", discharged="2024-03-12"),
                stranger,
            ],
        ),
        (
            hospital_b,
            [
                line(
                    dibao,
                    "B1",
                    hospital_code="H002",
                    admitted="2024-03-05",
                    discharged="2024-03-15",
                ),
                line(
                    tekun,
                    "A2",
                    hospital_code="H002",
                    admitted="2024-03-20",
                    discharged="2024-03-22",
                ),
                line(tekun, "B3", admitted="2024-03-23", discharged="2024-03-24"),
            ],
        ),
        (
            hospital,
            [line(dibao, "A1"), line(tekun, "R1", admitted="2024-03-25", discharged="2024-03-26")],
        ),
    ]


def _outcome(declarations):
    from claims.models import DeclarationLine

    claims = sorted(
        Claim.objects.values_list("hospital__code", "external_ref", "status", "review_reason")
    )
    errors = [
        list(d.lines.order_by("line_no").values_list("error", flat=True)) for d in declarations
    ]
    assert DeclarationLine.objects.count() == 8
    return claims, errors


@pytest.mark.django_db
@pytest.mark.parametrize("together", [False, True], ids=["one_by_one", "in_one_batch"])
def test_a_batch_decides_as_if_its_declarations_came_one_by_one(
    hospital, hospital_b, tekun, dibao, together
):
    received = []
    for who, rows in _three_declarations(hospital, hospital_b, tekun, dibao):
        received.append(imports.declaration_from_rows(rows=rows, year=2024, month=3, hospital=who))
        if not together:
            services.declaration_process(declaration_id=received[-1].pk)
    if together:
        services.declaration_process(declaration_id=received[0].pk)
        assert received[0].runs.get().declarations.count() == 3
    for declaration in received:
        declaration.refresh_from_db()
        assert declaration.status == Declaration.Status.DONE

    claims, errors = _outcome(received)
    assert errors == [
        ["", "", LineError.UNKNOWN_PERSON],
        ["", "", LineError.HOSPITAL_MISMATCH],
        [LineError.ALREADY_DECLARED, ""],
    ]
    assert claims == [
        ("H001", "A1", Claim.Status.ACCEPTED, ""),
        ("H001", "A2", Claim.Status.ACCEPTED, ""),
        ("H001", "R1", Claim.Status.ACCEPTED, ""),
        ("H002", "A2", Claim.Status.ACCEPTED, ""),
        ("H002", "B1", Claim.Status.REVIEW, ReviewReason.OVERLAP_OTHER_HOSPITAL),
    ]
    assert [d.lines_refused for d in received] == [1, 1, 1]
    assert received[2].claims_accepted == 1
