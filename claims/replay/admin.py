"""The replay's pages: a form to start one (area, period, draft: changes entered inline and/or
another pack), its page (job progress; once done the totals, the breakdowns with a bar chart
of current vs draft per county and per identity, and the largest changes per person with both
traces) and its Excel export. Thin: the work is `claims.replay.services`."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse

from beneficiaries.models import ParameterChange, PoolingArea
from claims.replay import exports, services
from claims.replay.models import ReplayRun
from medaid import policy
from medaid.core.admin import CountyScopedAdmin, may, operation_required, register_county_path
from medaid.core.charts import pair_bars
from medaid.core.errors import Refusal
from medaid.core.scoping import mask_id_number
from medaid.core.xlsx import report_filename
from medaid.policy.glossary import IDENTITY_LABELS, KIND_LABELS

# A replay covers a whole pooling area: it has no county of its own, and only city-wide users
# see it (its breakdown shows every county's figures).
register_county_path("claims.replayrun", None)


class ReplayStartForm(forms.Form):
    title = forms.CharField(label="说明", max_length=200, required=False)
    pooling_area = forms.ModelChoiceField(label="统筹地区", queryset=PoolingArea.objects.all())
    start = forms.DateField(label="期间起", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="期间止", widget=forms.DateInput(attrs={"type": "date"}))
    pack_code = forms.ChoiceField(label="草案政策包", required=False)
    changes = forms.ModelMultipleChoiceField(
        label="未批准的参数变更",
        queryset=ParameterChange.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="所选统筹地区草稿、待审核的参数变更，作为草案叠加（可与下方逐行录入的草案并用）",
    )
    draft_lines = forms.CharField(
        label="参数变更草案",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 90}),
        help_text="每行一项：参数 | 生效日期 | 取值 | 依据文件，例如 "
        "annual_cap.all.dibao | 2024-01-01 | 50000 | 平顺县医保局〔2024〕1号",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pack_code"].choices = [("", "（按统筹地区现行政策包）")] + [
            (code, code) for code in policy.available_policies()
        ]
        self.fields["changes"].queryset = (
            ParameterChange.objects.filter(
                kind=ParameterChange.Kind.PARAMETER, state__in=services.UNAPPROVED_STATES
            )
            .select_related("pooling_area")
            .order_by("pooling_area__name", "effective_date", "id")
        )
        self.fields["changes"].label_from_instance = _change_label

    def clean(self):
        data = super().clean()
        area, chosen = data.get("pooling_area"), data.get("changes") or []
        other = [c for c in chosen if area is not None and c.pooling_area_id != area.pk]
        if other:
            self.add_error(
                "changes",
                f"{'、'.join(c.key for c in other)}不是{area.name}的参数变更，"
                "请只选所选统筹地区的变更",
            )
        return data

    def clean_draft_lines(self) -> list[dict]:
        changes = []
        for n, line in enumerate(self.cleaned_data["draft_lines"].splitlines(), 1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split("|")]
            if len(parts) != 4:
                raise forms.ValidationError(
                    f"第{n}行应为 4 项（参数 | 生效日期 | 取值 | 依据文件），实际 {len(parts)} 项"
                )
            changes.append(dict(zip(services.AMENDMENT_FIELDS, [*parts, f"草案{n}"], strict=True)))
        return changes


@admin.register(ReplayRun)
class ReplayRunAdmin(CountyScopedAdmin):
    county_field = None
    list_display = [
        "__str__",
        "title",
        "pooling_area",
        "status",
        "people",
        "claims",
        "difference",
        "requested_by",
        "created_at",
    ]
    list_filter = ["status", "pooling_area"]
    list_select_related = ["pooling_area", "requested_by"]

    @admin.display(description="差额（草案−现行）")
    def difference(self, obj):
        from medaid.core.money import yuan_text

        return yuan_text((obj.results.get("totals") or {}).get("difference"))

    def has_view_permission(self, request, obj=None):
        return request.user.is_city_wide and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return False  # started through the form below, which checks claims.start_replay

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("start/", view(self.start_view), name="claims_replayrun_start"),
            path("<int:pk>/export/", view(self.export_view), name="claims_replayrun_export"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {**(extra_context or {}), "may_start": may(request, services.PERMISSION)}
        return super().changelist_view(request, extra)

    def start_view(self, request):
        operation_required(request, services.PERMISSION)
        form = ReplayStartForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            chosen = list(data["changes"])
            try:
                replay = services.replay_start(
                    pooling_area=data["pooling_area"],
                    start=data["start"],
                    end=data["end"],
                    draft=[*services.changes_draft(chosen), *data["draft_lines"]],
                    pack_code=data["pack_code"],
                    title=data["title"],
                    by=request.user,
                    parameter_change_id=chosen[0].pk if len(chosen) == 1 else None,
                )
            except Refusal as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, f"已发起{replay}，后台计算中")
                return HttpResponseRedirect(
                    reverse("admin:claims_replayrun_change", args=[replay.pk])
                )
        if request.method == "GET" and not request.GET.get("start"):
            today = dt.date.today()
            form.initial.update(start=dt.date(today.year, 1, 1), end=dt.date(today.year, 12, 31))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "发起政策模拟测算",
            "opts": self.model._meta,
        }
        return render(request, "claims/replay_start.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied("没有查看政策模拟测算的权限")
        replay = get_object_or_404(
            self.get_queryset(request).select_related(
                "pooling_area", "job", "requested_by", "parameter_change"
            ),
            pk=object_id,
        )
        context = {
            **self.admin_site.each_context(request),
            "title": str(replay),
            "opts": self.model._meta,
            "replay": replay,
            "draft": exports._draft_lines(replay),
            "job": replay.job,
        }
        if replay.status == ReplayRun.Status.DONE:
            context.update(_results_context(replay, request.user))
        return render(request, "claims/replay_result.html", context)

    def export_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied("没有查看政策模拟测算的权限")
        replay = get_object_or_404(self.get_queryset(request), pk=pk, status=ReplayRun.Status.DONE)
        buffer = io.BytesIO()
        exports.replay_workbook(buffer, replay=replay, user=request.user)
        name = report_filename("政策模拟测算", period=f"{replay.start}_{replay.end}")
        response = HttpResponse(
            buffer.getvalue(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(name)}"
        return response


def _change_label(change: ParameterChange) -> str:
    return (
        f"{change.pooling_area.name} {change.key}（{change.get_state_display()}）："
        f"{change.parameter} = {change.value}，{change.effective_date} 起"
    )


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)


def _results_context(replay: ReplayRun, user) -> dict:
    by = replay.results["by"]
    tables = [
        (services.DIMENSION_LABELS[dim], by[dim]) for dim in services.DIMENSIONS if by.get(dim)
    ]
    charts = [
        pair_bars(
            [(r["label"], Decimal(r["current"]), Decimal(r["draft"])) for r in by[dim]],
            title=f"按{services.DIMENSION_LABELS[dim]}：现行与草案救助金额",
        )
        for dim in ("county", "identity")
        if by.get(dim)
    ]
    changes = [
        {
            "change": c,
            "id_number": mask_id_number(c.person.id_number, user),
            "identity": IDENTITY_LABELS.get(c.identity, c.identity),
            "details": [
                {**d, "kind_label": KIND_LABELS.get(d["kind"], d["kind"])} for d in c.details
            ],
        }
        for c in replay.changes.select_related("person", "county").order_by("rank")
    ]
    return {
        "totals": replay.results["totals"],
        "tables": tables,
        "charts": charts,
        "changes": changes,
    }
