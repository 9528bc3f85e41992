"""参数变更 with four eyes (issue #16 part 1): the effective-date rule, the flow, each refusal
of bad input with its Chinese message and nothing written, and the approved set the deciding
code reads (`selectors.amendments_for`)."""

import datetime as dt
from decimal import Decimal

import pytest

from beneficiaries import selectors
from beneficiaries import services as registry
from beneficiaries.models import ParameterChange, PoolingArea, PoolingAreaPolicy
from beneficiaries.services import ParameterChangeError
from medaid.core.models import OutboxEvent
from tests.medaid.conftest import make_user

pytestmark = pytest.mark.django_db
State = ParameterChange.State
BASE = "per_capita_disposable_income"


@pytest.fixture
def pingshun(db):
    return PoolingArea.objects.create(code="140429", name="平顺县", policy_code="pingshun")


@pytest.fixture
def kunming(db):
    return PoolingArea.objects.create(code="530100", name="昆明市", policy_code="kunming")


@pytest.fixture
def officer(db):
    return make_user("officer", "city_administrator")


@pytest.fixture
def checker(db):
    return make_user("checker", "city_administrator")


def document(**over):
    data = {
        "issuer": "山西省统计局",
        "document_number": "晋统公告〔2025〕1号",
        "article": "2024年山西省国民经济和社会发展统计公报",
        "published_on": dt.date(2025, 1, 20),
        "reason": "公布2024年全省居民人均可支配收入",
    }
    data.update(over)
    return data


def propose(area, by, parameter=BASE, value="32000", **over):
    return registry.parameter_change_propose(
        pooling_area=area, by=by, parameter=parameter, value=value, **document(**over)
    )


def test_pingshun_base_takes_effect_the_month_after_publication(pingshun, officer):
    """第四十七条 自公布次月1日起执行: published 2025-01-20 → from 2025-02-01, whatever was
    entered, and the rule it followed is kept with the change."""
    change = propose(pingshun, officer, start=dt.date(2025, 1, 20))
    assert change.effective_date == dt.date(2025, 2, 1)
    assert change.state == State.DRAFT and change.policy_code == "pingshun"
    assert "第四十七条" in change.effective_rule and "次月1日" in change.effective_rule
    december = propose(pingshun, officer, published_on=dt.date(2024, 12, 5))
    assert december.effective_date == dt.date(2025, 1, 1)


def test_a_parameter_without_a_rule_takes_the_date_entered(pingshun, officer):
    change = propose(
        pingshun,
        officer,
        parameter="ratio.dibao.inpatient",
        value="0.75",
        start=dt.date(2025, 3, 1),
    )
    assert change.effective_date == dt.date(2025, 3, 1)
    assert "按录入的生效日期" in change.effective_rule
    with pytest.raises(ParameterChangeError, match="请填写生效日期") as caught:
        propose(pingshun, officer, parameter="ratio.dibao.inpatient", value="0.75")
    assert caught.value.code == "date_missing"


def test_four_eyes_submit_then_a_second_person_approves(pingshun, officer, checker):
    change = propose(pingshun, officer)
    assert selectors.amendments_for(pooling_area=pingshun, policy_code="pingshun") == ()
    registry.parameter_change_submit(change=change, by=officer)
    with pytest.raises(ParameterChangeError, match="不能审核本人录入") as caught:
        registry.parameter_change_approve(change=change, by=officer)
    assert caught.value.code == "own_change"
    change.refresh_from_db()
    assert change.state == State.SUBMITTED and change.approved_by is None
    assert selectors.amendments_for(pooling_area=pingshun, policy_code="pingshun") == ()

    approved = registry.parameter_change_approve(change=change, by=checker, note="核对无误")
    assert approved.state == State.APPROVED and approved.approved_by == checker
    (amendment,) = selectors.amendments_for(pooling_area=pingshun, policy_code="pingshun")
    assert amendment.parameter == BASE and amendment.value == "32000"
    assert amendment.start == dt.date(2025, 2, 1) and amendment.key == f"变更#{change.pk}"
    assert "晋统公告〔2025〕1号" in amendment.ref
    # The area's schedule hands the approved change to everything that decides.
    schedule = selectors.area_schedules(pooling_areas=[pingshun.pk])[pingshun.pk]
    assert schedule.on(dt.date(2025, 3, 1)).amendments == (amendment,)
    # Its day has come: the claims app is told to recompute from it.
    event = OutboxEvent.objects.get(topic="parameter.changed")
    assert event.payload == {
        "pooling_area": pingshun.pk,
        "start": "2025-02-01",
        "change": change.pk,
    }


def test_a_future_change_emits_nothing(pingshun, officer, checker):
    change = propose(
        pingshun,
        officer,
        parameter="ratio.dibao.inpatient",
        value="0.75",
        published_on=dt.date.today(),
        start=dt.date.today() + dt.timedelta(days=40),
    )
    registry.parameter_change_submit(change=change, by=officer)
    registry.parameter_change_approve(change=change, by=checker)
    assert not OutboxEvent.objects.filter(topic="parameter.changed").exists()


def test_send_back_revise_and_withdraw(pingshun, officer, checker):
    change = propose(pingshun, officer)
    registry.parameter_change_submit(change=change, by=officer)
    with pytest.raises(ParameterChangeError, match="退回须填写审核意见"):
        registry.parameter_change_send_back(change=change, by=checker, note=" ")
    returned = registry.parameter_change_send_back(change=change, by=checker, note="文号有误")
    assert returned.state == State.RETURNED and returned.decision_note == "文号有误"
    with pytest.raises(ParameterChangeError, match="状态为“已退回”"):
        registry.parameter_change_approve(change=returned, by=checker)
    revised = registry.parameter_change_revise(
        change=returned,
        by=officer,
        parameter=BASE,
        value="32001",
        **document(document_number="晋统公告〔2025〕2号"),
    )
    assert revised.state == State.DRAFT and revised.value == "32001"
    registry.parameter_change_withdraw(change=revised, by=officer)
    revised.refresh_from_db()
    assert revised.state == State.WITHDRAWN
    # The day is free again for a new change.
    assert propose(pingshun, officer).effective_date == dt.date(2025, 2, 1)


def test_only_holders_of_the_permissions_may_propose_or_approve(pingshun, officer):
    clerk = make_user("clerk", "counter_clerk")
    with pytest.raises(ParameterChangeError, match="没有录入参数变更的权限"):
        propose(pingshun, clerk)
    change = propose(pingshun, officer)
    registry.parameter_change_submit(change=change, by=officer)
    with pytest.raises(ParameterChangeError, match="没有审核参数变更的权限"):
        registry.parameter_change_approve(change=change, by=clerk)


@pytest.mark.parametrize(
    ("over", "code", "words"),
    [
        ({"issuer": ""}, "document_missing", "请填写发文机关"),
        ({"document_number": "  "}, "document_missing", "请填写文号"),
        ({"article": ""}, "document_missing", "请填写条款"),
        ({"published_on": None}, "document_missing", "请填写公布日期"),
        ({"reason": ""}, "document_missing", "请填写变更事由"),
        ({"published_on": dt.date(2022, 3, 1)}, "date_before_policy", "早于政策包《平顺细则》"),
        ({"published_on": dt.date.today() + dt.timedelta(days=3)}, "date_too_late", "公布日期"),
        ({"value": "-1"}, "value_negative", "不能为负数"),
        ({"value": "abc"}, "value_not_number", "须为数字"),
        ({"value": "0"}, "value_out_of_range", "人均可支配收入须大于 0"),
        ({"value": "32000.005"}, "value_out_of_range", "两位小数"),
        (
            {"parameter": "no_such_parameter", "start": dt.date(2025, 3, 1)},
            "unknown_parameter",
            "没有可变更的参数",
        ),
        (
            {"parameter": "deductible_kinds", "value": "inpatient", "start": dt.date(2025, 3, 1)},
            "unknown_parameter",
            "",
        ),
        (
            {"parameter": "ratio.dibao.inpatient", "value": "1.5", "start": dt.date(2025, 3, 1)},
            "value_out_of_range",
            "比例不能大于 1",
        ),
        (
            {"parameter": "annual_cap.all.dibao", "value": "-60000", "start": dt.date(2025, 3, 1)},
            "value_negative",
            "不能为负数",
        ),
        (
            {
                "parameter": "annual_cap.all.dibao",
                "value": "60000000",
                "start": dt.date(2025, 3, 1),
            },
            "value_out_of_range",
            "超过合理上限",
        ),
        (
            {"parameter": "deductible.dibao_edge", "value": "30", "start": dt.date(2025, 3, 1)},
            "value_out_of_range",
            "超过基数的 10 倍",
        ),
        (
            {"parameter": "referral.required", "value": "yes", "start": dt.date(2025, 3, 1)},
            "value_not_flag",
            "true",
        ),
        (
            {
                "parameter": "ratio.dibao.inpatient",
                "value": "0.75",
                "start": dt.date.today() + dt.timedelta(days=400),
            },
            "date_too_late",
            "不能晚于",
        ),
    ],
)
def test_bad_input_is_refused_in_chinese_and_nothing_is_written(
    pingshun, officer, over, code, words
):
    data = {"parameter": BASE, "value": "32000", **over}
    with pytest.raises(ParameterChangeError) as caught:
        propose(pingshun, officer, **data)
    assert caught.value.code == code, caught.value.message
    assert words in caught.value.message
    assert not ParameterChange.objects.exists()


def test_two_changes_of_one_parameter_and_day_are_refused_and_the_database_agrees(
    pingshun, officer
):
    first = propose(pingshun, officer)
    with pytest.raises(ParameterChangeError, match=f"变更#{first.pk}（草稿）") as caught:
        propose(pingshun, officer, value="32500", published_on=dt.date(2025, 1, 25))
    assert caught.value.code == "duplicate_change"
    assert ParameterChange.objects.count() == 1
    from django.db import IntegrityError, transaction

    clone = ParameterChange.objects.get(pk=first.pk)
    clone.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()


def test_a_change_checked_again_at_approval_against_what_was_approved_meanwhile(
    pingshun, officer, checker
):
    """Two drafts of the same slot cannot exist; but a check at approval still runs the engine
    over every approved change with this one — a value that became unusable is refused."""
    change = propose(pingshun, officer)
    registry.parameter_change_submit(change=change, by=officer)
    ParameterChange.objects.filter(pk=change.pk).update(value="-5")  # tampered with
    with pytest.raises(ParameterChangeError, match="不能为负数"):
        registry.parameter_change_approve(change=change, by=checker)
    assert selectors.amendments_for(pooling_area=pingshun, policy_code="pingshun") == ()


def test_a_change_of_the_areas_pack_goes_through_the_same_four_eyes(kunming, officer, checker):
    """云政办发〔2022〕40号 （十八）: Kunming's area is decided by yunnan from 2022-07-01."""
    change = registry.parameter_change_propose(
        pooling_area=kunming,
        by=officer,
        kind=ParameterChange.Kind.POLICY,
        policy_code="yunnan",
        start=dt.date(2022, 7, 1),
        **document(
            issuer="云南省人民政府办公厅",
            document_number="云政办发〔2022〕40号",
            article="（十八）",
            published_on=dt.date(2022, 6, 20),
            reason="省级实施意见施行，与其不一致的以其为准",
        ),
    )
    assert change.effective_date == dt.date(2022, 7, 1)
    assert not PoolingAreaPolicy.objects.exists()
    registry.parameter_change_submit(change=change, by=officer)
    registry.parameter_change_approve(change=change, by=checker)
    row = PoolingAreaPolicy.objects.get(pooling_area=kunming)
    assert (row.start, row.policy_code) == (dt.date(2022, 7, 1), "yunnan")
    assert selectors.policy_on(pooling_area=kunming, day=dt.date(2022, 7, 1)).code == "yunnan"
    assert selectors.policy_on(pooling_area=kunming, day=dt.date(2022, 6, 30)).code == "kunming"
    # A second change of the pack on that day is refused.
    with pytest.raises(ParameterChangeError, match="已适用 yunnan"):
        registry.parameter_change_propose(
            pooling_area=kunming,
            by=officer,
            kind=ParameterChange.Kind.POLICY,
            policy_code="kunming",
            start=dt.date(2022, 7, 1),
            **document(),
        )
    # Nor is a pack past its validity: kunming holds to 2022-06-30.
    with pytest.raises(ParameterChangeError, match="晚于政策包《昆明办法》的有效期") as caught:
        registry.parameter_change_propose(
            pooling_area=kunming,
            by=officer,
            kind=ParameterChange.Kind.POLICY,
            policy_code="kunming",
            start=dt.date(2022, 8, 1),
            **document(),
        )
    assert caught.value.code == "date_after_policy"


def test_a_pack_change_before_the_packs_first_day_is_refused(kunming, officer):
    with pytest.raises(ParameterChangeError, match="早于政策包") as caught:
        registry.parameter_change_propose(
            pooling_area=kunming,
            by=officer,
            kind=ParameterChange.Kind.POLICY,
            policy_code="yunnan",
            start=dt.date(2020, 1, 1),
            **document(),
        )
    assert caught.value.code == "date_before_policy"


def test_the_choice_list_offers_the_packs_parameters_in_chinese(pingshun):
    choices = dict(registry.parameter_choices(pooling_area=pingshun, day=dt.date(2025, 2, 1)))
    assert "全省上年居民人均可支配收入" in choices[BASE] and "30924" in choices[BASE]
    assert "起付标准" in choices["deductible.dibao_edge"]
    assert "deductible_kinds" not in choices  # a list of codes is the pack's, not a change's
    assert registry.parameter_choices(pooling_area=pingshun, day=dt.date(2020, 1, 1)) == []


def test_the_approved_set_is_read_again_only_when_it_moved(
    pingshun, officer, checker, django_assert_num_queries
):
    selectors.approved_amendments()
    with django_assert_num_queries(1):  # the version check only
        selectors.approved_amendments()
    change = propose(pingshun, officer)
    registry.parameter_change_submit(change=change, by=officer)
    registry.parameter_change_approve(change=change, by=checker)
    with django_assert_num_queries(2):  # the check, then the set read again
        found = selectors.approved_amendments()
    assert found[(pingshun.pk, "pingshun")][0].value == "32000"
    assert Decimal(found[(pingshun.pk, "pingshun")][0].value) == Decimal("32000")
