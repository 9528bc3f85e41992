"""Logging in, the per-role front page, and county scoping seen from a browser."""

import pytest

from beneficiaries.models import Person
from tests.browser.conftest import log_in, submit
from tests.medaid.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_counties(db):
    from beneficiaries.models import County, PoolingArea

    area = PoolingArea.objects.create(code="530500", name="保山市", policy_code="baoshan")
    a = County.objects.create(pooling_area=area, code="530502", name="隆阳区")
    b = County.objects.create(pooling_area=area, code="530521", name="施甸县")
    return a, b


def test_a_clerk_logs_in_and_sees_the_counter_dashboard(page, live_server, two_counties):
    a, _ = two_counties
    make_user("clerk_a", "counter_clerk", county=a, first_name="小王")
    log_in(page, live_server, "clerk_a")
    page.shots.take("dashboard")
    assert page.locator("#medaid-home").is_visible()
    assert "隆阳区" in page.locator("#medaid-home").inner_text()
    assert "窗口经办" in page.locator("#medaid-home").inner_text()
    assert page.locator("#panel-jobs").is_visible()


def test_a_wrong_password_does_not_log_in(page, live_server, two_counties):
    a, _ = two_counties
    make_user("clerk_a", "counter_clerk", county=a)
    log_in(page, live_server, "clerk_a", "not-the-password")
    page.shots.take("refused")
    assert "/admin/login/" in page.url
    assert page.locator(".errornote").is_visible()


def test_a_clerk_cannot_open_another_countys_person_by_url(page, live_server, two_counties):
    a, b = two_counties
    make_user("clerk_a", "counter_clerk", county=a)
    own = Person.objects.create(
        id_number="530502199001011234", name="李隆阳", sex="M", birth_date="1990-01-01", county=a
    )
    other = Person.objects.create(
        id_number="530521199001011234", name="张施甸", sex="F", birth_date="1990-01-01", county=b
    )
    log_in(page, live_server, "clerk_a")
    page.goto(f"{live_server.url}/admin/beneficiaries/person/{own.pk}/change/")
    page.shots.take("own-county-person")
    assert "李隆阳" in page.content()
    page.goto(f"{live_server.url}/admin/beneficiaries/person/{other.pk}/change/")
    page.shots.take("other-county-person")
    assert "张施甸" not in page.content()
    assert "530521199001011234" not in page.content()
    # The admin answers "does not exist" and lands on its front page.
    assert page.url.rstrip("/").endswith("/admin")
    page.goto(f"{live_server.url}/admin/beneficiaries/person/?q=张施甸")
    page.shots.take("search-other-county")
    # The search box echoes the query; the result list must not hold the person.
    assert "0 条结果" in page.locator("#changelist").inner_text()
    assert "530521" not in page.locator("#changelist").inner_text()


def test_the_benefit_calculator_answers_with_the_trace(page, live_server, two_counties):
    a, _ = two_counties
    make_user("clerk_a", "counter_clerk", county=a)
    log_in(page, live_server, "clerk_a")
    submit(page, "#link-calculator")
    page.select_option("#id_policy", "pingshun")
    page.fill("#id_per_capita_disposable_income", "29178")
    page.fill("#id_birth_date", "1958-04-02")
    page.select_option("#id_identity", "dibao_edge")
    page.fill("#id_identity_start", "2023-01-01")
    page.select_option("#id_kind", "inpatient")
    page.fill("#id_admitted", "2023-03-01")
    page.fill("#id_discharged", "2023-03-12")
    page.select_option("#id_hospital_level", "2")
    page.select_option("#id_settlement", "application")
    page.fill("#id_applied", "2023-04-01")
    page.fill("#id_in_policy_cost", "40000.00")
    page.shots.take("calculator-filled")
    submit(page, "input[name=calculate]")
    page.wait_for_selector("#calc-result")
    page.shots.take("calculator-result")
    assert page.locator("#calc-total").inner_text().strip() == "24462.50"
    assert page.locator("ol.decision-trace li").count() >= 3
