"""The maker–checker pages of the fund (`funds.moves`): the confirmation page every money move
is proposed on (amounts, accounts, a required reason), the 资金变动复核 list where a second
person approves or refuses, and the printed voucher with both people and both reasons.

Thin: every check and every write is in `funds.moves`; a page only shows what its prepare
function says and passes the person's answer on."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from beneficiaries.models import PoolingArea, PremiumTransferRequest
from funds import moves, selectors
from funds.models import Account, AccountKind, EntryKind, FundSource, MoneyMove
from medaid.core.admin import CountyScopedAdmin, amount_html, may, operation_required
from medaid.core.errors import Refusal
from medaid.core.scoping import scope_to_user

CONFIRM_TEMPLATE = "funds/move_confirm.html"


class ReasonForm(forms.Form):
    maker_reason = forms.CharField(
        label="制单事由",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=moves.REASON_MAX,
        help_text="必填：说明为什么要做这笔资金变动，复核人和打印的凭证上都会看到。",
    )


def _confirm(model_admin, request, *, title, proposals, form=None, hidden=(), reason=None):
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "proposals": proposals,
        "form": form,
        "hidden": hidden,
        "reason_form": reason or ReasonForm(),
    }
    return render(request, CONFIRM_TEMPLATE, context)


def _proposed(model_admin, request, made: list[MoneyMove]) -> None:
    if made:
        model_admin.message_user(
            request,
            f"已提交 {len(made)} 笔资金变动待复核（{'、'.join(m.summary for m in made)[:300]}）："
            "须由另一位具有复核权限的人员复核通过后才记账。",
            messages.SUCCESS,
        )


def propose_form_page(model_admin, request, *, kind, form, params_of, title, template):
    """A form's move in three steps: the form; once valid, the confirmation page (the amounts
    and accounts as `funds.moves` prepared them, the form carried along hidden, a required
    reason); once confirmed with a reason, the proposal. Nothing is posted here. A refusal of
    any service on the way (a fund rule, a validator's date bound) stands under its field."""
    if request.method == "POST" and form.is_valid():
        params = params_of(form.cleaned_data)
        try:
            proposal = moves.PREPARE[kind](**params)
        except Refusal as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            reason = ReasonForm(request.POST) if request.POST.get("confirm") else None
            if reason is not None and reason.is_valid():
                try:
                    move = moves.move_propose(
                        kind=kind,
                        maker=request.user,
                        reason=reason.cleaned_data["maker_reason"],
                        **params,
                    )
                except Refusal as exc:
                    reason.add_error(None, exc.message)
                else:
                    _proposed(model_admin, request, [move])
                    return HttpResponseRedirect(
                        reverse("admin:funds_moneymove_change", args=[move.pk])
                    )
            return _confirm(
                model_admin, request, title=title, proposals=[proposal], form=form, reason=reason
            )
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "form": form,
    }
    return render(request, template, context)


def propose_selected(model_admin, request, queryset, *, kind, params_of, title):
    """An admin action's move: the confirmation page for every selected row (the rows that
    cannot be proposed are named with the reason), then one proposal per row."""
    proposals, rows = [], []
    for obj in queryset:
        try:
            proposals.append(moves.PREPARE[kind](**params_of(obj)))
            rows.append(obj)
        except Refusal as exc:
            model_admin.message_user(request, f"{obj}：{exc.message}", messages.ERROR)
    if not rows:
        return None
    reason = ReasonForm(request.POST) if request.POST.get("confirm") else None
    if reason is not None and reason.is_valid():
        made = []
        for obj in rows:
            try:
                made.append(
                    moves.move_propose(
                        kind=kind,
                        maker=request.user,
                        reason=reason.cleaned_data["maker_reason"],
                        **params_of(obj),
                    )
                )
            except Refusal as exc:
                model_admin.message_user(request, f"{obj}：{exc.message}", messages.ERROR)
        _proposed(model_admin, request, made)
        return None
    hidden = [("action", request.POST.get("action", ""))] + [
        (admin.helpers.ACTION_CHECKBOX_NAME, obj.pk) for obj in rows
    ]
    return _confirm(
        model_admin, request, title=title, proposals=proposals, hidden=hidden, reason=reason
    )


# --- the forms of the three moves proposed from a form ---------------------------------------


class ManualEntryForm(forms.Form):
    """记账凭证 entered by hand: checked by `funds.moves.manual_entry_prepare`, posted only
    when a second person approves it."""

    kind = forms.ChoiceField(label="业务类型", choices=EntryKind.choices)
    source = forms.ChoiceField(
        label="资金性质", choices=[("", "—"), *FundSource.choices], required=False
    )
    from_account = forms.ModelChoiceField(
        Account.objects.none(), label="付出账户", required=False, help_text="资金收入可不填"
    )
    to_account = forms.ModelChoiceField(Account.objects.none(), label="收入账户")
    amount = forms.DecimalField(label="金额（元）", max_digits=16, decimal_places=2, min_value=0)
    date = forms.DateField(label="记账日期")
    document_ref = forms.CharField(label="单据文号", max_length=128)
    related_ref = forms.CharField(
        label="关联文号",
        max_length=128,
        required=False,
        help_text="如上解对应的下达文号；更正已关账月份的凭证时填写原凭证号",
    )
    memo = forms.CharField(label="摘要", max_length=500, required=False)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        accounts = scope_to_user(Account.objects.exclude(kind=AccountKind.HOSPITAL), user)
        self.fields["from_account"].queryset = accounts
        self.fields["to_account"].queryset = accounts

    @staticmethod
    def params(data) -> dict:
        return {
            "entry_kind": data["kind"],
            "source": data["source"],
            "from_account": data.get("from_account"),
            "to_account": data["to_account"],
            "amount": data["amount"],
            "date": data["date"],
            "document_ref": data["document_ref"],
            "related_ref": data["related_ref"],
            "memo": data["memo"],
        }


class PremiumTransferForm(forms.Form):
    request = forms.ModelChoiceField(
        PremiumTransferRequest.objects.none(), label="资助参保资金划转申请"
    )
    from_account = forms.ModelChoiceField(
        Account.objects.none(), label="付出账户", help_text="保山：由市级财政专户划转"
    )
    date = forms.DateField(label="记账日期")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["request"].queryset = scope_to_user(
            PremiumTransferRequest.objects.filter(
                status=PremiumTransferRequest.Status.REQUESTED
            ).select_related("county"),
            user,
        )
        # The city's own accounts pay for its counties (Baoshan Art.8(四)).
        self.fields["from_account"].queryset = Account.objects.filter(
            kind__in=[AccountKind.FISCAL, AccountKind.EXPENDITURE]
        ).select_related("county")
        if "date" not in self.initial:
            self.initial["date"] = timezone.localdate()


class YearEndForm(forms.Form):
    pooling_area = forms.ModelChoiceField(PoolingArea.objects.all(), label="统筹区")
    year = forms.IntegerField(label="决算年度", min_value=2000, max_value=2100)


# --- 资金变动复核 ---------------------------------------------------------------------------


class DecideForm(forms.Form):
    checker_reason = forms.CharField(
        label="复核意见",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=moves.REASON_MAX,
        help_text="必填；通过即记账，不通过则不记账。",
    )


@admin.register(MoneyMove)
class MoneyMoveAdmin(CountyScopedAdmin):
    list_display = (
        "proposed_at",
        "kind",
        "summary",
        "amount_display",
        "state_display",
        "holder",
        "maker",
        "checker",
        "checked_at",
    )
    list_filter = ("state", "kind")
    search_fields = ("summary", "maker_reason", "checker_reason")
    fields = (
        "kind",
        "state_display",
        "holder",
        "summary",
        "amount_display",
        "lines_display",
        "county",
        "maker",
        "maker_reason",
        "proposed_at",
        "checker",
        "checker_reason",
        "checked_at",
        "posted_at",
        "vouchers_display",
        "decide_link",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("maker", "checker", "county")

    def has_add_permission(self, request):
        return False  # proposed from the page of the move itself

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_check_permission(self, request) -> bool:
        return may(request, moves.CHECKER_PERMISSION)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/decide/", view(self.decide_view), name="funds_moneymove_decide"),
            path(
                "propose/premium-transfer/",
                view(self.premium_transfer_view),
                name="funds_moneymove_propose_premium_transfer",
            ),
            path(
                "propose/year-end/",
                view(self.year_end_view),
                name="funds_moneymove_propose_year_end",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        tools = []
        if may(request, moves.MAKER_PERMISSIONS[MoneyMove.Kind.PREMIUM_TRANSFER]):
            tools.append(
                (reverse("admin:funds_moneymove_propose_premium_transfer"), "提交资助参保划转")
            )
        if may(request, moves.MAKER_PERMISSIONS[MoneyMove.Kind.YEAR_END]):
            tools.append((reverse("admin:funds_moneymove_propose_year_end"), "提交年终决算"))
        extra_context = {**(extra_context or {}), "move_tools": tools}
        return super().changelist_view(request, extra_context)

    change_list_template = "funds/moneymove_change_list.html"

    @admin.display(description="金额（元）", ordering="amount")
    def amount_display(self, obj):
        return amount_html(obj.amount)

    @admin.display(description="状态", ordering="state")
    def state_display(self, obj):
        colour = {"pending": "#c77c00", "posted": "#2e7d32", "refused": "#ba2121"}.get(
            obj.state, "#333"
        )
        return format_html('<b style="color:{}">{}</b>', colour, obj.get_state_display())

    @admin.display(description="当前办理人")
    def holder(self, obj):
        return selectors.move_holder(obj)

    @admin.display(description="账户与金额（元）")
    def lines_display(self, obj):
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td style="text-align:right">{}</td></tr>',
            ((line["account"], line["amount"]) for line in obj.lines),
        )
        return format_html("<table>{}</table>", rows)

    @admin.display(description="记账凭证")
    def vouchers_display(self, obj):
        links = format_html_join(
            "",
            '<a href="{}">{}</a><br>',
            (
                (reverse("admin:funds_entry_print", args=[entry.pk]), entry.document_ref)
                for entry in obj.entries.order_by("pk")[:50]
            ),
        )
        return links or "—"

    @admin.display(description="复核")
    def decide_link(self, obj):
        if obj.state != MoneyMove.State.PENDING:
            return "—"
        url = reverse("admin:funds_moneymove_decide", args=[obj.pk])
        return format_html('<a class="button" href="{}">复核（通过 / 不通过）</a>', url)

    def decide_view(self, request, pk):
        operation_required(request, moves.CHECKER_PERMISSION)
        move = get_object_or_404(self.get_queryset(request), pk=pk)
        form = DecideForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            decide = moves.move_approve if "approve" in request.POST else moves.move_refuse
            try:
                move = decide(
                    move=move, checker=request.user, reason=form.cleaned_data["checker_reason"]
                )
            except Refusal as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request, f"{move.summary}：{move.get_state_display()}。", messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("admin:funds_moneymove_change", args=[pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"复核：{move.get_kind_display()}",
            "opts": self.model._meta,
            "move": move,
            "lines": move.lines,
            "form": form,
            "is_maker": move.maker_id == request.user.pk,
        }
        return render(request, "funds/move_decide.html", context)

    def premium_transfer_view(self, request):
        kind = MoneyMove.Kind.PREMIUM_TRANSFER
        operation_required(request, moves.MAKER_PERMISSIONS[kind])
        return propose_form_page(
            self,
            request,
            kind=kind,
            form=PremiumTransferForm(request.POST or None, user=request.user),
            params_of=lambda d: {
                "request": d["request"],
                "from_account": d["from_account"],
                "date": d["date"],
            },
            title="提交资助参保资金划转记账",
            template="funds/move_form.html",
        )

    def year_end_view(self, request):
        kind = MoneyMove.Kind.YEAR_END
        operation_required(request, moves.MAKER_PERMISSIONS[kind])
        initial = {"year": timezone.localdate().year - 1}
        return propose_form_page(
            self,
            request,
            kind=kind,
            form=YearEndForm(request.POST or None, initial=initial),
            params_of=lambda d: {"pooling_area": d["pooling_area"], "year": d["year"]},
            title="提交年终决算及超支分担",
            template="funds/move_form.html",
        )


def entry_print(model_admin, request, pk):
    """记账凭证 as printed: postings, and who made, checked and posted it with their reasons."""
    entry = get_object_or_404(
        model_admin.get_queryset(request).select_related("move__maker", "move__checker"), pk=pk
    )
    postings = list(entry.postings.select_related("account").order_by("-amount", "pk"))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"记账凭证 {entry.document_ref}",
        "opts": model_admin.model._meta,
        "entry": entry,
        "move": entry.move,
        "debits": [(p.account, p.amount) for p in postings if p.amount > 0],
        "credits": [(p.account, -p.amount) for p in postings if p.amount < 0],
        "total": sum((p.amount for p in postings if p.amount > 0), 0),
        "printed_at": timezone.localtime(),
    }
    return render(request, "funds/entry_print.html", context)
