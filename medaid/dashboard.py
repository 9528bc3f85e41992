"""The admin's front page, per role: what waits for this person today.

A panel is a function `(request) -> Panel | None` registered for the roles that see it. Every
count goes through `scope_to_user`, so a county clerk's numbers are their county's. Panels read
other apps' models by label and stay quiet while a model does not exist yet (a fresh database
during an upgrade), never breaking the front page.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.apps import apps
from django.core.exceptions import FieldError
from django.db.models import Sum
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode

from medaid.core.admin import amount_html
from medaid.core.jobs import broker_reachable
from medaid.core.models import Job
from medaid.core.roles import user_roles
from medaid.core.scoping import scope_to_user

log = logging.getLogger(__name__)

COUNTER = "counter_clerk"
SUPERVISOR = "supervisor"
FINANCE = "finance"
DEPARTMENT = "department_submitter"
AUDITOR = "auditor"
CITY = "city_administrator"
STAFF_ROLES = frozenset({COUNTER, SUPERVISOR, FINANCE, AUDITOR, CITY})


@dataclass
class Item:
    label: str
    value: str | int
    url: str = ""
    # "" (plain), "warning" or "danger": how urgently the number asks for attention.
    level: str = ""


@dataclass
class Panel:
    key: str
    title: str
    items: list[Item] = field(default_factory=list)
    note: str = ""


PanelFn = Callable[..., Panel | None]
PANELS: list[tuple[frozenset[str], PanelFn]] = []


def register_panel(*roles: str):
    def decorator(fn: PanelFn) -> PanelFn:
        PANELS.append((frozenset(roles), fn))
        return fn

    return decorator


def panels_for(request) -> list[Panel]:
    user = request.user
    roles = user_roles(user)
    result = []
    for wanted, fn in PANELS:
        if not roles & wanted:
            continue
        try:
            panel = fn(request)
        except (LookupError, FieldError) as exc:
            # The app's model is not there (yet) or has moved on: the panel steps aside and the
            # front page still opens.
            log.warning("dashboard panel %s skipped: %s", fn.__name__, exc)
            continue
        if panel is not None:
            result.append(panel)
    return result


def _model(label: str):
    return apps.get_model(label)


def _url(name: str, query: str | dict = "", *args) -> str:
    """The admin page `name`, with `query` (a string or a dict of list filters) appended: the
    link of a count filters its list to exactly the rows counted (tests/medaid/test_dashboard)."""
    try:
        url = reverse(name, args=args)
    except NoReverseMatch:
        return ""
    if isinstance(query, dict):
        query = urlencode(query)
    return f"{url}?{query}" if query else url


def _today() -> dt.date:
    return timezone.localdate()


# --- approvals ----------------------------------------------------------------------------


@register_panel(SUPERVISOR, CITY)
def approval_queue(request) -> Panel:
    user = request.user
    Application = _model("claims.Application")
    Claim = _model("claims.Claim")
    panel = Panel("approvals", "审批队列")
    from claims import selectors as claims_selectors

    scoped = scope_to_user(Application.objects.all(), user)
    url = "admin:claims_application_changelist"
    # Each count is the rows of its link: the queue filter runs the same selector.
    first = claims_selectors.applications_first_review(scoped, user).count()
    second = claims_selectors.applications_second_review(scoped, user).count()
    panel.items += [
        Item("救助申请待我初审", first, _url(url, "queue=first"), "warning" if first else ""),
        Item("救助申请待我复审", second, _url(url, "queue=second"), "warning" if second else ""),
    ]
    try:
        IllnessApp = _model("beneficiaries.IllnessPovertyApplication")
    except LookupError:
        pass
    else:
        n = scope_to_user(IllnessApp.objects.filter(status="submitted"), user).count()
        panel.items.append(
            Item(
                "因病致贫认定待审批",
                n,
                _url(
                    "admin:beneficiaries_illnesspovertyapplication_changelist",
                    "status__exact=submitted",
                ),
                "warning" if n else "",
            )
        )
    review = scope_to_user(Claim.objects.filter(status="review"), user).count()
    panel.items.append(
        Item(
            "救助明细待人工复核",
            review,
            _url("admin:claims_claim_changelist", "status__exact=review"),
            "warning" if review else "",
        )
    )
    return panel


@register_panel(COUNTER)
def my_applications(request) -> Panel:
    user = request.user
    Application = _model("claims.Application")
    scoped = scope_to_user(Application.objects.all(), user)
    panel = Panel("applications", "救助申请")
    drafts = scoped.filter(state="draft", created_by=user).count()
    returned = scoped.filter(state="returned").count()
    submitted = scoped.filter(state="submitted").count()
    second = scoped.filter(state="second_review").count()
    url = "admin:claims_application_changelist"
    panel.items += [
        Item("我的草稿", drafts, _url(url, f"state__exact=draft&created_by__exact={user.pk}")),
        Item(
            "已退回待补正",
            returned,
            _url(url, "state__exact=returned"),
            "danger" if returned else "",
        ),
        Item("待初审", submitted, _url(url, "state__exact=submitted")),
        Item("待复审", second, _url(url, "state__exact=second_review")),
    ]
    return panel


# --- imports ------------------------------------------------------------------------------


@register_panel(COUNTER, SUPERVISOR, DEPARTMENT, CITY)
def imports_waiting(request) -> Panel:
    user = request.user
    RosterImport = _model("beneficiaries.RosterImport")
    scoped = scope_to_user(RosterImport.objects.all(), user)
    url = "admin:beneficiaries_rosterimport_changelist"
    staged = scoped.filter(status="staged").count()
    received = scoped.filter(status="received").count()
    with_errors = scoped.filter(status="staged", rows_error__gt=0).count()
    failed = scoped.filter(status__in=["failed", "rejected"]).count()
    panel = Panel("imports", "名册导入")
    panel.items += [
        Item(
            "已校验待入库", staged, _url(url, "status__exact=staged"), "warning" if staged else ""
        ),
        Item("待校验", received, _url(url, "status__exact=received")),
        Item(
            "含错误行（可下载错误文件）",
            with_errors,
            _url(url, {"status__exact": "staged", "rows_error__gt": 0}),
        ),
        Item(
            "退回或失败",
            failed,
            _url(url, {"status__in": "failed,rejected"}),
            "danger" if failed else "",
        ),
    ]
    try:
        FeedCheck = _model("beneficiaries.FeedCheck")
    except LookupError:
        return panel
    year = _today().year
    late = scope_to_user(FeedCheck.objects.filter(status__in=["late", "missing"]), user)
    n = late.filter(period__year=year).count()
    panel.items.append(
        Item(
            "部门变动名册逾期/未报送（本年）",
            n,
            _url(
                "admin:beneficiaries_feedcheck_changelist",
                {"status__in": "late,missing", "period__year": year},
            ),
            "danger" if n else "",
        )
    )
    return panel


# --- warnings -----------------------------------------------------------------------------


@register_panel(COUNTER, SUPERVISOR, AUDITOR, CITY)
def warnings(request) -> Panel:
    user = request.user
    Warning = _model("claims.Warning")
    year = _today().year
    scoped = scope_to_user(Warning.objects.filter(year=year), user)
    url = "admin:claims_warning_changelist"
    key = scoped.filter(group="key").count()
    other = scoped.filter(group="other").count()
    since = _today() - dt.timedelta(days=30)
    recent = scoped.filter(found_on__gte=since).count()
    of_year = {"year__exact": year}
    return Panel(
        "warnings",
        f"监测预警（{year}年）",
        [
            Item(
                "重点监测对象",
                key,
                _url(url, {**of_year, "group__exact": "key"}),
                "danger" if key else "",
            ),
            Item("其他监测对象", other, _url(url, {**of_year, "group__exact": "other"})),
            Item(
                "近30天新增",
                recent,
                _url(url, {**of_year, "found_on__gte": since.isoformat()}),
                "warning" if recent else "",
            ),
        ],
    )


# --- deadlines and money --------------------------------------------------------------------


@register_panel(FINANCE, SUPERVISOR, AUDITOR, CITY)
def deadlines(request) -> Panel:
    from funds.selectors import deadlines_with_status

    # The deadline list's own rows and states (its 办理状态 filter), so each count is its link's.
    states = deadlines_with_status(user=request.user, today=_today())
    url = "admin:funds_deadline_changelist"
    overdue = states.filter(state="overdue").count()
    soon = states.filter(state="due").count()
    later = states.filter(state="open").count()
    return Panel(
        "deadlines",
        "法定时限",
        [
            Item("已逾期", overdue, _url(url, "state=overdue"), "danger" if overdue else ""),
            Item("7天内到期", soon, _url(url, "state=due"), "warning" if soon else ""),
            Item("其他未完成", later, _url(url, "state=open")),
        ],
    )


@register_panel(FINANCE, AUDITOR, CITY)
def fund_balances(request) -> Panel:
    user = request.user
    Account = _model("funds.Account")
    accounts = scope_to_user(
        Account.objects.filter(kind__in=["fiscal", "expenditure"]), user
    ).select_related("county")
    if getattr(user, "county_id", None) is not None and not user.is_superuser:
        # The county sees its own accounts; the city's are the city's business.
        accounts = accounts.filter(county_id=user.county_id)
    rows = accounts.annotate(balance=Sum("postings__amount")).order_by("county__code", "kind")
    panel = Panel("balances", "基金余额", note="按记账凭证实时汇总；点击账户查看各月收支与明细")
    for account in rows[:20]:
        balance = Decimal(str(account.balance or 0)).quantize(Decimal("0.01"))
        panel.items.append(
            Item(
                account.name,
                amount_html(balance),
                _url("admin:funds_account_statement", "", account.pk),
                "danger" if balance < 0 else "",
            )
        )
    return panel


@register_panel(FINANCE, AUDITOR, CITY)
def finance_charts(request) -> Panel:
    """The way to the finance charts: what people would rather look at than read."""
    return Panel(
        "finance_charts",
        "基金收支图表",
        [
            Item("各区县每月支出与预算", "查看", _url("admin:finance_charts")),
            Item("救助金额（按身份、就诊类型）、医院结算", "查看", _url("admin:finance_charts")),
        ],
    )


@register_panel(FINANCE, CITY)
def settlements(request) -> Panel:
    user = request.user
    Run = _model("funds.SettlementRun")
    runs = scope_to_user(Run.objects.all(), user)
    url = "admin:funds_settlementrun_changelist"
    failed = runs.filter(status="failed").count()
    running = runs.filter(status="running").count()
    return Panel(
        "settlements",
        "月度结算",
        [
            Item("结算中", running, _url(url, "status__exact=running")),
            Item(
                "失败待处理", failed, _url(url, "status__exact=failed"), "danger" if failed else ""
            ),
        ],
    )


@register_panel(FINANCE, AUDITOR, CITY)
def reconciliation(request) -> Panel | None:
    """对账: the latest reconciliation job (funds.reconcile, nightly) — when it ran, how many
    differences it found (a county's staff see their county's), a link to the job."""
    user = request.user
    job = (
        Job.objects.filter(kind="funds.reconcile", status__in=["succeeded", "failed"])
        .order_by("-finished_at", "-pk")
        .first()
    )
    panel = Panel("reconciliation", "对账", note="账簿、结算单、救助明细与报表每晚自动核对")
    if job is None:
        panel.items.append(Item("最近对账", "尚未运行"))
        return panel
    try:
        url = reverse("admin:medaid_job_change", args=[job.pk])
    except NoReverseMatch:
        url = ""
    result = job.result or {}
    county_id = getattr(user, "county_id", None)
    if job.status != "succeeded":
        count, level = "对账失败", "danger"
    elif county_id is not None and not user.is_superuser:
        count = int((result.get("by_county") or {}).get(str(county_id), 0))
        level = "danger" if count else ""
    else:
        count = int(result.get("differences") or 0)
        level = "danger" if count else ""
    when = timezone.localtime(job.finished_at).strftime("%Y-%m-%d %H:%M") if job.finished_at else ""
    panel.items += [
        Item("最近对账时间", when, url),
        Item("差异数", count, url, level),
    ]
    return panel


# --- jobs ---------------------------------------------------------------------------------


@register_panel(*STAFF_ROLES, DEPARTMENT)
def jobs(request) -> Panel:
    user = request.user
    mine = Job.objects.filter(created_by=user)
    url = "admin:medaid_job_changelist"
    # Whole seconds: the link carries the same moment the count used.
    since = (timezone.now() - dt.timedelta(days=7)).replace(microsecond=0)
    running = mine.filter(status__in=["pending", "running"]).count()
    failed = mine.filter(status="failed", created_at__gte=since).count()
    done = mine.filter(status="succeeded", finished_at__gte=since).count()
    own = {"created_by__exact": user.pk}
    panel = Panel(
        "jobs",
        "我的后台任务",
        [
            Item("进行中", running, _url(url, {**own, "status__in": "pending,running"})),
            Item(
                "近7天完成",
                done,
                _url(
                    url,
                    {**own, "status__exact": "succeeded", "finished_at__gte": since.isoformat()},
                ),
            ),
            Item(
                "近7天失败",
                failed,
                _url(url, {**own, "status__exact": "failed", "created_at__gte": since.isoformat()}),
                "danger" if failed else "",
            ),
        ],
    )
    if not broker_reachable():
        panel.items.insert(0, Item("任务队列", "无法连接", "", "danger"))
        panel.note = "任务队列（Redis）暂时无法连接：已提交的任务保存在数据库中，恢复后自动补发。"
    return panel
