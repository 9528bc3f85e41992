"""Hospitals, claims and the decisions the policy engine makes on them."""

from django.db import models

MONEY = {"max_digits": 14, "decimal_places": 2}


class ClaimKind(models.TextChoices):
    """Canonical claim kinds (../shared/domain/glossary.md)."""

    INPATIENT = "inpatient", "住院"
    DAY_SURGERY = "day_surgery", "日间手术"
    OUTPATIENT_CHRONIC = "outpatient_chronic", "门诊慢特病"
    OUTPATIENT_SPECIAL = "outpatient_special", "门诊特殊病"
    OUTPATIENT_GENERAL = "outpatient_general", "普通门诊"
    OUTPATIENT_EMERGENCY = "outpatient_emergency", "门诊急诊抢救"
    NEGOTIATED_DRUG = "negotiated_drug", "谈判药品/门诊特药"


class Hospital(models.Model):
    class Level(models.IntegerChoices):
        LEVEL_1 = 1, "一级"
        LEVEL_2 = 2, "二级"
        LEVEL_3 = 3, "三级"

    class FeeClass(models.TextChoices):
        """Pingshun Art.21 hospital fee classes: not the same thing as a beneficiary class."""

        PROVINCIAL_1 = "provincial_1", "省级一类收费"
        PROVINCIAL_MUNICIPAL_2 = "provincial_municipal_2", "省市级二类收费"
        COUNTY_2 = "county_2", "县级二类收费"
        CLASS_3 = "class_3", "三类收费"

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
    discharged = models.DateField("出院（就诊）日期", db_index=True)
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
    declared_assistance = models.DecimalField(
        "医院申报救助金额", **MONEY, null=True, blank=True
    )
    receipt_numbers = models.CharField("票据号", max_length=500, blank=True)
    status = models.CharField(
        "状态", max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "救助明细"
        verbose_name_plural = "救助明细"
        indexes = [
            models.Index(fields=["county", "discharged"]),
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


class Decision(models.Model):
    """The engine's decision on a claim, kept with its trace. A recomputation adds a new
    current decision; earlier ones stay as history and differences become adjustments."""

    claim = models.ForeignKey(
        Claim, on_delete=models.PROTECT, related_name="decisions", verbose_name="救助明细"
    )
    is_current = models.BooleanField("当前有效", default=True)
    eligible = models.BooleanField("符合救助条件")
    reason = models.CharField("不予救助原因", max_length=32, blank=True)
    identity = models.CharField("适用身份", max_length=32, blank=True)
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
