"""A failed decision run is run again from its admin page (重新执行, `claims.start_recompute`):
the partitions it finished stay done, the others are decided, the run and its job end done."""

import pytest

from beneficiaries.models import Person
from claims import services
from claims.models import DecisionRun, RunPartition
from medaid.core import jobs
from medaid.core.models import Job
from tests.claims.conftest import make_person, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_run(county):
    for _ in range(3):
        make_person(county)
    job = jobs.job_create(kind="claims.recompute", county=county)
    run = services.run_create(
        kind=DecisionRun.Kind.RECOMPUTE,
        year=2024,
        people=Person.objects.values("id"),
        partitions=3,
        job=job,
    )
    services.run_partition_decide(run_id=run.pk, number=0)
    RunPartition.objects.filter(run=run, number=1).update(resends=3)
    services.run_fail(run_id=run.pk, error="计算分区 1 中断后已重新发送 3 次仍未完成")
    run.refresh_from_db()
    assert run.status == DecisionRun.Status.FAILED
    return run


def test_a_failed_run_is_retried_from_its_page(
    client, county, failed_run, django_capture_on_commit_callbacks
):
    run = failed_run
    first = RunPartition.objects.get(run=run, number=0)
    url = f"/admin/claims/decisionrun/{run.pk}/retry/"

    viewer = make_user("run_viewer", county, ["claims.view_decisionrun"], is_staff=True)
    client.force_login(viewer)
    page = client.get(f"/admin/claims/decisionrun/{run.pk}/change/").content.decode()
    assert 'id="run-retry"' not in page
    assert client.post(url).status_code == 403

    admin = make_user(
        "run_admin", county, ["claims.view_decisionrun", "claims.start_recompute"], is_staff=True
    )
    client.force_login(admin)
    page = client.get(f"/admin/claims/decisionrun/{run.pk}/change/").content.decode()
    assert 'id="run-retry"' in page
    assert client.get(url).status_code == 403  # a button, not a link
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == DecisionRun.Status.DONE and run.error == ""
    assert not RunPartition.objects.filter(run=run, done=False).exists()
    assert RunPartition.objects.get(pk=first.pk).finished_at == first.finished_at  # kept
    assert RunPartition.objects.get(run=run, number=1).resends == 0
    job = Job.objects.get(pk=run.job_id)
    assert job.status == Job.Status.SUCCEEDED and job.error == ""

    # Done now: a second retry is refused, and changes nothing.
    response = client.post(url, follow=True)
    assert "只有失败的批次可以重新执行" in response.content.decode()
    run.refresh_from_db()
    assert run.status == DecisionRun.Status.DONE


def test_the_service_refuses_without_the_permission(county, failed_run):
    clerk = make_user("run_clerk", county, ["claims.view_decisionrun"], is_staff=True)
    with pytest.raises(services.ClaimsError) as refused:
        services.run_retry(run=failed_run, by=clerk)
    assert refused.value.code == "permission_denied"
    failed_run.refresh_from_db()
    assert failed_run.status == DecisionRun.Status.FAILED
