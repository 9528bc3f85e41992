"""The six roles of medaid, as auth Groups with model permissions.

Roles are defined here, in code, and `sync_roles()` makes the database match: it runs from a
data migration (creating the groups) and again after every `migrate` (post_migrate), because
the permissions of apps migrated later — or added in a later release — only exist then. A
permission an administrator adds to a role group by hand is therefore reset on the next
migrate: give such a person a second group instead.

Permissions are written `app_label.codename`; `*` and `?` match as in shell patterns, so
`funds.*` is every permission of the funds app and `*.view_*` every view permission.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    key: str
    name: str
    description: str
    permissions: tuple[str, ...]
    # False for roles that never hold a county (they see the whole pooling area).
    county_bound: bool = True


# Reference data every working role reads.
_REFERENCE = (
    "beneficiaries.view_poolingarea",
    "beneficiaries.view_fundingtier",
    "beneficiaries.view_county",
    "beneficiaries.view_township",
    "beneficiaries.view_department",
    "claims.view_hospital",
    "medaid.view_job",
)
_PEOPLE_READ = (
    "beneficiaries.view_household",
    "beneficiaries.view_person",
    "beneficiaries.view_identity",
)
_CLAIMS_READ = ("claims.view_*",)

COUNTER_CLERK = Role(
    key="counter_clerk",
    name="窗口经办",
    description="区县经办窗口：登记救助对象和身份、导入名册、受理救助申请、录入费用。",
    permissions=(
        *_REFERENCE,
        *_PEOPLE_READ,
        *_CLAIMS_READ,
        "beneficiaries.view_full_id_number",
        # The counter registers people and their documents, never reference data
        # (pooling areas, counties, departments, funding tiers, contribution years).
        "beneficiaries.add_household",
        "beneficiaries.add_person",
        "beneficiaries.add_identity",
        "beneficiaries.add_illnesspovertyapplication",
        "beneficiaries.add_rosterimport",
        "beneficiaries.change_household",
        "beneficiaries.change_person",
        "beneficiaries.change_identity",
        "beneficiaries.change_illnesspovertyapplication",
        "beneficiaries.change_rosterimport",
        "beneficiaries.view_*",
        "claims.add_application",
        "claims.change_application",
        "claims.add_claim",
        "claims.change_claim",
        "claims.submit_application",
    ),
)
SUPERVISOR = Role(
    key="supervisor",
    name="审核审批",
    description="区县审核审批：审批救助申请与因病致贫认定，复核待人工复核的明细。",
    permissions=(
        *_REFERENCE,
        *_PEOPLE_READ,
        *_CLAIMS_READ,
        "beneficiaries.view_*",
        "beneficiaries.view_full_id_number",
        "beneficiaries.approve_illnesspovertyapplication",
        "beneficiaries.change_illnesspovertyapplication",
        "claims.approve_application",
        "claims.change_application",
        "claims.change_claim",
        "claims.review_claim",
        "funds.view_*",
    ),
)
FINANCE = Role(
    key="finance",
    name="财务",
    description="财务：按月结算、核对基金收支，导出结算单、台账和名册。",
    permissions=(
        *_REFERENCE,
        *_PEOPLE_READ,
        *_CLAIMS_READ,
        # Premium-subsidy rosters go to the tax and insurance agencies, who match on the number.
        "beneficiaries.view_full_id_number",
        "funds.view_*",
        "funds.add_*",
        "funds.change_*",
        "funds.settle_*",
        "funds.export_*",
        "claims.export_*",
        "beneficiaries.export_*",
    ),
)
DEPARTMENT_SUBMITTER = Role(
    key="department_submitter",
    name="部门报送",
    description="民政、乡村振兴、工会、残联等部门：报送身份名册和变动。",
    permissions=(
        "beneficiaries.view_county",
        "beneficiaries.view_department",
        "beneficiaries.view_person",
        "beneficiaries.view_identity",
        "beneficiaries.add_identity",
        "beneficiaries.change_identity",
        "beneficiaries.add_person",
        "beneficiaries.view_rosterimport",
        "beneficiaries.add_rosterimport",
        "medaid.view_job",
    ),
)
AUDITOR = Role(
    key="auditor",
    name="只读审计",
    description="审计、纪检：只读查看全部业务数据和变更记录，身份证号脱敏。",
    permissions=(
        "beneficiaries.view_*",
        "claims.view_*",
        "funds.view_*",
        "medaid.view_job",
        "pghistory.view_*",
    ),
    county_bound=False,
)
CITY_ADMINISTRATOR = Role(
    key="city_administrator",
    name="市级管理员",
    description="市医保局：管理账户与角色、统筹区参数，查看全市数据。",
    permissions=(
        "beneficiaries.*",
        "claims.*",
        "funds.*",
        "medaid.*",
        "auth.view_group",
        "pghistory.view_*",
        "django_celery_beat.*",
    ),
    county_bound=False,
)

ROLES: tuple[Role, ...] = (
    COUNTER_CLERK,
    SUPERVISOR,
    FINANCE,
    DEPARTMENT_SUBMITTER,
    AUDITOR,
    CITY_ADMINISTRATOR,
)
ROLES_BY_KEY = {role.key: role for role in ROLES}
ROLES_BY_NAME = {role.name: role for role in ROLES}

# Granted only when a role names them, never through a pattern: deleting people, claims,
# decisions or ledger rows erases the record an audit needs (corrections are new rows), and the
# full ID number is for roles that need it (`beneficiaries.view_*` must not reveal it).
_EXPLICIT_ONLY = ("*.delete_*", "beneficiaries.view_full_id_number")


def resolve(patterns, available: dict[str, int]) -> set[int]:
    """Permission ids for `patterns` among `available` ("app.codename" → id)."""
    wanted: set[int] = set()
    explicit = {p for p in patterns if not any(c in p for c in "*?")}
    for pattern in patterns:
        for name, pk in available.items():
            if not fnmatch.fnmatchcase(name, pattern):
                continue
            if name not in explicit and any(fnmatch.fnmatchcase(name, n) for n in _EXPLICIT_ONLY):
                continue
            wanted.add(pk)
    return wanted


def sync_roles(*, group_model=None, permission_model=None, using: str = "default") -> None:
    """Create the role groups and set their permissions to what ROLES says (idempotent).

    Takes the models as arguments so that a data migration can pass its historical ones.
    """
    if group_model is None or permission_model is None:
        from django.contrib.auth.models import Group, Permission

        group_model, permission_model = Group, Permission
    available = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in permission_model.objects.using(using).values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    for role in ROLES:
        group, _ = group_model.objects.using(using).get_or_create(name=role.name)
        group.permissions.set(resolve(role.permissions, available))


def sync_roles_after_migrate(sender, using="default", **kwargs) -> None:
    """post_migrate receiver: permissions of every app exist once its migrate has run."""
    from django.contrib.auth.models import Group, Permission
    from django.db import DatabaseError

    try:
        sync_roles(group_model=Group, permission_model=Permission, using=using)
    except DatabaseError:
        # The auth tables are not there yet (migrating a subset of apps): the next run syncs.
        return


def user_roles(user) -> set[str]:
    """The role keys `user` holds (superusers hold the city administrator's)."""
    if user is None or not user.is_authenticated:
        return set()
    names = set(user.groups.values_list("name", flat=True))
    keys = {ROLES_BY_NAME[n].key for n in names if n in ROLES_BY_NAME}
    if user.is_superuser:
        keys.add(CITY_ADMINISTRATOR.key)
    return keys
