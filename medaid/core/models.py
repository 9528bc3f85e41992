"""Staff accounts, long-running jobs and the working-day calendar: what every app shares."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A member of staff, a department's system or a hospital's system.

    A user with no county is city-wide (its role decides what it may see of the whole
    pooling area); otherwise it sees and writes only its own county. Department and hospital
    accounts exist to hold an API token and are limited to that department or hospital.
    """

    county = models.ForeignKey(
        "beneficiaries.County",
        verbose_name="所属区县",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
        help_text="留空表示全市（市级）账户",
    )
    department = models.ForeignKey(
        "beneficiaries.Department",
        verbose_name="所属部门",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
    )
    hospital = models.ForeignKey(
        "claims.Hospital",
        verbose_name="所属医疗机构",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
    )

    class Meta(AbstractUser.Meta):
        verbose_name = "用户"
        verbose_name_plural = "用户"
        permissions = [
            ("issue_api_token", "可生成、重置接口令牌"),
        ]

    @property
    def is_city_wide(self) -> bool:
        return self.county_id is None

    @property
    def display_name(self) -> str:
        """How colleagues read this account on a screen: the person's name, else the login."""
        return f"{self.last_name}{self.first_name}" or self.get_username()


class Job(models.Model):
    """A long job (import, settlement, recomputation, report) with its progress.

    The row, not the broker, is the truth about a job: a worker that dies leaves the row
    `running`, and running the job again resumes from what the job's own tables say is done.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "等待中"
        RUNNING = "running", "进行中"
        SUCCEEDED = "succeeded", "已完成"
        FAILED = "failed", "失败"
        CANCELLED = "cancelled", "已取消"

    kind = models.CharField("任务类型", max_length=64, db_index=True)
    parameters = models.JSONField("参数", default=dict, blank=True)
    status = models.CharField(
        "状态", max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    progress_done = models.PositiveBigIntegerField("已处理", default=0)
    progress_total = models.PositiveBigIntegerField("总数", null=True, blank=True)
    stage = models.CharField("当前阶段", max_length=64, blank=True)
    # How to run the job again: the sweeper re-sends it when its worker died.
    task_name = models.CharField("任务名", max_length=128, blank=True)
    task_args = models.JSONField("任务参数", default=list, blank=True)
    attempts = models.PositiveIntegerField("运行次数", default=0)
    cancel_requested = models.BooleanField("已请求取消", default=False)
    county = models.ForeignKey(
        "beneficiaries.County",
        verbose_name="区县",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="jobs",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="发起人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)
    result_file = models.FileField("结果文件", upload_to="jobs/%Y/%m/", blank=True)
    result = models.JSONField("结果摘要", default=dict, blank=True)
    error = models.TextField("错误信息", blank=True)

    class Meta:
        verbose_name = "后台任务"
        verbose_name_plural = "后台任务"
        ordering = ["-created_at"]
        permissions = [
            ("cancel_job", "可取消后台任务"),
            ("start_report", "可发起报表导出任务"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}（{self.get_status_display()}）"

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return None
        return min(100, int(self.progress_done * 100 / self.progress_total))


class HolidayCalendarDay(models.Model):
    """An administrator's entry for a day the installed calendar library does not know (a year
    not yet published in it) or gets wrong: a holiday, or a make-up working day (调休上班)."""

    date = models.DateField("日期", unique=True)
    is_workday = models.BooleanField("是否工作日", help_text="法定节假日填否；调休上班日填是")
    name = models.CharField("名称", max_length=64, blank=True, help_text="如 春节、国庆节调休")

    class Meta:
        verbose_name = "节假日安排"
        verbose_name_plural = "节假日安排"
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class OutboxEvent(models.Model):
    """A fact one app tells the others, written in the same transaction as the change it
    reports (a transactional outbox): if the change commits, the event exists; if it rolls
    back, it never happened. The dispatcher delivers each event to its topic's handler once,
    in id order within a key (one person, one county), retrying with back-off; an event whose
    handler keeps failing is parked with its error until a person retries it."""

    class State(models.TextChoices):
        PENDING = "pending", "待投递"
        DELIVERED = "delivered", "已投递"
        PARKED = "parked", "已搁置（需人工重试）"

    topic = models.CharField("事件", max_length=64, db_index=True)
    key = models.CharField(
        "顺序键", max_length=64, blank=True, help_text="同一键的事件按发生顺序投递，如 county:3"
    )
    payload = models.JSONField("内容", default=dict)
    state = models.CharField("状态", max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField("投递次数", default=0)
    next_attempt_at = models.DateTimeField("下次投递时间", auto_now_add=True)
    created_at = models.DateTimeField("发生时间", auto_now_add=True)
    delivered_at = models.DateTimeField("投递时间", null=True, blank=True)
    last_error = models.TextField("最近错误", blank=True)

    class Meta:
        verbose_name = "跨模块事件"
        verbose_name_plural = "跨模块事件"
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                name="outbox_pending",
                condition=models.Q(state="pending"),
            ),
            models.Index(fields=["key", "id"], name="outbox_key_order"),
        ]
        permissions = [("retry_outboxevent", "可重试搁置的跨模块事件")]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk}（{self.get_state_display()}）"


class LoginEvent(models.Model):
    """One sign-in, sign-out or failed sign-in to the admin or the API's session login: who
    (the account, or only the name typed when it matches none), from where and when. Written by
    the auth signals (medaid.core.signals); read-only in the admin."""

    class Kind(models.TextChoices):
        LOGIN = "login", "登录"
        LOGOUT = "logout", "退出"
        FAILED = "failed", "登录失败"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="用户",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="login_events",
    )
    username = models.CharField("登录名", max_length=150, blank=True)
    ip = models.GenericIPAddressField("来源地址", null=True, blank=True)
    kind = models.CharField("事件", max_length=8, choices=Kind.choices, db_index=True)
    at = models.DateTimeField("时间", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "登录记录"
        verbose_name_plural = "登录记录"
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.username} {self.at:%Y-%m-%d %H:%M}"
