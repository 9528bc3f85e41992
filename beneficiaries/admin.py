"""The registry in the admin: people and their identity periods, departments' lists with the
upload → preview → apply flow, the feed check, subsidy rosters and 因病致贫 applications.
Thin: every write goes through `services`, every queryset through `scope_to_user`."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from beneficiaries import exports, selectors, services
from beneficiaries.models import (
    ContributionYear,
    County,
    Department,
    FeedCheck,
    FundingTier,
    Household,
    Identity,
    IdentityTypeMapping,
    IllnessPovertyApplication,
    ParameterChange,
    Person,
    PoolingArea,
    PoolingAreaPolicy,
    PremiumTransferRequest,
    RosterImport,
    RosterImportRow,
    SubsidyLine,
    SubsidyRoster,
    Township,
)
from medaid.core.admin import (
    CountyScopedAdmin,
    ScopedChoices,
    county_filter,
    may,
    operation_required,
    register_county_path,
)
from medaid.core.errors import Refusal
from medaid.core.fields import ServiceCheckedForm
from medaid.core.scoping import mask_id_number, scope_to_user

register_county_path("beneficiaries.county", "pk")
register_county_path("beneficiaries.poolingarea", None)
register_county_path("beneficiaries.fundingtier", None)
register_county_path("beneficiaries.poolingareapolicy", None)
register_county_path("beneficiaries.parameterchange", None)
register_county_path("beneficiaries.identitytypemapping", None)
register_county_path("beneficiaries.identity", "person__county")
register_county_path("beneficiaries.township", "county")
register_county_path("beneficiaries.subsidyline", "roster__county")


class PoolingAreaPolicyInline(admin.TabularInline):
    """Which pack decides the area's claims from which day. Read-only here: a change goes
    through the policy office's four-eyes parameter change (issue #16 part 1)."""

    model = PoolingAreaPolicy
    fields = ["start", "policy_code", "parameters", "ref"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PoolingArea)
class PoolingAreaAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "policy_code", "history_link"]
    search_fields = ["name", "code"]
    readonly_fields = ["history_link"]
    inlines = [PoolingAreaPolicyInline]

    @admin.display(description="参数历史")
    def history_link(self, obj):
        if obj.pk is None:
            return "—"
        return format_html(
            '<a href="{}">查看政策参数历史（原政策包与已批准的变更）</a>',
            reverse("admin:beneficiaries_poolingarea_parameters", args=[obj.pk]),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/parameters/",
                view(self.parameters_view),
                name="beneficiaries_poolingarea_parameters",
            ),
            *super().get_urls(),
        ]

    def parameters_view(self, request, pk):
        """One parameter history page per pack deciding the area: the YAML values and the
        approved changes overlaid, each with its citation."""
        if not may(request, "beneficiaries.view_poolingarea"):
            raise PermissionDenied
        area = get_object_or_404(PoolingArea, pk=pk)
        schedule = selectors.area_schedules(pooling_areas=[area.pk])[area.pk]
        codes = list(dict.fromkeys(p.code for p in schedule.policies))
        code = request.GET.get("policy") if request.GET.get("policy") in codes else codes[-1]
        only_changed = request.GET.get("changed") == "1"
        rows = selectors.parameter_history(pooling_area=area, policy_code=code)
        if only_changed:
            rows = [r for r in rows if r.changed]
        pending = ParameterChange.objects.filter(
            pooling_area=area,
            policy_code=code,
            state__in=[ParameterChange.State.DRAFT, ParameterChange.State.SUBMITTED],
        ).order_by("effective_date")
        context = {
            **self.admin_site.each_context(request),
            "title": f"{area} 政策参数历史：{code}",
            "area": area,
            "codes": codes,
            "code": code,
            "only_changed": only_changed,
            "rows": rows,
            "pending": pending,
            "schedule": schedule.policies,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "beneficiaries/parameter_history.html", context)


@admin.register(FundingTier)
class FundingTierAdmin(admin.ModelAdmin):
    list_display = ["pooling_area", "tier", "city_share", "county_share", "ref"]
    list_filter = ["pooling_area"]


@admin.register(County)
class CountyAdmin(CountyScopedAdmin):
    county_field = "pk"
    list_display = ["name", "code", "pooling_area", "funding_tier"]
    search_fields = ["name", "code"]


@admin.register(Township)
class TownshipAdmin(CountyScopedAdmin):
    list_display = ["name", "code", "county"]
    list_filter = [county_filter("county")]
    search_fields = ["name", "code"]


@admin.register(Department)
class DepartmentAdmin(CountyScopedAdmin):
    list_display = ["name", "county", "kind"]
    list_filter = ["kind", county_filter("county")]
    search_fields = ["name"]
    autocomplete_select_related = ["county"]

    @admin.display(description="部门")
    def autocomplete_label(self, obj):
        return f"{obj.name}（{obj.county.name}·{obj.get_kind_display()}）"


@admin.register(Household)
class HouseholdAdmin(CountyScopedAdmin):
    list_display = ["code", "county", "township", "address"]
    list_filter = [county_filter("county")]
    search_fields = ["=code", "address"]
    raw_id_fields = ["township"]


class IdentityForm(ServiceCheckedForm):
    def service_check(self, data):
        # On the identity page the person is a field; inline, the person being edited.
        person = data.get("person") or getattr(self.instance, "person", None)
        services.identity_check(
            start=data.get("start"),
            end=data.get("end"),
            certified_on=data.get("certified_on"),
            birth_date=getattr(person, "birth_date", None),
        )


class IdentityInline(ScopedChoices, admin.TabularInline):
    model = Identity
    form = IdentityForm
    extra = 0
    fields = ["code", "start", "end", "department", "certified_on", "source_line"]
    readonly_fields = ["source_line"]
    ordering = ["start"]


@admin.register(Person)
class PersonAdmin(CountyScopedAdmin):
    # What a clerk scans in a 1,280 px window; the rest is on the person's page.
    list_display = ["name", "id_number", "sex", "birth_date", "county", "township"]
    id_number_fields = ("id_number",)
    id_number_field = "id_number"
    list_filter = [county_filter("county"), "sex", "insurance_scheme", "identities__code"]
    search_fields = ["=id_number", "name", "household__code"]
    search_help_text = "按公民身份号码（完整18位或后6位、后4位）、医保人员编号、姓名或户编号检索"
    raw_id_fields = ["household", "township"]
    list_select_related = ["county", "township"]
    autocomplete_select_related = ["county"]
    # The (county, name, id) index's order: every page of the list, filtered by county or
    # not, is read off it (medaid.core.admin.LimitedCountPaginator).
    ordering = ["county_id", "name", "id"]
    readonly_fields = ["sex", "birth_date", "created_at", "updated_at"]
    inlines = [IdentityInline]

    def get_search_results(self, request, queryset, search_term):
        # Full ID number, its last 6 or 4 characters, or a name (the beginning is enough);
        # the household code still finds its members. Each an index lookup, never a scan.
        from beneficiaries.selectors import people_search

        if not search_term.strip():
            return queryset, False
        return people_search(queryset, search_term), False

    @admin.display(description="姓名", ordering="name")
    def autocomplete_label(self, obj):
        return f"{obj.name}（{obj.county.name}·{mask_id_number(obj.id_number, None)[-4:]}）"

    def save_form(self, request, form, change):
        from beneficiaries import id_numbers

        # Before the inlines are built, so an identity's dates are checked against the birth
        # date of the number just typed.
        obj = super().save_form(request, form, change)
        parsed = id_numbers.parse(obj.id_number)
        obj.id_number, obj.sex, obj.birth_date = parsed.number, parsed.sex, parsed.birth_date
        return obj

    def save_formset(self, request, form, formset, change):
        if formset.model is not Identity:
            return super().save_formset(request, form, formset, change)
        # Identity periods change through the identities service only.
        saved = formset.save(commit=False)
        services.identities_change(
            person=form.instance,
            save=saved,
            delete=formset.deleted_objects,
            changed_by=request.user,
        )
        formset.save_m2m()


class PersonForm(forms.ModelForm):
    def clean_id_number(self):
        from beneficiaries import id_numbers

        try:
            return id_numbers.parse(self.cleaned_data["id_number"]).number
        except id_numbers.IdNumberError as exc:
            raise forms.ValidationError(exc.message) from None


PersonAdmin.form = PersonForm


@admin.register(Identity)
class IdentityAdmin(CountyScopedAdmin):
    county_field = "person__county"
    list_display = [
        "person",
        "person_id_number",
        "code",
        "start",
        "end",
        "department",
        "source_line",
    ]
    list_filter = ["code", "department__kind", county_filter("person__county")]
    search_fields = ["=person__id_number", "person__name", "=source_line"]
    autocomplete_fields = ["person", "department"]
    list_select_related = ["person", "department"]
    date_hierarchy = "start"
    form = IdentityForm

    @admin.display(description="公民身份号码")
    def person_id_number(self, obj):
        return mask_id_number(obj.person.id_number, self._user)

    def get_queryset(self, request):
        self._user = request.user
        return super().get_queryset(request)

    # Identity periods change through the identities service only.
    def save_model(self, request, obj, form, change):
        services.identities_change(person=obj.person, save=[obj], changed_by=request.user)

    def delete_model(self, request, obj):
        services.identities_change(person=obj.person, delete=[obj], changed_by=request.user)

    def delete_queryset(self, request, queryset):
        for identity in queryset.select_related("person"):
            services.identities_change(
                person=identity.person, delete=[identity], changed_by=request.user
            )


@admin.register(IdentityTypeMapping)
class IdentityTypeMappingAdmin(CountyScopedAdmin):
    """人员身份类别 of the national platform → our identities: reference data of the whole
    pooling area, read by the platform identity import and the settlement lists. A change of
    the platform's dictionary is a new row from the day it applies (and an end date on the old
    one), never an edit of history."""

    county_field = None
    list_display = ["code", "label", "identity", "valid_from", "valid_to", "note"]
    list_filter = ["identity"]
    search_fields = ["code", "label", "identity"]
    search_help_text = "按平台代码、名称或本系统身份检索"
    ordering = ["code", "valid_from"]

    def has_delete_permission(self, request, obj=None):
        return False


# --- Rosters and change feeds ----------------------------------------------------------------


class RosterUploadForm(forms.Form):
    department = forms.ModelChoiceField(Department.objects.all(), label="报送部门")
    kind = forms.ChoiceField(choices=RosterImport.Kind.choices, label="名单类型")
    file = forms.FileField(label="名册文件（.xlsx 或 .csv）")
    stated_date = forms.DateField(label="名单载明日期", initial=timezone.localdate)
    delivered_on = forms.DateField(
        label="实际提供日期",
        required=False,
        help_text="留空为今天；纸质或邮件先期送达的，填实际日期",
    )
    date_note = forms.CharField(label="日期不符说明", required=False, max_length=200)
    end_absent = forms.BooleanField(
        label="全量名册中未列出的在册身份按名单日期前一日终止", required=False
    )


@admin.register(RosterImport)
class RosterImportAdmin(CountyScopedAdmin):
    list_display = [
        "__str__",
        "department",
        "kind",
        "period",
        "stated_date",
        "delivered_at",
        "status",
        "rows_total",
        "rows_error",
        "links",
    ]
    list_filter = ["status", "kind", "department__kind", county_filter("county")]
    search_fields = ["file_name", "=content_hash"]
    date_hierarchy = "delivered_at"
    readonly_fields = [f.name for f in RosterImport._meta.fields]
    change_list_template = "beneficiaries/rosterimport_change_list.html"

    def has_add_permission(self, request):
        return False  # uploads go through the upload view

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "may_upload": may(request, "beneficiaries.add_rosterimport"),
        }
        return super().changelist_view(request, extra_context)

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="操作")
    def links(self, obj):
        parts = [
            format_html(
                '<a href="{}">预览</a>',
                reverse("admin:beneficiaries_roster_preview", args=[obj.pk]),
            )
        ]
        if obj.rows_error:
            parts.append(
                format_html(
                    '<a href="{}">错误行</a>',
                    reverse("admin:beneficiaries_roster_errors", args=[obj.pk]),
                )
            )
        return format_html(" | ".join(["{}"] * len(parts)), *parts)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("upload/", view(self.upload_view), name="beneficiaries_roster_upload"),
            path(
                "template/<str:kind>/<str:fmt>/",
                view(self.template_view),
                name="beneficiaries_roster_template",
            ),
            path("<int:pk>/preview/", view(self.preview_view), name="beneficiaries_roster_preview"),
            path("<int:pk>/errors/", view(self.errors_view), name="beneficiaries_roster_errors"),
            path("<int:pk>/review/", view(self.review_view), name="beneficiaries_roster_review"),
            path("<int:pk>/reverse/", view(self.reverse_view), name="beneficiaries_roster_reverse"),
            *super().get_urls(),
        ]

    def _batch(self, request, pk) -> RosterImport:
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def upload_view(self, request):
        operation_required(request, "beneficiaries.add_rosterimport")
        departments = scope_to_user(Department.objects.select_related("county"), request.user)
        form = RosterUploadForm(request.POST or None, request.FILES or None)
        form.fields["department"].queryset = departments
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            delivered = None
            if data["delivered_on"]:
                delivered = timezone.make_aware(
                    timezone.datetime.combine(data["delivered_on"], timezone.datetime.min.time())
                )
            try:
                batch, created = services.roster_import_receive(
                    department=data["department"],
                    kind=data["kind"],
                    upload=data["file"],
                    file_name=data["file"].name,
                    stated_date=data["stated_date"],
                    delivered_at=delivered,
                    date_note=data["date_note"],
                    end_absent=data["end_absent"],
                    channel=RosterImport.Channel.ADMIN,
                    uploaded_by=request.user,
                )
            except Refusal as exc:
                # A date of the form is refused under it; anything else is the file's.
                form.add_error(exc.field if exc.field in form.fields else "file", exc.message)
            else:
                if not created:
                    messages.warning(
                        request,
                        f"该文件已于 {timezone.localtime(batch.created_at):%Y-%m-%d %H:%M} "
                        f"上传过（{batch}），未重复导入。",
                    )
                else:
                    services.roster_import_job_start(batch=batch, apply=False, by=request.user)
                    batch.refresh_from_db()
                    if batch.status == RosterImport.Status.REJECTED:  # ran in-process
                        messages.error(request, f"文件被整体退回：{batch.error}")
                    elif batch.status == RosterImport.Status.RECEIVED:
                        messages.info(request, "已开始校验，完成后本页显示预览。")
                return redirect("admin:beneficiaries_roster_preview", batch.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "上传部门名册 / 变动名册",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "beneficiaries/roster_upload.html", context)

    def preview_view(self, request, pk):
        if request.method == "POST":
            operation_required(request, "beneficiaries.apply_rosterimport")
        batch = self._batch(request, pk)
        if request.method == "POST":
            if batch.status not in (RosterImport.Status.STAGED, RosterImport.Status.FAILED):
                messages.error(request, f"该批次状态为“{batch.get_status_display()}”，不能入库")
            elif not request.POST.get("confirm"):
                messages.error(request, "请先核对将新增、变更、终止的身份数，勾选确认后再入库")
            else:
                job = services.roster_import_job_start(batch=batch, apply=True, by=request.user)
                job.refresh_from_db()
                batch.refresh_from_db()
                if batch.status == RosterImport.Status.APPLIED:  # ran in-process (no broker)
                    messages.success(request, "已入库。")
                elif batch.status == RosterImport.Status.REVIEW:
                    messages.warning(request, batch.preview["bounds"]["review_message"])
                elif job.status == job.Status.FAILED:
                    messages.error(request, f"入库失败，已整体回滚：{job.error}")
                else:
                    messages.info(
                        request, "已开始入库（一次事务，出错整体回滚），完成后本页显示结果。"
                    )
            return redirect("admin:beneficiaries_roster_preview", batch.pk)
        counts = (batch.result or batch.preview or {}).get("counts", {})
        job = services.roster_import_job(batch=batch)
        context = {
            **self.admin_site.each_context(request),
            "title": f"名册入库预览：{batch}",
            "batch": batch,
            "counts": counts,
            "samples": (batch.preview or {}).get("samples", {}),
            "summary": batch.result or batch.preview or {},
            "opts": self.model._meta,
            "can_apply": batch.status in (RosterImport.Status.STAGED, RosterImport.Status.FAILED)
            and may(request, "beneficiaries.apply_rosterimport")
            and not (job and job.status in ("pending", "running")),
            "bounds": (batch.result or batch.preview or {}).get("bounds", {}),
            "can_review": batch.status == RosterImport.Status.REVIEW
            and may(request, "beneficiaries.review_rosterimport")
            and request.user.pk not in (batch.uploaded_by_id, batch.review_requested_by_id),
            "can_reverse": batch.status == RosterImport.Status.APPLIED
            and may(request, "beneficiaries.reverse_rosterimport"),
            "job": job,
        }
        return TemplateResponse(request, "beneficiaries/roster_preview.html", context)

    def review_view(self, request, pk):
        """复核: a second person approves (the apply starts) or refuses a 待复核 batch."""
        operation_required(request, "beneficiaries.review_rosterimport")
        batch = self._batch(request, pk)
        if request.method == "POST":
            approve = request.POST.get("decision") == "approve"
            try:
                services.roster_import_review(batch=batch, by=request.user, approve=approve)
            except Refusal as exc:
                messages.error(request, exc.message)
            else:
                batch.refresh_from_db()
                if not approve:
                    messages.warning(request, "已退回，未入库。")
                elif batch.status == RosterImport.Status.APPLIED:
                    messages.success(request, "复核同意，已入库。")
                else:
                    messages.info(request, "复核同意，已开始入库。")
        return redirect("admin:beneficiaries_roster_preview", batch.pk)

    def reverse_view(self, request, pk):
        """撤销本次导入: one step back from an apply (POST with the confirmation ticked)."""
        operation_required(request, "beneficiaries.reverse_rosterimport")
        batch = self._batch(request, pk)
        if request.method == "POST":
            if not request.POST.get("confirm"):
                messages.error(request, "请勾选确认后再撤销")
            else:
                try:
                    result = services.roster_import_reverse(batch=batch, by=request.user)
                except Refusal as exc:
                    messages.error(request, exc.message)
                else:
                    messages.success(
                        request,
                        f"已撤销本次导入：删除其新增的身份 {result['removed']} 个，"
                        f"恢复其终止的身份 {result['reopened']} 个，{result['people']} 人待重算。",
                    )
        return redirect("admin:beneficiaries_roster_preview", batch.pk)

    def errors_view(self, request, pk):
        batch = self._batch(request, pk)
        import tempfile

        handle = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
        exports.errors_xlsx(batch, handle, user=request.user)
        handle.seek(0)
        name = f"错误行-{batch.file_name.rsplit('.', 1)[0]}.xlsx"
        return FileResponse(handle, as_attachment=True, filename=name)

    def template_view(self, request, kind, fmt):
        if kind not in RosterImport.Kind.values or fmt not in ("xlsx", "csv"):
            raise PermissionDenied
        label = RosterImport.Kind(kind).label
        if fmt == "xlsx":
            body, ctype = (
                exports.template_xlsx(kind),
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            )
        else:
            body, ctype = exports.template_csv(kind), "text/csv; charset=utf-8"
        response = HttpResponse(body, content_type=ctype)
        from urllib.parse import quote

        response["Content-Disposition"] = (
            f"attachment; filename*=UTF-8''{quote(label + '模板.' + fmt)}"
        )
        return response


@admin.register(RosterImportRow)
class RosterImportRowAdmin(CountyScopedAdmin):
    county_field = "batch__county"
    list_display = [
        "__str__",
        "action",
        "id_number",
        "name",
        "code",
        "start",
        "end",
        "outcome",
        "error_message",
    ]
    id_number_fields = ("id_number",)
    list_filter = ["outcome", "action", "error_code"]
    search_fields = ["=id_number", "name", "=batch__id"]
    readonly_fields = [f.name for f in RosterImportRow._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(FeedCheck)
class FeedCheckAdmin(CountyScopedAdmin):
    list_display = ["department", "county", "period", "due", "status", "delivered_at", "batch"]
    list_filter = ["status", "period", "department__kind", county_filter("county")]
    actions = ["export_xlsx"]

    @admin.action(description="导出所选为 Excel", permissions=["view"])
    def export_xlsx(self, request, queryset):
        import io

        buffer = io.BytesIO()
        exports.feed_checks_xlsx(queryset, buffer)
        response = HttpResponse(
            buffer.getvalue(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = "attachment; filename=feed-checks.xlsx"
        return response


# --- Premium subsidies -----------------------------------------------------------------------


@admin.register(ContributionYear)
class ContributionYearAdmin(admin.ModelAdmin):
    list_display = [
        "pooling_area",
        "year",
        "individual_contribution",
        "collection_start",
        "collection_end",
    ]


class SubsidyLineInline(admin.TabularInline):
    model = SubsidyLine
    extra = 0
    fields = ["person", "kind", "identity", "amount", "decided_on", "transfer"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True
    max_num = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("person")


@admin.register(SubsidyRoster)
class SubsidyRosterAdmin(CountyScopedAdmin):
    list_display = ["__str__", "county", "year", "decision_date", "status", "headcount", "total"]
    list_filter = ["year", "status", county_filter("county")]
    readonly_fields = ["headcount", "total", "policy_version", "created_by", "created_at"]
    actions = ["build", "additions", "transfer", "export_xlsx"]

    def has_build_roster_permission(self, request) -> bool:
        return may(request, "beneficiaries.build_subsidyroster")

    def has_create_transfer_permission(self, request) -> bool:
        return may(request, "beneficiaries.create_premiumtransferrequest")

    @admin.action(description="按认定基准日（重新）生成年度名册", permissions=["build_roster"])
    def build(self, request, queryset):
        for roster in queryset:
            try:
                services.subsidy_roster_build(
                    county=roster.county,
                    year=roster.year,
                    decision_date=roster.decision_date,
                    created_by=request.user,
                )
            except services.ImportStateError as exc:
                messages.error(request, exc.message)

    @admin.action(description="生成本月新增资助", permissions=["build_roster"])
    def additions(self, request, queryset):
        for roster in queryset:
            added = services.subsidy_additions_run(roster=roster, on=timezone.localdate())
            messages.info(request, f"{roster}：新增 {added} 人")

    @admin.action(description="生成资金划转申请", permissions=["create_transfer"])
    def transfer(self, request, queryset):
        for roster in queryset:
            made = services.premium_transfer_request_create(roster=roster)
            if made:
                messages.success(request, f"已生成划转申请：{made}")

    def has_start_report_permission(self, request) -> bool:
        return may(request, "medaid.start_report")

    @admin.action(description="导出资助参保名册 Excel（后台任务）", permissions=["start_report"])
    def export_xlsx(self, request, queryset):
        """The 资助参保名册 that goes with the transfer to the tax and insurance side, as a
        report job (a county's roster may be large): ID numbers as the user's role may see
        them, a 小计 per identity and the 合计."""
        from medaid.core.reports import ReportRequestError, report_job_start

        job = None
        for roster in queryset.select_related("county"):
            try:
                job = report_job_start(
                    kind="subsidy_roster",
                    user=request.user,
                    county=roster.county,
                    parameters={"year": roster.year},
                )
            except ReportRequestError as exc:
                messages.error(request, str(exc))
                continue
            messages.success(request, f"已开始导出 {roster} 的资助参保名册，完成后在后台任务中下载")
        if job is not None and queryset.count() == 1:
            return redirect(reverse("admin:medaid_job_change", args=[job.pk]))
        return None


@admin.register(SubsidyLine)
class SubsidyLineAdmin(CountyScopedAdmin):
    county_field = "roster__county"
    list_display = ["person", "roster", "kind", "identity", "amount", "decided_on", "transfer"]
    list_filter = ["kind", "identity", "roster__year"]
    search_fields = ["=person__id_number", "person__name"]
    autocomplete_fields = ["person"]
    raw_id_fields = ["roster", "transfer"]


@admin.register(PremiumTransferRequest)
class PremiumTransferRequestAdmin(CountyScopedAdmin):
    list_display = [
        "__str__",
        "county",
        "year",
        "amount",
        "headcount",
        "status",
        "holder",
        "created_at",
        "posted_entry_id",
    ]
    list_filter = ["status", "year", county_filter("county")]
    fields = [
        "county",
        "year",
        "roster",
        "amount",
        "headcount",
        "status",
        "posted_entry_id",
        "note",
    ]
    # A request is made from its roster (the roster's 生成资金划转申请 action) and its state
    # comes from the ledger: 已记账 only when the fund posted its voucher (the fund's
    # 资金变动复核), so nothing here can create one or set its status, amount or county.
    readonly_fields = [
        "county",
        "year",
        "roster",
        "amount",
        "headcount",
        "status",
        "posted_entry_id",
    ]

    def has_add_permission(self, request):
        return False

    @admin.display(description="当前办理人")
    def holder(self, obj):
        return selectors.premium_transfer_holder(obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != PremiumTransferRequest.Status.REQUESTED:
            return self.fields
        return super().get_readonly_fields(request, obj)


# --- 因病致贫 --------------------------------------------------------------------------------


class IllnessPovertyApplicationForm(ServiceCheckedForm):
    def service_check(self, data):
        person = data.get("person")
        services.illness_application_check(
            applied_on=data.get("applied_on"),
            household_size=data.get("household_size"),
            household_income=data.get("household_income"),
            financial_assets=data.get("financial_assets"),
            cost_90_days=data.get("cost_90_days"),
            urban_dibao_standard=data.get("urban_dibao_standard"),
            birth_date=getattr(person, "birth_date", None),
        )


@admin.register(IllnessPovertyApplication)
class IllnessPovertyApplicationAdmin(CountyScopedAdmin):
    list_display = ["person", "applied_on", "eligible", "status", "created_by", "approved_by"]
    list_filter = ["status", "eligible", county_filter("county")]
    search_fields = ["=person__id_number", "person__name"]
    autocomplete_fields = ["person"]
    fields = [
        "person",
        "applied_on",
        "household_size",
        "household_income",
        "financial_assets",
        "cost_90_days",
        "urban_dibao_standard",
        "insured_in_province",
        "eligible",
        "check_trace",
        "status",
        "created_by",
        "approved_by",
        "decided_at",
        "decision_note",
        "identity",
    ]
    readonly_fields = [
        "eligible",
        "check_trace",
        "status",
        "created_by",
        "approved_by",
        "decided_at",
        "identity",
    ]
    actions = ["approve", "reject"]
    form = IllnessPovertyApplicationForm

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created = services.illness_application_create(
            person=obj.person,
            applied_on=obj.applied_on,
            household_size=obj.household_size,
            household_income=obj.household_income,
            financial_assets=obj.financial_assets,
            cost_90_days=obj.cost_90_days,
            urban_dibao_standard=obj.urban_dibao_standard or 0,
            insured_in_province=obj.insured_in_province,
            created_by=request.user,
        )
        obj.pk = created.pk

    def _decide(self, request, queryset, approve):
        for application in queryset:
            try:
                services.illness_application_decide(
                    application=application, approver=request.user, approve=approve
                )
            except services.ApprovalError as exc:
                messages.error(request, f"{application}：{exc.message}")
            else:
                messages.success(request, f"{application}：已{'认定' if approve else '不予认定'}")

    def has_decide_permission(self, request) -> bool:
        return may(request, "beneficiaries.approve_illnesspovertyapplication")

    @admin.action(description="审批通过（认定因病致贫）", permissions=["decide"])
    def approve(self, request, queryset):
        self._decide(request, queryset, True)

    @admin.action(description="不予认定", permissions=["decide"])
    def reject(self, request, queryset):
        self._decide(request, queryset, False)


# --- 参数变更 --------------------------------------------------------------------------------

PROPOSE = "beneficiaries.propose_parameterchange"
APPROVE = "beneficiaries.approve_parameterchange"


class ParameterChangeForm(forms.Form):
    """What a policy officer enters; the parameter list is the pack's in force for the area on
    the date entered (or the publication date, or today)."""

    pooling_area = forms.ModelChoiceField(PoolingArea.objects.all(), label="统筹区")
    kind = forms.ChoiceField(label="变更类型", choices=ParameterChange.Kind.choices)
    parameter = forms.ChoiceField(label="参数", required=False)
    value = forms.CharField(
        label="取值",
        required=False,
        max_length=200,
        help_text="金额以元计（如 32000）；按基数比例计的参数填比例（如 0.10）；比例 0～1",
    )
    policy_code = forms.ChoiceField(label="适用政策包", required=False, help_text="仅“适用政策包”")
    issuer = forms.CharField(label="发文机关", max_length=100, required=False)
    document_number = forms.CharField(label="文号", max_length=100, required=False)
    article = forms.CharField(label="条款", max_length=100, required=False)
    published_on = forms.DateField(label="公布日期", required=False)
    start = forms.DateField(
        label="生效日期",
        required=False,
        help_text="政策包对该参数规定了生效规则的（如平顺细则第四十七条：公布次月1日），按规则计算",
    )
    reason = forms.CharField(
        label="变更事由", max_length=500, required=False, widget=forms.Textarea
    )

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        from medaid import policy as engine

        self.fields["parameter"].choices = [("", "—"), *choices]
        self.fields["policy_code"].choices = [("", "—")] + [
            (c, f"{c} {engine.load_pack(c).short}") for c in engine.available_policies()
        ]


def _form_day(data) -> tuple[int | None, timezone.datetime]:
    from datetime import date

    area = data.get("pooling_area")
    for field in ("start", "published_on"):
        try:
            return area, date.fromisoformat(data.get(field) or "")
        except ValueError:
            continue
    return area, timezone.localdate()


@admin.register(ParameterChange)
class ParameterChangeAdmin(admin.ModelAdmin):
    """The change list; entering goes through 录入参数变更 (the service), deciding through the
    change's 审核 page — nothing here saves a change directly."""

    list_display = [
        "number",
        "pooling_area",
        "kind",
        "subject",
        "value",
        "effective_date",
        "state",
        "proposed_by",
        "approved_by",
        "decide_link",
    ]
    list_filter = ["state", "kind", "pooling_area", "policy_code"]
    search_fields = ["parameter", "document_number", "issuer"]
    readonly_fields = [f.name for f in ParameterChange._meta.fields]

    def has_add_permission(self, request):
        return may(request, PROPOSE)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="编号", ordering="pk")
    def number(self, obj):
        return obj.key

    @admin.display(description="参数")
    def subject(self, obj):
        return obj.subject

    @admin.display(description="操作")
    def decide_link(self, obj):
        return format_html(
            '<a href="{}">查看 / 审核</a>',
            reverse("admin:beneficiaries_parameterchange_decide", args=[obj.pk]),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("propose/", view(self.propose_view), name="beneficiaries_parameterchange_propose"),
            path(
                "<int:pk>/decide/",
                view(self.decide_view),
                name="beneficiaries_parameterchange_decide",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:beneficiaries_parameterchange_propose")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return redirect("admin:beneficiaries_parameterchange_decide", object_id)

    def propose_view(self, request):
        """录入 (or, with ?change=N, revise a draft or a change sent back)."""
        operation_required(request, PROPOSE)
        revising = None
        if request.GET.get("change"):
            revising = get_object_or_404(ParameterChange, pk=request.GET["change"])
        source = request.POST if request.method == "POST" else request.GET
        area_id, day = _form_day(source)
        if area_id is None and revising is not None:
            area_id, day = revising.pooling_area_id, revising.effective_date
        area = PoolingArea.objects.filter(pk=area_id).first() if area_id else None
        area = area or PoolingArea.objects.order_by("pk").first()
        choices = services.parameter_choices(pooling_area=area, day=day) if area else []
        initial = {"pooling_area": area, "kind": ParameterChange.Kind.PARAMETER}
        if revising is not None:
            initial.update(
                {
                    f: getattr(revising, f)
                    for f in (
                        "kind",
                        "parameter",
                        "value",
                        "policy_code",
                        "issuer",
                        "document_number",
                        "article",
                        "published_on",
                        "reason",
                    )
                },
                start=revising.entered_start,
            )
        form = ParameterChangeForm(
            request.POST if request.method == "POST" else None, initial=initial, choices=choices
        )
        if request.method == "POST" and form.is_valid():
            data = dict(form.cleaned_data)
            area = data.pop("pooling_area")
            try:
                if revising is not None:
                    change = services.parameter_change_revise(
                        change=revising, by=request.user, **data
                    )
                else:
                    change = services.parameter_change_propose(
                        pooling_area=area, by=request.user, **data
                    )
            except services.ParameterChangeError as exc:
                field = exc.field if exc.field in form.fields else None
                form.add_error(field, exc.message)
            else:
                messages.success(
                    request,
                    f"已保存{change.key}（草稿），生效日期 {change.effective_date}"
                    f"（{change.effective_rule}）。核对后请提交审核。",
                )
                return redirect("admin:beneficiaries_parameterchange_decide", change.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"修改{revising.key}" if revising else "录入参数变更",
            "form": form,
            "area": area,
            "day": day,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "beneficiaries/parameterchange_propose.html", context)

    def decide_view(self, request, pk):
        """The change with its document and rule; the proposer submits or withdraws it, a
        second person approves (after ticking the confirmation) or sends it back."""
        if request.method == "POST":
            operation_required(request, PROPOSE, APPROVE)
        change = get_object_or_404(ParameterChange, pk=pk)
        if request.method == "POST":
            action = request.POST.get("action")
            note = request.POST.get("note", "")
            try:
                if action == "submit":
                    services.parameter_change_submit(change=change, by=request.user)
                    messages.success(request, f"{change.key}已提交审核。")
                elif action == "withdraw":
                    services.parameter_change_withdraw(change=change, by=request.user)
                    messages.warning(request, f"{change.key}已撤回。")
                elif action == "send_back":
                    services.parameter_change_send_back(change=change, by=request.user, note=note)
                    messages.warning(request, f"{change.key}已退回录入人。")
                elif action == "approve":
                    if not request.POST.get("confirm"):
                        raise services.ParameterChangeError(
                            "请先核对取值、依据文件和生效日期（及试算结果），勾选确认后再批准"
                        )
                    services.parameter_change_approve(change=change, by=request.user, note=note)
                    messages.success(
                        request,
                        f"{change.key}已批准，自 {change.effective_date} 起生效"
                        + (
                            "；生效日已到，该统筹区自生效日起的救助将重新计算。"
                            if change.effective_date <= timezone.localdate()
                            else "。"
                        ),
                    )
                else:
                    messages.error(request, "未知操作")
            except services.ParameterChangeError as exc:
                messages.error(request, exc.message)
            return redirect("admin:beneficiaries_parameterchange_decide", change.pk)
        from medaid import policy as engine
        from medaid.policy.parameters import describe

        pack = engine.load_pack(change.policy_code)
        before = None
        if change.kind == ParameterChange.Kind.PARAMETER and change.parameter in pack.parameters:
            found = (
                pack.amended(
                    tuple(
                        a
                        for a in selectors.amendments_for(
                            pooling_area=change.pooling_area_id, policy_code=change.policy_code
                        )
                        if a.key != change.key
                    )
                )
                .parameters[change.parameter]
                .at(change.effective_date)
            )
            before = found
        is_proposer = change.proposed_by_id == request.user.pk
        open_state = change.state in (ParameterChange.State.DRAFT, ParameterChange.State.RETURNED)
        context = {
            **self.admin_site.each_context(request),
            "title": f"参数变更{change.key}",
            "change": change,
            "description": describe(pack, change.parameter) if change.parameter else "",
            "pack": pack,
            "before": before,
            "is_proposer": is_proposer,
            "can_submit": is_proposer and open_state and may(request, PROPOSE),
            "can_withdraw": is_proposer
            and change.state != ParameterChange.State.APPROVED
            and change.state != ParameterChange.State.WITHDRAWN
            and may(request, PROPOSE),
            "can_decide": change.state == ParameterChange.State.SUBMITTED
            and not is_proposer
            and may(request, APPROVE),
            "replay_url": _replay_url(change),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "beneficiaries/parameterchange_decide.html", context)


def _replay_url(change) -> str:
    """The replay of this change (claims.ReplayRun, another app's page reached by its URL
    name only); "" while that page does not exist."""
    from django.urls import NoReverseMatch

    try:
        base = reverse("admin:claims_replayrun_changelist")
    except NoReverseMatch:
        return ""
    return f"{base}?parameter_change__id__exact={change.pk}"
