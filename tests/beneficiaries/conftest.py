import io
from datetime import date

import pytest
import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile

from beneficiaries import id_numbers
from beneficiaries.models import County, Department, DepartmentKind, PoolingArea, Township


@pytest.fixture
def area(db):
    return PoolingArea.objects.create(code="530500", name="保山市", policy_code="baoshan")


@pytest.fixture
def county(area):
    return County.objects.create(pooling_area=area, code="530502", name="隆阳区")


@pytest.fixture
def other_county(area):
    return County.objects.create(pooling_area=area, code="530521", name="施甸县")


@pytest.fixture
def township(county):
    return Township.objects.create(county=county, code="530502001", name="永昌街道")


@pytest.fixture
def civil(county):
    return Department.objects.create(
        county=county, kind=DepartmentKind.CIVIL_AFFAIRS, name="隆阳区民政局"
    )


@pytest.fixture
def rural(county):
    return Department.objects.create(
        county=county, kind=DepartmentKind.RURAL_REVITALIZATION, name="隆阳区乡村振兴局"
    )


def make_id(n: int, birth: date = date(1980, 1, 1)) -> str:
    return id_numbers.make("530502", birth, n)


HEADERS = ["变动类型", "公民身份号码", "姓名", "身份类别", "原身份类别", "起始日期", "终止日期"]


def csv_upload(rows, headers=HEADERS, name="list.csv", encoding="utf-8") -> SimpleUploadedFile:
    text = "\n".join(",".join("" if c is None else str(c) for c in r) for r in [headers, *rows])
    return SimpleUploadedFile(name, (text + "\n").encode(encoding))


def xlsx_upload(rows, headers=HEADERS, name="list.xlsx", formulas=()) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet()
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, headers)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, date):
                sheet.write_datetime(r, c, value, date_format)
            elif isinstance(value, int | float):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, value)
    for r, c, formula, value in formulas:
        sheet.write_formula(r, c, formula, None, value)
    workbook.close()
    return SimpleUploadedFile(name, buffer.getvalue())
