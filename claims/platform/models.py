"""The platform's side of a settlement: the code mappings (data, not code), the staging row of
each platform line beside its declaration line, and the platform facts kept for every claim that
came from a settlement list (its setl_id, codes, maf_pay and how it compares with our figure).

Imported by `claims.models` (so Django registers the models with the claims app); foreign keys
to the claims app's own models are written as strings, so this module imports none of it."""

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models

MONEY = {"max_digits": 14, "decimal_places": 2}
# Declaration line codes that are not a refusal: a good line, and a platform reversal applied
# (claims.models.LineError.REVERSAL).
LINE_NOTES = ("", "reversal")


@pghistory.track()
class CodeMapping(models.Model):
    """One platform code and what it means here, for a range of dates: editing a dictionary is
    adding a row that starts when the platform's change does, not changing code."""

    class Dictionary(models.TextChoices):
        MED_TYPE = "med_type", "医疗类别 → 救助项目"
        INSUTYPE = "insutype", "险种类型 → 参保险种"
        HOSP_LV = "hosp_lv", "医院等级 → 医疗机构级别"
        INSU_ADMDVS = "insu_admdvs", "参保地医保区划 → 区县编码"

    dictionary = models.CharField("字典", max_length=16, choices=Dictionary.choices)
    code = models.CharField("平台代码", max_length=32)
    label = models.CharField("平台名称", max_length=64)
    value = models.CharField(
        "本系统取值",
        max_length=32,
        blank=True,
        help_text="救助项目、参保险种、医疗机构级别（1–3）或区县编码；"
        "留空表示平台有此代码但不属于医疗救助范围（该行作为错误退回）",
    )
    valid_from = models.DateField("启用日期")
    valid_to = models.DateField("停用日期", null=True, blank=True, help_text="含当日；空为长期")
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "平台代码映射"
        verbose_name_plural = "平台代码映射"
        ordering = ["dictionary", "code", "valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["dictionary", "code", "valid_from"], name="uniq_code_mapping_start"
            ),
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True)
                | models.Q(valid_to__gte=models.F("valid_from")),
                name="code_mapping_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_dictionary_display()} {self.code} {self.label}"


class PlatformLine(models.Model):
    """Staging: the platform facts of one line of a platform declaration (its claim facts are
    the declaration line of the same number)."""

    declaration = models.ForeignKey(
        "claims.Declaration",
        on_delete=models.CASCADE,
        related_name="platform_lines",
        verbose_name="申报批次",
    )
    line_no = models.PositiveIntegerField("行号")
    setl_id = models.CharField("结算ID", max_length=64, blank=True)
    psn_no = models.CharField("人员编号", max_length=32, blank=True)
    insutype = models.CharField("险种类型", max_length=8, blank=True)
    med_type = models.CharField("医疗类别", max_length=8, blank=True)
    clr_type = models.CharField("清算类别", max_length=16, blank=True)
    insu_admdvs = models.CharField("参保地医保区划", max_length=12, blank=True)
    identity = models.CharField("平台身份（映射后）", max_length=32, blank=True)
    setl_time = models.DateTimeField("结算时间", null=True)
    maf_pay = models.DecimalField("医疗救助基金支出", **MONEY, null=True)
    reversal = models.BooleanField("冲销记录", default=False)
    reverses = models.CharField("被冲销的结算ID", max_length=64, blank=True)
    content_hash = models.CharField("内容指纹", max_length=40, blank=True)

    class Meta:
        verbose_name = "平台结算清单行"
        verbose_name_plural = "平台结算清单行"
        constraints = [
            models.UniqueConstraint(fields=["declaration", "line_no"], name="uniq_platform_line_no")
        ]

    def __str__(self) -> str:
        return f"第{self.line_no}行 {self.setl_id}"


# The comparison itself is set-based (200 000 rows a month) and is its own record; a reviewer's
# answer is a person's act, and is audited.
@pghistory.track(pghistory.UpdateEvent(condition=pgtrigger.AnyChange("review_note", "reviewed_by")))
class PlatformSettlement(models.Model):
    """A claim that came from the platform: its settlement's own facts and how the platform's
    医疗救助 figure (maf_pay) compares with ours."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "待比对"
        MATCH = "match", "一致"
        MISMATCH = "mismatch", "不一致（待复核）"
        KEPT_OURS = "kept_ours", "复核：以本系统计算为准"
        PLATFORM_STANDS = "platform_stands", "复核：平台金额成立"
        REVERSED = "reversed", "已冲销"

    class Reason(models.TextChoices):
        IDENTITY = "identity", "平台与本系统适用身份不同"
        NOT_ELIGIBLE = "not_eligible", "本系统计算不符合救助条件"
        # The person's year lost a settlement the platform reversed (in this file or an
        # earlier claim): maf_pay was computed with it still in the year (its deductible met,
        # its share of the cap used), our run decided the year without it.
        REVERSAL = "reversal", "同一人另有结算被冲销，本系统已按冲销后的年度累计重算"
        AMOUNT = "amount", "身份相同，金额计算不同（起付线、比例或封顶）"

    claim = models.OneToOneField(
        "claims.Claim", on_delete=models.PROTECT, related_name="platform", verbose_name="救助明细"
    )
    declaration = models.ForeignKey(
        "claims.Declaration",
        on_delete=models.PROTECT,
        related_name="platform_settlements",
        verbose_name="申报批次",
    )
    setl_id = models.CharField("结算ID", max_length=64)
    psn_no = models.CharField("人员编号", max_length=32, blank=True)
    insutype = models.CharField("险种类型", max_length=8, blank=True)
    med_type = models.CharField("医疗类别", max_length=8)
    clr_type = models.CharField("清算类别", max_length=16, blank=True)
    insu_admdvs = models.CharField("参保地医保区划", max_length=12, blank=True)
    platform_identity = models.CharField("平台适用身份", max_length=32, blank=True)
    setl_time = models.DateTimeField("结算时间", null=True, blank=True)
    maf_pay = models.DecimalField("平台医疗救助基金支出", **MONEY)
    ours = models.DecimalField("本系统计算救助合计", **MONEY, null=True, blank=True)
    difference = models.DecimalField(
        "差额", **MONEY, null=True, blank=True, help_text="平台金额 − 本系统金额"
    )
    our_identity = models.CharField("本系统适用身份", max_length=32, blank=True)
    outcome = models.CharField(
        "比对结果", max_length=16, choices=Outcome.choices, default=Outcome.PENDING
    )
    reason = models.CharField("差异原因", max_length=16, choices=Reason.choices, blank=True)
    content_hash = models.CharField("内容指纹", max_length=40)
    review_note = models.CharField("复核意见", max_length=500, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="复核人",
    )
    reviewed_at = models.DateTimeField("复核时间", null=True, blank=True)

    class Meta:
        verbose_name = "平台结算比对"
        verbose_name_plural = "平台结算比对"
        ordering = ["-id"]
        indexes = [models.Index(fields=["declaration", "outcome"])]

    def __str__(self) -> str:
        return f"{self.setl_id} {self.get_outcome_display()}"
