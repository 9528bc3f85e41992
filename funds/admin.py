"""The fund's back office: accounts with their balances, entries (recorded through the
services, reversed never edited), statutory deadlines due and overdue, budgets, monthly
settlement runs with their progress and reconciliation, statements, and the year-end close.
Every queryset goes through `scope_to_user` (via `CountyScopedAdmin`)."""

from __future__ import annotations

import datetime as dt
import io

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from funds import exports, reconciliation, selectors, services, settlement, tasks
from funds.admin_moves import ManualEntryForm, entry_print, propose_form_page, propose_selected
from funds.models import (
    Account,
    Budget,
    Deadline,
    Entry,
    EntryKind,
    MoneyMove,
    Posting,
    SettlementRun,
    SettlementStatement,
    YearEndClose,
)
from medaid.core.admin import CountyScopedAdmin, amount_html, may, operation_required, query_int
from medaid.core.fields import ServiceCheckedForm
from medaid.core.scoping import scope_to_user
from medaid.core.workdays import month_range
from medaid.core.xlsx import report_filename

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx_response(write, filename: str) -> FileResponse:
    buffer = io.BytesIO()
    write(buffer)
    buffer.seek(0)
    return FileResponse(buffer, as_attachment=True, filename=filename, content_type=XLSX)


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(CountyScopedAdmin):
    list_display = (
        "name",
        "code",
        "kind",
        "county",
        "balance_display",
        "bank_account",
        "statement_link",
    )
    list_filter = ("kind", "pooling_area")
    search_fields = ("name", "code", "bank_account")
    readonly_fields = (
        "code",
        "kind",
        "pooling_area",
        "county",
        "source",
        "hospital",
        "balance_display",
        "statement_link",
    )
    fields = (
        "name",
        "code",
        "kind",
        "pooling_area",
        "county",
        "source",
        "hospital",
        "bank_name",
        "bank_account",
        "opened_on",
        "balance_display",
        "statement_link",
    )
    actions = ("export_ledger",)
    statement_per_page = 50

    def get_urls(self):
        return [
            path(
                "<int:pk>/statement/",
                self.admin_site.admin_view(self.statement_view),
                name="funds_account_statement",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="账户明细")
    def statement_link(self, obj):
        url = reverse("admin:funds_account_statement", args=[obj.pk])
        return format_html('<a href="{}">余额与收支明细</a>', url)

    def statement_view(self, request, pk):
        """账户明细: the balance, the twelve months of a year (opening, debit, credit, closing),
        and one month's vouchers with the running balance, filtered by 对方账户 or 业务类型;
        `?export=xlsx` writes that month as the 基金收支明细表."""
        if not self.has_view_permission(request):
            raise PermissionDenied("没有查看基金账户的权限")
        # Scoped as the list is, without its balance column: the page sums once, below.
        account = get_object_or_404(scope_to_user(Account.objects.all(), request.user), pk=pk)
        sums = selectors.account_month_sums(account)
        years = selectors.account_years(sums) or [timezone.localdate().year]
        year = query_int(request, "year", years[0], lo=2000, hi=2100)
        months = selectors.account_months(account=account, year=year, sums=sums)
        busy = [m for m in months if m.entries]
        default_month = (busy[-1] if busy else months[0]).month.month
        month = months[query_int(request, "month", default_month, lo=1, hi=12) - 1].month
        counterparties = list(selectors.month_counterparties(account=account, month=month))
        counterparty = query_int(request, "counterparty", 0, lo=0, hi=2**62)
        if counterparty not in {a.pk for a in counterparties}:
            counterparty = 0
        kind = request.GET.get("kind", "")
        if kind not in EntryKind.values:
            kind = ""
        if request.GET.get("export") == "xlsx":
            start, end = month_range(month.year, month.month)
            return _xlsx_response(
                lambda f: exports.write_ledger(f, account, start=start, end=end),
                report_filename("基金收支明细表", county=account.name, period=f"{month:%Y-%m}"),
            )
        postings = selectors.account_month_postings(
            account=account, month=month, counterparty_id=counterparty, kind=kind
        )
        page = Paginator(postings, self.statement_per_page).get_page(request.GET.get("p"))
        rows = list(page.object_list)
        balances = selectors.running_balances(
            account=account, postings=rows, opening=months[month.month - 1].opening
        )
        others = selectors.entry_counterparties(
            account=account, entry_ids=[p.entry_id for p in rows]
        )
        query = {"year": year, "month": month.month, "counterparty": counterparty, "kind": kind}
        context = {
            **self.admin_site.each_context(request),
            "title": f"{account.name} 账户明细",
            "opts": self.model._meta,
            "account": account,
            "balance": selectors.sums_balance(sums),
            "years": years,
            "year": year,
            "months": months,
            "month": month,
            "counterparties": counterparties,
            "counterparty": counterparty,
            "kinds": EntryKind.choices,
            "kind": kind,
            "page": page,
            "rows": [
                {
                    "posting": p,
                    "debit": p.amount if p.amount > 0 else None,
                    "credit": -p.amount if p.amount < 0 else None,
                    "balance": balance,
                    "others": others.get(p.entry_id, []),
                }
                for p, balance in zip(rows, balances, strict=True)
            ],
            "query": urlencode({k: v for k, v in query.items() if v}),
        }
        return render(request, "funds/account_statement.html", context)

    def get_queryset(self, request):
        return selectors.accounts_with_balances(user=request.user)

    def has_add_permission(self, request):
        return False  # accounts are opened by `services.account_open`, with derived codes

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="余额（元）", ordering="balance_value")
    def balance_display(self, obj):
        return amount_html(obj.balance_value)

    @admin.action(description="导出本年基金收支明细表", permissions=["view"])
    def export_ledger(self, request, queryset):
        account = queryset.first()
        if queryset.count() != 1:
            self.message_user(request, "请只选择一个账户导出。", messages.WARNING)
            return None
        today = timezone.localdate()
        start = dt.date(today.year, 1, 1)
        return _xlsx_response(
            lambda f: exports.write_ledger(f, account, start=start, end=today),
            report_filename("基金收支明细表", county=account.name, period=str(today.year)),
        )


class PostingInline(admin.TabularInline):
    model = Posting
    extra = 0
    fields = ("account", "amount")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Entry)
class EntryAdmin(CountyScopedAdmin):
    list_display = (
        "date",
        "kind",
        "document_ref",
        "county",
        "source",
        "amount_display",
        "reversal_state",
        "created_by",
    )
    list_filter = ("kind", "source", "date")
    search_fields = ("document_ref", "related_ref", "memo")
    date_hierarchy = "date"
    inlines = (PostingInline,)
    actions = ("reverse_entries",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("county", "created_by", "reverses")

    def get_urls(self):
        return [
            path(
                "<int:pk>/print/",
                self.admin_site.admin_view(self.print_view),
                name="funds_entry_print",
            ),
            *super().get_urls(),
        ]

    def print_view(self, request, pk):
        return entry_print(self, request, pk)

    def add_view(self, request, form_url="", extra_context=None):
        # A manual entry is proposed here and posted only when a second person approves it.
        operation_required(request, "funds.post_entry")
        return propose_form_page(
            self,
            request,
            kind=MoneyMove.Kind.MANUAL_ENTRY,
            form=ManualEntryForm(request.POST or None, user=request.user),
            params_of=ManualEntryForm.params,
            title="录入手工记账凭证",
            template="funds/move_form.html",
        )

    def get_fields(self, request, obj=None):
        return (
            "kind",
            "source",
            "pooling_area",
            "county",
            "date",
            "document_ref",
            "related_ref",
            "memo",
            "reverses",
            "created_by",
            "created_at",
            "move",
            "print_link",
        )

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="打印")
    def print_link(self, obj):
        url = reverse("admin:funds_entry_print", args=[obj.pk])
        return format_html('<a href="{}">打印记账凭证（含制单、复核）</a>', url)

    def has_add_permission(self, request):
        return may(request, "funds.post_entry")

    def has_change_permission(self, request, obj=None):
        return False  # immutable: corrections are reversals

    def has_reverse_permission(self, request) -> bool:
        return may(request, "funds.reverse_entry")

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="金额（元）")
    def amount_display(self, obj):
        total = sum((p.amount for p in obj.postings.all() if p.amount > 0), 0)
        return amount_html(total)

    @admin.display(description="冲销")
    def reversal_state(self, obj):
        if obj.reverses_id:
            return format_html("冲销 {}", obj.reverses.document_ref)
        return "已冲销" if hasattr(obj, "reversed_by") else ""

    @admin.action(description="冲销所选凭证（今日记账，提交复核）", permissions=["reverse"])
    def reverse_entries(self, request, queryset):
        return propose_selected(
            self,
            request,
            queryset.select_related("county", "pooling_area"),
            kind=MoneyMove.Kind.REVERSAL,
            params_of=lambda entry: {"entry": entry},
            title="冲销记账凭证：确认金额与账户",
        )


class DeadlineStateFilter(admin.SimpleListFilter):
    title = "办理状态"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (
            ("overdue", "已逾期"),
            ("due", f"{selectors.DUE_SOON_DAYS}天内到期"),
            ("open", "未到期"),
            ("done", "已完成"),
        )

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(state=self.value())
        return queryset


STATE_LABELS = {
    "overdue": ("#ba2121", "已逾期"),
    "due": ("#c77c00", "即将到期"),
    "open": ("#333", "未到期"),
    "done": ("#2e7d32", "已完成"),
}


@admin.register(Deadline)
class DeadlineAdmin(CountyScopedAdmin):
    list_display = (
        "kind",
        "county",
        "document_ref",
        "starts_on",
        "due_on",
        "state_display",
        "amount",
        "completed_on",
        "rule_ref",
    )
    list_filter = (DeadlineStateFilter, "kind", "year")
    search_fields = ("document_ref", "completed_ref")
    readonly_fields = (
        "kind",
        "pooling_area",
        "county",
        "year",
        "document_ref",
        "starts_on",
        "due_on",
        "amount",
        "rule_ref",
        "completed_entry",
    )
    actions = ("complete_today",)
    ordering = ("due_on",)

    def get_queryset(self, request):
        return selectors.deadlines_with_status(user=request.user, today=timezone.localdate())

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="状态", ordering="state")
    def state_display(self, obj):
        colour, label = STATE_LABELS[obj.state]
        return format_html('<b style="color:{}">{}</b>', colour, label)

    def has_change_permission(self, request, obj=None):
        # The only fields to edit are the completion's: marking a deadline done.
        return super().has_change_permission(request, obj) and self.has_complete_permission(request)

    def has_complete_permission(self, request) -> bool:
        return may(request, "funds.complete_deadline")

    @admin.action(description="标记为今日办结", permissions=["complete"])
    def complete_today(self, request, queryset):
        n = 0
        for deadline in queryset.filter(completed_on__isnull=True):
            services.deadline_complete(deadline=deadline, completed_on=timezone.localdate())
            n += 1
        self.message_user(request, f"已办结 {n} 项。", messages.SUCCESS)


class BudgetForm(ServiceCheckedForm):
    def service_check(self, data):
        services.budget_check(
            year=data.get("year"),
            amount=data.get("amount"),
            county_matching=data.get("county_matching") or 0,
            document_ref=data.get("document_ref") or "",
        )


@admin.register(Budget)
class BudgetAdmin(CountyScopedAdmin):
    list_display = (
        "county",
        "year",
        "amount_display",
        "county_matching",
        "split_display",
        "spent_display",
    )
    list_filter = ("year",)
    fields = ("county", "year", "amount", "county_matching", "document_ref")
    form = BudgetForm

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("county__funding_tier", "county__pooling_area")
        )

    def save_model(self, request, obj, form, change):
        # Through the service, so that the year's deadlines open with the budget.
        budget = services.budget_set(
            county=obj.county,
            year=obj.year,
            amount=obj.amount,
            county_matching=obj.county_matching,
            document_ref=obj.document_ref,
        )
        obj.pk = budget.pk

    @admin.display(description="支出预算（元）", ordering="amount")
    def amount_display(self, obj):
        return amount_html(obj.amount)

    @admin.display(description="市/县分担（元）")
    def split_display(self, obj):
        split = selectors.budget_funding_split(obj)
        return (
            "—"
            if split is None
            else format_html("{} / {}", amount_html(split[0]), amount_html(split[1]))
        )

    @admin.display(description="已支出（元）")
    def spent_display(self, obj):
        return amount_html(services.county_spending(county=obj.county, year=obj.year))


class StatementInline(admin.TabularInline):
    model = SettlementStatement
    extra = 0
    fields = (
        "payee",
        "hospital",
        "claim_count",
        "claims_total",
        "declared_total",
        "adjustments_total",
        "total",
        "posted_at",
    )
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class SettlementStartForm(forms.Form):
    county = forms.ModelChoiceField(queryset=None, label="区县")
    year = forms.IntegerField(label="年度", min_value=2000, max_value=2100)
    month = forms.IntegerField(label="月份", min_value=1, max_value=12)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from beneficiaries.models import County

        self.fields["county"].queryset = scope_to_user(
            County.objects.all(), user, county_field="pk"
        )


@admin.register(SettlementRun)
class SettlementRunAdmin(ReadOnlyMixin, CountyScopedAdmin):
    list_display = (
        "county",
        "period",
        "status",
        "holder",
        "progress_display",
        "total_display",
        "attempts",
        "finished_at",
        "error",
    )
    list_filter = ("status", "year", "month")
    change_list_template = "funds/settlementrun_change_list.html"
    inlines = (StatementInline,)
    actions = ("resume", "propose_posting", "export_statements")
    readonly_fields = (
        "county",
        "year",
        "month",
        "period_display",
        "status",
        "holder",
        "job",
        "staged_at",
        "finished_at",
        "attempts",
        "error",
        "progress_display",
        "reconcile_link",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("county", "job")

    def get_urls(self):
        return [
            path(
                "start/",
                self.admin_site.admin_view(self.start_view),
                name="funds_settlementrun_start",
            ),
            path(
                "<int:pk>/reconcile/",
                self.admin_site.admin_view(self.reconcile_view),
                name="funds_settlementrun_reconcile",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "start_url": reverse("admin:funds_settlementrun_start"),
            "may_settle": self.has_settle_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def has_settle_permission(self, request) -> bool:
        return may(request, "funds.settle_month")

    @admin.display(description="当前办理人")
    def holder(self, obj):
        return selectors.settlement_run_holder(obj)

    @admin.display(description="进度")
    def progress_display(self, obj):
        job = obj.job
        if job is None or not job.progress_total:
            return "—"
        return f"{job.progress_done}/{job.progress_total}（{job.percent}%）"

    @admin.display(description="应付合计（元）")
    def total_display(self, obj):
        from funds.models import sum_money

        return amount_html(sum_money(obj.statements.all(), "total"))

    @admin.display(description="对账")
    def reconcile_link(self, obj):
        url = reverse("admin:funds_settlementrun_reconcile", args=[obj.pk])
        return format_html('<a href="{}">查看对账结果</a>', url)

    @admin.action(description="继续/重新执行所选结算（后台任务）", permissions=["settle"])
    def resume(self, request, queryset):
        for run in queryset.exclude(status=SettlementRun.Status.SUCCEEDED):
            tasks.settle_month.delay_on_commit(run.county_id, run.year, run.month)
        self.message_user(request, "已提交后台结算任务，可在本页查看进度。", messages.SUCCESS)

    @admin.display(description="结算范围")
    def period_display(self, obj):
        return settlement.period_covered(obj)

    @admin.action(description="提交所选结算批次记账（待复核）", permissions=["settle"])
    def propose_posting(self, request, queryset):
        return propose_selected(
            self,
            request,
            queryset.select_related("county__pooling_area"),
            kind=MoneyMove.Kind.SETTLEMENT,
            params_of=lambda run: {"run": run},
            title="月度结算记账：确认金额与账户",
        )

    @admin.action(description="导出区县结算单（含各医疗机构）", permissions=["view"])
    def export_statements(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "请只选择一个结算批次导出。", messages.WARNING)
            return None
        run = queryset.select_related("county").first()
        return _xlsx_response(
            lambda f: exports.write_county_statement(f, run, user=request.user),
            report_filename(
                "医疗救助结算单", county=run.county.name, period=f"{run.year}-{run.month:02d}"
            ),
        )

    def start_view(self, request):
        operation_required(request, "funds.settle_month")
        form = SettlementStartForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            county, year, month = (form.cleaned_data[k] for k in ("county", "year", "month"))
            tasks.settle_month.delay_on_commit(county.pk, year, month)
            self.message_user(
                request, f"已提交 {county} {year}年{month}月 的结算任务。", messages.SUCCESS
            )
            return self._redirect_to_changelist()
        context = {
            **self.admin_site.each_context(request),
            "title": "发起月度结算",
            "form": form,
            "opts": self.model._meta,
        }
        return render(request, "funds/settlement_start.html", context)

    def reconcile_view(self, request, pk):
        run = get_object_or_404(self.get_queryset(request), pk=pk)
        result = reconciliation.reconcile_settlement(
            county=run.county, year=run.year, month=run.month
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"{run} 对账",
            "run": run,
            "result": result,
            "opts": self.model._meta,
        }
        return render(request, "funds/reconcile.html", context)

    def _redirect_to_changelist(self):
        from django.http import HttpResponseRedirect

        return HttpResponseRedirect(reverse("admin:funds_settlementrun_changelist"))


@admin.register(SettlementStatement)
class SettlementStatementAdmin(ReadOnlyMixin, CountyScopedAdmin):
    list_display = (
        "number",
        "run",
        "payee",
        "hospital",
        "claim_count",
        "claims_total",
        "declared_total",
        "adjustments_total",
        "total",
        "posted_at",
    )
    list_filter = ("payee", "run__year", "run__month")
    search_fields = ("hospital__name", "hospital__code")
    actions = ("export",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("run", "county", "hospital")

    @admin.display(description="结算单号")
    def number(self, obj):
        return obj.number

    @admin.action(description="导出所选结算单", permissions=["view"])
    def export(self, request, queryset):
        statements = list(queryset.select_related("run", "county", "hospital"))
        if len(statements) != 1:
            self.message_user(request, "请只选择一张结算单导出。", messages.WARNING)
            return None
        st = statements[0]
        return _xlsx_response(
            lambda f: exports.write_statement(f, st, user=request.user),
            report_filename(
                "医疗救助结算单",
                county=st.hospital.name if st.hospital else st.county.name,
                period=f"{st.run.year}-{st.run.month:02d}",
            ),
        )


@admin.register(YearEndClose)
class YearEndCloseAdmin(ReadOnlyMixin, CountyScopedAdmin):
    list_display = (
        "county",
        "year",
        "budget",
        "actual",
        "overspend",
        "overspend_ratio",
        "from_surplus",
        "city_share",
        "county_share",
        "unallocated",
        "surplus",
    )
    list_filter = ("year", "policy_code")
    actions = ("export",)

    @admin.action(description="导出年终决算及超支分担表", permissions=["view"])
    def export(self, request, queryset):
        closes = list(queryset.select_related("county").order_by("county__code"))
        year = closes[0].year if closes else timezone.localdate().year
        return _xlsx_response(
            lambda f: exports.write_year_end(f, closes, year=year),
            report_filename("年终决算超支分担表", period=str(year)),
        )
