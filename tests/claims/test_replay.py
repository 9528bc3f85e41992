"""Replaying a period under a draft (issue #16 part 2), on a small dataset worked by hand.

Pingshun 第十四条（二）: 低保 inpatient 70 %, no deductible, annual cap 60 000 shared by the
year's claims (第十八条). The draft lowers that cap to 5 000 from 2024-01-01:

- 低保 A, claim a (2024-02-01): self-pay 6 000 − 2 000 = 4 000 × 70 % = 2 800 under both;
- 低保 A, claim b (2024-05-01): 8 000 − 3 000 = 5 000 × 70 % = 3 500 now; under the draft only
  5 000 − 2 800 = 2 200 of the cap is left: −1 300 (the one claim over the cap);
- 低保 A, claim s (2024-09-01): outside the period (January–June) — decided for the year's state,
  not counted;
- 特困 B, claim t (2024-03-01, a 3级 hospital): 5 000 − 3 000 = 2 000 × 100 % (第十四条（一）, no
  cap) = 2 000 under both.
Totals: 3 claims, current 8 300.00, draft 7 000.00, difference −1 300.00, 1 person affected.
The year's self-pay left for 倾斜救助 (第二十条) stays under 50 % of the base, so no tilt.
"""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from openpyxl import load_workbook

from claims.models import Decision, ReplayChange, ReplayRun
from claims.replay import services
from claims.services.errors import ClaimsError
from medaid.core.models import Job
from tests.claims.conftest import make_user
from tests.claims.test_recompute import decide_year, manual_claim

D = Decimal
CAP = [
    {
        "parameter": "annual_cap.all.dibao",
        "start": "2024-01-01",
        "value": "5000",
        "ref": "平顺县医保局〔2024〕1号 草案",
        "key": "草案1",
    }
]
START, END = dt.date(2024, 1, 1), dt.date(2024, 6, 30)


@pytest.fixture
def dataset(county, hospital, hospital_b, dibao, tekun):
    claims = {
        "a": manual_claim(dibao, hospital, "a", dt.date(2024, 2, 1), "6000", "2000"),
        "b": manual_claim(dibao, hospital, "b", dt.date(2024, 5, 1), "8000", "3000"),
        "s": manual_claim(dibao, hospital, "s", dt.date(2024, 9, 1), "8000", "3000"),
        "t": manual_claim(tekun, hospital_b, "t", dt.date(2024, 3, 1), "5000", "3000"),
    }
    decide_year(dibao)
    decide_year(tekun)
    return claims


@pytest.fixture
def start(django_capture_on_commit_callbacks):
    """Start a replay and run its tasks (in-process, as without a broker) once it commits."""

    def start(area, draft=CAP, start=START, end=END, **kw):
        with django_capture_on_commit_callbacks(execute=True):
            return services.replay_start(pooling_area=area, start=start, end=end, draft=draft, **kw)

    return start


@pytest.mark.django_db
def test_a_cap_change_moves_exactly_the_claim_over_the_cap(
    area, county, dataset, dibao, tekun, start
):
    decisions = Decision.objects.count()
    replay = start(area)
    replay.refresh_from_db()
    assert replay.status == ReplayRun.Status.DONE, replay.error
    assert Decision.objects.count() == decisions  # a replay writes no decision
    totals = replay.results["totals"]
    assert totals == {
        "claims": 3,
        "decided": 3,
        "refused": 0,
        "changed": 1,
        "people": 2,
        "people_affected": 1,
        "current": "8300.00",
        "draft": "7000.00",
        "difference": "-1300.00",
    }
    by = {dim: {r["key"]: r for r in rows} for dim, rows in replay.results["by"].items()}
    assert by["county"][str(county.pk)]["label"] == county.name
    assert by["county"][str(county.pk)]["difference"] == "-1300.00"
    assert by["identity"]["dibao"]["current"] == "6300.00"
    assert by["identity"]["dibao"]["draft"] == "5000.00"
    assert by["identity"]["tekun"]["difference"] == "0.00"
    assert by["kind"]["inpatient"]["claims"] == 3
    assert by["level"]["2"]["difference"] == "-1300.00" and by["level"]["3"]["changed"] == 0
    [change] = ReplayChange.objects.filter(replay=replay)
    assert change.person == dibao and change.rank == 1
    assert (change.current_total, change.draft_total) == (D("6300.00"), D("5000.00"))
    assert change.difference == D("-1300.00")
    [detail] = change.details
    assert detail["claim"] == dataset["b"].pk
    assert (detail["current"], detail["draft"]) == ("3500.00", "2200.00")
    assert any("60000.00" in line for line in detail["current_trace"])
    assert any("5000.00" in line and "草案1" in line for line in detail["draft_trace"])
    job = Job.objects.get(pk=replay.job_id)
    assert job.status == Job.Status.SUCCEEDED and job.progress_done == job.progress_total == 1


@pytest.mark.django_db
def test_current_is_decided_again_not_read_from_stale_decisions(area, dataset, start):
    """A stored decision edited behind the engine's back does not show as the draft's effect."""
    Decision.objects.filter(claim=dataset["t"], is_current=True).update(total=D("1.00"))
    replay = start(area)
    replay.refresh_from_db()
    assert replay.results["totals"]["difference"] == "-1300.00"
    assert replay.results["totals"]["current"] == "8300.00"


@pytest.mark.django_db
def test_another_pack_as_the_draft(area, dataset, start):
    """The draft may be a pack instead of changes: the same claims under Pingshun's own pack
    change nothing."""
    replay = start(area, draft=(), pack_code="pingshun")
    replay.refresh_from_db()
    assert replay.results["totals"]["difference"] == "0.00"
    assert replay.results["totals"]["people_affected"] == 0


@pytest.mark.django_db
def test_refused_without_the_permission_and_nothing_created(area, county, dataset, start):
    clerk = make_user("clerk_no_replay", county, ["claims.add_application"], is_staff=True)
    with pytest.raises(ClaimsError) as caught:
        start(area, by=clerk)
    assert caught.value.code == "permission_denied"
    assert not ReplayRun.objects.exists() and not Job.objects.exists()
    client = Client()
    client.force_login(clerk)
    response = client.post("/admin/claims/replayrun/start/", {"pooling_area": area.pk})
    assert response.status_code == 403
    assert not ReplayRun.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"value": "-1"}, "invalid_field"),
        ({"parameter": "ratio.dibao.inpatient", "value": "1.5"}, "invalid_field"),
        ({"parameter": "no_such"}, "unknown_parameter"),
        ({"start": "2020-01-01"}, "date_before_policy"),
        ({"start": "2024-13-01"}, "invalid_date"),
        ({"ref": ""}, "required"),
    ],
)
def test_a_draft_the_pack_cannot_take_is_refused_in_chinese(area, dataset, change, code, start):
    with pytest.raises(ClaimsError) as caught:
        start(area, draft=[{**CAP[0], **change}])
    assert caught.value.code == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in caught.value.message)
    assert not ReplayRun.objects.exists()


@pytest.mark.django_db
def test_a_period_across_new_year_restarts_the_cap_on_1_january(
    area, dataset, dibao, hospital, start
):
    """July 2024 – June 2025: claim s (2024-09-01, self-pay 5 000) pays 3 500 now; under the
    draft's 5 000 cap a and b used it all (2 800 + 2 200): 0. Claim u (2025-02-01, self-pay
    5 000) is 2025's first: 3 500 under both, the cap restarting on 1 January. Claims a, b
    are outside the period but decided for 2024's state."""
    manual_claim(dibao, hospital, "u", dt.date(2025, 2, 1), "8000", "3000")
    replay = start(area, start=dt.date(2024, 7, 1), end=dt.date(2025, 6, 30))
    replay.refresh_from_db()
    assert replay.status == ReplayRun.Status.DONE, replay.error
    totals = replay.results["totals"]
    assert (totals["claims"], totals["current"], totals["draft"], totals["difference"]) == (
        2,
        "7000.00",
        "3500.00",
        "-3500.00",
    )
    assert totals["people"] == totals["people_affected"] == 1


@pytest.mark.django_db
def test_a_period_over_three_years_and_two_changes_on_one_day_are_refused(area, dataset, start):
    with pytest.raises(ClaimsError, match="最多跨两个自然年度"):
        services.replay_start(pooling_area=area, start=START, end=dt.date(2026, 1, 31), draft=CAP)
    with pytest.raises(ClaimsError, match="两项变更"):
        start(area, draft=[CAP[0], {**CAP[0], "value": "6000", "key": "草案2"}])


@pytest.mark.django_db
def test_admin_starts_shows_and_exports_a_replay(
    area, county, dataset, django_capture_on_commit_callbacks
):
    city = make_user(
        "city_replay", None, ["claims.start_replay", "claims.view_replayrun"], is_staff=True
    )
    client = Client()
    client.force_login(city)
    page = client.get("/admin/claims/replayrun/start/")
    assert page.status_code == 200 and "模拟测算" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/claims/replayrun/start/",
            {
                "pooling_area": area.pk,
                "start": "2024-01-01",
                "end": "2024-06-30",
                "title": "限额调整测算",
                "draft_lines": "annual_cap.all.dibao | 2024-01-01 | 5000 | 平顺县医保局 草案",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    replay = ReplayRun.objects.get()
    assert replay.requested_by == city and replay.status == ReplayRun.Status.DONE
    page = client.get(f"/admin/claims/replayrun/{replay.pk}/change/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in text and "-1,300.00" in text and "低保" in text
    export = client.get(f"/admin/claims/replayrun/{replay.pk}/export/")
    assert export.status_code == 200
    book = load_workbook(
        io.BytesIO(b"".join(export.streaming_content) if export.streaming else export.content)
    )
    assert "区县" in book.sheetnames
    values = [c.value for row in book["合计"].iter_rows() for c in row]
    assert Decimal("-1300.00") in [Decimal(str(v)) for v in values if isinstance(v, int | float)]


def _change(area, state, **kw):
    from beneficiaries.models import ParameterChange

    fields = {
        "pooling_area": area,
        "policy_code": "pingshun",
        "parameter": CAP[0]["parameter"],
        "value": CAP[0]["value"],
        "issuer": "平顺县医疗保障局",
        "document_number": "平医保〔2024〕1号",
        "article": "第一条",
        "published_on": dt.date(2023, 12, 1),
        "effective_date": dt.date(2024, 1, 1),
        "effective_rule": "按录入日期",
        "reason": "草案",
        "state": state,
        **kw,
    }
    fields.setdefault("proposed_by", make_user(f"proposer_{state}_{area.pk}_{kw}"[:150], None))
    return ParameterChange.objects.create(**fields)


@pytest.mark.django_db
def test_the_form_takes_the_areas_unapproved_changes_as_the_draft(
    area, county, dataset, django_capture_on_commit_callbacks
):
    """A 待审核 change picked from the list is the draft (the same −1 300 as typed in), and the
    replay links to it; an approved one is not offered, another area's is refused in Chinese."""
    from beneficiaries.models import ParameterChange, PoolingArea

    submitted = _change(area, ParameterChange.State.SUBMITTED)
    approved = _change(
        area, ParameterChange.State.APPROVED, value="4000", effective_date=dt.date(2025, 1, 1)
    )
    elsewhere = PoolingArea.objects.create(code="140400", name="长治市", policy_code="pingshun")
    foreign = _change(elsewhere, ParameterChange.State.DRAFT)
    city = make_user(
        "city_replay2", None, ["claims.start_replay", "claims.view_replayrun"], is_staff=True
    )
    client = Client()
    client.force_login(city)
    page = client.get("/admin/claims/replayrun/start/").content.decode()
    assert f"{submitted.key}（待审核）" in page and f"{approved.key}（" not in page
    form = {"pooling_area": area.pk, "start": "2024-01-01", "end": "2024-06-30"}
    refused = client.post("/admin/claims/replayrun/start/", {**form, "changes": [foreign.pk]})
    assert refused.status_code == 200 and f"{foreign.key}不是平顺县的参数变更" in (
        refused.content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/claims/replayrun/start/", {**form, "changes": [submitted.pk]}
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    replay = ReplayRun.objects.get()
    assert replay.parameter_change == submitted
    assert replay.draft[0]["key"] == submitted.key and replay.draft[0]["value"] == "5000"
    assert replay.results["totals"]["difference"] == "-1300.00"


@pytest.mark.django_db
def test_a_submitted_parameter_change_starts_its_replay(
    area, dataset, django_capture_on_commit_callbacks
):
    from beneficiaries.models import ParameterChange
    from claims import handlers

    change = ParameterChange.objects.create(
        pooling_area=area,
        policy_code="pingshun",
        parameter=CAP[0]["parameter"],
        value=CAP[0]["value"],
        issuer="平顺县医疗保障局",
        document_number="平医保〔2024〕1号",
        article="第一条",
        published_on=dt.date(2023, 12, 1),
        effective_date=dt.date(2024, 1, 1),
        effective_rule="按录入日期",
        reason="草案",
        proposed_by=make_user("proposer_replay", None, []),
        state=ParameterChange.State.SUBMITTED,
    )
    payload = {"change": change.pk, "pooling_area": area.pk, **CAP[0], "key": "变更7"}
    with django_capture_on_commit_callbacks(execute=True):
        handlers.on_parameter_change_submitted(payload)
    replay = ReplayRun.objects.get(parameter_change=change)
    assert list(change.replays.all()) == [replay]
    # The approval page's link (`_replay_url`) lists it; its page names the change.
    city = make_user("city_link", None, ["claims.view_replayrun"], is_staff=True)
    client = Client()
    client.force_login(city)
    listed = client.get(f"/admin/claims/replayrun/?parameter_change__id__exact={change.pk}")
    assert listed.status_code == 200 and f"/admin/claims/replayrun/{replay.pk}/" in (
        listed.content.decode()
    )
    page = client.get(f"/admin/claims/replayrun/{replay.pk}/change/").content.decode()
    assert f"{change.key}（待审核）" in page
    assert (replay.start, replay.end) == (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert replay.status == ReplayRun.Status.DONE
    # The whole year: claim s (September) counts too: 3 500 now, 0 left of the 5 000 cap.
    assert replay.results["totals"]["difference"] == "-4800.00"
    handlers.on_parameter_change_submitted({**payload, "value": "-1"})
    assert change.replays.count() == 1
