"""The policy office's admin pages: entering a change, the approval page with its confirmation
for the second person, and the parameter history page per pack and area (YAML values and the
approved changes overlaid, each with its citation)."""

import datetime as dt

import pytest
from django.urls import reverse

from beneficiaries.models import ParameterChange, PoolingArea
from tests.beneficiaries.test_parameter_changes import document, propose
from tests.medaid.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def pingshun(db):
    return PoolingArea.objects.create(code="140429", name="平顺县", policy_code="pingshun")


def _client(client, user):
    client.force_login(user)
    return client


def test_enter_submit_and_approve_through_the_admin(client, pingshun):
    officer = make_user("officer", "city_administrator")
    checker = make_user("checker", "city_administrator")
    c = _client(client, officer)
    url = reverse("admin:beneficiaries_parameterchange_propose")
    page = c.get(url, {"pooling_area": pingshun.pk, "start": "2025-02-01"})
    assert "全省上年居民人均可支配收入" in page.content.decode()
    data = {
        "pooling_area": pingshun.pk,
        "kind": "parameter",
        "parameter": "per_capita_disposable_income",
        "value": "32000",
        **{k: v for k, v in document().items() if k != "published_on"},
        "published_on": "2025-01-20",
    }
    bad = c.post(url, {**data, "value": "-3"})
    assert "取值不能为负数" in bad.content.decode()
    assert not ParameterChange.objects.exists()
    c.post(url, data)
    change = ParameterChange.objects.get()
    assert change.effective_date == dt.date(2025, 2, 1)
    decide = reverse("admin:beneficiaries_parameterchange_decide", args=[change.pk])
    c.post(decide, {"action": "submit"})
    change.refresh_from_db()
    assert change.state == "submitted"
    own = c.get(decide).content.decode()
    assert "不能审核" in own and 'value="approve"' not in own

    c.logout()
    c = _client(client, checker)
    body = c.get(decide).content.decode()
    assert 'value="approve"' in body and 'name="confirm"' in body
    assert "查看试算" in body or "试算功能尚未启用" in body
    c.post(decide, {"action": "approve"})  # the confirmation not ticked
    change.refresh_from_db()
    assert change.state == "submitted"
    c.post(decide, {"action": "approve", "confirm": "1", "note": "核对无误"})
    change.refresh_from_db()
    assert change.state == "approved" and change.approved_by == checker


def test_the_history_page_shows_the_yaml_values_and_the_approved_change(client, pingshun):
    officer = make_user("officer", "city_administrator")
    checker = make_user("checker", "city_administrator")
    from beneficiaries import services

    change = propose(pingshun, officer)
    services.parameter_change_submit(change=change, by=officer)
    services.parameter_change_approve(change=change, by=checker)
    draft = propose(
        pingshun,
        officer,
        parameter="ratio.dibao.inpatient",
        value="0.75",
        start=dt.date(2025, 3, 1),
    )
    area_page = _client(client, make_user("reader", "auditor")).get(
        reverse("admin:beneficiaries_poolingarea_change", args=[pingshun.pk])
    )
    url = reverse("admin:beneficiaries_poolingarea_parameters", args=[pingshun.pk])
    assert url in area_page.content.decode()
    body = client.get(url, {"changed": "1"}).content.decode()
    assert "原政策包" in body and "30924" in body  # the YAML's 2024 base
    assert change.key in body and "32000" in body and "晋统公告〔2025〕1号" in body
    assert "第四十七条" in body  # the rule the effective date followed
    assert f"{draft.key}" in body and "尚未批准" in body  # listed apart, not in the values
    full = client.get(url).content.decode()
    assert "ratio.dibao.inpatient" in full
