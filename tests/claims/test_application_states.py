"""What a person sees of a counter application: its state in words, who holds it, each
supervisor's queue (and the dashboard's counts linking to exactly those rows), and the buttons
of its page — each with a confirmation, a message saying what happened, and a 403 that changes
nothing for whoever lacks the permission."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from claims import selectors, services
from claims.models import Application
from tests.claims.conftest import DECIDE, make_user
from tests.claims.test_applications import receipt


@pytest.fixture
def application(dibao, clerk, hospital_b):
    return services.application_create(
        person=dibao, applied=dt.date(2024, 4, 2), created_by=clerk, claims=[receipt()]
    )


def _staff(user):
    """The fixtures' users as the admin sees them: staff who may view applications."""
    from django.contrib.auth.models import Permission

    user.is_staff = True
    user.save()
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="claims", codename="view_application")
    )
    return type(user).objects.get(pk=user.pk)


def _client(user) -> Client:
    client = Client()
    client.force_login(_staff(user))
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _url(app, key):
    return f"/admin/claims/application/{app.pk}/{key}/"


@pytest.mark.django_db
def test_states_read_as_words():
    labels = dict(Application.State.choices)
    assert labels["submitted"] == "待初审"
    assert labels["second_review"] == "待复审"
    assert labels["approved"] == "已批准"
    assert labels["rejected"] == "不予救助"
    assert labels["returned"] == "已退回"
    assert labels["paid"] == "已支付"


@pytest.mark.django_db
def test_submit_from_the_change_page_with_confirmation_and_message(application, clerk):
    client = _client(clerk)
    page = client.get(f"/admin/claims/application/{application.pk}/change/").content.decode()
    assert 'id="application-submit"' in page
    assert 'id="application-approve"' not in page  # the clerk registered it: no decision
    assert "窗口经办" in page  # who holds it now

    confirm = client.get(_url(application, "submit"))
    assert confirm.status_code == 200
    text = confirm.content.decode()
    assert "确定提交" in text and "草稿" in text
    application.refresh_from_db()
    assert application.state == Application.State.DRAFT  # the confirmation page changes nothing

    done = client.post(_url(application, "submit"))
    assert done.status_code == 302
    assert done["Location"].endswith(f"/admin/claims/application/{application.pk}/change/")
    assert any("已提交，等待初审" in m for m in _messages(done))
    application.refresh_from_db()
    assert application.state == Application.State.SUBMITTED


@pytest.mark.django_db
def test_each_button_refuses_with_403_and_changes_nothing_without_its_permission(
    application, county, clerk, supervisor
):
    # Sees the application (staff of the county) but holds none of the operations.
    viewer = make_user("viewer", county, ["claims.view_application"])
    client = _client(viewer)
    page = client.get(f"/admin/claims/application/{application.pk}/change/").content.decode()
    assert "application-submit" not in page
    for key in ("submit", "approve", "return", "reject"):
        assert client.get(_url(application, key)).status_code == 403, key
        assert client.post(_url(application, key), {"reason": "x"}).status_code == 403, key
    application.refresh_from_db()
    assert application.state == Application.State.DRAFT

    services.application_submit(application=application, by=clerk)
    # The clerk may submit but not decide.
    clerk_client = _client(clerk)
    for key in ("approve", "return", "reject"):
        assert clerk_client.post(_url(application, key), {"reason": "x"}).status_code == 403
    application.refresh_from_db()
    assert application.state == Application.State.SUBMITTED
    assert application.approvals.count() == 0


@pytest.mark.django_db
def test_two_approvals_are_visible_in_state_list_queue_and_dashboard(
    application, county, clerk, supervisor, supervisor2, settings
):
    settings.SECOND_APPROVAL_THRESHOLD = "1000.00"
    services.application_submit(application=application, by=clerk)
    assert application.total > Decimal("1000.00")
    first, second = _client(supervisor), _client(supervisor2)

    # Both supervisors find it in 待我初审; neither in 待我复审.
    for client in (first, second):
        queue = client.get("/admin/claims/application/?queue=first").content.decode()
        assert application.number in queue
        queue = client.get("/admin/claims/application/?queue=second").content.decode()
        assert application.number not in queue

    page = first.get(f"/admin/claims/application/{application.pk}/change/").content.decode()
    assert 'id="application-approve"' in page
    assert 'id="application-return"' in page and 'id="application-reject"' in page
    done = first.post(_url(application, "approve"), {"reason": "同意"})
    assert any("初审已批准，等待另一位审批人复审" in m for m in _messages(done))
    application.refresh_from_db()
    assert application.state == Application.State.SECOND_REVIEW
    assert "sup1以外的另一位审批人" in selectors.application_holder(application)

    # The list says 待复审, never 已处理.
    listing = first.get("/admin/claims/application/").content.decode()
    assert "待复审" in listing and "已处理" not in listing

    # The first approver has nothing left: no button, not in their 待我复审.
    page = first.get(f"/admin/claims/application/{application.pk}/change/").content.decode()
    assert "application-approve" not in page
    assert (
        application.number
        not in first.get("/admin/claims/application/?queue=second").content.decode()
    )

    # The second supervisor's dashboard counts it, and the count's link shows exactly it.
    from django.test import RequestFactory

    from medaid.dashboard import approval_queue

    request = RequestFactory().get("/admin/")
    request.user = supervisor2
    items = {i.label: i for i in approval_queue(request).items}
    assert items["救助申请待我复审"].value == 1
    assert items["救助申请待我初审"].value == 0
    rows = second.get(items["救助申请待我复审"].url).content.decode()
    assert application.number in rows
    assert "待复审" in rows
    request.user = supervisor
    assert {i.label: i.value for i in approval_queue(request).items}["救助申请待我复审"] == 0

    done = second.post(_url(application, "approve"), {"reason": "复核同意"})
    assert any("已批准" in m and "等待月度结算支付" in m for m in _messages(done))
    application.refresh_from_db()
    assert application.state == Application.State.APPROVED
    assert application.approvals.count() == 2
    assert selectors.application_holder(application) == "财务：月度结算支付"


@pytest.mark.django_db
def test_return_and_reject_need_a_reason_and_say_what_happened(application, clerk, supervisor):
    services.application_submit(application=application, by=clerk)
    client = _client(supervisor)
    refused = client.post(_url(application, "return"), {"reason": ""})
    assert refused.status_code == 200  # the confirmation again, with the form's error
    assert "这个字段是必填项" in refused.content.decode() or "必填" in refused.content.decode()
    application.refresh_from_db()
    assert application.state == Application.State.SUBMITTED

    done = client.post(_url(application, "return"), {"reason": "缺发票原件"})
    assert any("已退回" in m for m in _messages(done))
    application.refresh_from_db()
    assert application.state == Application.State.RETURNED

    services.application_submit(application=application, by=clerk)
    done = client.post(_url(application, "reject"), {"reason": "不符合救助条件"})
    assert any("不予救助" in m for m in _messages(done))
    application.refresh_from_db()
    assert application.state == Application.State.REJECTED
    assert selectors.application_holder(application) == "已办结"


@pytest.mark.django_db
def test_a_supervisor_may_not_decide_their_own_submission_from_the_page(
    application, county, supervisor
):
    # The supervisor registers and submits: their own page offers no decision, and the
    # service refuses a forged POST with a message, changing nothing.
    services.application_submit(application=application, by=supervisor)
    client = _client(supervisor)
    page = client.get(f"/admin/claims/application/{application.pk}/change/").content.decode()
    assert "application-approve" not in page
    done = client.post(_url(application, "approve"), {"reason": ""})
    assert done.status_code == 302
    assert any("审批人不能是该申请的受理人或提交人" in m for m in _messages(done))
    application.refresh_from_db()
    assert application.state == Application.State.SUBMITTED
    assert (
        application.number
        not in client.get("/admin/claims/application/?queue=first").content.decode()
    )
    other = make_user("sup7", county, DECIDE)
    assert selectors.applications_first_review(Application.objects.all(), other).count() == 1


@pytest.mark.django_db
def test_the_citizens_notice_is_in_words_without_internal_identifiers(
    application, county, clerk, supervisor
):
    services.application_submit(application=application, by=clerk)
    services.application_approve(application=application, by=supervisor, note="同意")
    client = _client(clerk)
    notice = client.get(_url(application, "notice")).content.decode()
    decision = application.claims.get().decisions.get(is_current=True)
    assert "医疗救助决定通知书" in notice
    assert f"{county.name}医疗保障局" in notice
    assert application.person.name in notice
    assert application.person.id_number not in notice  # a clerk sees it masked
    assert "依据：" in notice and "条" in notice  # the articles that decided it
    from medaid.core.money import yuan_text

    assert yuan_text(decision.total) in notice
    assert decision.parameters_hash not in notice
    assert "参数指纹" not in notice
    for login in ("clerk", "sup1"):
        assert login not in notice
    assert not re.search(r"[（(](tekun|dibao[a-z_]*|inpatient)[）)]", notice)
    assert "@page" in notice and "A4" in notice


def _text(html: str) -> str:
    """What a person reads of a page: no tags, scripts, styles or attribute values."""
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.django_db
def test_application_claim_and_decision_pages_show_no_raw_codes(application, clerk, supervisor):
    from medaid.policy.glossary import IDENTITY_CODES
    from medaid.policy.reasons import Reason

    services.application_submit(application=application, by=clerk)
    claim = application.claims.get()
    for perm in ("view_claim", "view_decision"):
        from django.contrib.auth.models import Permission

        clerk.user_permissions.add(
            Permission.objects.get(content_type__app_label="claims", codename=perm)
        )
    client = _client(clerk)
    codes = {*IDENTITY_CODES, *(r.value for r in Reason), "inpatient", "submitted"}
    pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(sorted(codes)) + r")(?![A-Za-z0-9_])")
    for url in (
        f"/admin/claims/application/{application.pk}/change/",
        "/admin/claims/application/",
        f"/admin/claims/claim/{claim.pk}/change/",
        "/admin/claims/decision/",
        _url(application, "submit"),
        _url(application, "notice"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        found = pattern.findall(_text(response.content.decode()))
        assert not found, (url, found)
