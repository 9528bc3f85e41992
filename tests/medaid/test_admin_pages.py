from decimal import Decimal

import pytest
from django.urls import reverse
from python_calamine import CalamineWorkbook

from medaid.core.models import Job
from medaid.core.reports import REPORTS, ReportBuild, register_report
from medaid.core.scoping import scope_to_user
from medaid.core.xlsx import Column, Report, report_filename
from tests.medaid.conftest import PASSWORD


@pytest.fixture
def jobs_report():
    """A report over medaid's own Job rows: enough to drive the whole report-job path."""

    @register_report("test_jobs", "任务清单", needs=("county",))
    def build(*, user, county, parameters):
        jobs = scope_to_user(Job.objects.filter(kind="sample"), user).order_by("pk")
        if county is not None:
            jobs = jobs.filter(county=county)
        rows = ((j.kind, Decimal(j.progress_done) / 100, j.progress_done) for j in jobs)
        return ReportBuild(
            filename=report_filename("任务清单", county=county and county.name),
            reports=[
                Report(
                    title="任务清单",
                    columns=[
                        Column("类型"),
                        Column("金额", kind="money"),
                        Column("数", kind="int"),
                    ],
                    rows=rows,
                    row_count=jobs.count(),
                    sheet_name="清单",
                )
            ],
        )

    yield
    REPORTS.pop("test_jobs")


def login(client, user):
    client.force_login(user)


@pytest.mark.django_db
def test_each_role_gets_its_dashboard(client, clerk_a, auditor):
    login(client, clerk_a)
    page = client.get(reverse("admin:index")).content.decode()
    assert "隆阳区" in page and "窗口经办" in page
    assert "救助金额测算" in page and "报表中心" in page
    assert 'id="panel-jobs"' in page
    client.logout()
    login(client, auditor)
    page = client.get(reverse("admin:index")).content.decode()
    assert "全市" in page and "只读审计" in page


@pytest.mark.django_db
def test_report_center_runs_a_scoped_report_job_and_offers_the_file(
    client, jobs_report, clerk_a, county_a, county_b, django_capture_on_commit_callbacks
):
    for n in (150, 275):
        Job.objects.create(kind="sample", county=county_a, progress_done=n)
    Job.objects.create(kind="sample", county=county_b, progress_done=999)
    login(client, clerk_a)
    page = client.get(reverse("admin:report_center")).content.decode()
    assert "任务清单" in page and "施甸县" not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:report_center"), {"report": "test_jobs", "county": county_a.pk}
        )
    assert response.status_code == 302
    job = Job.objects.get(kind="report.test_jobs")
    assert job.status == Job.Status.SUCCEEDED
    assert job.progress_done == 2 and job.progress_total == 2
    assert job.result["totals"]["清单"]["金额"] == "4.25"
    assert job.result["filename"] == "任务清单_隆阳区.xlsx"
    page = client.get(response["Location"]).content.decode()
    assert "下载 任务清单_隆阳区.xlsx" in page
    download = client.get(reverse("admin:medaid_job_download", args=[job.pk]))
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    body = b"".join(download.streaming_content)
    import io

    book = CalamineWorkbook.from_filelike(io.BytesIO(body))
    rows = book.get_sheet_by_name("清单").to_python()
    totals = next(r for r in rows if r[0] == "合计")
    assert totals[1] == 4.25
    # Every report ends with the signature line.
    assert rows[-1][0] == "制表人："


@pytest.mark.django_db
def test_a_clerk_cannot_start_or_download_another_countys_report(
    client, jobs_report, clerk_a, clerk_b, county_b
):
    login(client, clerk_a)
    response = client.post(
        reverse("admin:report_center"), {"report": "test_jobs", "county": county_b.pk}
    )
    assert response.status_code == 200  # the form refuses a county not in its choices
    assert not Job.objects.filter(kind="report.test_jobs").exists()
    client.logout()
    login(client, clerk_b)
    client.post(reverse("admin:report_center"), {"report": "test_jobs", "county": county_b.pk})
    job = Job.objects.get(kind="report.test_jobs")
    client.logout()
    login(client, clerk_a)
    assert client.get(reverse("admin:medaid_job_download", args=[job.pk])).status_code == 404
    response = client.get(reverse("admin:medaid_job_change", args=[job.pk]))
    assert response.status_code == 302  # the admin's "does not exist" redirect


@pytest.mark.django_db
def test_job_list_shows_a_progress_bar(client, city_admin, county_a):
    Job.objects.create(kind="x", county=county_a, progress_done=25, progress_total=100)
    login(client, city_admin)
    page = client.get(reverse("admin:medaid_job_changelist")).content.decode()
    assert '<progress class="job-progress" value="25"' in page


@pytest.mark.django_db
def test_user_admin_is_scoped_and_issues_tokens(client, city_admin, clerk_a, department_account):
    login(client, city_admin)
    page = client.get(reverse("admin:medaid_user_changelist")).content.decode()
    assert "clerk_a" in page and "dept_a" in page
    response = client.post(
        reverse("admin:medaid_user_changelist"),
        {
            "action": "issue_api_token",
            "index": 0,
            "_selected_action": [department_account.pk, clerk_a.pk],
        },
        follow=True,
    )
    page = response.content.decode()
    assert "账户 dept_a 的新接口令牌" in page
    assert "账户 clerk_a 不是部门或医疗机构账户" in page
    from rest_framework.authtoken.models import Token

    assert Token.objects.filter(user=department_account).count() == 1
    assert not Token.objects.filter(user=clerk_a).exists()


@pytest.mark.django_db
def test_a_county_clerk_cannot_manage_users(client, clerk_a):
    login(client, clerk_a)
    assert client.get(reverse("admin:medaid_user_changelist")).status_code == 403


@pytest.mark.django_db
def test_weak_passwords_are_refused(db):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ("12345678", "password123", "medaid"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password(PASSWORD)
