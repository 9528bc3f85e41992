"""The platform's pages in the admin: the code mappings (data, with dates), the comparisons of
maf_pay with our figure (both figures, the difference, our trace; a reviewer keeps ours or
records why the platform's stands) and the per-hospital, per-month mismatch report."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from claims.platform import selectors, services
from claims.platform.models import CodeMapping, PlatformSettlement
from claims.services.errors import ClaimsError
from medaid.core.admin import (
    CountyScopedAdmin,
    format_trace,
    operation_required,
    query_int,
    register_county_path,
)

register_county_path("claims.codemapping", None)


@admin.register(CodeMapping)
class CodeMappingAdmin(CountyScopedAdmin):
    """Reference data of the whole pooling area: a change of the platform's dictionary is a new
    row from the day it applies (and an end date on the old one), never an edit of history."""

    county_field = None
    list_display = ["dictionary", "code", "label", "value", "valid_from", "valid_to", "note"]
    list_filter = ["dictionary"]
    search_fields = ["code", "label", "value"]
    search_help_text = "按平台代码、名称或本系统取值检索"
    ordering = ["dictionary", "code", "valid_from"]

    def has_delete_permission(self, request, obj=None):
        return False


class ResolveForm(forms.Form):
    decision = forms.ChoiceField(
        label="复核结论",
        choices=[("ours", "以本系统计算为准（默认）"), ("platform", "平台金额成立")],
        initial="ours",
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label="理由", required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


@admin.register(PlatformSettlement)
class PlatformSettlementAdmin(CountyScopedAdmin):
    county_field = "claim__county"
    hospital_field = "claim__hospital"
    change_list_template = "claims/platform_settlement_list.html"
    list_display = [
        "setl_id",
        "hospital",
        "discharged",
        "med_type",
        "maf_pay",
        "ours",
        "difference",
        "outcome",
        "reason",
    ]
    list_filter = ["outcome", "reason", "declaration__year", "declaration__month"]
    search_fields = ["=setl_id", "=claim__person__id_number", "=claim__external_ref"]
    search_help_text = "按结算ID或公民身份号码检索"
    list_select_related = ["claim__hospital"]
    readonly_fields = [
        "claim",
        "declaration",
        "setl_id",
        "psn_no",
        "med_type",
        "clr_type",
        "insutype",
        "insu_admdvs",
        "platform_identity",
        "our_identity",
        "maf_pay",
        "ours",
        "difference",
        "outcome",
        "reason",
        "review_note",
        "reviewed_by",
        "reviewed_at",
        "our_trace",
    ]
    exclude = ["content_hash", "setl_time"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="医疗机构")
    def hospital(self, obj):
        return obj.claim.hospital

    @admin.display(description="出院（就诊）日期")
    def discharged(self, obj):
        return obj.claim.discharged

    @admin.display(description="本系统计算过程")
    def our_trace(self, obj):
        decision = obj.claim.decisions.filter(is_current=True).first()
        trace = format_trace(decision.trace) if decision else "尚未计算"
        if obj.outcome != PlatformSettlement.Outcome.MISMATCH:
            return trace
        url = reverse("admin:claims_platformsettlement_resolve", args=[obj.pk])
        return format_html('{}<p><a class="button" href="{}">复核此差异</a></p>', trace, url)

    def get_urls(self):
        return [
            path(
                "<int:pk>/resolve/",
                self.admin_site.admin_view(self.resolve_view),
                name="claims_platformsettlement_resolve",
            ),
            path(
                "mismatches/",
                self.admin_site.admin_view(self.mismatches_view),
                name="claims_platformsettlement_mismatches",
            ),
            *super().get_urls(),
        ]

    def resolve_view(self, request, pk: int):
        operation_required(request, "claims.review_claim")
        settlement = get_object_or_404(self.get_queryset(request), pk=pk)
        form = ResolveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.platform_review_resolve(
                    settlement=settlement,
                    by=request.user,
                    platform_stands=form.cleaned_data["decision"] == "platform",
                    note=form.cleaned_data["note"],
                )
            except ClaimsError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, f"已复核：{settlement.setl_id}")
                return HttpResponseRedirect(
                    reverse("admin:claims_platformsettlement_change", args=[pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"复核平台金额差异 {settlement.setl_id}",
            "opts": self.model._meta,
            "settlement": settlement,
            "trace": self.our_trace(settlement),
            "form": form,
        }
        return render(request, "claims/platform_resolve.html", context)

    def mismatches_view(self, request):
        year = query_int(request, "year", timezone.localdate().year, lo=2000, hi=2100)
        month = query_int(request, "month", 0, lo=0, hi=12)
        settlements = self.get_queryset(request).filter(declaration__year=year)
        if month:
            settlements = settlements.filter(declaration__month=month)
        context = {
            **self.admin_site.each_context(request),
            "title": "平台医疗救助金额比对差异（按机构、月份）",
            "opts": self.model._meta,
            "rows": selectors.mismatch_report(settlements),
            "year": year,
            "month": month,
        }
        return render(request, "claims/platform_mismatches.html", context)
