"""Hospitals, claims and the decisions the policy engine makes on them; hospital declarations,
counter applications, recomputation runs and their adjustments, early warnings."""

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models
from django_fsm import FSMField, FSMModelMixin, transition

from medaid.policy.glossary import CLAIM_KIND_CHOICES, FEE_CLASS_CHOICES, IDENTITY_CHOICES
from medaid.policy.reasons import REASON_TEXT

MONEY = {"max_digits": 14, "decimal_places": 2}


# Canonical claim kinds and fee classes: one glossary (medaid/policy/glossary.py) for the engine,
# the preview contract and the models.
ClaimKind = models.TextChoices(
    "ClaimKind", [(code.upper(), (code, label)) for code, label in CLAIM_KIND_CHOICES]
)


class Hospital(models.Model):
    class Level(models.IntegerChoices):
        LEVEL_1 = 1, "一级"
        LEVEL_2 = 2, "二级"
        LEVEL_3 = 3, "三级"

    # Pingshun Art.21 hospital fee classes: not the same thing as a beneficiary class.
    FeeClass = models.TextChoices(
        "FeeClass", [(code.upper(), (code, label)) for code, label in FEE_CLASS_CHOICES]
    )

    code = models.CharField("机构编码", max_length=32, unique=True)
    name = models.CharField("机构名称", max_length=128)
    level = models.PositiveSmallIntegerField("医疗机构级别", choices=Level.choices)
    fee_class = models.CharField(
        "收费类别", max_length=32, choices=FeeClass.choices, blank=True, default=""
    )
    county = models.ForeignKey(
        "beneficiaries.County",
        on_delete=models.PROTECT,
        related_name="hospitals",
        verbose_name="所在区县",
    )
    in_area = models.BooleanField("统筹区内", default=True)
    in_province = models.BooleanField("省内", default=True)
    designated = models.BooleanField("定点医疗机构", default=True)

    class Meta:
        verbose_name = "医疗机构"
        verbose_name_plural = "医疗机构"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class ReviewReason(models.TextChoices):
    """Why a claim waits for a person rather than being accepted on its figures."""

    AMOUNT_MISMATCH = "amount_mismatch", "医院申报救助金额与系统计算结果不一致"
    OVERLAP_OTHER_HOSPITAL = "overlap_other_hospital", "同一时段同类费用已由其他医疗机构申报"
    NOT_ELIGIBLE = "not_eligible", "系统计算不符合救助条件，医院却申报了救助金额"
    ENGINE_REFUSED = "engine_refused", "政策引擎无法计算（数据不完整或超出政策范围）"
    MANUAL = "manual", "经办人员标记复核"
    PLATFORM_RESEND = "platform_resend", "平台重发的结算记录与已受理的内容不同"
    # Not a wait for a person: the claim has left the year and waits for the decision run that
    # withdraws its decision (recovering what was paid) and marks it refused.
    PLATFORM_REVERSAL = "platform_reversal", "医保平台已冲销该结算，待计算批次收回"


# The columns a claim event copies (every concrete column of Claim; a test keeps this in step).
CLAIM_AUDIT_COLUMNS = (
    "admitted",
    "application_id",
    "applied",
    "basic_insurance_paid",
    "chronic_category",
    "county_id",
    "created_at",
    "critical_illness_paid",
    "declaration_id",
    "declared_assistance",
    "discharged",
    "emergency",
    "external_ref",
    "follow_up",
    "hospital_id",
    "id",
    "in_policy_cost",
    "kind",
    "major_disease",
    "other_paid",
    "out_of_catalog_cost",
    "person_id",
    "receipt_numbers",
    "referred",
    "review_note",
    "review_reason",
    "settlement",
    "source",
    "status",
    "total_cost",
    "updated_at",
)


def _claim_update_audit() -> pgtrigger.Trigger:
    """Every changed claim row of an UPDATE as one claim event, like pghistory's UpdateEvent
    (same label, context and columns), but one INSERT … SELECT per statement over the transition
    tables: a settlement or a declaration updates 200 000 claims in one statement, and a row
    trigger's 200 000 single-row inserts were half of that update's cost."""
    columns = ", ".join(f'"{c}"' for c in CLAIM_AUDIT_COLUMNS)
    values = ", ".join(f'n."{c}"' for c in CLAIM_AUDIT_COLUMNS)
    return pgtrigger.Trigger(
        name="update_statement",
        level=pgtrigger.Statement,
        when=pgtrigger.After,
        operation=pgtrigger.Update,
        referencing=pgtrigger.Referencing(old="old_rows", new="new_rows"),
        declare=[("_pgh_context_id", "UUID")],
        func=(
            # Attach the pghistory context only when a row changed, as the row trigger would.
            "IF EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o USING (id) "
            "WHERE (o.*) IS DISTINCT FROM (n.*)) THEN "
            "_pgh_context_id := _pgh_attach_context(); "
            f'INSERT INTO "claims_claimevent" ({columns}, "pgh_context_id", "pgh_created_at", '
            f'"pgh_label", "pgh_obj_id") SELECT {values}, _pgh_context_id, NOW(), \'update\', '
            'n."id" FROM new_rows n JOIN old_rows o USING (id) '
            "WHERE (o.*) IS DISTINCT FROM (n.*); "
            "END IF; RETURN NULL;"
        ),
    )


# Claims are written in bulk; their inserts are their own history, so updates and deletes are
# recorded as events: deletes by pghistory's row trigger, updates by the statement-level trigger
# above (Meta.triggers).
@pghistory.track(pghistory.DeleteEvent())
class Claim(models.Model):
    """One stay or visit, with every field of the preview contract."""

    class Source(models.TextChoices):
        DECLARATION = "declaration", "医院按月申报"
        APPLICATION = "application", "窗口申请"
        MANUAL = "manual", "手工录入"

    class Settlement(models.TextChoices):
        DIRECT = "direct", "一站式直接结算"
        APPLICATION = "application", "依申请救助"

    class Status(models.TextChoices):
        PENDING = "pending", "待审核"
        ACCEPTED = "accepted", "已受理待结算"
        REVIEW = "review", "待人工复核"
        REJECTED = "rejected", "已退回"
        SETTLED = "settled", "已结算"

    person = models.ForeignKey(
        "beneficiaries.Person",
        on_delete=models.PROTECT,
        related_name="claims",
        verbose_name="救助对象",
    )
    county = models.ForeignKey(
        "beneficiaries.County",
        on_delete=models.PROTECT,
        related_name="claims",
        verbose_name="区县",
        help_text="结算区县：救助对象户籍所在区县",
    )
    hospital = models.ForeignKey(
        Hospital, on_delete=models.PROTECT, related_name="claims", verbose_name="医疗机构"
    )
    source = models.CharField("来源", max_length=16, choices=Source.choices)
    external_ref = models.CharField(
        "结算单号", max_length=64, help_text="医院的结算流水号或窗口受理号"
    )
    kind = models.CharField("救助项目", max_length=32, choices=ClaimKind.choices)
    admitted = models.DateField("入院日期")
    # Indexed with the id (Meta.indexes): the admin lists claims newest discharge first.
    discharged = models.DateField("出院（就诊）日期")
    referred = models.BooleanField("按规定转诊", default=True)
    follow_up = models.BooleanField("复诊", default=False)
    emergency = models.BooleanField("急诊抢救", default=False)
    major_disease = models.BooleanField("重大疾病首诊", default=False)
    chronic_category = models.PositiveSmallIntegerField("慢特病类别", null=True, blank=True)
    settlement = models.CharField(
        "结算方式", max_length=16, choices=Settlement.choices, default=Settlement.DIRECT
    )
    applied = models.DateField("申请日期", null=True, blank=True)
    total_cost = models.DecimalField("医疗总费用", **MONEY)
    in_policy_cost = models.DecimalField("政策范围内费用", **MONEY)
    out_of_catalog_cost = models.DecimalField("目录外费用", **MONEY, default=0)
    basic_insurance_paid = models.DecimalField("基本医保统筹支付", **MONEY, default=0)
    critical_illness_paid = models.DecimalField("大病保险支付", **MONEY, default=0)
    other_paid = models.DecimalField("其他保障支付", **MONEY, default=0)
    declared_assistance = models.DecimalField("医院申报救助金额", **MONEY, null=True, blank=True)
    receipt_numbers = models.CharField("票据号", max_length=500, blank=True)
    # No index of its own: five values, and an index on it would make every status change
    # (settlement flips 200 000 claims) a non-HOT update; queues are found by county and date.
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.PENDING)
    review_reason = models.CharField(
        "复核原因", max_length=32, choices=ReviewReason.choices, blank=True, default=""
    )
    review_note = models.CharField("复核意见", max_length=500, blank=True, default="")
    declaration = models.ForeignKey(
        "Declaration",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="claims",
        verbose_name="申报批次",
    )
    application = models.ForeignKey(
        "Application",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="claims",
        verbose_name="救助申请",
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "救助明细"
        verbose_name_plural = "救助明细"
        permissions = [
            ("review_claim", "可复核待人工复核的明细"),
            ("correct_claim", "可更正救助明细"),
        ]
        triggers = [_claim_update_audit()]
        # (…, discharged, id): the admin's order (newest discharge first, then newest row), so a
        # list page filtered by county and month, or by neither, is read off an index in order,
        # and a deep page's ids come from an index-only scan (medaid.core.admin.ListPaginator).
        indexes = [
            models.Index(fields=["county", "discharged", "id"], name="claim_county_discharged_id"),
            models.Index(fields=["discharged", "id"], name="claim_discharged_id"),
            models.Index(fields=["person", "discharged"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["hospital", "external_ref"], name="uniq_claim_per_hospital_ref"
            ),
            models.CheckConstraint(
                condition=models.Q(discharged__gte=models.F("admitted")),
                name="claim_discharge_not_before_admission",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    in_policy_cost__gte=0,
                    out_of_catalog_cost__gte=0,
                    basic_insurance_paid__gte=0,
                    critical_illness_paid__gte=0,
                    other_paid__gte=0,
                ),
                name="claim_amounts_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_ref} {self.get_kind_display()}"

    @property
    def policy_self_pay(self):
        return (
            self.in_policy_cost
            - self.basic_insurance_paid
            - self.critical_illness_paid
            - self.other_paid
        )


class ReviewClaim(Claim):
    """The review queue (待人工复核) in the admin: claims whose figures wait for a person."""

    class Meta:
        proxy = True
        verbose_name = "待复核明细"
        verbose_name_plural = "复核队列"


# A claim's facts as a hospital's file or a clerk's receipt gives them, in the file's order: the
# one list the declaration line, the checks, corrections, the counter and the API start from.
# The stay: which kind of care, when, and the facts that change its ratio.
CLAIM_STAY_FIELDS = (
    "kind",
    "admitted",
    "discharged",
    "referred",
    "follow_up",
    "emergency",
    "major_disease",
    "chronic_category",
)
# What the stay cost …
CLAIM_COST_FIELDS = ("total_cost", "in_policy_cost", "out_of_catalog_cost")
# … and what the other schemes paid of it.
CLAIM_PAID_FIELDS = ("basic_insurance_paid", "critical_illness_paid", "other_paid")
CLAIM_MONEY_FIELDS = (*CLAIM_COST_FIELDS, *CLAIM_PAID_FIELDS)
# Every amount a claim carries: its figures and the assistance the hospital declared (null on
# counter claims, where medaid's own figure is the only one).
CLAIM_AMOUNT_FIELDS = (*CLAIM_MONEY_FIELDS, "declared_assistance")
# A claim's facts: what a correction may change and a counter receipt gives. Not the declared
# assistance: that is the hospital's claim about the facts, never corrected, only reviewed.
CLAIM_FACT_FIELDS = (*CLAIM_STAY_FIELDS, *CLAIM_MONEY_FIELDS, "receipt_numbers")


# What the engine decides for a claim, in this order: the one list of a decision's figures that
# the audit trigger, the API, the recompute's COPY and its comparison with the current decision
# start from (each adds its own keys: ids, the trace, the run).
# The reason of the decision of 0 a run writes for a claim the platform reversed (not the
# engine's: the claim is no longer decided).
REVERSED_REASON = "reversed"

DECISION_FIGURES = (
    "eligible",
    "reason",
    "identity",
    "policy_code",
    "policy_version",
    "parameters_hash",
    "policy_self_pay",
    "deductible_applied",
    "ratio",
    "assistance",
    "tilted_assistance",
    "total",
)


# A decision is never edited: a recomputation adds a new one and flips `is_current` on the old.
# The flip is recorded by the new row (its run and time), so it is not an audit event; any other
# change to a stored decision would be, and is recorded.
@pghistory.track(
    pghistory.UpdateEvent(condition=pgtrigger.AnyChange("claim", *DECISION_FIGURES)),
    pghistory.DeleteEvent(),
    exclude=["trace"],
)
class Decision(models.Model):
    """The engine's decision on a claim, kept with its trace. A recomputation adds a new
    current decision; earlier ones stay as history and differences become adjustments."""

    claim = models.ForeignKey(
        Claim, on_delete=models.PROTECT, related_name="decisions", verbose_name="救助明细"
    )
    is_current = models.BooleanField("当前有效", default=True)
    eligible = models.BooleanField("符合救助条件")
    # Choices only to show words (a pack may add identity codes of its own: shown as stored).
    reason = models.CharField(
        "不予救助原因",
        max_length=32,
        blank=True,
        choices=[
            *((reason.value, text) for reason, text in REASON_TEXT.items()),
            (REVERSED_REASON, "医保平台已冲销该结算"),
        ],
    )
    identity = models.CharField("适用身份", max_length=32, blank=True, choices=IDENTITY_CHOICES)
    policy_code = models.CharField("政策包", max_length=32)
    policy_version = models.CharField("政策版本", max_length=32)
    parameters_hash = models.CharField("参数指纹", max_length=64)
    policy_self_pay = models.DecimalField("政策范围内个人自付", **MONEY)
    deductible_applied = models.DecimalField("本次起付标准", **MONEY, default=0)
    ratio = models.DecimalField("救助比例", max_digits=6, decimal_places=4, null=True)
    assistance = models.DecimalField("医疗救助", **MONEY)
    tilted_assistance = models.DecimalField("倾斜救助", **MONEY, default=0)
    total = models.DecimalField("救助合计", **MONEY)
    trace = models.JSONField("计算过程", default=list)
    run = models.ForeignKey(
        "DecisionRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="decisions",
        verbose_name="计算批次",
    )
    decided_at = models.DateTimeField("计算时间", auto_now_add=True)

    class Meta:
        verbose_name = "救助决定"
        verbose_name_plural = "救助决定"
        constraints = [
            models.UniqueConstraint(
                fields=["claim"],
                condition=models.Q(is_current=True),
                name="one_current_decision_per_claim",
            ),
            models.CheckConstraint(
                condition=models.Q(assistance__gte=0, tilted_assistance__gte=0),
                name="decision_amounts_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.claim} → {self.total}"

    @property
    def personal_burden(self):
        """经三重制度保障后个人负担: everything billed that nobody else paid."""
        claim = self.claim
        return (
            claim.total_cost
            - claim.basic_insurance_paid
            - claim.critical_illness_paid
            - claim.other_paid
            - self.total
        )


class Adjustment(models.Model):
    """The difference a recomputation makes to a claim already settled: paid with (or recovered
    from) the next settlement. The funds app links it to its own settlement line."""

    claim = models.ForeignKey(
        Claim, on_delete=models.PROTECT, related_name="adjustments", verbose_name="救助明细"
    )
    decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, related_name="adjustments", verbose_name="新决定"
    )
    previous_decision = models.ForeignKey(
        Decision,
        on_delete=models.PROTECT,
        related_name="superseding_adjustments",
        verbose_name="原决定",
    )
    amount = models.DecimalField("调整金额", **MONEY, help_text="新救助合计 − 原救助合计，可为负")
    reason = models.CharField("调整原因", max_length=200)
    created_at = models.DateTimeField("生成时间", auto_now_add=True)

    class Meta:
        verbose_name = "结算调整"
        verbose_name_plural = "结算调整"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["decision"], name="one_adjustment_per_decision")
        ]

    def __str__(self) -> str:
        return f"{self.claim} {self.amount:+}"


class DecisionRun(models.Model):
    """A run of decisions over a set of people (a declaration, a recomputation, a correction).

    The people are split into partitions of contiguous person ids (neighbouring rows, so a
    partition touches few pages); each partition streams its people's claims in date order and
    commits at once, so a person's cumulative state never crosses tasks and a partition is either
    done or not. Progress lives here, not in the broker.
    """

    class Kind(models.TextChoices):
        DECLARATION = "declaration", "医院申报计算"
        RECOMPUTE = "recompute", "批量重算"
        CORRECTION = "correction", "更正重算"
        APPLICATION = "application", "窗口申请计算"
        IDENTITY = "identity", "身份变动重算"
        PARAMETER = "parameter", "参数变更重算"
        REVERSAL = "reversal", "平台冲销重算"

    class Status(models.TextChoices):
        PENDING = "pending", "等待中"
        RUNNING = "running", "进行中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    kind = models.CharField("类型", max_length=16, choices=Kind.choices)
    year = models.PositiveSmallIntegerField("年度")
    partitions = models.PositiveSmallIntegerField("分区数")
    reason = models.CharField("原因", max_length=200, blank=True)
    status = models.CharField("状态", max_length=16, choices=Status.choices, default="pending")
    job = models.ForeignKey(
        "medaid.Job", null=True, blank=True, on_delete=models.SET_NULL, verbose_name="后台任务"
    )
    # The declarations a run decides: small declarations that arrive together are decided in
    # one run (one pass over their people's years), not one run each.
    declarations = models.ManyToManyField(
        "Declaration", blank=True, related_name="runs", verbose_name="申报批次"
    )
    people = models.PositiveIntegerField("人数", default=0)
    claims_decided = models.PositiveIntegerField("已计算明细", default=0)
    decisions_written = models.PositiveIntegerField("新决定", default=0)
    adjustments_written = models.PositiveIntegerField("调整", default=0)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    error = models.TextField("错误信息", blank=True)

    class Meta:
        verbose_name = "计算批次"
        verbose_name_plural = "计算批次"
        permissions = [
            ("start_recompute", "可发起救助重算"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class RunPerson(models.Model):
    """Staging: who a run decides, and in which partition."""

    run = models.ForeignKey(
        DecisionRun, on_delete=models.CASCADE, related_name="run_people", verbose_name="计算批次"
    )
    partition = models.PositiveSmallIntegerField("分区")
    person_id = models.BigIntegerField("救助对象ID")

    class Meta:
        verbose_name = "计算批次对象"
        verbose_name_plural = "计算批次对象"
        constraints = [models.UniqueConstraint(fields=["run", "person_id"], name="uniq_run_person")]
        indexes = [models.Index(fields=["run", "partition"])]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.partition}:{self.person_id}"


class RunPartition(models.Model):
    run = models.ForeignKey(
        DecisionRun,
        on_delete=models.CASCADE,
        related_name="partition_rows",
        verbose_name="计算批次",
    )
    number = models.PositiveSmallIntegerField("分区")
    done = models.BooleanField("已完成", default=False)
    people = models.PositiveIntegerField("人数", default=0)
    claims = models.PositiveIntegerField("明细数", default=0)
    decisions_written = models.PositiveIntegerField("新决定", default=0)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    # The partition's task: when it was (last) sent, when a worker took it since, and how often
    # the sweeper sent it again because the worker that had it died (see `partitions_sweep`).
    sent_at = models.DateTimeField("发送时间", null=True, blank=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    resends = models.PositiveSmallIntegerField("重发次数", default=0)

    class Meta:
        verbose_name = "计算分区"
        verbose_name_plural = "计算分区"
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="uniq_run_partition")]

    def __str__(self) -> str:
        return f"{self.run} 分区{self.number}"


class Declaration(models.Model):
    """A hospital's monthly declaration (按月申报) of its one-stop claims: a file or an API
    upload. The same file twice is refused by its hash."""

    class Channel(models.TextChoices):
        FILE = "file", "文件上传"
        API = "api", "接口上传"

    class Status(models.TextChoices):
        RECEIVED = "received", "已接收"
        PROCESSING = "processing", "处理中"
        DONE = "done", "已处理"
        REFUSED = "refused", "整批拒收"

    hospital = models.ForeignKey(
        Hospital,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="declarations",
        verbose_name="医疗机构",
    )
    year = models.PositiveSmallIntegerField("申报年度")
    month = models.PositiveSmallIntegerField("申报月份")
    channel = models.CharField("方式", max_length=8, choices=Channel.choices)
    file_name = models.CharField("文件名", max_length=200, blank=True)
    file_hash = models.CharField("文件指纹", max_length=64, unique=True)
    status = models.CharField(
        "状态", max_length=16, choices=Status.choices, default=Status.RECEIVED
    )
    refused_reason = models.CharField("拒收原因", max_length=200, blank=True)
    lines_total = models.PositiveIntegerField("申报行数", default=0)
    lines_refused = models.PositiveIntegerField("拒收行数", default=0)
    claims_accepted = models.PositiveIntegerField("计算一致受理", default=0)
    claims_review = models.PositiveIntegerField("转人工复核", default=0)
    declared_total = models.DecimalField("医院申报救助合计", **MONEY, default=0)
    computed_total = models.DecimalField("系统计算救助合计", **MONEY, default=0)
    error_file = models.FileField("拒收明细文件", upload_to="claims/errors/%Y/%m/", blank=True)
    job = models.ForeignKey(
        "medaid.Job", null=True, blank=True, on_delete=models.SET_NULL, verbose_name="后台任务"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="上传人",
    )
    created_at = models.DateTimeField("上传时间", auto_now_add=True)
    finished_at = models.DateTimeField("处理完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "医院月度申报"
        verbose_name_plural = "医院月度申报"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        hospital = self.hospital.name if self.hospital_id else "未知机构"
        return f"{hospital} {self.year}年{self.month}月申报"


class LineError(models.TextChoices):
    """Why a declaration line was refused: named codes with the Chinese text a hospital reads."""

    MISSING_FIELD = "missing_field", "必填项缺失"
    BAD_DATE = "bad_date", "日期格式错误"
    BAD_AMOUNT = "bad_amount", "金额格式错误"
    BAD_KIND = "bad_kind", "救助项目无法识别"
    BAD_TEXT = "bad_text", "内容不合规（过长、含控制字符或取值无效）"
    NEGATIVE_AMOUNT = "negative_amount", "金额不能为负数"
    PAID_EXCEEDS_COST = "paid_exceeds_cost", "医保等支付合计超过政策范围内费用"
    COST_MISMATCH = "cost_mismatch", "政策范围内费用与目录外费用之和超过医疗总费用"
    DISCHARGE_BEFORE_ADMISSION = "discharge_before_admission", "出院日期早于入院日期"
    FUTURE_DATE = "future_date", "出院日期晚于申报月份"
    UNKNOWN_HOSPITAL = "unknown_hospital", "医疗机构编码不存在"
    HOSPITAL_MISMATCH = "hospital_mismatch", "医疗机构与申报单位不一致"
    UNKNOWN_PERSON = "unknown_person", "身份证号不在救助对象名册中"
    NO_POLICY = "no_policy", "就诊日期不在任何政策版本的有效期内"
    DUPLICATE_IN_FILE = "duplicate_in_file", "同一结算单号在文件中重复出现"
    ALREADY_DECLARED = "already_declared", "该结算单号已申报过"
    # The platform's settlement list (claims.platform): a reversal line is a note, not refused.
    UNKNOWN_CODE = "unknown_code", "平台代码无法映射"
    SUM_MISMATCH = "sum_mismatch", "医疗费总额≠基金支付+个人现金+个人账户（差额超过1分）"
    RESENT_SAME = "resent_same", "结算记录重复发送（内容相同），未重复计入"
    RESENT_CHANGED = "resent_changed", "结算记录重发且内容不同，原明细转人工复核"
    REVERSAL = "reversal", "冲销：原结算已冲销"
    UNKNOWN_REVERSAL = "unknown_reversal", "冲销的原结算记录不存在或已冲销"


class DeclarationLine(models.Model):
    """Staging: one line of a declaration as the hospital sent it, parsed, checked set-based,
    and either merged into a claim (the claim carries the declaration and the line's
    settlement number) or refused with its reason."""

    declaration = models.ForeignKey(
        Declaration, on_delete=models.CASCADE, related_name="lines", verbose_name="申报批次"
    )
    line_no = models.PositiveIntegerField("行号")
    hospital_code = models.CharField("机构编码", max_length=32, blank=True)
    id_number = models.CharField("公民身份号码", max_length=32, blank=True)
    name = models.CharField("姓名", max_length=64, blank=True)
    external_ref = models.CharField("结算单号", max_length=64, blank=True)
    kind = models.CharField("救助项目", max_length=32, blank=True)
    admitted = models.DateField("入院日期", null=True)
    discharged = models.DateField("出院日期", null=True)
    referred = models.BooleanField("按规定转诊", default=True)
    follow_up = models.BooleanField("复诊", default=False)
    emergency = models.BooleanField("急诊抢救", default=False)
    major_disease = models.BooleanField("重大疾病首诊", default=False)
    chronic_category = models.PositiveSmallIntegerField("慢特病类别", null=True)
    total_cost = models.DecimalField("医疗总费用", **MONEY, null=True)
    in_policy_cost = models.DecimalField("政策范围内费用", **MONEY, null=True)
    out_of_catalog_cost = models.DecimalField("目录外费用", **MONEY, null=True)
    basic_insurance_paid = models.DecimalField("基本医保统筹支付", **MONEY, null=True)
    critical_illness_paid = models.DecimalField("大病保险支付", **MONEY, null=True)
    other_paid = models.DecimalField("其他保障支付", **MONEY, null=True)
    declared_assistance = models.DecimalField("医院申报救助金额", **MONEY, null=True)
    receipt_numbers = models.CharField("票据号", max_length=500, blank=True)
    error = models.CharField("拒收原因", max_length=32, choices=LineError.choices, blank=True)
    error_detail = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "申报明细行"
        verbose_name_plural = "申报明细行"
        constraints = [
            models.UniqueConstraint(fields=["declaration", "line_no"], name="uniq_line_no")
        ]
        indexes = [models.Index(fields=["declaration", "external_ref"])]

    def __str__(self) -> str:
        return f"第{self.line_no}行 {self.external_ref}"


@pghistory.track()
class Application(FSMModelMixin, models.Model):
    """A counter application (依申请救助 / 手工报销): a clerk registers it with the person's claims
    and receipts; a supervisor (never the submitter) approves, rejects or returns it."""

    class State(models.TextChoices):
        DRAFT = "draft", "草稿"
        SUBMITTED = "submitted", "待初审"
        # Above SECOND_APPROVAL_THRESHOLD: one supervisor has approved, a second, different one
        # decides (approve, reject or return) — the state says so, and the queue 待我复审 finds it.
        SECOND_REVIEW = "second_review", "待复审"
        APPROVED = "approved", "已批准"
        REJECTED = "rejected", "不予救助"
        RETURNED = "returned", "已退回"
        PAID = "paid", "已支付"

    number = models.CharField("受理编号", max_length=32, unique=True)
    person = models.ForeignKey(
        "beneficiaries.Person",
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name="申请人",
    )
    county = models.ForeignKey(
        "beneficiaries.County",
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name="受理区县",
    )
    applied = models.DateField("申请日期")
    state = FSMField(
        "状态", default=State.DRAFT, choices=State.choices, protected=True, db_index=True
    )
    note = models.CharField("备注", max_length=500, blank=True)
    reason = models.CharField("审批意见/退回原因", max_length=500, blank=True)
    total = models.DecimalField("救助合计", **MONEY, default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="受理人",
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="提交人",
    )
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "救助申请"
        verbose_name_plural = "救助申请"
        ordering = ["-created_at"]
        permissions = [
            ("approve_application", "可审批救助申请"),
            ("submit_application", "可提交救助申请"),
            ("reject_application", "可作出不予救助决定"),
            ("return_application", "可退回救助申请补正"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.person}"

    # Transitions change only the state; services hold the row lock, check who acts, log the
    # transition and do the rest of the work.
    @transition(field=state, source=[State.DRAFT, State.RETURNED], target=State.SUBMITTED)
    def submit(self):
        pass

    @transition(field=state, source=State.SUBMITTED, target=State.SECOND_REVIEW)
    def first_approve(self):
        pass

    @transition(field=state, source=[State.SUBMITTED, State.SECOND_REVIEW], target=State.APPROVED)
    def approve(self):
        pass

    @transition(field=state, source=[State.SUBMITTED, State.SECOND_REVIEW], target=State.REJECTED)
    def reject(self):
        pass

    @transition(field=state, source=[State.SUBMITTED, State.SECOND_REVIEW], target=State.RETURNED)
    def send_back(self):
        pass

    @transition(field=state, source=State.APPROVED, target=State.PAID)
    def pay(self):
        pass

    # The voucher that paid it was reversed: approved again, paid by the next settlement.
    @transition(field=state, source=State.PAID, target=State.APPROVED)
    def payment_reversed(self):
        pass


# The states in which an application waits for a supervisor (初审 or 复审).
APPLICATION_WAITING_STATES = (Application.State.SUBMITTED, Application.State.SECOND_REVIEW)


@pghistory.track()
class ApplicationTransition(models.Model):
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="transitions", verbose_name="救助申请"
    )
    source = models.CharField("原状态", max_length=16, choices=Application.State.choices)
    target = models.CharField("新状态", max_length=16, choices=Application.State.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="操作人",
    )
    reason = models.CharField("原因/意见", max_length=500, blank=True)
    at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "申请流转记录"
        verbose_name_plural = "申请流转记录"
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_source_display()} → {self.get_target_display()}"


class ApplicationApproval(models.Model):
    """One supervisor's approval; above SECOND_APPROVAL_THRESHOLD two different ones are needed."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="approvals", verbose_name="救助申请"
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="审批人"
    )
    total = models.DecimalField("审批时救助合计", **MONEY)
    note = models.CharField("意见", max_length=500, blank=True)
    at = models.DateTimeField("审批时间", auto_now_add=True)

    class Meta:
        verbose_name = "审批记录"
        verbose_name_plural = "审批记录"
        constraints = [
            models.UniqueConstraint(
                fields=["application", "approver"], name="one_approval_per_approver"
            )
        ]

    def __str__(self) -> str:
        return f"{self.approver} 审批 {self.application}"


class Warning(models.Model):
    """One person over a monitoring threshold (监测预警), found by the nightly monitoring."""

    class Kind(models.TextChoices):
        ANNUAL_BURDEN = "annual_burden", "年度累计个人负担超标"
        STAY_SELF_PAY = "stay_self_pay", "单次住院个人自付超标"

    class Group(models.TextChoices):
        KEY = "key", "重点监测对象"
        OTHER = "other", "其他监测对象"

    person = models.ForeignKey(
        "beneficiaries.Person",
        on_delete=models.PROTECT,
        related_name="warnings",
        verbose_name="监测对象",
    )
    county = models.ForeignKey(
        "beneficiaries.County", on_delete=models.PROTECT, related_name="+", verbose_name="区县"
    )
    year = models.PositiveSmallIntegerField("年度")
    kind = models.CharField("预警类型", max_length=16, choices=Kind.choices)
    group = models.CharField("监测类别", max_length=8, choices=Group.choices)
    claim = models.ForeignKey(
        Claim, null=True, blank=True, on_delete=models.PROTECT, verbose_name="住院明细"
    )
    amount = models.DecimalField("个人负担", **MONEY)
    threshold = models.DecimalField("预警标准", **MONEY)
    policy_code = models.CharField("政策包", max_length=32)
    found_on = models.DateField("发现日期")

    class Meta:
        verbose_name = "监测预警"
        verbose_name_plural = "监测预警"
        ordering = ["-found_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "year", "kind"],
                condition=models.Q(claim__isnull=True),
                name="one_annual_warning_per_person_year",
            ),
            models.UniqueConstraint(
                fields=["claim", "kind"],
                condition=models.Q(claim__isnull=False),
                name="one_stay_warning_per_claim",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} {self.get_kind_display()} {self.amount}"


class WarningDispatch(models.Model):
    """A warning pushed to one department; it must answer within 5 working days."""

    class Outcome(models.TextChoices):
        INCLUDED = "included", "已纳入相应保障范围"
        ADJUSTED = "adjusted", "已调整保障标准"
        NOT_ELIGIBLE = "not_eligible", "经评估不符合条件"
        OTHER = "other", "其他"

    warning = models.ForeignKey(
        Warning, on_delete=models.CASCADE, related_name="dispatches", verbose_name="监测预警"
    )
    department = models.ForeignKey(
        "beneficiaries.Department",
        on_delete=models.PROTECT,
        related_name="warning_dispatches",
        verbose_name="推送部门",
    )
    sent_on = models.DateField("推送日期")
    due_on = models.DateField("答复期限")
    answered_on = models.DateField("答复日期", null=True, blank=True)
    outcome = models.CharField("处理结果", max_length=16, choices=Outcome.choices, blank=True)
    answer = models.CharField("答复内容", max_length=1000, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="答复人",
    )

    class Meta:
        verbose_name = "预警推送"
        verbose_name_plural = "预警推送"
        ordering = ["-sent_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["warning", "department"], name="one_dispatch_per_department"
            )
        ]

    def __str__(self) -> str:
        return f"{self.warning} → {self.department}"

    def is_overdue(self, today) -> bool:
        return self.answered_on is None and today > self.due_on


# The platform's settlement-list models (claims.platform) and the replays, registered here.
from claims.platform.models import CodeMapping, PlatformLine, PlatformSettlement  # noqa: E402,F401
from claims.replay.models import ReplayChange, ReplayPartition, ReplayRun  # noqa: E402,F401
