import pytest
from django.contrib.auth.models import Group, Permission

from medaid.core.roles import (
    AUDITOR,
    CITY_ADMINISTRATOR,
    COUNTER_CLERK,
    FINANCE,
    ROLES,
    SUPERVISOR,
    resolve,
    sync_roles,
    user_roles,
)
from tests.medaid.conftest import make_user


def perms(role):
    group = Group.objects.get(name=role.name)
    return {
        f"{a}.{c}" for a, c in group.permissions.values_list("content_type__app_label", "codename")
    }


@pytest.mark.django_db
def test_migrate_creates_the_six_roles_with_their_permissions():
    assert set(Group.objects.values_list("name", flat=True)) >= {r.name for r in ROLES}
    assert {r.name for r in ROLES} == {
        "窗口经办",
        "审核审批",
        "财务",
        "部门报送",
        "只读审计",
        "市级管理员",
    }
    assert "beneficiaries.view_person" in perms(COUNTER_CLERK)
    assert "beneficiaries.view_full_id_number" in perms(COUNTER_CLERK)
    assert "beneficiaries.view_full_id_number" in perms(SUPERVISOR)
    assert "medaid.view_job" in perms(FINANCE)


@pytest.mark.django_db
def test_the_auditor_reads_everything_but_never_the_full_id_number_and_never_writes():
    granted = perms(AUDITOR)
    assert "beneficiaries.view_person" in granted
    assert "claims.view_claim" in granted
    assert "beneficiaries.view_full_id_number" not in granted
    assert not [p for p in granted if not p.split(".")[1].startswith("view_")]


@pytest.mark.django_db
def test_no_role_may_delete_people_claims_or_decisions():
    for role in ROLES:
        assert not [p for p in perms(role) if ".delete_" in p], role.name
    assert "medaid.change_user" in perms(CITY_ADMINISTRATOR)


@pytest.mark.django_db
def test_sync_is_idempotent_and_restores_a_role_edited_by_hand():
    group = Group.objects.get(name=COUNTER_CLERK.name)
    before = set(group.permissions.all())
    group.permissions.add(Permission.objects.get(codename="delete_person"))
    sync_roles()
    sync_roles()
    assert set(group.permissions.all()) == before
    assert Group.objects.filter(name=COUNTER_CLERK.name).count() == 1


def test_patterns_resolve_without_granting_explicit_only_permissions():
    available = {
        "claims.view_claim": 1,
        "claims.delete_claim": 2,
        "beneficiaries.view_full_id_number": 3,
        "beneficiaries.view_person": 4,
    }
    assert resolve(["claims.*", "beneficiaries.view_*"], available) == {1, 4}
    assert resolve(["beneficiaries.view_full_id_number"], available) == {3}


@pytest.mark.django_db
def test_user_roles(county_a):
    clerk = make_user("c", "counter_clerk", county=county_a)
    assert user_roles(clerk) == {"counter_clerk"}
