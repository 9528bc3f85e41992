"""Who holds which identity on which day: the pooling area, its counties and departments,
people, households and identity periods. History is never overwritten: a change closes a
period and opens another."""

import pghistory
from django.db import models


class IdentityCode(models.TextChoices):
    """Canonical identity codes (../shared/domain/glossary.md)."""

    TEKUN = "tekun", "特困人员"
    ORPHAN = "orphan", "孤儿、事实无人抚养儿童"
    DIBAO = "dibao", "低保对象"
    DIBAO_FULL = "dibao_full", "一、二类低保/全额低保"
    DIBAO_PARTIAL = "dibao_partial", "三、四类低保/差额低保"
    FANPIN = "fanpin", "返贫致贫人口"
    DIBAO_EDGE = "dibao_edge", "低保边缘家庭成员"
    RURAL_MONITORED = "rural_monitored", "农村易返贫致贫人口"
    SUDDEN_HARDSHIP = "sudden_hardship", "突发严重困难户"
    POVERTY_LIFTED = "poverty_lifted", "过渡期内已脱贫人口"
    DEEP_HARDSHIP_WORKER = "deep_hardship_worker", "深度困难职工"
    RELATIVE_HARDSHIP_WORKER = "relative_hardship_worker", "相对困难职工"
    ILLNESS_POVERTY = "illness_poverty", "因病致贫重病患者"
    SEVERE_DISABILITY = "severe_disability", "一二级重度残疾人"
    LOW_INCOME_ELDERLY = "low_income_elderly", "低收入家庭60周岁以上老年人"
    LOW_INCOME_MINOR = "low_income_minor", "低收入家庭未成年人"
    LOW_INCOME_OTHER = "low_income_other", "低收入家庭重度残疾人、重病患者"
    BORDER_RESIDENT = "border_resident", "边境一线行政村农村居民"
    OTHER_SPECIAL = "other_special", "其他特殊困难人员"


class DepartmentKind(models.TextChoices):
    CIVIL_AFFAIRS = "civil_affairs", "民政"
    RURAL_REVITALIZATION = "rural_revitalization", "乡村振兴"
    TRADE_UNION = "trade_union", "工会"
    DISABLED_FEDERATION = "disabled_federation", "残联"
    HEALTH = "health", "卫体"
    MEDICAL_SECURITY = "medical_security", "医保"


class PoolingArea(models.Model):
    """统筹区: the municipality (or county) whose policy pack governs its counties."""

    code = models.CharField("行政区划代码", max_length=12, unique=True)
    name = models.CharField("名称", max_length=64)
    policy_code = models.CharField("政策包", max_length=32, help_text="如 baoshan、kunming")

    class Meta:
        verbose_name = "统筹区"
        verbose_name_plural = "统筹区"

    def __str__(self) -> str:
        return self.name


class FundingTier(models.Model):
    """City/county funding shares by county tier (Kunming §六), as data."""

    pooling_area = models.ForeignKey(PoolingArea, on_delete=models.CASCADE, verbose_name="统筹区")
    tier = models.PositiveSmallIntegerField("档次")
    city_share = models.DecimalField("市级承担比例", max_digits=5, decimal_places=4)
    county_share = models.DecimalField("县级承担比例", max_digits=5, decimal_places=4)
    ref = models.CharField("依据条款", max_length=128, blank=True)

    class Meta:
        verbose_name = "资金分担档次"
        verbose_name_plural = "资金分担档次"
        constraints = [
            models.UniqueConstraint(fields=["pooling_area", "tier"], name="uniq_funding_tier"),
            models.CheckConstraint(
                condition=models.Q(city_share__gte=0, county_share__gte=0),
                name="funding_tier_shares_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pooling_area} 第{self.tier}档"


class County(models.Model):
    pooling_area = models.ForeignKey(
        PoolingArea, on_delete=models.PROTECT, related_name="counties", verbose_name="统筹区"
    )
    code = models.CharField("行政区划代码", max_length=12, unique=True)
    name = models.CharField("名称", max_length=64)
    funding_tier = models.ForeignKey(
        FundingTier, null=True, blank=True, on_delete=models.PROTECT, verbose_name="资金分担档次"
    )

    class Meta:
        verbose_name = "区县"
        verbose_name_plural = "区县"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Township(models.Model):
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="townships", verbose_name="区县"
    )
    code = models.CharField("代码", max_length=16, unique=True)
    name = models.CharField("名称", max_length=64)

    class Meta:
        verbose_name = "乡镇（街道）"
        verbose_name_plural = "乡镇（街道）"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Department(models.Model):
    """A county department that certifies identities and sends rosters (民政, 乡村振兴 …)."""

    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="departments", verbose_name="区县"
    )
    kind = models.CharField("部门", max_length=32, choices=DepartmentKind.choices)
    name = models.CharField("名称", max_length=64)

    class Meta:
        verbose_name = "部门"
        verbose_name_plural = "部门"
        constraints = [
            models.UniqueConstraint(fields=["county", "kind"], name="uniq_department_per_county")
        ]

    def __str__(self) -> str:
        return self.name


class Household(models.Model):
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="households", verbose_name="区县"
    )
    code = models.CharField("户编号", max_length=32)
    township = models.ForeignKey(
        Township, null=True, blank=True, on_delete=models.PROTECT, verbose_name="乡镇（街道）"
    )
    address = models.CharField("住址", max_length=200, blank=True)

    class Meta:
        verbose_name = "家庭"
        verbose_name_plural = "家庭"
        constraints = [
            models.UniqueConstraint(fields=["county", "code"], name="uniq_household_code")
        ]

    def __str__(self) -> str:
        return self.code


@pghistory.track()
class Person(models.Model):
    class Sex(models.TextChoices):
        MALE = "M", "男"
        FEMALE = "F", "女"

    class InsuranceScheme(models.TextChoices):
        RESIDENT = "resident", "城乡居民基本医疗保险"
        EMPLOYEE = "employee", "职工基本医疗保险"
        NONE = "none", "未参保"

    id_number = models.CharField("公民身份号码", max_length=18, unique=True)
    name = models.CharField("姓名", max_length=64, db_index=True)
    sex = models.CharField("性别", max_length=1, choices=Sex.choices)
    birth_date = models.DateField("出生日期")
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="people", verbose_name="户籍区县"
    )
    township = models.ForeignKey(
        Township, null=True, blank=True, on_delete=models.PROTECT, verbose_name="乡镇（街道）"
    )
    household = models.ForeignKey(
        Household,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        verbose_name="家庭",
    )
    insurance_scheme = models.CharField(
        "参保险种",
        max_length=16,
        choices=InsuranceScheme.choices,
        default=InsuranceScheme.RESIDENT,
    )
    insured_place = models.CharField(
        "参保地区划代码", max_length=12, blank=True, help_text="参保地与认定地不同的，依申请救助"
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "救助对象"
        verbose_name_plural = "救助对象"
        permissions = [("view_full_id_number", "可查看完整身份证号码")]
        indexes = [models.Index(fields=["county", "name"])]

    def __str__(self) -> str:
        return self.name


@pghistory.track()
class Identity(models.Model):
    """One period during which a person held an identity, as a department certified it."""

    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="identities", verbose_name="救助对象"
    )
    code = models.CharField("身份类别", max_length=32, choices=IdentityCode.choices)
    start = models.DateField("起始日期")
    end = models.DateField("终止日期", null=True, blank=True, help_text="含当日；空表示至今")
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, verbose_name="认定部门"
    )
    certified_on = models.DateField("认定日期", null=True, blank=True)
    source_line = models.CharField(
        "来源名册行", max_length=64, blank=True, help_text="导入批次号与行号，如 R12:345"
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        verbose_name = "身份记录"
        verbose_name_plural = "身份记录"
        ordering = ["person", "start"]
        indexes = [models.Index(fields=["person", "code", "start"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__isnull=True) | models.Q(end__gte=models.F("start")),
                name="identity_end_not_before_start",
            )
        ]

    def __str__(self) -> str:
        end = self.end.isoformat() if self.end else "至今"
        return f"{self.get_code_display()} {self.start.isoformat()}—{end}"
