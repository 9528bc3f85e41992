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
        "beneficiaries.change_household",
        "beneficiaries.change_person",
        "beneficiaries.change_illnesspovertyapplication",
        "beneficiaries.change_rosterimport",
        "beneficiaries.view_*",
        "claims.change_application",
        "claims.add_claim",
        "claims.change_claim",
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
        "beneficiaries.change_illnesspovertyapplication",
        "claims.change_application",
        "claims.change_claim",
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
        # The subsidy rosters it turns into transfer requests to the resident insurance fund.
        "beneficiaries.view_subsidyroster",
        "beneficiaries.view_subsidyline",
        "beneficiaries.view_premiumtransferrequest",
        "funds.view_*",
        "funds.add_*",
        "funds.change_*",
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
        "beneficiaries.add_person",
        "beneficiaries.view_rosterimport",
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


# --- operations: every permission that lets a person change something ----------------------
#
# One row per operation that writes: the permission that allows it, its Chinese label and the
# roles that hold it. This table is the only place such a permission is granted — a role's
# patterns above never grant one (`resolve` skips them), so `funds.*` or `funds.change_*` does
# not hand out posting or reversing vouchers. The admin (actions, custom views, object tools),
# the API (`medaid.core.api.HasOperation`) and the services check these permissions; the matrix
# test (tests/medaid/test_permission_matrix.py) checks every admin action, custom admin URL and
# API route against this table, and docs/roles.md is rendered from it (`render_roles_markdown`;
# `python -m medaid.core.roles` rewrites it).


@dataclass(frozen=True)
class Operation:
    permission: str
    label: str
    roles: tuple[str, ...]


_CC, _SUP, _FIN, _DEP, _AUD, _CITY = (
    "counter_clerk",
    "supervisor",
    "finance",
    "department_submitter",
    "auditor",
    "city_administrator",
)

OPERATIONS: tuple[Operation, ...] = (
    # Applications (依申请救助) at the counter and their approval.
    Operation("claims.add_application", "登记救助申请", (_CC, _CITY)),
    Operation("claims.submit_application", "提交救助申请", (_CC, _CITY)),
    Operation("claims.approve_application", "审批通过救助申请", (_SUP, _CITY)),
    Operation("claims.reject_application", "不予救助（救助申请）", (_SUP, _CITY)),
    Operation("claims.return_application", "退回救助申请补正", (_SUP, _CITY)),
    # Claims.
    Operation("claims.review_claim", "复核待人工复核的明细（通过/不予受理）", (_SUP, _CITY)),
    Operation("claims.correct_claim", "更正救助明细", (_SUP, _CITY)),
    Operation("claims.add_declaration", "上传医院月度申报（含平台结算清单）", (_CITY,)),
    Operation("claims.add_codemapping", "新增平台代码映射", (_CITY,)),
    Operation("claims.change_codemapping", "修改平台代码映射（启用、停用日期）", (_CITY,)),
    Operation("beneficiaries.add_identitytypemapping", "新增平台人员身份类别映射", (_CITY,)),
    Operation(
        "beneficiaries.change_identitytypemapping",
        "修改平台人员身份类别映射（启用、停用日期）",
        (_CITY,),
    ),
    Operation("claims.change_hospital", "维护医疗机构目录", (_CITY,)),
    Operation("claims.change_warningdispatch", "答复监测预警", (_CITY,)),
    Operation("claims.start_recompute", "发起救助重算", (_CITY,)),
    Operation(
        "claims.start_replay", "发起政策模拟测算（草案下重算一个期间，不写入决定）", (_CITY,)
    ),
    # The registry.
    Operation("beneficiaries.change_identity", "变更救助对象身份", (_CC, _DEP, _CITY)),
    Operation("beneficiaries.add_rosterimport", "上传、校验部门名册", (_CC, _DEP, _CITY)),
    Operation("beneficiaries.apply_rosterimport", "名册入库", (_CC, _DEP, _CITY)),
    Operation(
        "beneficiaries.review_rosterimport",
        "复核名册入库（大批量终止身份须第二人同意）",
        (_SUP, _CITY),
    ),
    Operation("beneficiaries.reverse_rosterimport", "撤销名册入库（撤销本次导入）", (_SUP, _CITY)),
    Operation(
        "beneficiaries.approve_illnesspovertyapplication",
        "因病致贫认定（认定/不予认定）",
        (_SUP, _CITY),
    ),
    Operation(
        "beneficiaries.propose_parameterchange",
        "录入、提交、撤回政策参数变更（含适用政策包）",
        (_CITY,),
    ),
    Operation(
        "beneficiaries.approve_parameterchange",
        "审核政策参数变更（批准/退回；不能审核本人录入的）",
        (_CITY,),
    ),
    Operation("beneficiaries.build_subsidyroster", "生成资助参保名册（含每月新增）", (_CC, _CITY)),
    Operation("beneficiaries.confirm_subsidyroster", "确认资助参保名册", (_SUP, _CITY)),
    Operation(
        "beneficiaries.create_premiumtransferrequest",
        "生成资助参保资金划转申请",
        (_FIN, _CITY),
    ),
    Operation(
        "beneficiaries.approve_premiumtransferrequest",
        "提交资助参保资金划转记账（制单，待复核）",
        (_FIN, _CITY),
    ),
    # The fund. Money moves are made by one person and posted only when a second person holding
    # funds.check_moneymove approves them (funds.moves): the five maker operations below, and
    # the checker's.
    Operation("funds.post_entry", "录入手工记账凭证（含资金下达、上解；制单）", (_FIN, _CITY)),
    Operation("funds.reverse_entry", "冲销记账凭证（制单）", (_FIN, _CITY)),
    Operation("funds.settle_month", "发起、继续月度结算，提交结算记账（制单）", (_FIN, _CITY)),
    Operation("funds.complete_deadline", "标记法定时限办结", (_FIN, _CITY)),
    Operation("funds.close_year", "年终决算及超支分担（制单）", (_FIN, _CITY)),
    Operation(
        "funds.check_moneymove",
        "复核资金变动并记账（不能复核本人制单的）",
        (_FIN, _CITY),
    ),
    # Accounts, jobs, events, reports.
    Operation("medaid.change_user", "管理账户与角色", (_CITY,)),
    Operation("medaid.issue_api_token", "生成、重置接口令牌", (_CITY,)),
    Operation("medaid.cancel_job", "取消后台任务", (_CITY,)),
    Operation("medaid.retry_outboxevent", "重新投递搁置的跨模块事件", (_CITY,)),
    Operation("medaid.start_report", "发起报表导出任务", (_CC, _SUP, _FIN, _CITY)),
    # Third-party admin pages.
    Operation(
        "django_celery_beat.change_periodictask", "管理定时任务（启用、停用、立即运行）", (_CITY,)
    ),
    # Superusers only: no role holds it.
    Operation("axes.delete_accessattempt", "清理登录失败记录", ()),
)
OPERATIONS_BY_PERMISSION = {op.permission: op for op in OPERATIONS}
OPERATION_PERMISSIONS = frozenset(OPERATIONS_BY_PERMISSION)

# Marks an entry below as reading only (it changes nothing, so it needs no operation).
READ = "read"

# Every admin action (`app_label.modelname.action`) → the operation it performs, or READ.
# Django's `delete_selected` needs the model's delete permission, which no role holds.
ADMIN_ACTIONS: dict[str, str] = {
    "medaid.user.issue_api_token": "medaid.issue_api_token",
    "medaid.outboxevent.retry_events": "medaid.retry_outboxevent",
    "beneficiaries.feedcheck.export_xlsx": READ,
    "beneficiaries.subsidyroster.build": "beneficiaries.build_subsidyroster",
    "beneficiaries.subsidyroster.additions": "beneficiaries.build_subsidyroster",
    "beneficiaries.subsidyroster.transfer": "beneficiaries.create_premiumtransferrequest",
    "beneficiaries.subsidyroster.export_xlsx": "medaid.start_report",
    "beneficiaries.illnesspovertyapplication.approve": (
        "beneficiaries.approve_illnesspovertyapplication"
    ),
    "beneficiaries.illnesspovertyapplication.reject": (
        "beneficiaries.approve_illnesspovertyapplication"
    ),
    "claims.reviewclaim.accept_selected": "claims.review_claim",
    "claims.reviewclaim.refuse_selected": "claims.review_claim",
    "claims.application.submit_selected": "claims.submit_application",
    "funds.account.export_ledger": READ,
    "funds.entry.reverse_entries": "funds.reverse_entry",
    "funds.deadline.complete_today": "funds.complete_deadline",
    "funds.settlementrun.resume": "funds.settle_month",
    "funds.settlementrun.propose_posting": "funds.settle_month",
    "funds.settlementrun.export_statements": READ,
    "funds.settlementstatement.export": READ,
    "funds.yearendclose.export": READ,
    "django_celery_beat.periodictask.enable_tasks": "django_celery_beat.change_periodictask",
    "django_celery_beat.periodictask.disable_tasks": "django_celery_beat.change_periodictask",
    "django_celery_beat.periodictask.toggle_tasks": "django_celery_beat.change_periodictask",
    "django_celery_beat.periodictask.run_tasks": "django_celery_beat.change_periodictask",
    "axes.accessattempt.cleanup_expired_attempts": "axes.delete_accessattempt",
}

# Every custom admin URL (by name) → the operation a POST to it performs, or READ. A tuple: any
# one of the operations opens the page (the decision page approves, refuses or returns).
ADMIN_URLS: dict[str, str | tuple[str, ...]] = {
    "benefit_calculator": READ,
    "auth_user_password_change": "medaid.change_user",
    "report_center": "medaid.start_report",
    "finance_charts": READ,
    "medaid_job_download": READ,
    "medaid_job_cancel": "medaid.cancel_job",
    "beneficiaries_roster_upload": "beneficiaries.add_rosterimport",
    "beneficiaries_poolingarea_parameters": READ,
    "beneficiaries_parameterchange_propose": "beneficiaries.propose_parameterchange",
    "beneficiaries_parameterchange_decide": (
        "beneficiaries.propose_parameterchange",
        "beneficiaries.approve_parameterchange",
    ),
    "beneficiaries_roster_template": READ,
    "beneficiaries_roster_preview": "beneficiaries.apply_rosterimport",
    "beneficiaries_roster_errors": READ,
    "beneficiaries_roster_review": "beneficiaries.review_rosterimport",
    "beneficiaries_roster_reverse": "beneficiaries.reverse_rosterimport",
    "claims_declaration_upload": "claims.add_declaration",
    "claims_platformsettlement_resolve": "claims.review_claim",
    "claims_platformsettlement_mismatches": READ,
    "claims_application_decide": (
        "claims.approve_application",
        "claims.reject_application",
        "claims.return_application",
    ),
    "claims_application_notice": READ,
    # The buttons of an application's page, each with its confirmation page.
    "claims_application_submit": "claims.submit_application",
    "claims_application_approve": "claims.approve_application",
    "claims_application_return": "claims.return_application",
    "claims_application_reject": "claims.reject_application",
    "claims_decisionrun_retry": "claims.start_recompute",
    "claims_replayrun_start": "claims.start_replay",
    "claims_replayrun_export": READ,
    "funds_settlementrun_start": "funds.settle_month",
    "funds_settlementrun_reconcile": READ,
    "funds_entry_print": READ,
    "funds_account_statement": READ,
    "funds_moneymove_decide": "funds.check_moneymove",
    "funds_moneymove_propose_premium_transfer": "beneficiaries.approve_premiumtransferrequest",
    "funds_moneymove_propose_year_end": "funds.close_year",
}

# Every API route under /api/v1/ (URL name, HTTP method) → the operation, or READ.
API_ROUTES: dict[tuple[str, str], str] = {
    ("api-preview", "POST"): READ,  # computes a case, stores nothing
    ("api-root", "GET"): READ,
    ("hospital-list", "GET"): READ,
    ("hospital-list", "POST"): "claims.change_hospital",
    ("hospital-detail", "GET"): READ,
    ("hospital-detail", "PATCH"): "claims.change_hospital",
    ("claim-list", "GET"): READ,
    ("claim-detail", "GET"): READ,
    ("claim-export", "GET"): READ,
    ("claim-history", "GET"): READ,
    ("claim-review", "POST"): "claims.review_claim",
    ("claim-correct", "POST"): "claims.correct_claim",
    ("decision-list", "GET"): READ,
    ("decision-detail", "GET"): READ,
    ("declaration-list", "GET"): READ,
    ("declaration-list", "POST"): "claims.add_declaration",
    ("declaration-detail", "GET"): READ,
    ("declaration-upload", "POST"): "claims.add_declaration",
    ("declaration-platform", "POST"): "claims.add_declaration",
    ("declaration-platform-upload", "POST"): "claims.add_declaration",
    ("declaration-errors", "GET"): READ,
    ("parameterchange-list", "GET"): READ,
    ("parameterchange-list", "POST"): "beneficiaries.propose_parameterchange",
    ("parameterchange-detail", "GET"): READ,
    ("parameterchange-submit", "POST"): "beneficiaries.propose_parameterchange",
    ("parameterchange-withdraw", "POST"): "beneficiaries.propose_parameterchange",
    ("parameterchange-approve", "POST"): "beneficiaries.approve_parameterchange",
    ("parameterchange-send-back", "POST"): "beneficiaries.approve_parameterchange",
    ("application-list", "GET"): READ,
    ("application-list", "POST"): "claims.add_application",
    ("application-detail", "GET"): READ,
    ("application-submit", "POST"): "claims.submit_application",
    ("application-approve", "POST"): "claims.approve_application",
    ("application-reject", "POST"): "claims.reject_application",
    ("application-send-back", "POST"): "claims.return_application",
    ("warning-list", "GET"): READ,
    ("warning-detail", "GET"): READ,
    ("warning-dispatch-list", "GET"): READ,
    ("warning-dispatch-detail", "GET"): READ,
    ("warning-dispatch-export", "GET"): READ,
    ("warning-dispatch-answer", "POST"): "claims.change_warningdispatch",
    ("person-list", "GET"): READ,
    ("person-detail", "GET"): READ,
    ("identity-list", "GET"): READ,
    ("identity-detail", "GET"): READ,
    ("rosterimport-list", "GET"): READ,
    ("rosterimport-list", "POST"): "beneficiaries.add_rosterimport",
    ("rosterimport-detail", "GET"): READ,
    ("rosterimport-apply", "POST"): "beneficiaries.apply_rosterimport",
    ("rosterimport-review", "POST"): "beneficiaries.review_rosterimport",
    ("rosterimport-reverse", "POST"): "beneficiaries.reverse_rosterimport",
    ("rosterimport-errors", "GET"): READ,
    ("subsidyroster-list", "GET"): READ,
    ("subsidyroster-detail", "GET"): READ,
    ("subsidyroster-lines", "GET"): READ,
}

# Operations the code defines but no admin page, action or API route performs yet (they run
# from services, tasks or the demo command only).
NOT_YET_OFFERED = {
    "beneficiaries.confirm_subsidyroster": "仅服务 subsidy_roster_confirm（演示数据命令调用）",
}


def operation_label(permission: str) -> str:
    op = OPERATIONS_BY_PERMISSION.get(permission)
    return op.label if op is not None else permission


def role_holds(role_key: str, permission: str) -> bool:
    op = OPERATIONS_BY_PERMISSION.get(permission)
    return op is not None and role_key in op.roles


def render_roles_markdown() -> str:
    """docs/roles.md: the roles and, for each operation, which of them hold it."""
    lines = [
        "# 角色与操作权限",
        "",
        "<!-- 由 medaid/core/roles.py 的 OPERATIONS 生成（python -m medaid.core.roles），"
        "请勿手工编辑；tests/medaid/test_permission_matrix.py 校验本文件与代码一致。 -->",
        "",
        "## 角色",
        "",
        "| 角色 | 说明 | 范围 |",
        "| --- | --- | --- |",
    ]
    for role in ROLES:
        scope = "本区县" if role.county_bound else "全市"
        lines.append(f"| {role.name} | {role.description} | {scope} |")
    lines += [
        "",
        "## 操作",
        "",
        "改变数据的每一项操作需要下表中的权限；只读审计不持有任何一项。超级用户持有全部权限。",
        "",
        "| 操作 | 权限 | " + " | ".join(role.name for role in ROLES) + " |",
        "| --- | --- | " + " | ".join(":---:" for _ in ROLES) + " |",
    ]
    for op in OPERATIONS:
        marks = " | ".join("✓" if role.key in op.roles else "✗" for role in ROLES)
        lines.append(f"| {op.label} | `{op.permission}` | {marks} |")
    lines += ["", "## 尚无操作入口的权限", ""]
    for permission, note in NOT_YET_OFFERED.items():
        lines.append(f"- {operation_label(permission)}（`{permission}`）：{note}")
    return "\n".join(lines) + "\n"


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
            if name in OPERATION_PERMISSIONS:
                continue  # granted by OPERATIONS only
            wanted.add(pk)
    return wanted


def role_permission_ids(role: Role, available: dict[str, int]) -> set[int]:
    """What `role`'s group holds: its (reading) patterns plus the operations OPERATIONS gives it."""
    wanted = resolve(role.permissions, available)
    for op in OPERATIONS:
        if role.key in op.roles and op.permission in available:
            wanted.add(available[op.permission])
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
        group.permissions.set(role_permission_ids(role, available))


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


def write_roles_markdown(path=None) -> str:
    """Write docs/roles.md (or `path`) from OPERATIONS; returns the path written."""
    from pathlib import Path

    target = Path(path) if path else Path(__file__).resolve().parents[2] / "docs" / "roles.md"
    target.write_text(render_roles_markdown(), encoding="utf-8")
    return str(target)


if __name__ == "__main__":  # python -m medaid.core.roles
    print(write_roles_markdown())
