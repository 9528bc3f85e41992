"""Admin pages of the cross-cutting parts: the benefit calculator (the preview contract behind
a counter form) and the report center (start an Excel report job)."""

from __future__ import annotations

import json
from datetime import date

from django import forms
from django.contrib import messages
from django.contrib.admin import site as admin_site
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from medaid.core.admin import operation_required, query_int
from medaid.core.models import Job
from medaid.core.money import ZERO, to_yuan
from medaid.core.reports import ReportRequestError, report_job_start, reports_for
from medaid.core.scoping import is_city_wide, scope_to_user, user_county_id
from medaid.core.services import PreviewError, benefit_preview
from medaid.policy import available_policies, load_pack
from medaid.policy.glossary import FEE_CLASS_CHOICES


def _policy_choices():
    """Every pack the engine has, by its title: a new jurisdiction appears here by itself."""
    return [(code, load_pack(code).title) for code in available_policies()]


# The glossary's fee classes (Pingshun 第二十一条), plus "not applicable".
FEE_CLASSES = [("", "（不适用）"), *FEE_CLASS_CHOICES]
YES_NO = [("true", "是"), ("false", "否")]


def _identity_choices():
    from beneficiaries.models import IdentityCode

    return IdentityCode.choices


def _kind_choices():
    from claims.models import ClaimKind

    return ClaimKind.choices


class CalculatorForm(forms.Form):
    """One person, one claim: what a clerk has in hand at the counter."""

    policy = forms.ChoiceField(label="政策", choices=_policy_choices)
    per_capita_disposable_income = forms.DecimalField(
        label="上年居民人均可支配收入（元）",
        required=False,
        min_value=0,
        decimal_places=2,
        help_text="留空按政策包中的参数",
    )
    birth_date = forms.DateField(label="出生日期", widget=forms.DateInput(attrs={"type": "date"}))
    identity = forms.ChoiceField(label="身份类别", choices=_identity_choices)
    identity_start = forms.DateField(
        label="身份起始日期", widget=forms.DateInput(attrs={"type": "date"})
    )
    identity_end = forms.DateField(
        label="身份终止日期",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="留空表示至今",
    )
    kind = forms.ChoiceField(label="救助项目", choices=_kind_choices)
    admitted = forms.DateField(
        label="入院日期", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    discharged = forms.DateField(
        label="出院（就诊）日期", widget=forms.DateInput(attrs={"type": "date"})
    )
    hospital_level = forms.TypedChoiceField(
        label="医疗机构级别", choices=[(1, "一级"), (2, "二级"), (3, "三级")], coerce=int
    )
    hospital_fee_class = forms.ChoiceField(label="收费类别", choices=FEE_CLASSES, required=False)
    in_area = forms.ChoiceField(label="统筹区内就医", choices=YES_NO, initial="true")
    in_province = forms.ChoiceField(label="省内就医", choices=YES_NO, initial="true")
    referred = forms.ChoiceField(label="按规定转诊", choices=YES_NO, initial="true")
    emergency = forms.ChoiceField(label="急诊抢救", choices=YES_NO, initial="false")
    major_disease = forms.ChoiceField(label="重大疾病首诊", choices=YES_NO, initial="false")
    chronic_category = forms.TypedChoiceField(
        label="慢特病类别",
        choices=[("", "（无）"), (1, "一类"), (2, "二类"), (3, "三类")],
        coerce=int,
        empty_value=None,
        required=False,
    )
    settlement = forms.ChoiceField(
        label="结算方式",
        choices=[("direct", "一站式直接结算"), ("application", "依申请救助")],
    )
    applied = forms.DateField(
        label="申请日期", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    in_policy_cost = forms.DecimalField(label="政策范围内费用", min_value=0, decimal_places=2)
    out_of_catalog_cost = forms.DecimalField(
        label="目录外费用", min_value=0, decimal_places=2, initial="0.00"
    )
    basic_insurance_paid = forms.DecimalField(
        label="基本医保统筹支付", min_value=0, decimal_places=2, initial="0.00"
    )
    critical_illness_paid = forms.DecimalField(
        label="大病保险支付", min_value=0, decimal_places=2, initial="0.00"
    )
    other_paid = forms.DecimalField(
        label="其他保障支付", min_value=0, decimal_places=2, initial="0.00"
    )

    def to_case(self) -> dict:
        """The preview contract's case for this form (see preview-contract.md)."""
        d = self.cleaned_data

        def day(value):
            return value.isoformat() if value else None

        def yuan(value):
            return f"{value:.2f}" if value is not None else "0.00"

        case = {
            "policy": d["policy"],
            "person": {
                "birth_date": day(d["birth_date"]),
                "identities": [
                    {
                        "code": d["identity"],
                        "start": day(d["identity_start"]),
                        "end": day(d["identity_end"]),
                    }
                ],
            },
            "claims": [
                {
                    "ref": "1",
                    "kind": d["kind"],
                    "admitted": day(d["admitted"]) or day(d["discharged"]),
                    "discharged": day(d["discharged"]),
                    "hospital_level": d["hospital_level"],
                    "hospital_fee_class": d["hospital_fee_class"] or None,
                    "in_area": d["in_area"] == "true",
                    "in_province": d["in_province"] == "true",
                    "referred": d["referred"] == "true",
                    "follow_up": False,
                    "emergency": d["emergency"] == "true",
                    "major_disease": d["major_disease"] == "true",
                    "chronic_category": d["chronic_category"],
                    "settlement": d["settlement"],
                    "applied": day(d["applied"]),
                    "in_policy_cost": yuan(d["in_policy_cost"]),
                    "out_of_catalog_cost": yuan(d["out_of_catalog_cost"]),
                    "total_cost": None,
                    "basic_insurance_paid": yuan(d["basic_insurance_paid"]),
                    "critical_illness_paid": yuan(d["critical_illness_paid"]),
                    "other_paid": yuan(d["other_paid"]),
                }
            ],
        }
        if d.get("per_capita_disposable_income") is not None:
            case["parameters"] = {
                "per_capita_disposable_income": str(d["per_capita_disposable_income"])
            }
        return case


# Contract field paths ("claims[0].in_policy_cost") → form field names, to show an error where
# the clerk typed the value.
def _form_field_for(contract_field: str | None) -> str | None:
    if not contract_field:
        return None
    name = contract_field.rsplit(".", 1)[-1].split("[")[0]
    aliases = {"code": "identity", "start": "identity_start", "end": "identity_end"}
    name = aliases.get(name, name)
    return name if name in CalculatorForm.base_fields else None


def benefit_calculator(request):
    """救助金额测算: the form (or a pasted case JSON) through the preview contract."""
    if not request.user.is_staff:
        raise PermissionDenied
    result = error = None
    case_json = ""
    form = CalculatorForm(request.POST or None, initial={"discharged": date.today()})
    if request.method == "POST":
        case = None
        if request.POST.get("mode") == "json":
            case_json = request.POST.get("case_json", "")
            case = case_json
            form = CalculatorForm(initial={"discharged": date.today()})
        elif form.is_valid():
            case = form.to_case()
            case_json = json.dumps(case, ensure_ascii=False, indent=2)
        if case is not None:
            try:
                result = benefit_preview(data=case)
            except PreviewError as exc:
                error = exc
                field = _form_field_for(exc.field)
                if field and form.is_bound:
                    form.add_error(field, exc.message)
    context = {
        **admin_site.each_context(request),
        "title": "救助金额测算",
        "form": form,
        "result": result,
        "error": error,
        "case_json": case_json,
        "result_json": json.dumps(result, ensure_ascii=False, indent=2) if result else "",
    }
    return TemplateResponse(request, "admin/medaid/calculator.html", context)


class ReportForm(forms.Form):
    report = forms.ChoiceField(label="报表")
    county = forms.ModelChoiceField(label="区县", queryset=None, required=False, empty_label="全市")
    period = forms.CharField(
        label="所属月份",
        required=False,
        widget=forms.DateInput(attrs={"type": "month"}),
        help_text="如 2024-03",
    )
    year = forms.IntegerField(label="年度", required=False, min_value=2000, max_value=2100)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        from beneficiaries.models import County

        self.specs = {s.kind: s for s in reports_for(user)}
        self.fields["report"].choices = [(s.kind, s.label) for s in self.specs.values()]
        self.fields["county"].queryset = scope_to_user(
            County.objects.order_by("code"), user, county_field="pk"
        )
        if not is_city_wide(user):
            self.fields["county"].empty_label = None
            self.fields["county"].required = True
            self.fields["county"].initial = user_county_id(user)

    def clean_period(self):
        value = self.cleaned_data.get("period") or ""
        if value:
            try:
                year, month = (int(x) for x in value.split("-")[:2])
                date(year, month, 1)
            except ValueError as exc:
                raise forms.ValidationError("月份格式应为 YYYY-MM") from exc
            return f"{year:04d}-{month:02d}"
        return value

    def clean(self):
        data = super().clean()
        spec = self.specs.get(data.get("report"))
        if spec is None:
            return data
        if "period" in spec.needs and not data.get("period"):
            self.add_error("period", "该报表需要选择所属月份")
        if "year" in spec.needs and not data.get("year"):
            self.add_error("year", "该报表需要填写年度")
        if "county" in spec.needs and not data.get("county"):
            self.add_error("county", "该报表按区县生成，请选择区县")
        return data


def report_center(request):
    """报表中心: pick a report, a county and a period; it runs as a job with progress. Starting
    a report is an operation (`medaid.start_report`): the page is for it alone."""
    if not request.user.is_staff:
        raise PermissionDenied
    operation_required(request, "medaid.start_report")
    form = ReportForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        parameters = {k: data[k] for k in ("period", "year") if data.get(k)}
        try:
            job = report_job_start(
                kind=data["report"],
                user=request.user,
                county=data.get("county"),
                parameters=parameters,
            )
        except ReportRequestError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "报表任务已提交，完成后可在此页面下载。")
            return redirect(reverse("admin:medaid_job_change", args=[job.pk]))
    recent = scope_to_user(
        Job.objects.filter(kind__startswith="report.", created_by=request.user),
        request.user,
    ).order_by("-created_at")[:10]
    context = {
        **admin_site.each_context(request),
        "title": "报表中心",
        "form": form,
        "specs": list(form.specs.values()),
        "recent_jobs": recent,
    }
    return TemplateResponse(request, "admin/medaid/report_center.html", context)


def finance_charts(request):
    """财务图表: a year's spending against budget per county by month, assistance by identity and
    by claim kind, and what each hospital was paid, as server-rendered charts with their tables
    (the figures to the cent), scoped to the user's county. A read page: it needs the right to
    see the ledger."""
    from beneficiaries.models import County
    from claims.selectors import assistance_by
    from funds.selectors import budgets_of_year, hospital_settlements, monthly_spending
    from medaid.core import charts
    from medaid.policy.glossary import IDENTITY_LABELS, KIND_LABELS

    if not (request.user.is_staff and request.user.has_perm("funds.view_entry")):
        raise PermissionDenied("没有查看基金账簿的权限")
    today = timezone.localdate()
    year = query_int(request, "year", today.year, lo=2000, hi=2100)
    spending = monthly_spending(year=year, user=request.user)
    budgets = budgets_of_year(year=year, user=request.user)
    counties = scope_to_user(
        County.objects.filter(pk__in={*spending, *budgets}).order_by("code"),
        request.user,
        county_field="pk",
    )
    per_county = []
    for county in counties:
        months = spending.get(county.pk, [ZERO] * 12)
        budget = budgets.get(county.pk)
        monthly_budget = to_yuan(budget / 12) if budget is not None else None
        title = f"{county.name} {year}年各月救助支出与月均预算"
        per_county.append(
            {
                "county": county,
                "months": months,
                "spent": sum(months, ZERO),
                "budget": budget,
                "monthly_budget": monthly_budget,
                "chart": charts.month_columns(months, reference=monthly_budget, title=title),
            }
        )
    by_identity = [
        (IDENTITY_LABELS.get(code, code or "未认定身份"), total)
        for code, total in assistance_by(year=year, by="identity", user=request.user)
    ]
    by_kind = [
        (KIND_LABELS.get(code, code), total)
        for code, total in assistance_by(year=year, by="kind", user=request.user)
    ]
    hospitals = hospital_settlements(year=year, user=request.user)
    context = {
        **admin_site.each_context(request),
        "title": f"{year}年基金收支图表",
        "year": year,
        "years": range(today.year, today.year - 6, -1),
        "per_county": per_county,
        "by_identity": by_identity,
        "by_kind": by_kind,
        "hospitals": hospitals,
        "identity_chart": charts.bars(by_identity, title=f"{year}年救助金额（按身份类别）"),
        "kind_chart": charts.bars(by_kind, title=f"{year}年救助金额（按就诊类型）"),
        "hospital_chart": charts.bars(hospitals, title=f"{year}年月度结算金额（按医疗机构）"),
    }
    return TemplateResponse(request, "admin/medaid/finance.html", context)
