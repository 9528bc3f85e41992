"""A clerk takes a department's change list through the admin in a real browser: upload, the
preview with its counts, apply, and the error file to send back (原列 + 错误原因)."""

import datetime as dt

import pytest
from python_calamine import CalamineWorkbook

from tests.beneficiaries.conftest import HEADERS, make_id
from tests.browser.conftest import ARTIFACTS, log_in, submit
from tests.medaid.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def registry_world():
    from beneficiaries.models import County, Department, DepartmentKind, PoolingArea

    area = PoolingArea.objects.create(code="530500", name="保山市", policy_code="baoshan")
    county = County.objects.create(pooling_area=area, code="530502", name="隆阳区")
    civil = Department.objects.create(
        county=county, kind=DepartmentKind.CIVIL_AFFAIRS, name="隆阳区民政局"
    )
    make_user("clerk", "counter_clerk", county=county, last_name="王")
    return {"county": county, "department": civil}


def test_upload_preview_apply_and_download_the_error_rows(page, live_server, registry_world):
    from beneficiaries.models import Identity, RosterImport

    start = dt.date.today().replace(day=1).isoformat()
    rows = [
        ["新增", make_id(1), "杨一", "特困人员", "", start, ""],
        ["新增", make_id(2), "杨二", "低保对象", "", start, ""],
        ["新增", "53050219800101123", "号码短", "低保对象", "", start, ""],  # 17 digits
        ["新增", make_id(4), "无此身份", "不存在的身份", "", start, ""],
    ]
    upload = ARTIFACTS / "roster-with-errors.csv"
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_text("\n".join(",".join(r) for r in [HEADERS, *rows]) + "\n", encoding="utf-8")

    log_in(page, live_server, "clerk")
    page.goto(f"{live_server.url}/admin/beneficiaries/rosterimport/upload/")
    page.select_option("#id_department", str(registry_world["department"].pk))
    page.select_option("#id_kind", RosterImport.Kind.FEED)
    page.set_input_files("#id_file", str(upload))
    page.fill("#id_stated_date", dt.date.today().isoformat())
    page.shots.take("upload-filled")
    submit(page, "input[type=submit]")
    page.wait_for_url("**/preview/")
    page.shots.take("preview")
    body = page.locator("#content").inner_text()
    assert "错误行 2" in body, body
    batch = RosterImport.objects.get()
    assert (batch.rows_total, batch.rows_error) == (4, 2)
    assert not Identity.objects.exists()  # a preview writes nothing to the registry

    # The error rows, as delivered plus the reason, to send back to the department.
    with page.expect_download() as download_info:
        page.click("text=下载错误行")
    saved = ARTIFACTS / "roster-errors.xlsx"
    download_info.value.save_as(saved)
    sheet = CalamineWorkbook.from_path(str(saved)).get_sheet_by_index(0).to_python()
    assert sheet[0][: len(HEADERS)] == HEADERS and sheet[0][-1] == "错误原因"
    assert len(sheet) == 3
    assert {r[2] for r in sheet[1:]} == {"号码短", "无此身份"}
    assert all(r[-1] for r in sheet[1:])  # every refused row says why

    # The counts come first; applying needs them confirmed.
    assert "入库将：新增身份 2 个，变更身份 0 个，终止身份 0 个" in body, body
    page.check("input[name=confirm]")
    submit(page, "input[type=submit]")  # 确认入库
    page.shots.take("applied")
    assert "已入库" in page.locator("ul.messagelist").inner_text()
    batch.refresh_from_db()
    assert batch.status == RosterImport.Status.APPLIED
    assert set(Identity.objects.values_list("person__name", flat=True)) == {"杨一", "杨二"}


def test_the_report_centre_writes_the_roster_the_clerk_may_see(page, live_server, registry_world):
    from beneficiaries.models import Identity, Person

    county = registry_world["county"]
    person = Person.objects.create(
        id_number=make_id(9), name="杨九", sex="F", birth_date="1980-01-01", county=county
    )
    Identity.objects.create(person=person, code="tekun", start=dt.date(2024, 1, 1))

    log_in(page, live_server, "clerk")
    page.goto(f"{live_server.url}/admin/reports/")
    page.select_option("#id_report", label="救助对象名册")
    page.shots.take("report-centre")
    submit(page, "input[type=submit]")
    page.wait_for_selector("a.job-download")
    page.shots.take("report-job")
    with page.expect_download() as download_info:
        page.click("a.job-download")
    download = download_info.value
    assert download.suggested_filename.startswith("救助对象名册_隆阳区_")
    saved = ARTIFACTS / "person-roster.xlsx"
    download.save_as(saved)
    rows = CalamineWorkbook.from_path(str(saved)).get_sheet_by_name("名册").to_python()
    assert [r[0] for r in rows if r and r[0] == "杨九"] == ["杨九"]
    assert rows[[r[0] for r in rows].index("杨九")][7] == "特困人员"
