"""The claims back office: hospitals, claims with their decision and trace, the review queue,
declarations, counter applications (approve / reject / return, printable notice), early
warnings and decision runs. Every admin is a `CountyScopedAdmin` (medaid.core.admin): its
querysets go through `scope_to_user`, big lists are counted to a cap, ID numbers are masked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from claims import imports, selectors, services
from claims.models import (
    APPLICATION_WAITING_STATES,
    Adjustment,
    Application,
    ApplicationApproval,
    ApplicationTransition,
    Claim,
    ClaimKind,
    Decision,
    DecisionRun,
    Declaration,
    Hospital,
    ReviewClaim,
    Warning,
    WarningDispatch,
)
from claims.platform import services as platform_services
from medaid.core.admin import (
    CountyListFilter,
    CountyScopedAdmin,
    amount_html,
    format_trace,
    may,
    operation_required,
    register_county_path,
)
from medaid.core.errors import Refusal
from medaid.core.fields import form_refusal
from medaid.core.money import yuan_text
from medaid.core.scoping import scope_to_user
from medaid.core.workdays import month_range

# Hospitals serve every county's patients: every clerk may look up and pick any hospital, so a
# hospital's county (where it stands) never scopes it.
register_county_path("claims.hospital", None)


class MonthFilter(admin.SimpleListFilter):
    title = "出院（就诊）月份"
    parameter_name = "month"

    def lookups(self, request, model_admin):
        today = timezone.localdate()
        out = []
        year, month = today.year, today.month
        for _ in range(24):
            out.append((f"{year}-{month:02d}", f"{year}年{month}月"))
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return out

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            year, month = (int(x) for x in self.value().split("-"))
        except ValueError:
            return queryset
        start = dt.date(year, month, 1)
        _, end = month_range(year, month)
        return queryset.filter(discharged__range=(start, end))


@admin.register(Hospital)
class HospitalAdmin(CountyScopedAdmin):
    # Every county's staff may look up any hospital: people are treated outside their county.
    county_field = None
    list_display = ["code", "name", "level", "fee_class", "county", "in_area", "designated"]
    list_filter = ["level", "fee_class", "in_area", "in_province", "designated", CountyListFilter]
    search_fields = ["=code", "name"]
    search_help_text = "按机构编码或名称检索"
    autocomplete_select_related = ["county"]

    @admin.display(description="医疗机构")
    def autocomplete_label(self, obj):
        # Five hospitals may share a name across counties: the option says which one.
        return f"{obj.name}（{obj.county.name}·{obj.get_level_display()}）"


class DecisionInline(admin.TabularInline):
    model = Decision
    extra = 0
    can_delete = False
    fields = [
        "is_current",
        "eligible",
        "reason",
        "identity",
        "policy_version",
        "total",
        "decided_at",
    ]
    readonly_fields = fields
    ordering = ["-decided_at", "-id"]
    verbose_name_plural = "历次救助决定"

    def has_add_permission(self, request, obj=None):
        return False


def _trace_html(decision: Decision | None):
    if decision is None:
        return "尚未计算"
    # The policy and its version are the trace's first line, in words; the pack's code and
    # parameter fingerprint stay on the decision's own page (历次救助决定) for the auditor.
    return format_html(
        "<div><b>救助合计 {} 元</b>（医疗救助 {} 元，倾斜救助 {} 元）</div>{}",
        yuan_text(decision.total),
        yuan_text(decision.assistance),
        yuan_text(decision.tilted_assistance),
        format_trace(decision.trace),
    )


class ClaimAdminBase(CountyScopedAdmin):
    # Masked for roles that do not need the number (CountyScopedAdmin.get_list_display).
    id_number_fields = ("person__id_number",)
    # What a clerk scans in a 1,280 px window; the rest is on the claim's page.
    list_display = [
        "external_ref",
        "person_name",
        "person__id_number",
        "hospital",
        "discharged",
        "status",
        "current_total",
    ]
    list_select_related = ["person", "county", "hospital"]
    list_filter = [
        CountyListFilter,
        MonthFilter,
        "status",
        "source",
        "kind",
        "settlement",
        "review_reason",
    ]
    search_fields = ["=person__id_number", "=person__name", "=external_ref", "=receipt_numbers"]
    autocomplete_fields = ["person", "hospital"]
    raw_id_fields = ["declaration", "application"]
    readonly_fields = ["decision_trace", "created_at", "updated_at"]
    inlines = [DecisionInline]
    # Newest discharge first: read in order off the (county, discharged, id) and
    # (discharged, id) indexes, filtered by county and month or not, first page or last.
    ordering = ["-discharged", "-id"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("decisions", Decision.objects.filter(is_current=True), to_attr="current")
            )
        )

    @admin.display(description="姓名")
    def person_name(self, obj):
        return obj.person.name

    @admin.display(description="系统计算救助合计")
    def current_total(self, obj):
        current = getattr(obj, "current", None)
        return amount_html(current[0].total) if current else "—"

    @admin.display(description="当前救助决定及计算过程")
    def decision_trace(self, obj):
        return _trace_html(obj.decisions.filter(is_current=True).first())

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Claims change through services (correction, review) so that decisions follow.
        return False


@admin.register(Claim)
class ClaimAdmin(ClaimAdminBase):
    pass


class ReviewForm(forms.Form):
    note = forms.CharField(label="复核意见", max_length=400, widget=forms.Textarea)


@admin.register(ReviewClaim)
class ReviewClaimAdmin(ClaimAdminBase):
    """The review queue (待人工复核): both figures and the trace, accept or refuse."""

    list_display = [
        "external_ref",
        "person_name",
        "person__id_number",
        "hospital",
        "kind",
        "discharged",
        "review_reason",
        "declared_assistance",
        "current_total",
    ]
    actions = ["accept_selected", "refuse_selected"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=Claim.Status.REVIEW)

    def has_review_permission(self, request) -> bool:
        return may(request, "claims.review_claim")

    def _resolve(self, request, queryset, accept: bool):
        done = 0
        for claim in queryset:
            try:
                services.claim_review_resolve(
                    claim=claim, by=request.user, accept=accept, note="复核队列批量处理"
                )
                done += 1
            except Refusal as exc:
                self.message_user(request, f"{claim}：{exc.message}", messages.ERROR)
        self.message_user(request, f"已处理 {done} 条")

    @admin.action(description="复核通过（按系统计算金额受理）", permissions=["review"])
    def accept_selected(self, request, queryset):
        self._resolve(request, queryset, True)

    @admin.action(description="不予受理", permissions=["review"])
    def refuse_selected(self, request, queryset):
        self._resolve(request, queryset, False)


@admin.register(Decision)
class DecisionAdmin(CountyScopedAdmin):
    county_field = "claim__county"
    list_display = ["claim", "is_current", "eligible", "reason", "identity", "total", "decided_at"]
    list_filter = ["is_current", "eligible", "policy_code", "reason"]
    search_fields = ["=claim__external_ref", "=claim__person__id_number"]
    search_help_text = "按结算单号或公民身份号码检索"
    raw_id_fields = ["claim", "run"]
    readonly_fields = ["trace_lines"]
    exclude = ["trace"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("claim")

    @admin.display(description="计算过程")
    def trace_lines(self, obj):
        return _trace_html(obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Adjustment)
class AdjustmentAdmin(CountyScopedAdmin):
    county_field = "claim__county"
    list_display = ["claim", "amount", "reason", "created_at"]
    raw_id_fields = ["claim", "decision", "previous_decision"]
    search_fields = ["=claim__external_ref", "=claim__person__id_number"]
    search_help_text = "按结算单号或公民身份号码检索"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class DeclarationUploadForm(forms.Form):
    hospital = forms.ModelChoiceField(
        label="医疗机构",
        queryset=Hospital.objects.all(),
        required=False,
        help_text="留空则按文件中的机构编码",
    )
    year = forms.IntegerField(label="申报年度", min_value=2000, max_value=2100)
    month = forms.IntegerField(label="申报月份", min_value=1, max_value=12)
    layout = forms.ChoiceField(
        label="文件格式",
        choices=[("medaid", "医院申报模板"), ("platform", "国家医保信息平台结算清单")],
        initial="medaid",
        help_text="平台结算清单可含多家机构（按 fixmedins_code），冲销、重发按平台规则处理",
    )
    file = forms.FileField(label="申报文件（.xlsx 或 .csv）")


@admin.register(Declaration)
class DeclarationAdmin(CountyScopedAdmin):
    # A platform declaration from the province has no hospital of its own: a county sees it
    # when it holds claims of the county (and, on the claims list, only those claims).
    county_field = selectors.DECLARATION_COUNTY_PATHS
    list_display = [
        "__str__",
        "channel",
        "status",
        "lines_total",
        "lines_refused",
        "claims_accepted",
        "claims_review",
        "declared_total",
        "computed_total",
        "created_at",
    ]
    list_filter = ["status", "channel", "year", "month"]
    search_fields = ["=hospital__code", "hospital__name", "file_name"]
    search_help_text = "按机构编码、名称或文件名检索"
    readonly_fields = [*(f.name for f in Declaration._meta.fields), "county_part"]

    def has_change_permission(self, request, obj=None):
        return False

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and not selectors.declaration_is_own_county(
            declaration=obj, user=request.user
        ):
            # The whole file's figures are the province's: a county reads its own part.
            obj.county_part = selectors.declaration_county_part(declaration=obj, user=request.user)
        return obj

    def get_fields(self, request, obj=None):
        fields = [f for f in super().get_fields(request, obj) if f != "county_part"]
        if obj is not None and hasattr(obj, "county_part"):
            fields.insert(fields.index("lines_total"), "county_part")
        return fields

    @admin.display(description="本区县明细")
    def county_part(self, obj):
        part = getattr(obj, "county_part", None)
        if part is None:
            return "—"
        url = reverse("admin:claims_claim_changelist") + f"?declaration__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">本区县 {} 条</a>，医院申报救助 {} 元，系统计算 {} 元',
            url,
            part.claims,
            yuan_text(part.declared),
            yuan_text(part.computed),
        )

    def get_urls(self):
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="claims_declaration_upload",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:claims_declaration_upload"))

    def upload_view(self, request):
        operation_required(request, "claims.add_declaration")
        form = DeclarationUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            platform = form.cleaned_data["layout"] == "platform"
            upload = (
                platform_services.platform_upload_file
                if platform
                else imports.declaration_upload_file
            )
            try:
                declaration = upload(
                    upload=form.cleaned_data["file"],
                    year=form.cleaned_data["year"],
                    month=form.cleaned_data["month"],
                    hospital=form.cleaned_data["hospital"],
                    uploaded_by=request.user,
                )
            except Refusal as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request, f"已接收：{declaration}，共 {declaration.lines_total} 行，正在计算"
                )
                return HttpResponseRedirect(
                    reverse("admin:claims_declaration_change", args=[declaration.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "上传医院月度申报",
            "opts": self.model._meta,
        }
        return render(request, "claims/declaration_upload.html", context)


class TransitionInline(admin.TabularInline):
    model = ApplicationTransition
    extra = 0
    can_delete = False
    readonly_fields = ["source", "target", "by", "reason", "at"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


class ApprovalInline(admin.TabularInline):
    model = ApplicationApproval
    extra = 0
    can_delete = False
    readonly_fields = ["approver", "total", "note", "at"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


class ApplicationRegisterForm(forms.Form):
    id_number = forms.CharField(label="申请人公民身份号码", max_length=18)
    applied = forms.DateField(label="申请日期", initial=timezone.localdate)
    note = forms.CharField(label="备注", max_length=500, required=False)


class ReceiptForm(forms.Form):
    hospital = forms.ModelChoiceField(label="医疗机构", queryset=Hospital.objects.all())
    # Initial = the option a browser submits untouched: otherwise every unfilled extra receipt
    # form counts as changed (a select always sends its first option) and is then required.
    kind = forms.ChoiceField(
        label="救助项目", choices=ClaimKind.choices, initial=ClaimKind.choices[0][0]
    )
    admitted = forms.DateField(label="入院日期")
    discharged = forms.DateField(label="出院（就诊）日期")
    referred = forms.BooleanField(label="按规定转诊", required=False, initial=True)
    in_policy_cost = forms.DecimalField(label="政策范围内费用", max_digits=14, decimal_places=2)
    out_of_catalog_cost = forms.DecimalField(
        label="目录外费用", max_digits=14, decimal_places=2, initial=0
    )
    basic_insurance_paid = forms.DecimalField(
        label="基本医保统筹支付", max_digits=14, decimal_places=2, initial=0
    )
    critical_illness_paid = forms.DecimalField(
        label="大病保险支付", max_digits=14, decimal_places=2, initial=0
    )
    other_paid = forms.DecimalField(
        label="其他保障支付", max_digits=14, decimal_places=2, initial=0
    )
    receipt_numbers = forms.CharField(label="票据号", max_length=500)


ReceiptFormSet = forms.formset_factory(ReceiptForm, extra=3, min_num=1, validate_min=True)


class ApplicationDecideForm(forms.Form):
    ACTIONS = [("approve", "批准"), ("return", "退回补正"), ("reject", "不予救助")]
    action = forms.ChoiceField(label="审批", choices=ACTIONS, widget=forms.RadioSelect)
    reason = forms.CharField(
        label="意见/原因", max_length=500, required=False, widget=forms.Textarea
    )


class ApplicationQueueFilter(admin.SimpleListFilter):
    """我的审批队列: what waits for this supervisor — 待我初审 (not their own registration or
    submission) and 待我复审 (approved once by someone else). The dashboard's counts link here."""

    title = "我的审批队列"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("first", "待我初审"), ("second", "待我复审")]

    def queryset(self, request, queryset):
        if self.value() == "first":
            return selectors.applications_first_review(queryset, request.user)
        if self.value() == "second":
            return selectors.applications_second_review(queryset, request.user)
        return queryset


class ApplicationConfirmForm(forms.Form):
    reason = forms.CharField(
        label="意见/原因", max_length=400, required=False, widget=forms.Textarea
    )


@dataclass(frozen=True)
class ApplicationStep:
    """One button of an application's page: what it does, from which states, with which
    permission, whether a reason is required, and the service that does it."""

    key: str
    label: str
    permission: str
    states: tuple[str, ...]
    reason_required: bool
    question: str


APPLICATION_STEPS = {
    step.key: step
    for step in (
        ApplicationStep(
            "submit",
            "提交",
            "claims.submit_application",
            (Application.State.DRAFT, Application.State.RETURNED),
            False,
            "提交后申请进入初审，明细不能再修改。确定提交？",
        ),
        ApplicationStep(
            "approve",
            "批准",
            "claims.approve_application",
            APPLICATION_WAITING_STATES,
            False,
            "确定批准该申请？救助合计超过复审金额的，还需另一位审批人复审。",
        ),
        ApplicationStep(
            "return",
            "退回",
            "claims.return_application",
            APPLICATION_WAITING_STATES,
            True,
            "退回后由窗口经办补正材料重新提交，已有的审批意见作废。请填写退回原因。",
        ),
        ApplicationStep(
            "reject",
            "不予救助",
            "claims.reject_application",
            APPLICATION_WAITING_STATES,
            True,
            "不予救助是最终决定，其费用明细不计入救助。请填写理由。",
        ),
    )
}


def application_outcome(app: Application) -> str:
    """What just happened to the application, as the success message says it."""
    State = Application.State
    return {
        State.SUBMITTED: "已提交，等待初审",
        State.SECOND_REVIEW: "初审已批准，等待另一位审批人复审",
        State.APPROVED: f"已批准，救助合计 {yuan_text(app.total)} 元，等待月度结算支付",
        State.RETURNED: "已退回，等待窗口经办补正后重新提交",
        State.REJECTED: "已作出不予救助决定",
    }.get(app.state, app.get_state_display())


@admin.register(Application)
class ApplicationAdmin(CountyScopedAdmin):
    list_display = ["number", "person", "applied", "state", "holder", "total"]
    list_filter = [ApplicationQueueFilter, "state", CountyListFilter]
    search_fields = ["=number", "=person__id_number", "=person__name"]
    autocomplete_fields = ["person"]
    readonly_fields = [
        "number",
        "state",
        "holder",
        "total",
        "created_by",
        "submitted_by",
        "submitted_at",
        "reason",
        "claims_with_trace",
        "links",
    ]
    fields = [
        "number",
        "person",
        "applied",
        "note",
        "state",
        "holder",
        "total",
        "reason",
        "created_by",
        "submitted_by",
        "submitted_at",
        "links",
        "claims_with_trace",
    ]
    inlines = [ApprovalInline, TransitionInline]
    actions = ["submit_selected"]
    change_form_template = "claims/application_change_form.html"
    DECIDE = (
        "claims.approve_application",
        "claims.reject_application",
        "claims.return_application",
    )

    def has_submit_permission(self, request) -> bool:
        return may(request, "claims.submit_application")

    def may_decide(self, request) -> bool:
        return any(may(request, p) for p in self.DECIDE)

    def steps_for(self, request, app: Application) -> list[ApplicationStep]:
        """The buttons the application's state allows and this user may press: submit for
        the clerk; approve, return and reject for a supervisor who is neither the clerk who
        registered or submitted it nor, at 复审, the first approver."""
        user = request.user
        steps = []
        for step in APPLICATION_STEPS.values():
            if app.state not in step.states or not may(request, step.permission):
                continue
            if step.key != "submit":
                if user.pk in (app.created_by_id, app.submitted_by_id):
                    continue
                if app.approvals.filter(approver=user).exists():
                    continue
            steps.append(step)
        return steps

    def change_view(self, request, object_id, form_url="", extra_context=None):
        app = self.get_object(request, object_id)
        steps = self.steps_for(request, app) if app is not None else []
        extra_context = {
            **(extra_context or {}),
            "may_decide": self.may_decide(request),
            "application_steps": steps,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="当前办理人")
    def holder(self, obj):
        if obj is None or obj.pk is None:
            return ""
        return selectors.application_holder(obj)

    def add_view(self, request, form_url="", extra_context=None):
        """The counter screen: the applicant, the date applied and the receipts; medaid decides
        at once and shows the decision with its trace on the application's page."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ApplicationRegisterForm(request.POST or None)
        receipts = ReceiptFormSet(request.POST or None, prefix="r")
        if request.method == "POST" and form.is_valid() and receipts.is_valid():
            from beneficiaries.models import Person

            person = (
                scope_to_user(Person.objects.all(), request.user)
                .filter(id_number=form.cleaned_data["id_number"])
                .first()
            )
            claims = [r.cleaned_data for r in receipts if r.cleaned_data]
            if person is None:
                form.add_error("id_number", "身份证号不在本区县救助对象名册中")
            else:
                try:
                    app = services.application_create(
                        person=person,
                        applied=form.cleaned_data["applied"],
                        created_by=request.user,
                        claims=claims,
                        note=form.cleaned_data["note"],
                    )
                except Refusal as exc:
                    form_refusal(form, exc)
                    self.message_user(request, exc.message, messages.ERROR)
                else:
                    self.message_user(request, f"已登记 {app.number}，救助合计 {app.total} 元")
                    return HttpResponseRedirect(
                        reverse("admin:claims_application_change", args=[app.pk])
                    )
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "receipts": receipts,
            "title": "登记救助申请（依申请救助/手工报销）",
            "opts": self.model._meta,
        }
        return render(request, "claims/application_register.html", context)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.state not in (
            Application.State.DRAFT,
            Application.State.RETURNED,
        ):
            fields += ["person", "applied", "note"]
        return fields

    @admin.display(description="费用明细与计算过程")
    def claims_with_trace(self, obj):
        parts = []
        for claim in obj.claims.select_related("hospital"):
            decision = claim.decisions.filter(is_current=True).first()
            parts.append(
                format_html(
                    "<h4>{} {} {}（{}—{}）票据号 {}</h4>{}",
                    claim.external_ref,
                    claim.hospital.name,
                    claim.get_kind_display(),
                    claim.admitted,
                    claim.discharged,
                    claim.receipt_numbers,
                    _trace_html(decision),
                )
            )
        return format_html_join("", "{}", ((p,) for p in parts)) or "无明细"

    @admin.display(description="操作")
    def links(self, obj):
        if obj is None or obj.pk is None:
            return ""
        # The decision button is an object tool, shown to those who may decide.
        return format_html(
            '<a class="button" href="{}" target="_blank">打印救助决定通知书</a>',
            reverse("admin:claims_application_notice", args=[obj.pk]),
        )

    @admin.action(description="提交审批", permissions=["submit"])
    def submit_selected(self, request, queryset):
        done = 0
        for app in queryset:
            try:
                services.application_submit(application=app, by=request.user)
            except Refusal as exc:
                self.message_user(request, f"{app}：{exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"已提交 {done} 件申请，等待初审")

    def get_urls(self):
        return [
            path(
                "<int:pk>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="claims_application_decide",
            ),
            path(
                "<int:pk>/notice/",
                self.admin_site.admin_view(self.notice_view),
                name="claims_application_notice",
            ),
            *(
                path(
                    f"<int:pk>/{key}/",
                    self.admin_site.admin_view(self.step_view),
                    {"key": key},
                    name=f"claims_application_{key}",
                )
                for key in APPLICATION_STEPS
            ),
            *super().get_urls(),
        ]

    def decide_view(self, request, pk):
        operation_required(request, *self.DECIDE)
        app = get_object_or_404(self.get_queryset(request), pk=pk)
        form = ApplicationDecideForm(request.POST or None)
        # Only the decisions this user may make are offered.
        allowed = dict(zip(("approve", "reject", "return"), self.DECIDE, strict=True))
        form.fields["action"].choices = [
            (key, label)
            for key, label in ApplicationDecideForm.ACTIONS
            if may(request, allowed[key])
        ]
        if request.method == "POST" and form.is_valid():
            action = form.cleaned_data["action"]
            reason = form.cleaned_data["reason"]
            try:
                if action == "approve":
                    services.application_approve(application=app, by=request.user, note=reason)
                elif action == "reject":
                    services.application_reject(application=app, by=request.user, reason=reason)
                else:
                    services.application_return(application=app, by=request.user, reason=reason)
            except Refusal as exc:
                self.message_user(request, exc.message, messages.ERROR)
            except PermissionDenied as exc:
                self.message_user(request, str(exc) or "无权审批", messages.ERROR)
            else:
                app.refresh_from_db()
                self.message_user(request, f"{app.number}：{application_outcome(app)}")
                return HttpResponseRedirect(reverse("admin:claims_application_change", args=[pk]))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "application": app,
            "claims_html": self.claims_with_trace(app),
            "title": f"审批救助申请 {app.number}",
            "opts": self.model._meta,
            "threshold": services.second_approval_threshold(),
        }
        return render(request, "claims/application_decide.html", context)

    def step_view(self, request, pk, key):
        """One button of the application's page: a confirmation page (GET), then the service
        (POST), and a message saying what happened. The permission is checked first: a user
        without it gets 403 and nothing changes."""
        step = APPLICATION_STEPS[key]
        operation_required(request, step.permission)
        app = get_object_or_404(self.get_queryset(request), pk=pk)
        change_url = reverse("admin:claims_application_change", args=[app.pk])
        # Bound on every POST: submitting has no fields, and an empty POST still confirms.
        form = ApplicationConfirmForm(request.POST if request.method == "POST" else None)
        if step.reason_required:
            form.fields["reason"].required = True
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"]
            by = request.user
            try:
                if key == "submit":
                    services.application_submit(application=app, by=by)
                elif key == "approve":
                    services.application_approve(application=app, by=by, note=reason)
                elif key == "return":
                    services.application_return(application=app, by=by, reason=reason)
                else:
                    services.application_reject(application=app, by=by, reason=reason)
            except Refusal as exc:
                self.message_user(request, exc.message, messages.ERROR)
            except PermissionDenied as exc:
                self.message_user(request, str(exc) or "无权办理", messages.ERROR)
            else:
                app.refresh_from_db()
                self.message_user(request, f"{app.number}：{application_outcome(app)}")
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "step": step,
            "application": app,
            "holder": selectors.application_holder(app),
            "change_url": change_url,
            "title": f"{step.label}救助申请 {app.number}",
            "opts": self.model._meta,
            "threshold": services.second_approval_threshold(),
        }
        return render(request, "claims/application_confirm.html", context)

    def notice_view(self, request, pk):
        app = get_object_or_404(self.get_queryset(request), pk=pk)
        from claims.selectors import application_notice

        context = application_notice(application=app, user=request.user)
        return render(request, "claims/notice.html", context)


@admin.register(Warning)
class WarningAdmin(CountyScopedAdmin):
    list_display = ["person", "county", "year", "kind", "group", "amount", "threshold", "found_on"]
    list_filter = ["kind", "group", "year", CountyListFilter]
    search_fields = ["=person__id_number", "=person__name"]
    autocomplete_fields = ["person"]
    raw_id_fields = ["claim"]

    def has_change_permission(self, request, obj=None):
        return False


class OverdueFilter(admin.SimpleListFilter):
    title = "答复情况"
    parameter_name = "answer_state"

    def lookups(self, request, model_admin):
        return [("overdue", "逾期未答复"), ("open", "未答复"), ("answered", "已答复")]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "overdue":
            return queryset.filter(answered_on__isnull=True, due_on__lt=today)
        if self.value() == "open":
            return queryset.filter(answered_on__isnull=True)
        if self.value() == "answered":
            return queryset.filter(answered_on__isnull=False)
        return queryset


@admin.register(WarningDispatch)
class WarningDispatchAdmin(CountyScopedAdmin):
    county_field = "department__county"
    list_display = [
        "warning",
        "department",
        "sent_on",
        "due_on",
        "answered_on",
        "outcome",
        "overdue",
    ]
    list_filter = [OverdueFilter, "department__kind", "sent_on"]
    search_fields = ["=warning__person__id_number", "=warning__person__name"]
    readonly_fields = ["warning", "department", "sent_on", "due_on", "answered_on", "answered_by"]
    fields = [*readonly_fields, "outcome", "answer"]

    @admin.display(description="逾期", boolean=True)
    def overdue(self, obj):
        return obj.is_overdue(timezone.localdate())

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        services.warning_answer(
            dispatch=obj, by=request.user, outcome=obj.outcome, answer=obj.answer
        )

    def changelist_view(self, request, extra_context=None):
        from medaid.core.workdays import missing_calendar_years

        missing = missing_calendar_years()
        if missing:
            self.message_user(
                request,
                f"节假日安排缺少 {'、'.join(map(str, missing))} 年：答复期限将按周一至周五计算，"
                "请在“节假日安排”中录入。",
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)


@admin.register(DecisionRun)
class DecisionRunAdmin(CountyScopedAdmin):
    # A run spans counties (a declaration's, a year's recomputation): no county of its own.
    county_field = None
    list_display = [
        "__str__",
        "year",
        "status",
        "people",
        "claims_decided",
        "decisions_written",
        "adjustments_written",
        "partitions",
        "created_at",
        "finished_at",
        "progress",
    ]
    list_filter = ["kind", "status", "year"]
    readonly_fields = [f.name for f in DecisionRun._meta.fields]

    @admin.display(description="分区进度")
    def progress(self, obj):
        done = obj.partition_rows.filter(done=True).count()
        return f"{done}/{obj.partitions}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request) -> bool:
        return may(request, "claims.start_recompute")

    def get_urls(self):
        return [
            path(
                "<int:pk>/retry/",
                self.admin_site.admin_view(self.retry_view),
                name="claims_decisionrun_retry",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_retry": self.has_retry_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def retry_view(self, request, pk: int):
        operation_required(request, "claims.start_recompute")
        if request.method != "POST":
            raise PermissionDenied("请在计算批次页面点击“重新执行”")
        run = get_object_or_404(self.get_queryset(request), pk=pk)
        try:
            services.run_retry(run=run, by=request.user)
        except services.ClaimsError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(
                request, f"已重新执行{run}：未完成的分区已重新提交后台计算。", messages.SUCCESS
            )
        return HttpResponseRedirect(reverse("admin:claims_decisionrun_change", args=[pk]))


# The platform's settlement lists: code mappings, comparisons and the mismatch report.
from claims.platform import admin as platform_admin  # noqa: E402,F401
from claims.replay import admin as replay_admin  # noqa: E402,F401
