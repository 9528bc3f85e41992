"""The assistance fund's double-entry ledger, its statutory deadlines, budgets, monthly
settlement with hospitals and individuals, and the year-end close.

Sign convention: a posting's amount is signed; money coming into an account is positive, money
leaving it negative, and every entry's postings sum to zero. An internal account's balance (a
fiscal special account 财政专户 or an expenditure account 支出户) is the money it holds; an
external counterparty's balance (a source of funds, a hospital, the individuals' payee account,
the resident insurance fund) mirrors what it gave (negative) or received (positive).

Posted entries and postings never change: a correction is a reversing entry. On PostgreSQL
triggers enforce both (immutability, and a deferred check that each entry balances at commit);
services enforce the same on SQLite.
"""

from decimal import Decimal

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q, Sum

from medaid.core.money import CENT

MONEY = {"max_digits": 16, "decimal_places": 2}


def sum_money(queryset, field: str = "amount") -> Decimal:
    """A money column's sum as Decimal with two places (SQLite's SUM returns a bare number)."""
    total = queryset.aggregate(s=Sum(field))["s"]
    return Decimal(str(total or 0)).quantize(CENT)


class AccountKind(models.TextChoices):
    FISCAL = "fiscal", "医疗救助基金财政专户"
    EXPENDITURE = "expenditure", "医疗救助基金支出户"
    SOURCE = "source", "资金来源（外部）"
    HOSPITAL = "hospital", "定点医疗机构（外部）"
    INDIVIDUALS = "individuals", "救助对象个人（外部）"
    RESIDENT_INSURANCE = "resident_insurance", "城乡居民基本医疗保险基金（外部）"


INTERNAL_KINDS = (AccountKind.FISCAL, AccountKind.EXPENDITURE)


class FundSource(models.TextChoices):
    """资金来源 (Baoshan Art.16; Kunming §六(一); Pingshun Art.22)."""

    CENTRAL_PROVINCIAL = "central_provincial", "中央、省级财政补助资金"
    MUNICIPAL = "municipal", "市级财政补助资金"
    COUNTY = "county", "县级财政补助（配套）资金"
    INTEREST = "interest", "利息收入"
    LOTTERY = "lottery", "福利彩票公益金"
    DONATION = "donation", "社会捐赠资金"
    OTHER = "other", "其他可用于医疗救助的资金"
    DEFICIT_SUPPLEMENT = "deficit_supplement", "县财政弥补支出缺口的预算追加"


class EntryKind(models.TextChoices):
    RECEIPT = "receipt", "资金收入"
    ALLOCATION = "allocation", "资金下达"
    REMITTANCE = "remittance", "资金上解"
    TRANSFER = "transfer", "财政专户拨入支出户"
    DISBURSEMENT = "disbursement", "拨付下级支出户"
    HOSPITAL_PAYMENT = "hospital_payment", "支付定点医疗机构"
    INDIVIDUAL_PAYMENT = "individual_payment", "支付救助对象个人"
    PREMIUM_SUBSIDY = "premium_subsidy", "资助参保资金划转居民医保基金"
    INTEREST_REMIT = "interest_remit", "支出户利息缴入财政专户"
    YEAR_END_RETURN = "year_end_return", "支出户年末余额缴回财政专户"
    SURPLUS_RETURN = "surplus_return", "县级结余资金退回市级专户"
    OVERSPEND_COVER = "overspend_cover", "动用滚存结余弥补超支"


# What counts as the fund's spending when comparing actual against budget.
SPENDING_KINDS = (
    EntryKind.HOSPITAL_PAYMENT,
    EntryKind.INDIVIDUAL_PAYMENT,
    EntryKind.PREMIUM_SUBSIDY,
)


class Account(models.Model):
    """One account of the fund: internal (fiscal special / expenditure, at city level when
    `county` is empty, else at county level) or an external counterparty."""

    code = models.CharField("账户编码", max_length=64, unique=True)
    name = models.CharField("账户名称", max_length=128)
    kind = models.CharField("账户类型", max_length=24, choices=AccountKind.choices)
    pooling_area = models.ForeignKey(
        "beneficiaries.PoolingArea",
        on_delete=models.PROTECT,
        related_name="fund_accounts",
        verbose_name="统筹区",
    )
    county = models.ForeignKey(
        "beneficiaries.County",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="fund_accounts",
        verbose_name="区县",
        help_text="留空表示市级账户",
    )
    source = models.CharField(
        "资金来源", max_length=24, choices=FundSource.choices, blank=True, default=""
    )
    hospital = models.ForeignKey(
        "claims.Hospital",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="fund_accounts",
        verbose_name="医疗机构",
    )
    bank_name = models.CharField("开户银行", max_length=128, blank=True)
    bank_account = models.CharField("银行账号", max_length=64, blank=True)
    opened_on = models.DateField("开户日期", null=True, blank=True)

    class Meta:
        verbose_name = "基金账户"
        verbose_name_plural = "基金账户"
        ordering = ["pooling_area", "county__code", "kind", "code"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="hospital") | Q(hospital__isnull=False),
                name="fund_account_hospital_has_hospital",
            ),
            models.CheckConstraint(
                condition=~Q(kind="source") | ~Q(source=""),
                name="fund_account_source_has_source",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_internal(self) -> bool:
        return self.kind in INTERNAL_KINDS

    def balance(self, *, until=None):
        """The balance derived from postings (on `until` inclusive when given)."""
        postings = self.postings.all()
        if until is not None:
            postings = postings.filter(entry__date__lte=until)
        return sum_money(postings)


@pghistory.track(pghistory.InsertEvent())
class Entry(models.Model):
    """记账凭证: one money movement with its document reference; immutable once written."""

    kind = models.CharField("业务类型", max_length=24, choices=EntryKind.choices, db_index=True)
    source = models.CharField(
        "资金性质", max_length=24, choices=FundSource.choices, blank=True, default=""
    )
    pooling_area = models.ForeignKey(
        "beneficiaries.PoolingArea",
        on_delete=models.PROTECT,
        related_name="fund_entries",
        verbose_name="统筹区",
    )
    county = models.ForeignKey(
        "beneficiaries.County",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="fund_entries",
        verbose_name="区县",
        help_text="涉及的区县；留空表示市级内部往来",
    )
    date = models.DateField("记账日期", db_index=True)
    document_ref = models.CharField(
        "单据文号", max_length=128, help_text="指标文件、拨款通知、结算单号等"
    )
    related_ref = models.CharField(
        "关联文号", max_length=128, blank=True, help_text="如上解对应的下达文号"
    )
    memo = models.CharField("摘要", max_length=500, blank=True)
    reverses = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
        verbose_name="冲销的凭证",
    )
    idempotency_key = models.CharField(
        "幂等键", max_length=128, null=True, blank=True, unique=True, editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="记账人",
    )
    created_at = models.DateTimeField("记账时间", auto_now_add=True)
    move = models.ForeignKey(
        "MoneyMove",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
        verbose_name="复核单",
        help_text="经制单、复核后记账的资金变动；系统自动记账的凭证为空",
    )

    class Meta:
        verbose_name = "记账凭证"
        verbose_name_plural = "记账凭证"
        permissions = [
            ("post_entry", "可录入手工记账凭证"),
            ("reverse_entry", "可冲销记账凭证"),
        ]
        ordering = ["-date", "-id"]
        indexes = [models.Index(fields=["county", "kind", "date"])]
        constraints = [
            models.CheckConstraint(condition=~Q(document_ref=""), name="fund_entry_has_document"),
        ]
        triggers = [
            pgtrigger.Protect(
                name="fund_entry_immutable", operation=pgtrigger.Update | pgtrigger.Delete
            ),
            # Deferred to commit: an entry is written before its postings.
            pgtrigger.Trigger(
                name="fund_entry_has_postings",
                when=pgtrigger.After,
                operation=pgtrigger.Insert,
                timing=pgtrigger.Deferred,
                func="""
                    IF NOT EXISTS (SELECT 1 FROM funds_posting WHERE entry_id = NEW.id) THEN
                        RAISE EXCEPTION '记账凭证 % 没有分录', NEW.id USING ERRCODE = '23514';
                    END IF;
                    RETURN NULL;
                """,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.document_ref}"


@pghistory.track(pghistory.InsertEvent())
class Posting(models.Model):
    entry = models.ForeignKey(
        Entry, on_delete=models.PROTECT, related_name="postings", verbose_name="记账凭证"
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="postings", verbose_name="账户"
    )
    amount = models.DecimalField("金额", **MONEY, help_text="正数为收入（借方），负数为支出")
    # The entry's date again, so that an account's sums by day or month (its page, its
    # balance on a day) are read off the (account, date, entry) index without joining every
    # entry the account ever had. Written by the trigger below on PostgreSQL, whoever inserts.
    date = models.DateField(
        "记账日期", null=True, editable=False, help_text="与所属记账凭证的记账日期相同"
    )

    class Meta:
        verbose_name = "分录"
        verbose_name_plural = "分录"
        indexes = [
            models.Index(fields=["account", "entry"]),
            models.Index(
                fields=["account", "date", "entry"],
                include=["amount"],
                name="fund_posting_account_date",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="fund_posting_not_zero"),
            models.UniqueConstraint(fields=["entry", "account"], name="uniq_posting_per_account"),
        ]
        triggers = [
            pgtrigger.Protect(
                name="fund_posting_immutable", operation=pgtrigger.Update | pgtrigger.Delete
            ),
            pgtrigger.Trigger(
                name="fund_posting_date",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert,
                func="""
                    NEW.date := (SELECT date FROM funds_entry WHERE id = NEW.entry_id);
                    RETURN NEW;
                """,
            ),
            pgtrigger.Trigger(
                name="fund_entry_balances",
                when=pgtrigger.After,
                operation=pgtrigger.Insert,
                timing=pgtrigger.Deferred,
                func="""
                    IF (SELECT SUM(amount) FROM funds_posting WHERE entry_id = NEW.entry_id)
                       <> 0 THEN
                        RAISE EXCEPTION '记账凭证 % 借贷不平', NEW.entry_id
                            USING ERRCODE = '23514';
                    END IF;
                    RETURN NULL;
                """,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.amount}"


class Deadline(models.Model):
    """A statutory deadline (资金下达、上解、配套、资助参保划转 …) tracked to completion."""

    class Kind(models.TextChoices):
        ALLOCATION_PLAN = "allocation_plan", "提供资金分配方案和绩效目标"
        ALLOCATION = "allocation", "上级补助资金下达到区县"
        REMITTANCE = "remittance", "下达资金上解市级财政专户"
        COUNTY_MATCHING = "county_matching", "县级配套资金上解"
        SUBSIDY_HEADCOUNT = "subsidy_headcount", "确定资助参保人数"
        SUBSIDY_TRANSFER = "subsidy_transfer", "资助参保资金划转居民医保基金"
        YEAR_END_RETURN = "year_end_return", "支出户利息及年末余额缴回财政专户"
        SURPLUS_RETURN = "surplus_return", "季末结余资金退回市级财政专户"

    kind = models.CharField("事项", max_length=24, choices=Kind.choices)
    pooling_area = models.ForeignKey(
        "beneficiaries.PoolingArea",
        on_delete=models.PROTECT,
        related_name="fund_deadlines",
        verbose_name="统筹区",
    )
    county = models.ForeignKey(
        "beneficiaries.County",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="fund_deadlines",
        verbose_name="区县",
    )
    year = models.PositiveSmallIntegerField("年度")
    document_ref = models.CharField("起算文号", max_length=128)
    starts_on = models.DateField("起算日期")
    due_on = models.DateField("截止日期", db_index=True)
    amount = models.DecimalField("涉及金额", **MONEY, null=True, blank=True)
    rule_ref = models.CharField("依据条款", max_length=128)
    completed_on = models.DateField("完成日期", null=True, blank=True)
    completed_ref = models.CharField("完成文号", max_length=128, blank=True)
    completed_entry = models.ForeignKey(
        Entry,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="完成凭证",
    )

    class Meta:
        verbose_name = "法定时限"
        verbose_name_plural = "法定时限"
        permissions = [
            ("complete_deadline", "可标记法定时限办结"),
        ]
        ordering = ["completed_on", "due_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["pooling_area", "county", "kind", "year", "document_ref"],
                name="uniq_fund_deadline",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}（{self.document_ref}，{self.due_on}前）"

    @property
    def is_done(self) -> bool:
        return self.completed_on is not None


class Budget(models.Model):
    """A county's assistance-fund expenditure budget for one year (Baoshan Art.17; Pingshun
    Art.25), with the county's matching contribution it must remit."""

    county = models.ForeignKey(
        "beneficiaries.County",
        on_delete=models.PROTECT,
        related_name="fund_budgets",
        verbose_name="区县",
    )
    year = models.PositiveSmallIntegerField("年度")
    amount = models.DecimalField("支出预算", **MONEY)
    county_matching = models.DecimalField("县级配套资金", **MONEY, default=0)
    document_ref = models.CharField("预算批复文号", max_length=128, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "基金预算"
        verbose_name_plural = "基金预算"
        ordering = ["-year", "county__code"]
        constraints = [
            models.UniqueConstraint(fields=["county", "year"], name="uniq_fund_budget"),
            models.CheckConstraint(
                condition=Q(amount__gte=0, county_matching__gte=0),
                name="fund_budget_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county} {self.year}年预算"


class SettlementRun(models.Model):
    """按月结算: one county's settlement of one month. The row's statements, not the broker,
    say how far a run got; running it again resumes and never pays twice."""

    class Status(models.TextChoices):
        RUNNING = "running", "结算中"
        # Statements staged, waiting for their posting to be proposed and approved
        # (`funds.moves`): no money has moved yet.
        STAGED = "staged", "待复核记账"
        SUCCEEDED = "succeeded", "已结算"
        FAILED = "failed", "结算失败"

    county = models.ForeignKey(
        "beneficiaries.County",
        on_delete=models.PROTECT,
        related_name="settlement_runs",
        verbose_name="区县",
    )
    year = models.PositiveSmallIntegerField("年度")
    month = models.PositiveSmallIntegerField("月份")
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.RUNNING)
    job = models.ForeignKey(
        "medaid.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="后台任务",
    )
    staged_at = models.DateTimeField("明细归集时间", null=True, blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    attempts = models.PositiveSmallIntegerField("执行次数", default=0)
    error = models.TextField("错误信息", blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "月度结算批次"
        verbose_name_plural = "月度结算批次"
        permissions = [
            ("settle_month", "可发起、继续月度结算并记账"),
        ]
        ordering = ["-year", "-month", "county__code"]
        constraints = [
            models.UniqueConstraint(fields=["county", "year", "month"], name="uniq_settlement_run"),
            models.CheckConstraint(
                condition=Q(month__gte=1, month__lte=12), name="settlement_run_month_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county} {self.year}年{self.month}月结算"

    @property
    def period(self) -> str:
        return f"{self.year}年{self.month}月"


class SettlementStatement(models.Model):
    """医疗救助结算单: what one hospital is paid for a month, or the month's payment batch for
    individuals (application-based assistance). Posted once; `entry` is its ledger entry."""

    class Payee(models.TextChoices):
        HOSPITAL = "hospital", "定点医疗机构"
        INDIVIDUALS = "individuals", "救助对象个人"

    run = models.ForeignKey(
        SettlementRun,
        on_delete=models.PROTECT,
        related_name="statements",
        verbose_name="结算批次",
    )
    county = models.ForeignKey(
        "beneficiaries.County", on_delete=models.PROTECT, related_name="+", verbose_name="区县"
    )
    payee = models.CharField("收款方类型", max_length=16, choices=Payee.choices)
    hospital = models.ForeignKey(
        "claims.Hospital",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="settlement_statements",
        verbose_name="医疗机构",
    )
    claim_count = models.PositiveIntegerField("结算人次", default=0)
    claims_total = models.DecimalField("本期救助金额", **MONEY, default=0)
    declared_total = models.DecimalField("医院申报救助金额", **MONEY, default=0)
    adjustment_count = models.PositiveIntegerField("调整笔数", default=0)
    adjustments_total = models.DecimalField("追补（扣减）金额", **MONEY, default=0)
    total = models.DecimalField("应付合计", **MONEY, default=0)
    entry = models.OneToOneField(
        Entry,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="settlement_statement",
        verbose_name="记账凭证",
    )
    posted_at = models.DateTimeField("入账时间", null=True, blank=True)

    class Meta:
        verbose_name = "医疗救助结算单"
        verbose_name_plural = "医疗救助结算单"
        ordering = ["run", "payee", "hospital__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "hospital"],
                condition=Q(hospital__isnull=False),
                name="uniq_statement_per_hospital",
            ),
            models.UniqueConstraint(
                fields=["run"],
                condition=Q(hospital__isnull=True),
                name="uniq_individuals_statement_per_run",
            ),
            models.CheckConstraint(
                condition=(Q(payee="hospital") & Q(hospital__isnull=False))
                | (Q(payee="individuals") & Q(hospital__isnull=True)),
                name="statement_payee_matches_hospital",
            ),
        ]

    def __str__(self) -> str:
        who = self.hospital or self.get_payee_display()
        return f"{self.run} · {who}"

    @property
    def number(self) -> str:
        """结算单号, also the document reference of the statement's ledger entry."""
        return statement_number(self.run.year, self.run.month, self.county.code, self.pk)


def statement_number(year: int, month: int, county_code: str, pk: int) -> str:
    """结算单号 from plain values (a report built from value rows has no statement object)."""
    return f"JS{year}{month:02d}-{county_code}-{pk:06d}"


class SettlementLine(models.Model):
    """One claim, or one adjustment of a claim (`claims.Adjustment`, a recomputation
    difference), settled on a statement. The unique constraints are the idempotency guard: a
    claim is settled once, an adjustment once — among the lines that stand. When the voucher
    that paid a statement is reversed, its lines are kept as the record of what it paid and
    marked `reopened`; their claims and adjustments are staged again by the next run."""

    statement = models.ForeignKey(
        SettlementStatement,
        on_delete=models.PROTECT,
        related_name="lines",
        verbose_name="结算单",
    )
    claim = models.ForeignKey(
        "claims.Claim",
        on_delete=models.PROTECT,
        related_name="settlement_lines",
        verbose_name="救助明细",
    )
    adjustment = models.ForeignKey(
        "claims.Adjustment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="settlement_lines",
        verbose_name="结算调整",
    )
    person = models.ForeignKey(
        "beneficiaries.Person",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="救助对象",
    )
    amount = models.DecimalField("金额", **MONEY)
    declared = models.DecimalField("医院申报金额", **MONEY, null=True, blank=True)
    reopened = models.BooleanField("支付已冲销", default=False, db_default=False)

    class Meta:
        verbose_name = "结算明细"
        verbose_name_plural = "结算明细"
        constraints = [
            models.UniqueConstraint(
                fields=["claim"],
                condition=Q(adjustment__isnull=True, reopened=False),
                name="uniq_claim_settled_once",
            ),
            models.UniqueConstraint(
                fields=["adjustment"],
                condition=Q(adjustment__isnull=False, reopened=False),
                name="uniq_adjustment_settled_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.statement_id}:{self.claim_id}/{self.adjustment_id or '-'} {self.amount}"

    @property
    def is_adjustment(self) -> bool:
        return self.adjustment_id is not None


class YearEndClose(models.Model):
    """年终决算: a county's year, actual against budget, and how an overspend was shared."""

    county = models.ForeignKey(
        "beneficiaries.County",
        on_delete=models.PROTECT,
        related_name="fund_closes",
        verbose_name="区县",
    )
    year = models.PositiveSmallIntegerField("年度")
    policy_code = models.CharField("政策包", max_length=32)
    budget = models.DecimalField("支出预算", **MONEY)
    actual = models.DecimalField(
        "实际支出", **MONEY, help_text="医疗救助支付与资助参保划转之和（含市级账户代区县划转）"
    )
    premium_subsidies = models.DecimalField(
        "其中：资助参保", **MONEY, default=0, help_text="划转居民医保基金的资助参保资金"
    )
    overspend = models.DecimalField("超支金额", **MONEY, default=0)
    overspend_ratio = models.DecimalField("超支比例", max_digits=9, decimal_places=6, default=0)
    accumulated_surplus_before = models.DecimalField("可用历年滚存结余", **MONEY, default=0)
    from_surplus = models.DecimalField("滚存结余弥补", **MONEY, default=0)
    city_share = models.DecimalField("市级承担", **MONEY, default=0)
    county_share = models.DecimalField("县级承担", **MONEY, default=0)
    unallocated = models.DecimalField("政策未规定分担", **MONEY, default=0)
    surplus = models.DecimalField("当年结余（结转下年）", **MONEY, default=0)
    closing_balance = models.DecimalField("县级账户年末余额", **MONEY, default=0)
    explanation = models.JSONField("计算说明", default=list)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="决算人",
    )
    closed_at = models.DateTimeField("决算时间", auto_now_add=True)

    class Meta:
        verbose_name = "年终决算"
        verbose_name_plural = "年终决算"
        permissions = [
            ("close_year", "可办理年终决算及超支分担"),
        ]
        ordering = ["-year", "county__code"]
        constraints = [
            models.UniqueConstraint(fields=["county", "year"], name="uniq_year_end_close"),
        ]

    def __str__(self) -> str:
        return f"{self.county} {self.year}年决算"


# The states in which a move holds its target: a voucher, a run or a transfer request has at
# most one move that is waiting, being posted or posted.
MOVE_OPEN_STATES = ("pending", "approved", "posted")


@pghistory.track()
class MoneyMove(models.Model):
    """资金变动复核 (maker–checker): a money move proposed by one person with a reason, and
    posted only when a second person holding `funds.check_moneymove` — not the maker —
    approves it with a reason (`funds.moves`). `lines` is what the maker saw and the checker
    approves: the accounts and amounts as proposed."""

    class Kind(models.TextChoices):
        MANUAL_ENTRY = "manual_entry", "手工记账凭证"
        REVERSAL = "reversal", "冲销记账凭证"
        SETTLEMENT = "settlement", "月度结算记账"
        YEAR_END = "year_end", "年终决算及超支分担"
        PREMIUM_TRANSFER = "premium_transfer", "资助参保资金划转"

    class State(models.TextChoices):
        PENDING = "pending", "待复核"
        APPROVED = "approved", "已复核，记账中"
        POSTED = "posted", "已记账"
        REFUSED = "refused", "复核不通过"

    kind = models.CharField("业务", max_length=24, choices=Kind.choices)
    state = models.CharField(
        "状态", max_length=16, choices=State.choices, default=State.PENDING, db_index=True
    )
    pooling_area = models.ForeignKey(
        "beneficiaries.PoolingArea",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="统筹区",
    )
    county = models.ForeignKey(
        "beneficiaries.County",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="区县",
        help_text="留空表示市级",
    )
    summary = models.CharField("摘要", max_length=500)
    amount = models.DecimalField("金额", **MONEY)
    lines = models.JSONField("账户与金额", default=list)
    payload = models.JSONField("记账参数", default=dict)
    target_entry = models.ForeignKey(
        Entry,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="moves",
        verbose_name="被冲销凭证",
    )
    settlement_run = models.ForeignKey(
        "SettlementRun",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="moves",
        verbose_name="结算批次",
    )
    premium_request = models.ForeignKey(
        "beneficiaries.PremiumTransferRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="资助参保划转申请",
    )
    maker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="制单人"
    )
    maker_reason = models.TextField("制单事由")
    proposed_at = models.DateTimeField("制单时间", auto_now_add=True)
    checker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="复核人",
    )
    checker_reason = models.TextField("复核意见", blank=True)
    checked_at = models.DateTimeField("复核时间", null=True, blank=True)
    posted_at = models.DateTimeField("记账时间", null=True, blank=True)
    error = models.TextField("记账错误", blank=True)

    class Meta:
        verbose_name = "资金变动复核"
        verbose_name_plural = "资金变动复核"
        permissions = [
            ("check_moneymove", "可复核资金变动并记账"),
        ]
        ordering = ["-proposed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(checker__isnull=True) | ~Q(checker=F("maker")),
                name="money_move_checker_not_maker",
            ),
            models.CheckConstraint(condition=~Q(maker_reason=""), name="money_move_maker_reason"),
            models.UniqueConstraint(
                fields=["target_entry"],
                condition=Q(target_entry__isnull=False, state__in=MOVE_OPEN_STATES),
                name="uniq_open_move_per_entry",
            ),
            models.UniqueConstraint(
                fields=["settlement_run"],
                condition=Q(settlement_run__isnull=False, state__in=MOVE_OPEN_STATES),
                name="uniq_open_move_per_run",
            ),
            models.UniqueConstraint(
                fields=["premium_request"],
                condition=Q(premium_request__isnull=False, state__in=MOVE_OPEN_STATES),
                name="uniq_open_move_per_premium_request",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.summary}"
