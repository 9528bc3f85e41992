"""Who holds which identity on which day: the pooling area, its counties and departments,
people, households and identity periods. History is never overwritten: a change closes a
period and opens another."""

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models.functions import Substr
from django.utils import timezone

from medaid.policy.glossary import DEPARTMENT_KIND_CHOICES, IDENTITY_CHOICES

# Audit triggers stand aside while a bulk merge runs (the merge sets `medaid.bulk_audit` for its
# own transaction only and writes the same events set-based): a trigger per row costs ~70 µs,
# which is a minute per million rows.
_NOT_BULK = "COALESCE(current_setting('medaid.bulk_audit', true), '') <> 'on'"
AUDIT_TRACKERS = (
    pghistory.InsertEvent(condition=pgtrigger.Condition(_NOT_BULK)),
    pghistory.UpdateEvent(
        condition=pgtrigger.Condition(f"OLD.* IS DISTINCT FROM NEW.* AND {_NOT_BULK}")
    ),
)


# The canonical codes live once, in the engine's glossary (../shared/domain/glossary.md).
IdentityCode = models.TextChoices(
    "IdentityCode", [(code.upper(), (code, label)) for code, label in IDENTITY_CHOICES]
)
DepartmentKind = models.TextChoices(
    "DepartmentKind", [(code.upper(), (code, label)) for code, label in DEPARTMENT_KIND_CHOICES]
)


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


@pghistory.track(*AUDIT_TRACKERS)
class PoolingAreaPolicy(models.Model):
    """Which pack decides a pooling area's claims from which day — dated data, like a pack's
    values: in force from `start` until the next row's start; before the first row the area's
    `policy_code` decides. Kunming's area: kunming until 2022-06-30, then yunnan with Kunming's
    own figures (云政办发〔2022〕40号 （十八））. `parameters` are the area's own figures the
    pack takes by name (yunnan: `pooling_area_per_capita_disposable_income`, （十二）); a new
    figure is a new row from its date, with its document in `ref`."""

    pooling_area = models.ForeignKey(
        PoolingArea, on_delete=models.CASCADE, related_name="policies", verbose_name="统筹区"
    )
    start = models.DateField("起始日期")
    policy_code = models.CharField("政策包", max_length=32)
    parameters = models.JSONField("本统筹区参数", default=dict, blank=True)
    ref = models.CharField("依据文件及条款", max_length=200)

    class Meta:
        verbose_name = "统筹区适用政策"
        verbose_name_plural = "统筹区适用政策"
        ordering = ["pooling_area", "start"]
        constraints = [
            models.UniqueConstraint(
                fields=["pooling_area", "start"], name="uniq_pooling_area_policy_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pooling_area} {self.start} 起 {self.policy_code}"


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
        County,
        on_delete=models.PROTECT,
        related_name="households",
        verbose_name="区县",
        db_index=False,  # the unique (county, code) index serves it
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


@pghistory.track(*AUDIT_TRACKERS)
class Person(models.Model):
    class Sex(models.TextChoices):
        MALE = "M", "男"
        FEMALE = "F", "女"

    class InsuranceScheme(models.TextChoices):
        RESIDENT = "resident", "城乡居民基本医疗保险"
        EMPLOYEE = "employee", "职工基本医疗保险"
        NONE = "none", "未参保"

    id_number = models.CharField("公民身份号码", max_length=18)
    name = models.CharField("姓名", max_length=64)
    sex = models.CharField("性别", max_length=1, choices=Sex.choices)
    birth_date = models.DateField("出生日期")
    county = models.ForeignKey(
        County,
        on_delete=models.PROTECT,
        related_name="people",
        verbose_name="户籍区县",
        db_index=False,  # the (county, name) index serves it; one index fewer per bulk insert
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
    # The national platform's person number: filled from the pairs (certno, psn_no) that the
    # platform's identity records and settlement lists carry; a platform record naming only
    # psn_no finds its person here.
    psn_no = models.CharField(
        "医保平台人员编号", max_length=32, null=True, blank=True, unique=True, default=None
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "救助对象"
        verbose_name_plural = "救助对象"
        permissions = [("view_full_id_number", "可查看完整身份证号码")]
        indexes = [
            # The admin's order (county, name) and a clerk's name search within the county.
            models.Index(fields=["county", "name", "id"], name="person_county_name_id"),
            # Search by the last 6 or the last 4 characters of the ID number (the counter's
            # usual question): expression indexes PostgreSQL and SQLite both use
            # (beneficiaries.selectors.people_search).
            models.Index(Substr("id_number", 13, 6), name="person_id_number_last6"),
            models.Index(Substr("id_number", 15, 4), name="person_id_number_last4"),
        ]
        # A constraint rather than unique=True: the same index without the extra
        # varchar_pattern_ops copy, one index fewer to maintain per bulk-inserted person.
        constraints = [models.UniqueConstraint(fields=["id_number"], name="uniq_person_id_number")]

    def __str__(self) -> str:
        return self.name


# A period a reversed roster opened is deleted; the delete event keeps what it was.
@pghistory.track(*AUDIT_TRACKERS, pghistory.DeleteEvent())
class Identity(models.Model):
    """One period during which a person held an identity, as a department certified it."""

    person = models.ForeignKey(
        Person,
        on_delete=models.PROTECT,
        related_name="identities",
        verbose_name="救助对象",
        db_index=False,  # the (person, code, start) index serves every lookup by person
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


MONEY = {"max_digits": 14, "decimal_places": 2}


# Which department certifies which identity (glossary.md). A list carrying an identity that its
# department does not certify is refused row by row rather than trusted.
DEPARTMENT_IDENTITIES: dict[str, frozenset[str]] = {
    DepartmentKind.CIVIL_AFFAIRS: frozenset(
        {
            IdentityCode.TEKUN,
            IdentityCode.ORPHAN,
            IdentityCode.DIBAO,
            IdentityCode.DIBAO_FULL,
            IdentityCode.DIBAO_PARTIAL,
            IdentityCode.DIBAO_EDGE,
            IdentityCode.ILLNESS_POVERTY,
            IdentityCode.LOW_INCOME_ELDERLY,
            IdentityCode.LOW_INCOME_MINOR,
            IdentityCode.LOW_INCOME_OTHER,
            IdentityCode.OTHER_SPECIAL,
        }
    ),
    DepartmentKind.RURAL_REVITALIZATION: frozenset(
        {
            IdentityCode.FANPIN,
            IdentityCode.RURAL_MONITORED,
            IdentityCode.SUDDEN_HARDSHIP,
            IdentityCode.POVERTY_LIFTED,
            IdentityCode.BORDER_RESIDENT,
        }
    ),
    DepartmentKind.TRADE_UNION: frozenset(
        {IdentityCode.DEEP_HARDSHIP_WORKER, IdentityCode.RELATIVE_HARDSHIP_WORKER}
    ),
    DepartmentKind.DISABLED_FEDERATION: frozenset(
        {IdentityCode.SEVERE_DISABILITY, IdentityCode.LOW_INCOME_MINOR}
    ),
    DepartmentKind.HEALTH: frozenset({IdentityCode.OTHER_SPECIAL}),
    DepartmentKind.MEDICAL_SECURITY: frozenset(
        {IdentityCode.ILLNESS_POVERTY, IdentityCode.BORDER_RESIDENT, IdentityCode.OTHER_SPECIAL}
    ),
}
# The departments that owe a monthly change feed (Baoshan Art.28, Pingshun Art.33).
FEED_DEPARTMENTS = (
    DepartmentKind.CIVIL_AFFAIRS,
    DepartmentKind.RURAL_REVITALIZATION,
    DepartmentKind.TRADE_UNION,
    DepartmentKind.DISABLED_FEDERATION,
)


class RosterImport(models.Model):
    """One list a department delivered: a full roster (名册) or a monthly change feed (变动名册).

    The file is staged row by row in `RosterImportRow`, validated, previewed and then applied
    in one transaction. The same file from the same department is recognised by its content
    hash and never applied twice.
    """

    class Kind(models.TextChoices):
        ROSTER = "roster", "全量名册"
        FEED = "feed", "月度变动名册"
        # The national medical-insurance platform's person-identity records (psn_no,
        # psn_idet_type, begntime, endtime), delivered by the county's 医疗保障 department.
        PLATFORM = "platform", "医保平台人员身份"

    class Status(models.TextChoices):
        RECEIVED = "received", "已接收待校验"
        STAGED = "staged", "已校验待入库"
        APPLIED = "applied", "已入库"
        REJECTED = "rejected", "整体退回"
        FAILED = "failed", "入库失败"
        REVIEW = "review", "待复核"
        REVERSED = "reversed", "已撤销"

    class Channel(models.TextChoices):
        ADMIN = "admin", "经办后台上传"
        API = "api", "部门接口报送"

    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="imports", verbose_name="报送部门"
    )
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="roster_imports", verbose_name="区县"
    )
    kind = models.CharField("名单类型", max_length=16, choices=Kind.choices)
    period = models.DateField(
        "所属月份", help_text="变动名册所属月份（当月1日）；全量名册为名单日期所在月"
    )
    stated_date = models.DateField("名单载明日期")
    delivered_at = models.DateTimeField("实际提供时间")
    date_note = models.CharField(
        "日期不符说明",
        max_length=200,
        blank=True,
        help_text="实际提供日期与名单载明日期不符的，由经办人员注明",
    )
    channel = models.CharField("报送渠道", max_length=16, choices=Channel.choices)
    file = models.FileField("原始文件", upload_to="rosters/%Y/%m/")
    file_name = models.CharField("文件名", max_length=255)
    file_format = models.CharField("文件格式", max_length=8)
    content_hash = models.CharField("文件摘要(SHA-256)", max_length=64)
    end_absent = models.BooleanField(
        "未列出者按名单日期退出",
        default=False,
        help_text="仅全量名册：本部门在册、名册中未列出的身份，于名单载明日期前一日终止",
    )
    status = models.CharField(
        "状态", max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    error = models.TextField("整体错误", blank=True)
    headers = models.JSONField("原表头", default=list, blank=True)
    rows_total = models.PositiveIntegerField("数据行数", default=0)
    rows_error = models.PositiveIntegerField("错误行数", default=0)
    preview = models.JSONField("入库预览", default=dict, blank=True)
    result = models.JSONField("入库结果", default=dict, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="上传人",
    )
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="入库人",
    )
    applied_at = models.DateTimeField("入库时间", null=True, blank=True)
    # Ending many identities at once waits for a second person (`review_rosterimport`).
    review_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="提请复核人",
    )
    review_requested_at = models.DateTimeField("提请复核时间", null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="复核人",
    )
    reviewed_at = models.DateTimeField("复核时间", null=True, blank=True)
    approved_ended = models.PositiveIntegerField(
        "复核同意终止数", null=True, blank=True, help_text="入库时终止的身份不得多于此数"
    )
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="撤销人",
    )
    reversed_at = models.DateTimeField("撤销时间", null=True, blank=True)
    reversal = models.JSONField("撤销结果", default=dict, blank=True)
    created_at = models.DateTimeField("上传时间", auto_now_add=True)

    class Meta:
        verbose_name = "名册导入批次"
        verbose_name_plural = "名册导入批次"
        permissions = [
            ("apply_rosterimport", "可将名册入库"),
            ("review_rosterimport", "可复核大批量终止身份的名册"),
            ("reverse_rosterimport", "可撤销名册入库"),
        ]
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["department", "content_hash"], name="uniq_roster_file_per_department"
            )
        ]
        indexes = [models.Index(fields=["department", "kind", "period"])]

    def __str__(self) -> str:
        return f"R{self.pk} {self.department} {self.get_kind_display()} {self.stated_date}"

    @property
    def date_mismatch(self) -> bool:
        return self.delivered_at is not None and (
            timezone.localdate(self.delivered_at) != self.stated_date
        )


@pghistory.track()
class IdentityTypeMapping(models.Model):
    """人员身份类别: one platform identity code and which of our identities it is, for a range
    of dates — data, edited in the admin: a province that changes its codes adds a row from the
    day of the change. Read by the platform identity import and by the platform settlement
    lists of the claims app (which asks `selectors.identity_type_mappings`)."""

    code = models.CharField("平台代码", max_length=32)
    label = models.CharField("平台名称", max_length=64)
    identity = models.CharField(
        "本系统身份",
        max_length=32,
        choices=IdentityCode.choices,
        blank=True,
        help_text="留空表示平台有此代码但不属于医疗救助对象（该行作为错误退回）",
    )
    valid_from = models.DateField("启用日期")
    valid_to = models.DateField("停用日期", null=True, blank=True, help_text="含当日；空为长期")
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "平台人员身份类别映射"
        verbose_name_plural = "平台人员身份类别映射"
        ordering = ["code", "valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "valid_from"], name="uniq_identity_type_mapping_start"
            ),
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True)
                | models.Q(valid_to__gte=models.F("valid_from")),
                name="identity_type_mapping_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"


class RowAction(models.TextChoices):
    ADD = "add", "新增"
    END = "end", "退出"
    CHANGE = "change", "变更"


class RowOutcome(models.TextChoices):
    PENDING = "", "待入库"
    ADDED = "added", "新增身份"
    ENDED = "ended", "终止身份"
    CHANGED = "changed", "变更身份"
    UPDATED = "updated", "更新基础信息"
    UNCHANGED = "unchanged", "已在册，无变化"
    ERROR = "error", "错误"


class RosterImportRow(models.Model):
    """A staged line of a list: the parsed values, and the reason it was refused or what
    applying it did. Filled by COPY on PostgreSQL. The cells as delivered stay in the kept
    file (`RosterImport.file`), which the error file reads again."""

    batch = models.ForeignKey(
        RosterImport,
        on_delete=models.CASCADE,
        related_name="rows",
        verbose_name="导入批次",
        db_index=False,  # covered by the (batch, line_no) index; every index slows COPY
    )
    line_no = models.PositiveIntegerField("行号")
    action = models.CharField("变动类型", max_length=8, choices=RowAction.choices, blank=True)
    id_number = models.CharField("公民身份号码", max_length=18, blank=True)
    name = models.CharField("姓名", max_length=64, blank=True)
    sex = models.CharField("性别", max_length=1, blank=True)
    birth_date = models.DateField("出生日期", null=True, blank=True)
    code = models.CharField("身份类别", max_length=32, blank=True)
    old_code = models.CharField("原身份类别", max_length=32, blank=True)
    start = models.DateField("起始日期", null=True, blank=True)
    end = models.DateField("终止日期", null=True, blank=True)
    prev_end = models.DateField("原身份终止日期", null=True, blank=True)
    certified_on = models.DateField("认定日期", null=True, blank=True)
    household_code = models.CharField("户编号", max_length=32, blank=True)
    township = models.CharField("乡镇（街道）", max_length=64, blank=True)
    township_id = models.BigIntegerField("乡镇ID", null=True, blank=True)
    insurance_scheme = models.CharField("参保险种", max_length=16, blank=True)
    insured_place = models.CharField("参保地区划代码", max_length=12, blank=True)
    person_id = models.BigIntegerField("救助对象ID", null=True, blank=True)
    psn_no = models.CharField("医保平台人员编号", max_length=32, blank=True, default="")
    memo = models.CharField("备注", max_length=200, blank=True, default="")
    error_code = models.CharField("错误代码", max_length=32, blank=True)
    error_message = models.CharField("错误原因", max_length=200, blank=True)
    outcome = models.CharField(
        "处理结果", max_length=16, choices=RowOutcome.choices, blank=True, default=""
    )

    class Meta:
        verbose_name = "名册行"
        verbose_name_plural = "名册行"
        ordering = ["batch", "line_no"]
        # One index only: each index is written for every staged row, by COPY and again when
        # applying writes the outcome back.
        indexes = [models.Index(fields=["batch", "line_no"])]

    def __str__(self) -> str:
        return f"R{self.batch_id}:{self.line_no}"


class RosterImportEnd(models.Model):
    """An identity period a roster apply closed (an exit, a change's old identity, or one
    absent from a full roster), and the day it wrote: what `撤销本次导入` reopens. Written
    set-based by the merge; the periods the apply opened are found by their `source_line`."""

    class Reason(models.TextChoices):
        EXIT = "exit", "退出"
        CHANGE = "change", "变更前身份"
        ABSENT = "absent", "名册外终止"

    batch = models.ForeignKey(
        RosterImport, on_delete=models.CASCADE, related_name="ends", verbose_name="导入批次"
    )
    identity_id = models.BigIntegerField("身份记录ID")
    person_id = models.BigIntegerField("救助对象ID")
    ended_on = models.DateField("终止日期")
    reason = models.CharField("原因", max_length=8, choices=Reason.choices)

    class Meta:
        verbose_name = "名册终止的身份"
        verbose_name_plural = "名册终止的身份"

    def __str__(self) -> str:
        return f"R{self.batch_id} 身份{self.identity_id} 止于 {self.ended_on}"


class FeedCheck(models.Model):
    """Whether a department's change feed for a month arrived before the 10th of the next."""

    class Status(models.TextChoices):
        ON_TIME = "on_time", "按时报送"
        LATE = "late", "逾期报送"
        MISSING = "missing", "未报送"

    county = models.ForeignKey(County, on_delete=models.PROTECT, verbose_name="区县")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, verbose_name="部门")
    period = models.DateField("所属月份")
    due = models.DateField("报送截止日")
    status = models.CharField("报送情况", max_length=16, choices=Status.choices, db_index=True)
    batch = models.ForeignKey(
        RosterImport,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="变动名册",
    )
    delivered_at = models.DateTimeField("实际提供时间", null=True, blank=True)
    checked_at = models.DateTimeField("核查时间", auto_now=True)

    class Meta:
        verbose_name = "变动名册报送核查"
        verbose_name_plural = "变动名册报送核查"
        ordering = ["-period", "county", "department"]
        constraints = [
            models.UniqueConstraint(fields=["department", "period"], name="uniq_feed_check")
        ]

    def __str__(self) -> str:
        return f"{self.department} {self.period:%Y-%m} {self.get_status_display()}"


class ContributionYear(models.Model):
    """A resident-insurance contribution year of a pooling area: the individual contribution
    and the collection period (集中缴费期) that decides refunds."""

    pooling_area = models.ForeignKey(PoolingArea, on_delete=models.PROTECT, verbose_name="统筹区")
    year = models.PositiveSmallIntegerField("参保年度")
    individual_contribution = models.DecimalField("个人缴费标准", **MONEY)
    collection_start = models.DateField("集中缴费期开始")
    collection_end = models.DateField("集中缴费期结束")
    parameters = models.JSONField(
        "政策参数",
        default=dict,
        blank=True,
        help_text='政策包参数覆盖，如定额资助标准 {"premium.dibao.amount": "200"}',
    )

    class Meta:
        verbose_name = "参保缴费年度"
        verbose_name_plural = "参保缴费年度"
        constraints = [
            models.UniqueConstraint(fields=["pooling_area", "year"], name="uniq_contribution_year"),
            models.CheckConstraint(
                condition=models.Q(collection_end__gte=models.F("collection_start")),
                name="collection_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pooling_area} {self.year}年度"


class SubsidyRoster(models.Model):
    """资助参保名册: a county's subsidy roster for one contribution year."""

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        CONFIRMED = "confirmed", "已确认"

    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="subsidy_rosters", verbose_name="区县"
    )
    year = models.PositiveSmallIntegerField("参保年度")
    decision_date = models.DateField("认定基准日")
    individual_contribution = models.DecimalField("个人缴费标准", **MONEY)
    policy_code = models.CharField("政策包", max_length=32)
    policy_version = models.CharField("政策版本", max_length=32, blank=True)
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.DRAFT)
    headcount = models.PositiveIntegerField("资助人数", default=0)
    total = models.DecimalField("资助金额合计", default=0, **MONEY)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="生成人",
    )
    created_at = models.DateTimeField("生成时间", auto_now_add=True)

    class Meta:
        verbose_name = "资助参保名册"
        verbose_name_plural = "资助参保名册"
        permissions = [
            ("build_subsidyroster", "可生成资助参保名册"),
            ("confirm_subsidyroster", "可确认资助参保名册"),
        ]
        ordering = ["-year", "county"]
        constraints = [
            models.UniqueConstraint(fields=["county", "year"], name="uniq_subsidy_roster")
        ]

    def __str__(self) -> str:
        return f"{self.county} {self.year}年度资助参保名册"


@pghistory.track()
class SubsidyLine(models.Model):
    """One person's premium subsidy on a roster: the yearly list, a monthly addition or a
    refund of a contribution already paid."""

    class Kind(models.TextChoices):
        INITIAL = "initial", "年度名册"
        ADDITION = "addition", "月度新增"
        REFUND = "refund", "已缴费退还"

    roster = models.ForeignKey(
        SubsidyRoster, on_delete=models.CASCADE, related_name="lines", verbose_name="资助名册"
    )
    person = models.ForeignKey(Person, on_delete=models.PROTECT, verbose_name="救助对象")
    kind = models.CharField("类型", max_length=16, choices=Kind.choices)
    identity = models.CharField("资助身份", max_length=32, choices=IdentityCode.choices)
    amount = models.DecimalField("资助金额", **MONEY)
    decided_on = models.DateField("认定日期")
    reason = models.CharField("依据", max_length=64, blank=True)
    trace = models.JSONField("计算过程", default=list, blank=True)
    transfer = models.ForeignKey(
        "PremiumTransferRequest",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lines",
        verbose_name="划转申请",
    )
    created_at = models.DateTimeField("生成时间", auto_now_add=True)

    class Meta:
        verbose_name = "资助参保明细"
        verbose_name_plural = "资助参保明细"
        ordering = ["roster", "kind", "person"]
        constraints = [
            models.UniqueConstraint(fields=["roster", "person", "kind"], name="uniq_subsidy_line")
        ]

    def __str__(self) -> str:
        return f"{self.person} {self.amount}"


class PremiumTransferRequest(models.Model):
    """A request to move subsidy money from the assistance fund to the resident insurance fund
    (Baoshan Art.8(四)). The funds app posts it and sets `posted_entry_id`."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "待划转"
        POSTED = "posted", "已记账"
        CANCELLED = "cancelled", "已撤销"

    county = models.ForeignKey(County, on_delete=models.PROTECT, verbose_name="区县")
    year = models.PositiveSmallIntegerField("参保年度")
    roster = models.ForeignKey(
        SubsidyRoster,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfers",
        verbose_name="资助名册",
    )
    amount = models.DecimalField("划转金额", **MONEY)
    headcount = models.IntegerField("人数")
    status = models.CharField(
        "状态", max_length=16, choices=Status.choices, default=Status.REQUESTED, db_index=True
    )
    note = models.CharField("说明", max_length=200, blank=True)
    created_at = models.DateTimeField("申请时间", auto_now_add=True)
    posted_entry_id = models.BigIntegerField("记账凭证ID", null=True, blank=True)

    class Meta:
        verbose_name = "资助参保资金划转申请"
        verbose_name_plural = "资助参保资金划转申请"
        permissions = [
            ("create_premiumtransferrequest", "可生成资助参保资金划转申请"),
            ("approve_premiumtransferrequest", "可审核资助参保资金划转并记账"),
        ]
        ordering = ["-created_at"]
        constraints = [
            # 已记账 only with the voucher that posted it, and a voucher only when posted.
            models.CheckConstraint(
                condition=(models.Q(status="posted") & models.Q(posted_entry_id__isnull=False))
                | (~models.Q(status="posted") & models.Q(posted_entry_id__isnull=True)),
                name="premium_transfer_posted_has_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county} {self.year}年度 {self.amount}元"


@pghistory.track()
class IllnessPovertyApplication(models.Model):
    """因病致贫重病患者 certification applied for at the counter, checked by the pack's rule
    and approved by a supervisor other than the clerk who entered it."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "待审批"
        APPROVED = "approved", "已认定"
        REJECTED = "rejected", "不予认定"

    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="illness_applications", verbose_name="申请人"
    )
    county = models.ForeignKey(County, on_delete=models.PROTECT, verbose_name="区县")
    applied_on = models.DateField("申请日期")
    household_size = models.PositiveSmallIntegerField("家庭人口数")
    household_income = models.DecimalField("家庭年收入", **MONEY)
    financial_assets = models.DecimalField("家庭金融资产", **MONEY)
    cost_90_days = models.DecimalField(
        "近90天目录内个人负担医疗费用", **MONEY, help_text="申请日前90天内，政策范围内个人负担"
    )
    insured_in_province = models.BooleanField("省内参保", default=True)
    urban_dibao_standard = models.DecimalField(
        "当地城市低保标准（年）", **MONEY, null=True, help_text="与家庭年收入同为年度口径"
    )
    eligible = models.BooleanField("符合认定条件", null=True)
    check_trace = models.JSONField("核查过程", default=list, blank=True)
    status = models.CharField(
        "状态", max_length=16, choices=Status.choices, default=Status.SUBMITTED, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="录入人",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="审批人",
    )
    decided_at = models.DateTimeField("审批时间", null=True, blank=True)
    decision_note = models.CharField("审批意见", max_length=200, blank=True)
    identity = models.OneToOneField(
        Identity,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="application",
        verbose_name="认定身份",
    )
    created_at = models.DateTimeField("录入时间", auto_now_add=True)

    class Meta:
        verbose_name = "因病致贫认定申请"
        verbose_name_plural = "因病致贫认定申请"
        ordering = ["-created_at"]
        permissions = [("approve_illnesspovertyapplication", "可审批因病致贫认定申请")]

    def __str__(self) -> str:
        return f"{self.person} {self.applied_on}"


@pghistory.track(*AUDIT_TRACKERS)
class ParameterChange(models.Model):
    """参数变更: a dated policy value entered after the pack shipped — which parameter of the
    pack in force for a pooling area, its value, the document that published it — or a change
    of which pack decides the area (适用政策包). Entered by one person, approved by a second
    holding `beneficiaries.approve_parameterchange`; only approved changes are laid over the
    pack's YAML (`selectors.amendments_for`). The effective date follows the pack's rule for
    the parameter (Pingshun 第四十七条: the 1st of the month after publication), else the date
    entered; `effective_rule` says which."""

    class Kind(models.TextChoices):
        PARAMETER = "parameter", "政策参数"
        POLICY = "policy", "适用政策包"

    class State(models.TextChoices):
        DRAFT = "draft", "草稿"
        SUBMITTED = "submitted", "待审核"
        APPROVED = "approved", "已批准"
        RETURNED = "returned", "已退回"
        WITHDRAWN = "withdrawn", "已撤回"

    pooling_area = models.ForeignKey(
        PoolingArea,
        on_delete=models.PROTECT,
        related_name="parameter_changes",
        verbose_name="统筹区",
    )
    kind = models.CharField("变更类型", max_length=16, choices=Kind.choices, default=Kind.PARAMETER)
    policy_code = models.CharField(
        "政策包",
        max_length=32,
        help_text="参数变更：生效日适用的政策包；适用政策包变更：新的政策包",
    )
    parameter = models.CharField("参数", max_length=120, blank=True)
    value = models.CharField("取值", max_length=200, blank=True)
    issuer = models.CharField("发文机关", max_length=100)
    document_number = models.CharField("文号", max_length=100)
    article = models.CharField("条款", max_length=100)
    published_on = models.DateField("公布日期")
    entered_start = models.DateField("录入的生效日期", null=True, blank=True)
    effective_date = models.DateField("生效日期", db_index=True)
    effective_rule = models.CharField("生效日期依据", max_length=200)
    state = models.CharField(
        "状态", max_length=16, choices=State.choices, default=State.DRAFT, db_index=True
    )
    reason = models.CharField("变更事由", max_length=500)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="录入人"
    )
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="审核人",
    )
    decided_at = models.DateTimeField("审核时间", null=True, blank=True)
    decision_note = models.CharField("审核意见", max_length=500, blank=True)
    created_at = models.DateTimeField("录入时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "参数变更"
        verbose_name_plural = "参数变更"
        ordering = ["-created_at"]
        permissions = [
            ("propose_parameterchange", "可录入、提交、撤回参数变更"),
            ("approve_parameterchange", "可审核参数变更（批准/退回）"),
        ]
        constraints = [
            # Two live changes of one parameter of one area from one day are one too many.
            models.UniqueConstraint(
                fields=["pooling_area", "kind", "parameter", "effective_date"],
                condition=~models.Q(state="withdrawn"),
                name="uniq_parameter_change_per_day",
            ),
        ]

    def __str__(self) -> str:
        return f"变更#{self.pk} {self.pooling_area} {self.subject} {self.effective_date} 起"

    @property
    def key(self) -> str:
        """How a decision's trace and the history page name this change."""
        return f"变更#{self.pk}"

    @property
    def subject(self) -> str:
        return self.parameter if self.kind == self.Kind.PARAMETER else "适用政策包"

    @property
    def citation(self) -> str:
        """The document, as a trace cites it."""
        return (
            f"{self.issuer} {self.document_number} {self.article}"
            f"（{self.published_on:%Y-%m-%d} 公布）"
        )
