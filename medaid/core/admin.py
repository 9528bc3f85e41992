"""The admin's ground floor: `CountyScopedAdmin`, the base of every app's admin, and the admins
of staff accounts and long jobs.

`CountyScopedAdmin` is where the admin meets `medaid.core.scoping`: lists, counts, filters,
autocomplete, foreign-key choices, object pages opened by URL and saves all go through
`scope_to_user`, so a county clerk never sees, picks or writes another county's rows. Big lists
never run a full COUNT: the paginator counts up to a cap and asks PostgreSQL's planner beyond it.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin.options import ShowFacets
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import DecimalField, Model
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from medaid.core.errors import Refusal
from medaid.core.jobs import job_cancel, job_kind_label
from medaid.core.models import HolidayCalendarDay, Job, LoginEvent, OutboxEvent, User
from medaid.core.money import to_yuan, yuan_text
from medaid.core.outbox import event_retry, topic_label
from medaid.core.scoping import (
    is_city_wide,
    mask_id_number,
    may_see_full_id_number,
    scope_to_user,
    user_county_id,
)
from medaid.core.workdays import missing_calendar_years

# --- counting without a full COUNT -----------------------------------------------------------


class LimitedCountPaginator(Paginator):
    """A big list's paginator: no full COUNT, and every page, the last too, read off an index.

    The count stops at `cap + 1` rows; past the cap PostgreSQL's planner estimate stands in
    (shown as 「10,000+ 条（约 83,000 条）」, `count_text`); SQLite, the small embedded default,
    counts in full. A page deep in the list first takes its ids alone (an index-only scan
    under the list's order) and then its rows by id, so OFFSET never drags whole rows; the
    last page of an estimated count is the list's first rows in reverse order, so it shows the
    real last rows however wrong the estimate was.
    """

    cap = 10_000
    # From this offset on a page's ids are read first, then its rows (a "deferred join").
    deferred_from = 500

    @cached_property
    def _counted(self) -> tuple[int, bool]:
        queryset = self.object_list
        n = queryset[: self.cap + 1].count()
        if n <= self.cap:
            return n, True
        estimate = planner_estimate(queryset)
        if estimate is None:
            return queryset.count(), True
        return max(n, estimate), False

    @property
    def count(self) -> int:
        return self._counted[0]

    @property
    def count_is_exact(self) -> bool:
        return self._counted[1]

    @property
    def count_text(self) -> str:
        """「1,234 条」, or past the cap 「10,000+ 条（约 83,000 条）」."""
        n, exact = self._counted
        if exact:
            return f"{n:,} 条"
        return f"{self.cap:,}+ 条（约 {n:,} 条）"

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        ordered = getattr(self.object_list, "ordered", False)
        if ordered and not self.count_is_exact and number == self.num_pages and number > 1:
            rows = self._rows_of(self.object_list.reverse(), 0, self.per_page)
            return self._get_page(rows, number, self)
        if top + self.orphans >= self.count:
            top = self.count
        if ordered and bottom >= self.deferred_from:
            return self._get_page(self._rows_of(self.object_list, bottom, top), number, self)
        return self._get_page(self.object_list[bottom:top], number, self)

    def _rows_of(self, queryset, bottom: int, top: int):
        """The rows at [bottom, top) of `queryset`'s order, in the list's own order: their ids
        first (no joins, no row data), then the rows by id with the list's joins."""
        ids = list(queryset.prefetch_related(None).values_list("pk", flat=True)[bottom:top])
        return self.object_list.filter(pk__in=ids)


def planner_estimate(queryset) -> int | None:
    """The row count PostgreSQL's planner expects for `queryset` (None elsewhere)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


# --- which related rows a user may pick -----------------------------------------------------

# Lookup path from a model to its county, for models whose `county` field is not "the county
# the row belongs to" or that have none. Hospitals serve every county's patients: their county
# is where they stand, so every clerk may pick any hospital.
# Each app registers its own models here (`register_county_path`).
RELATED_COUNTY_PATHS: dict[str, str | None] = {}


def register_county_path(model_label: str, county_path: str | None) -> None:
    """Tell the admin how `model_label` rows belong to a county (e.g. "person__county")."""
    RELATED_COUNTY_PATHS[model_label.lower()] = county_path


def county_path_for(model: type[Model]) -> str | None:
    label = model._meta.label_lower
    if label in RELATED_COUNTY_PATHS:
        return RELATED_COUNTY_PATHS[label]
    try:
        model._meta.get_field("county")
    except Exception:
        return None
    return "county"


def scope_related(queryset, user):
    """Scope the choices of a foreign key or many-to-many field to what `user` may pick."""
    county_path = county_path_for(queryset.model)
    if county_path is None:
        return queryset
    if user.hospital_id:
        return queryset.none()
    return scope_to_user(queryset, user, county_field=county_path)


class CountyListFilter(admin.SimpleListFilter):
    """区县 filter listing only the counties the user may see. Hidden for a county user on a
    list already held to its county; on a list of rows every county sees (an admin whose
    `county_field` is None, such as hospitals) it offers the user's own county."""

    title = "区县"
    parameter_name = "county"

    def lookups(self, request, model_admin):
        user = request.user
        if not is_city_wide(user) and getattr(model_admin, "county_field", "county") is not None:
            return []
        # The county model is the one staff accounts belong to; core names no app's model.
        county_model = User._meta.get_field("county").related_model
        counties = scope_to_user(county_model.objects.order_by("code"), user, county_field="pk")
        return [(c.pk, c.name) for c in counties]

    def queryset(self, request, queryset):
        value = self.value()
        if value in (None, ""):
            return queryset
        field = getattr(self, "county_field", "county")
        return queryset.filter(**{field: value})


def county_filter(county_field: str) -> type[CountyListFilter]:
    """A `CountyListFilter` over `county_field` (e.g. "person__county")."""
    return type(
        "CountyListFilter_" + county_field.replace("__", "_"),
        (CountyListFilter,),
        {"county_field": county_field, "parameter_name": county_field + "__id__exact"},
    )


# --- operations: who may change what -----------------------------------------------------


def query_int(request, name: str, default: int, *, lo: int, hi: int) -> int:
    """A whole number from a page's query string (a year, a month, an id to filter by):
    `default` when it is missing, not a number or outside [lo, hi] — a hand-edited address
    shows the default page, never a 500."""
    try:
        value = int(request.GET.get(name, ""))
    except ValueError:
        return default
    return value if lo <= value <= hi else default


def may(request, permission: str) -> bool:
    """Whether the user of `request` holds the operation's permission (roles.OPERATIONS)."""
    return request.user.is_active and request.user.has_perm(permission)


def operation_required(request, *permissions: str) -> None:
    """Refuse (403) unless the user holds one of `permissions`; call first in a custom view."""
    from medaid.core.roles import operation_label

    if not any(may(request, p) for p in permissions):
        labels = "、".join(operation_label(p) for p in permissions)
        raise PermissionDenied(f"没有“{labels}”的权限")


class ScopedChoices:
    """Foreign-key and many-to-many choices scoped to what the user may pick: the base of
    `CountyScopedAdmin`, and mixed into an inline (an admin scopes only its own form)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope_related(field.queryset, request.user)
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope_related(field.queryset, request.user)
        return field


# --- the base of every app's admin ----------------------------------------------------------


class CountyScopedAdmin(ScopedChoices, admin.ModelAdmin):
    """Base admin: every queryset scoped to the user's county, ID numbers masked for roles
    that do not need them, counts bounded, and the record's audited change history.

    Subclasses set `county_field` (lookup path to the county, None for rows of no county),
    `hospital_field` (path to the hospital, when hospital accounts may see the rows),
    `id_number_fields` (list_display entries holding ID numbers, masked for users without
    `beneficiaries.view_full_id_number`) and `id_number_field` (the model field holding the
    person's ID number, masked on the change page for those users).
    """

    county_field: str | tuple[str, ...] | None = "county"
    hospital_field: str | None = None
    id_number_fields: tuple[str, ...] = ()
    id_number_field: str | None = None
    paginator = LimitedCountPaginator
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    list_per_page = 50
    # Shown under the search box on every list.
    search_help_text = "可按公民身份号码、姓名等检索"

    # Lists, counts, filters, autocomplete and object pages opened by URL all start here.
    def get_queryset(self, request):
        return scope_to_user(
            super().get_queryset(request),
            request.user,
            county_field=self.county_field,
            hospital_field=self.hospital_field,
        )

    def _county_is_forced(self, request) -> bool:
        return (
            self.county_field == "county"
            and not is_city_wide(request.user)
            and user_county_id(request.user) is not None
        )

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if self._county_is_forced(request) and "county" not in fields:
            fields.append("county")
        if self._masks_id_number(request, obj):
            fields.append("masked_id_number")
        return fields

    def _masks_id_number(self, request, obj) -> bool:
        return bool(
            self.id_number_field and obj is not None and not may_see_full_id_number(request.user)
        )

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if self._masks_id_number(request, obj):
            fields = [
                "masked_id_number" if f == self.id_number_field else f
                for f in fields
                if f != "masked_id_number"
            ]
        return fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self._masks_id_number(request, obj):
            return fieldsets
        result = []
        for name, options in fieldsets:
            options = dict(options)
            options["fields"] = [
                "masked_id_number" if f == self.id_number_field else f
                for f in options.get("fields", ())
            ]
            result.append((name, options))
        return result

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if self._masks_id_number(request, obj):
            exclude.append(self.id_number_field)
        return exclude or None

    @admin.display(description="公民身份号码")
    def masked_id_number(self, obj):
        value = obj
        for part in (self.id_number_field or "").split("__"):
            value = getattr(value, part, None)
        # Read-only fields are only shown to users whose role masks the number.
        return mask_id_number(value or "", None)

    def get_list_display(self, request):
        display = list(super().get_list_display(request))
        if not self.id_number_fields or may_see_full_id_number(request.user):
            return display
        return [
            masked_column(name, user=request.user) if name in self.id_number_fields else name
            for name in display
        ]

    def save_model(self, request, obj, form, change):
        if self._county_is_forced(request):
            obj.county_id = user_county_id(request.user)
        super().save_model(request, obj, form, change)

    def history_view(self, request, object_id, extra_context=None):
        # get_object goes through get_queryset: another county's record is not found.
        obj = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if obj is not None:
            extra_context["audit_events"] = audit_events(obj)
            extra_context["audit_tracked"] = is_tracked(type(obj))
        return super().history_view(request, object_id, extra_context=extra_context)


def masked_column(name: str, *, user):
    """A list_display column showing the ID number at `name` (a field or `a__b` path) masked."""

    def column(obj):
        value = obj
        for part in name.split("__"):
            value = getattr(value, part, None)
            if value is None:
                return ""
        return mask_id_number(str(value), user)

    column.short_description = "公民身份号码"
    column.admin_order_field = name
    column.__name__ = f"masked_{name}"
    return column


def amount_html(value):
    """An amount as people read it (`yuan_text`: thousands separators, two decimals, a minus)
    in `<span class="amount">`: right-aligned by the admin's base template, red when negative.
    The one display of money in admin lists, change pages and the dashboard."""
    if value is None or value == "":
        return "—"
    value = to_yuan(value)
    css = "amount negative" if value < 0 else "amount"
    return format_html('<span class="{}">{}</span>', css, yuan_text(value))


def is_money_field(field) -> bool:
    """A model field holding yuan: a DecimalField of two places wide enough for money (ratios
    have four or six places)."""
    return isinstance(field, DecimalField) and field.decimal_places == 2 and field.max_digits >= 12


def _amount_display(display_for_field):
    def display(value, field, empty_value_display, *args, **kwargs):
        if is_money_field(field) and value is not None:
            return amount_html(value)
        return display_for_field(value, field, empty_value_display, *args, **kwargs)

    display.medaid_amounts = True
    return display


def install_amount_display() -> None:
    """Every money field the admin shows by itself (list cells, read-only fields of change
    pages) goes through `amount_html`, so no admin needs a column of its own for an amount.
    Called once from CoreConfig.ready."""
    from django.contrib.admin import helpers
    from django.contrib.admin.templatetags import admin_list

    for module in (helpers, admin_list):
        if not getattr(module.display_for_field, "medaid_amounts", False):
            module.display_for_field = _amount_display(module.display_for_field)


class LabelledAutocompleteView(AutocompleteJsonView):
    """Autocomplete options named by the admin's `autocomplete_label(obj)` when it has one
    (「name（county·level）」), so that rows of the same name are told apart in a dropdown."""

    def get_queryset(self):
        queryset = super().get_queryset()
        related = getattr(self.model_admin, "autocomplete_select_related", ())
        return queryset.select_related(*related) if related else queryset

    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        label = getattr(self.model_admin, "autocomplete_label", None)
        if label is not None:
            result["text"] = str(label(obj))
        return result


def format_trace(lines) -> str:
    """The engine's trace (a list of Chinese lines) as an ordered list for a change page, in
    words: without the parameter fingerprint or the codes (`policy.trace.for_people`)."""
    from medaid.policy.trace import for_people

    if not lines:
        return "—"
    return format_html(
        '<ol class="decision-trace">{}</ol>',
        format_html_join("", "<li>{}</li>", ((line,) for line in for_people(lines))),
    )


# --- audited change history (django-pghistory) -----------------------------------------------


def is_tracked(model: type[Model]) -> bool:
    import pghistory.models
    from django.apps import apps

    concrete = model._meta.concrete_model
    return any(
        issubclass(m, pghistory.models.Event)
        and m.pgh_tracked_model is not None
        and m.pgh_tracked_model._meta.concrete_model is concrete
        for m in apps.get_models()
    )


def audit_events(obj, *, limit: int = 200) -> list[dict]:
    """Who changed what on `obj`, and when: the django-pghistory events tracking it, newest
    first, each with the fields that changed (`pgh_diff`) and the acting user from the
    context the history middleware records."""
    import pghistory.models

    if not is_tracked(type(obj)):
        return []
    events = (
        pghistory.models.Events.objects.tracks(obj)
        .order_by("-pgh_created_at")
        .values("pgh_created_at", "pgh_label", "pgh_diff", "pgh_context", "pgh_data")[:limit]
    )
    users = {}
    rows = []
    for event in events:
        context = event["pgh_context"] or {}
        user_id = context.get("user")
        if user_id and user_id not in users:
            users[user_id] = User.objects.filter(pk=user_id).first()
        diff = event["pgh_diff"] or {}
        rows.append(
            {
                "at": event["pgh_created_at"],
                "label": EVENT_LABELS.get(event["pgh_label"], event["pgh_label"]),
                "user": users.get(user_id) if user_id else None,
                "url": context.get("url", ""),
                "changes": [
                    {"field": _field_label(type(obj), name), "old": old, "new": new}
                    for name, (old, new) in sorted(diff.items())
                ],
            }
        )
    return rows


EVENT_LABELS = {"insert": "新增", "update": "修改", "delete": "删除", "snapshot": "快照"}


def _field_label(model, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name)
    except Exception:
        return name


# --- staff accounts ----------------------------------------------------------------------


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = (
        "username",
        "full_name",
        "county",
        "department",
        "hospital",
        "roles",
        "is_active",
        "last_login",
    )
    list_filter = (CountyListFilter, "groups", "is_active", "is_staff")
    search_fields = ("username", "first_name", "last_name", "email")
    list_select_related = ("county", "department", "hospital")
    autocomplete_fields = ()
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("个人信息", {"fields": ("last_name", "first_name", "email")}),
        (
            "所属机构",
            {
                "fields": ("county", "department", "hospital"),
                "description": "区县留空为全市账户；部门、医疗机构账户用于接口令牌。",
            },
        ),
        ("角色与权限", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("重要日期", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "password1", "password2"),
            },
        ),
        ("所属机构", {"fields": ("county", "department", "hospital", "groups")}),
    )
    actions = ("issue_api_token",)

    def get_queryset(self, request):
        # A county's user manager sees its own county's staff, never city-wide accounts.
        queryset = super().get_queryset(request).prefetch_related("groups")
        return scope_to_user(queryset, request.user, county_field="county")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope_related(field.queryset, request.user)
        return field

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Only a superuser makes superusers.
            fields.append("is_superuser")
        return fields

    def save_model(self, request, obj, form, change):
        if not is_city_wide(request.user):
            obj.county_id = user_county_id(request.user)
        super().save_model(request, obj, form, change)

    @admin.display(description="姓名")
    def full_name(self, obj):
        return f"{obj.last_name}{obj.first_name}" or "—"

    @admin.display(description="角色")
    def roles(self, obj):
        return "、".join(g.name for g in obj.groups.all()) or "—"

    def has_issue_api_token_permission(self, request) -> bool:
        return may(request, "medaid.issue_api_token")

    @admin.action(
        description="生成/重置接口令牌（部门、医疗机构账户）", permissions=["issue_api_token"]
    )
    def issue_api_token(self, request, queryset):
        from medaid.core.services import api_token_issue

        for user in queryset:
            if not (user.department_id or user.hospital_id):
                self.message_user(
                    request,
                    f"账户 {user.username} 不是部门或医疗机构账户，未生成令牌。",
                    messages.WARNING,
                )
                continue
            token = api_token_issue(user=user)
            # Shown once: the key is a password, and the list never shows it again.
            self.message_user(
                request, f"账户 {user.username} 的新接口令牌：{token.key}（请妥善保管，仅显示一次）"
            )


# --- long jobs ---------------------------------------------------------------------------


@admin.register(Job)
class JobAdmin(CountyScopedAdmin):
    list_display = (
        "id",
        "kind_label",
        "status",
        "stage",
        "progress_bar",
        "county",
        "created_by",
        "created_at",
        "finished_at",
        "download",
    )
    list_filter = ("status", "kind", CountyListFilter, "created_at")
    list_select_related = ("county", "created_by")
    search_fields = ("kind", "created_by__username", "error")
    search_help_text = "按任务类型、发起人或错误信息检索"
    date_hierarchy = "created_at"
    readonly_fields = (
        "kind_label",
        "status",
        "stage",
        "progress_bar",
        "attempts",
        "county",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "download",
        "parameters_pretty",
        "result_pretty",
        "error",
    )
    fields = readonly_fields
    change_form_template = "admin/medaid/job/change_form.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Jobs are the record of what ran; they are never deleted from the admin.
        return False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if is_city_wide(request.user):
            return queryset
        # A county user's own jobs show too when they were started without a county.
        return queryset | Job.objects.filter(created_by=request.user)

    @admin.display(description="任务类型", ordering="kind")
    def kind_label(self, obj):
        return job_kind_label(obj.kind)

    @admin.display(description="进度")
    def progress_bar(self, obj):
        percent = obj.percent
        if obj.status == Job.Status.SUCCEEDED:
            percent = 100
        if percent is None:
            text = f"{obj.progress_done:,}" if obj.progress_done else "—"
            return format_html('<span class="job-progress-text">{}</span>', text)
        total = f"{obj.progress_total:,}" if obj.progress_total else "?"
        return format_html(
            '<progress class="job-progress" value="{}" max="100">{}%</progress> '
            '<span class="job-progress-text">{}% （{} / {}）</span>',
            percent,
            percent,
            percent,
            f"{obj.progress_done:,}",
            total,
        )

    @admin.display(description="结果文件")
    def download(self, obj):
        if not obj.result_file:
            return "—"
        url = reverse("admin:medaid_job_download", args=[obj.pk])
        name = obj.result.get("filename") or obj.result_file.name.rsplit("/", 1)[-1]
        return format_html('<a href="{}" class="job-download">下载 {}</a>', url, name)

    @admin.display(description="参数")
    def parameters_pretty(self, obj):
        return format_html(
            "<pre>{}</pre>", json.dumps(obj.parameters, ensure_ascii=False, indent=2)
        )

    @admin.display(description="结果摘要")
    def result_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.result, ensure_ascii=False, indent=2))

    def get_urls(self):
        return [
            path(
                "<int:pk>/download/",
                self.admin_site.admin_view(self.download_view),
                name="medaid_job_download",
            ),
            path(
                "<int:pk>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="medaid_job_cancel",
            ),
            *super().get_urls(),
        ]

    def has_cancel_permission(self, request, obj=None) -> bool:
        return may(request, "medaid.cancel_job")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_cancel": self.has_cancel_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def cancel_view(self, request, pk: int):
        if not self.has_cancel_permission(request):
            raise PermissionDenied("没有取消后台任务的权限")
        if request.method != "POST":
            raise PermissionDenied("请在任务页面点击“取消任务”")
        job = self.get_queryset(request).filter(pk=pk).first()
        if job is None:
            raise Http404("任务不存在")
        try:
            job_cancel(job=job, by=request.user)
        except Refusal as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, f"已请求取消任务 #{job.pk}", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:medaid_job_change", args=[job.pk]))

    def download_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise Http404
        job = self.get_queryset(request).filter(pk=pk).first()
        if job is None or not job.result_file:
            raise Http404("文件不存在")
        name = job.result.get("filename") or job.result_file.name.rsplit("/", 1)[-1]
        return FileResponse(job.result_file.open("rb"), as_attachment=True, filename=name)


@admin.register(HolidayCalendarDay)
class HolidayCalendarDayAdmin(admin.ModelAdmin):
    list_display = ["date", "is_workday", "name"]
    list_filter = ["is_workday"]
    date_hierarchy = "date"

    def changelist_view(self, request, extra_context=None):
        missing = missing_calendar_years()
        if missing:
            self.message_user(
                request,
                f"系统日历（chinesecalendar）尚无 {'、'.join(map(str, missing))} 年的节假日安排，"
                "请按国务院办公厅通知录入该年全部法定节假日及调休上班日。",
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)


@admin.register(LoginEvent)
class LoginEventAdmin(admin.ModelAdmin):
    """The login audit, read-only: rows are written by the auth signals only."""

    list_display = ["at", "kind", "username", "user", "ip"]
    list_filter = ["kind"]
    search_fields = ["username", "ip"]
    date_hierarchy = "at"
    list_select_related = ["user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    """What one app told the others, and whether it arrived. Parked events wait here for a
    person: read the error, fix the cause, retry."""

    list_display = [
        "id",
        "topic_name",
        "key",
        "state",
        "attempts",
        "created_at",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["state", "topic"]
    search_fields = ["=key", "=topic"]
    readonly_fields = [
        "topic",
        "key",
        "payload_pretty",
        "state",
        "attempts",
        "created_at",
        "next_attempt_at",
        "delivered_at",
        "last_error",
    ]
    exclude = ["payload"]
    actions = ["retry_events"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request) -> bool:
        return may(request, "medaid.retry_outboxevent")

    @admin.display(description="事件")
    def topic_name(self, obj):
        return topic_label(obj.topic)

    @admin.display(description="内容")
    def payload_pretty(self, obj):
        text = json.dumps(obj.payload, ensure_ascii=False, indent=2)
        return format_html("<pre>{}</pre>", text[:20000])

    @admin.action(description="重新投递所选事件", permissions=["retry"])
    def retry_events(self, request, queryset):
        retried = 0
        for event in queryset.exclude(state=OutboxEvent.State.DELIVERED):
            event_retry(event=event)
            retried += 1
        self.message_user(request, f"已重新投递 {retried} 个事件", messages.SUCCESS)
