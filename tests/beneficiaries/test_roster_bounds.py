"""Destructive roster steps are shown, bounded and confirmed (issue #19 item 1): a refused line
never ends anyone, a list with refused lines ends no one unless its valid lines are most of
the department's list, mass endings wait for a second person, and an apply can be undone in
one step."""

from datetime import date

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from beneficiaries import services
from beneficiaries.models import Identity, RosterImport, RosterImportEnd
from medaid.core.errors import Refusal
from medaid.core.models import OutboxEvent, User
from tests.beneficiaries.conftest import csv_upload, make_id

pytestmark = pytest.mark.django_db

FIRST = date(2024, 1, 20)
SECOND = date(2024, 8, 15)


def user(name, *codenames, **kw) -> User:
    person = User.objects.create_user(name, password="x" * 12, **kw)
    for codename in codenames:
        person.user_permissions.add(Permission.objects.get(codename=codename))
    return User.objects.get(pk=person.pk)


def nm(n: int) -> str:
    return "张" + "甲乙丙丁戊己庚辛壬癸"[n % 10] + "子丑寅卯辰巳午未申酉戌亥"[n // 10 % 12]


def add(n, name=None, code="低保对象", start="2024-01-01"):
    return ["新增", make_id(n), name or nm(n), code, "", start, ""]


def load(department, rows, *, kind="roster", stated=FIRST, by=None, apply=True, **kw):
    batch, _ = services.roster_import_receive(
        department=department,
        kind=kind,
        upload=csv_upload(rows, name=f"{kind}-{stated}-{len(rows)}.csv"),
        file_name="list.csv",
        stated_date=stated,
        channel="admin",
        uploaded_by=by,
        **kw,
    )
    services.roster_import_validate(batch=batch)
    if apply:
        services.roster_import_apply(batch=batch, applied_by=by)
    batch.refresh_from_db()
    return batch


def registered(department, n=30):
    load(department, [add(i) for i in range(1, n + 1)])
    assert Identity.objects.filter(end__isnull=True).count() == n


def open_count() -> int:
    return Identity.objects.filter(end__isnull=True).count()


def test_a_roster_whose_every_row_is_refused_ends_no_one(civil):
    """The 733-lost case: Excel turned every ID number into 5.30102E+17."""
    registered(civil)
    mangled = [["新增", "5.30102E+17", nm(i), "低保对象", "", "2024-01-01", ""] for i in range(30)]
    batch = load(civil, mangled, stated=SECOND, end_absent=True, apply=False)
    assert batch.preview["bounds"]["ended"] == 0
    assert "本次不终止未列出的在册身份" in batch.preview["bounds"]["end_absent_refused"]
    assert "95%" in batch.preview["bounds"]["end_absent_refused"]
    services.roster_import_apply(batch=batch)
    batch.refresh_from_db()
    assert batch.status == RosterImport.Status.APPLIED
    assert (batch.result["ended_absent"], batch.result["counts"]) == (0, {"error": 30})
    assert open_count() == 30


def test_valid_lines_under_the_share_end_no_one(civil):
    registered(civil)
    bad = make_id(40)[:-1] + ("0" if make_id(40)[-1] != "0" else "1")
    rows = [add(i) for i in range(1, 21)] + [["新增", bad, "错", "低保对象", "", "2024-01-01", ""]]
    batch = load(civil, rows, stated=SECOND, end_absent=True)
    bounds = batch.result["bounds"]
    assert (bounds["valid_lines"], bounds["refused_lines"], bounds["ended"]) == (20, 1, 0)
    assert "有效行 20 行不足" in bounds["end_absent_refused"]
    assert open_count() == 30


def test_end_absent_ends_only_what_no_valid_line_names(civil):
    """29 of 30 valid (over 95 %): the person whose only line is refused is absent."""
    registered(civil)
    bad = make_id(30)[:-1] + ("0" if make_id(30)[-1] != "0" else "1")
    rows = [add(i) for i in range(1, 30)] + [
        ["新增", bad, nm(30), "低保对象", "", "2024-01-01", ""]
    ]
    batch = load(civil, rows, stated=SECOND, end_absent=True)
    assert batch.result["bounds"]["end_absent_refused"] == ""
    assert batch.result["ended_absent"] == 1
    ended = Identity.objects.get(end__isnull=False)
    assert (ended.person.id_number, ended.end) == (make_id(30), date(2024, 8, 14))
    assert RosterImportEnd.objects.get(batch=batch).identity_id == ended.pk


def test_mass_ending_waits_for_a_second_person(civil, django_capture_on_commit_callbacks):
    clerk = user("clerk", "apply_rosterimport", county=civil.county)
    other_clerk = user("clerk2", "apply_rosterimport", county=civil.county)
    checker = user("checker", "review_rosterimport", county=civil.county)
    registered(civil)
    batch = load(civil, [add(i) for i in range(1, 11)], stated=SECOND, end_absent=True, by=clerk)
    assert batch.status == RosterImport.Status.REVIEW
    assert batch.review_requested_by == clerk and open_count() == 30
    assert batch.preview["bounds"]["ended"] == 20
    assert "本次将终止 20 个身份" in batch.preview["bounds"]["review_message"]
    with pytest.raises(Refusal, match="待复核"):
        services.roster_import_apply(batch=batch, applied_by=other_clerk)
    with pytest.raises(Refusal, match="权限"):
        services.roster_import_review(batch=batch, by=other_clerk, approve=True)
    clerk.user_permissions.add(Permission.objects.get(codename="review_rosterimport"))
    clerk = User.objects.get(pk=clerk.pk)
    with pytest.raises(Refusal, match="另一位人员"):
        services.roster_import_review(batch=batch, by=clerk, approve=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.roster_import_review(batch=batch, by=checker, approve=True)
    batch.refresh_from_db()
    assert batch.status == RosterImport.Status.APPLIED
    assert (batch.reviewed_by, batch.approved_ended, batch.applied_by) == (checker, 20, checker)
    assert open_count() == 10


def test_a_refused_review_returns_the_batch_and_changes_nothing(civil):
    clerk = user("clerk", "apply_rosterimport", county=civil.county)
    checker = user("checker", "review_rosterimport", county=civil.county)
    registered(civil)
    batch = load(civil, [add(1)], stated=SECOND, end_absent=True, by=clerk)
    services.roster_import_review(batch=batch, by=checker, approve=False)
    batch.refresh_from_db()
    assert batch.status == RosterImport.Status.REJECTED and "复核未同意" in batch.error
    assert open_count() == 30


def test_reverse_restores_what_the_apply_opened_changed_and_ended(civil):
    supervisor = user("sup", "reverse_rosterimport", county=civil.county)
    registered(civil, n=3)
    before = sorted(Identity.objects.values_list("person_id", "code", "start", "end"))
    feed = load(
        civil,
        [
            add(9, start="2024-02-01"),
            ["退出", make_id(1), nm(1), "低保对象", "", "", "2024-02-29"],
            ["变更", make_id(2), nm(2), "特困人员", "低保对象", "2024-03-01", ""],
        ],
        kind="feed",
        stated=date(2024, 3, 5),
    )
    assert feed.result["counts"] == {"added": 1, "ended": 1, "changed": 1}
    assert feed.result["bounds"]["ended"] == 1
    OutboxEvent.objects.all().delete()
    with pytest.raises(Refusal, match="权限"):
        services.roster_import_reverse(batch=feed, by=user("clerk", county=civil.county))
    result = services.roster_import_reverse(batch=feed, by=supervisor)
    assert result == {"removed": 2, "reopened": 2, "people": 3}
    after = sorted(Identity.objects.values_list("person_id", "code", "start", "end"))
    assert after == before
    feed.refresh_from_db()
    assert (feed.status, feed.reversed_by, feed.reversal) == ("reversed", supervisor, result)
    event = OutboxEvent.objects.get(topic="identity.changed")
    assert event.payload["source"] == f"撤销名册导入 #{feed.pk}"
    assert len(event.payload["people"]) == 3
    with pytest.raises(Refusal, match="只有已入库的批次可以撤销"):
        services.roster_import_reverse(batch=feed, by=supervisor)


def exit_then_readmit(civil) -> RosterImport:
    """A feed that ends person 1's identity, and a later one that opens it again: the first
    can no longer be undone in one step. Returns the first."""
    registered(civil, n=3)
    exit_feed = load(
        civil,
        [["退出", make_id(1), nm(1), "低保对象", "", "", "2024-02-29"]],
        kind="feed",
        stated=date(2024, 3, 5),
    )
    load(civil, [add(1, start="2024-05-01")], kind="feed", stated=date(2024, 5, 5))
    return exit_feed


def test_reverse_is_refused_when_a_later_list_changed_the_same_identities(civil):
    supervisor = user("sup", "reverse_rosterimport", county=civil.county)
    exit_feed = exit_then_readmit(civil)
    with pytest.raises(Refusal, match="已被其他名册或经办人员修改") as refused:
        services.roster_import_reverse(batch=exit_feed, by=supervisor)
    assert refused.value.code == "reversal_conflict"
    assert Identity.objects.filter(person__id_number=make_id(1)).count() == 2


def test_api_apply_over_the_bound_answers_409_with_the_counts(civil):
    registered(civil)
    api_user = user(
        "civil-api",
        "add_rosterimport",
        "apply_rosterimport",
        "view_rosterimport",
        department=civil,
        county=civil.county,
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=api_user).key}")
    response = client.post(
        "/api/v1/imports/",
        {
            "file": csv_upload([add(1), add(2)], name="api.csv"),
            "kind": "roster",
            "stated_date": "2024-08-15",
            "end_absent": "true",
            "apply": "true",
        },
        format="multipart",
    )
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["error"]["code"] == "review_required"
    assert "本次将终止 28 个身份" in body["error"]["message"]
    assert (body["status"], body["bounds"]["ended"]) == ("review", 28)
    assert open_count() == 30
    again = client.post(f"/api/v1/imports/{body['id']}/apply/")
    assert again.status_code == 409 and "待复核" in again.json()["error"]["message"]


def test_admin_apply_needs_the_confirmation_and_shows_the_counts_and_who(
    client, civil, django_capture_on_commit_callbacks
):
    admin = User.objects.create_superuser("boss", password="x" * 12)
    client.force_login(admin)
    registered(civil, n=3)
    batch = load(civil, [add(1), add(5)], stated=SECOND, end_absent=True, by=admin, apply=False)
    page = client.get(f"/admin/beneficiaries/rosterimport/{batch.pk}/preview/").content.decode()
    assert "入库将：新增身份" in page and 'id="bound-ended">2<' in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/admin/beneficiaries/rosterimport/{batch.pk}/preview/")
    batch.refresh_from_db()
    assert batch.status == RosterImport.Status.STAGED and open_count() == 3
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/admin/beneficiaries/rosterimport/{batch.pk}/preview/", {"confirm": "1"})
    batch.refresh_from_db()
    assert batch.status == RosterImport.Status.APPLIED and open_count() == 2
    page = client.get(f"/admin/beneficiaries/rosterimport/{batch.pk}/preview/").content.decode()
    assert "入库：boss" in page and "撤销本次导入" in page
    client.post(f"/admin/beneficiaries/rosterimport/{batch.pk}/reverse/", {"confirm": "1"})
    batch.refresh_from_db()
    assert batch.status == RosterImport.Status.REVERSED and open_count() == 3


def test_review_and_reverse_pages_refuse_without_their_permission(client, civil):
    clerk = user(
        "clerk", "view_rosterimport", "apply_rosterimport", county=civil.county, is_staff=True
    )
    client.force_login(clerk)
    batch = load(civil, [add(1)], kind="feed", stated=date(2024, 3, 5))
    assert client.post(f"/admin/beneficiaries/rosterimport/{batch.pk}/reverse/").status_code == 403
    assert client.post(f"/admin/beneficiaries/rosterimport/{batch.pk}/review/").status_code == 403
    assert RosterImport.objects.get(pk=batch.pk).status == RosterImport.Status.APPLIED


def test_the_review_share_counts_the_identities_the_department_certifies(civil):
    """A feed's exits reach identities the department did not register (a clerk's, an older
    system's): 12 exits among 200 open 低保 identities are 6 %, no review."""
    registered(civil, n=200)
    Identity.objects.update(department=None)
    exits = [["退出", make_id(i), nm(i), "低保对象", "", "", "2024-02-29"] for i in range(1, 13)]
    feed = load(civil, exits, kind="feed", stated=date(2024, 3, 5))
    assert (feed.result["bounds"]["department_open"], feed.result["bounds"]["scope_open"]) == (
        0,
        200,
    )
    assert feed.status == RosterImport.Status.APPLIED and open_count() == 188


def token_client(person: User) -> APIClient:
    client = APIClient()
    key = Token.objects.get_or_create(user=person)[0].key
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_api_review_needs_its_permission_and_a_second_person(
    civil, django_capture_on_commit_callbacks
):
    read = ("view_rosterimport",)
    clerk = user("clerk", *read, "apply_rosterimport", "review_rosterimport", county=civil.county)
    department = user(
        "civil-api", *read, "add_rosterimport", "apply_rosterimport", department=civil
    )
    checker = user("checker", *read, "review_rosterimport", county=civil.county)
    registered(civil)
    batch = load(civil, [add(i) for i in range(1, 11)], stated=SECOND, end_absent=True, by=clerk)
    assert batch.status == RosterImport.Status.REVIEW
    url = f"/api/v1/imports/{batch.pk}/review/"

    # Department accounts do not review, whatever else they hold.
    refused = token_client(department).post(url, {"approve": True}, format="json")
    assert refused.status_code == 403
    assert "复核名册入库" in refused.json()["error"]["message"]
    same = token_client(clerk).post(url, {"approve": True}, format="json")
    assert same.status_code == 403 and same.json()["error"]["code"] == "same_person"
    as_text = token_client(checker).post(url, {"approve": "yes"}, format="json")
    assert as_text.status_code == 400 and as_text.json()["error"]["field"] == "approve"
    suffix = token_client(checker).post(f"/api/v1/imports/{batch.pk}/review.json")
    assert suffix.status_code == 400 and suffix.json()["error"]["field"] == "approve"
    assert RosterImport.objects.get(pk=batch.pk).status == RosterImport.Status.REVIEW
    assert open_count() == 30

    with django_capture_on_commit_callbacks(execute=True):
        done = token_client(checker).post(url, {"approve": True}, format="json")
    assert done.status_code == 200, done.content
    # The apply runs as a job once the review is committed: the answer names it.
    assert done.json()["job"] and done.json()["reviewed_by"] is not None
    assert RosterImport.objects.get(pk=batch.pk).status == RosterImport.Status.APPLIED
    assert open_count() == 10
    again = token_client(checker).post(url, {"approve": True}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "state"


def test_api_review_refusal_returns_the_batch(civil):
    clerk = user("clerk", "view_rosterimport", county=civil.county)
    checker = user("checker", "view_rosterimport", "review_rosterimport", county=civil.county)
    registered(civil)
    batch = load(civil, [add(1)], stated=SECOND, end_absent=True, by=clerk)
    response = token_client(checker).post(
        f"/api/v1/imports/{batch.pk}/review/", {"approve": False}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == RosterImport.Status.REJECTED
    assert response.json()["job"] is None and open_count() == 30


def test_api_reverse_needs_confirmation_and_undoes_the_apply_once(civil):
    read = ("view_rosterimport",)
    supervisor = user("sup", *read, "reverse_rosterimport", county=civil.county)
    clerk = user("clerk", *read, "apply_rosterimport", county=civil.county)
    registered(civil, n=3)
    before = sorted(Identity.objects.values_list("person_id", "code", "start", "end"))
    feed = load(
        civil,
        [add(9, start="2024-02-01"), ["退出", make_id(1), nm(1), "低保对象", "", "", "2024-02-29"]],
        kind="feed",
        stated=date(2024, 3, 5),
    )
    url = f"/api/v1/imports/{feed.pk}/reverse/"
    assert token_client(clerk).post(url, {"confirm": True}, format="json").status_code == 403
    unconfirmed = token_client(supervisor).post(url, {"confirm": False}, format="json")
    assert unconfirmed.status_code == 400
    assert unconfirmed.json()["error"]["code"] == "not_confirmed"
    as_list = token_client(supervisor).post(url, [], format="json")
    assert as_list.status_code == 400 and as_list.json()["error"]["code"] == "parse_error"
    assert RosterImport.objects.get(pk=feed.pk).status == RosterImport.Status.APPLIED

    done = token_client(supervisor).post(
        f"/api/v1/imports/{feed.pk}/reverse.json", {"confirm": True}, format="json"
    )
    assert done.status_code == 200, done.content
    assert done.json()["reversal"] == {"removed": 1, "reopened": 1, "people": 2}
    assert done.json()["status"] == RosterImport.Status.REVERSED
    assert sorted(Identity.objects.values_list("person_id", "code", "start", "end")) == before
    again = token_client(supervisor).post(url, {"confirm": True}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "state"


def test_api_reverse_of_a_changed_apply_is_a_conflict(civil):
    supervisor = user("sup", "view_rosterimport", "reverse_rosterimport", county=civil.county)
    exit_feed = exit_then_readmit(civil)
    response = token_client(supervisor).post(
        f"/api/v1/imports/{exit_feed.pk}/reverse/", {"confirm": True}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "reversal_conflict"
