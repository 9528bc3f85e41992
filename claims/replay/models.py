"""A replay and what it found. Imported by `claims.models` (so Django registers the models with
the claims app); it writes no `Decision`: its results are its own rows."""

from django.conf import settings
from django.db import models

MONEY = {"max_digits": 14, "decimal_places": 2}


class ReplayRun(models.Model):
    """One replay: a pooling area's claims of a period decided under the rules in force and
    under those rules with a draft laid over them (dated amendments and/or another pack).

    `draft` is a list of `{"parameter", "start", "value", "ref", "key"}` (the engine's
    `policy.Amendment`); `pack_code`, when set, decides the area's claims by that pack instead
    of the one the area's schedule names. `results` holds the totals and the breakdowns once
    every partition is done (`services.replay_finish`)."""

    class Status(models.TextChoices):
        PENDING = "pending", "等待中"
        RUNNING = "running", "进行中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    title = models.CharField("说明", max_length=200, blank=True)
    pooling_area = models.ForeignKey(
        "beneficiaries.PoolingArea", on_delete=models.PROTECT, verbose_name="统筹地区"
    )
    start = models.DateField("期间起")
    end = models.DateField("期间止")
    draft = models.JSONField("草案参数变更", default=list, blank=True)
    pack_code = models.CharField("草案政策包", max_length=32, blank=True)
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.PENDING)
    job = models.ForeignKey(
        "medaid.Job", null=True, blank=True, on_delete=models.SET_NULL, verbose_name="后台任务"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="发起人",
    )
    # The parameter change this replay shows its approver (started by
    # `parameter_change.submitted`, or chosen in the form). PROTECT: the replay is the evidence
    # the four eyes decided on, and a change is withdrawn, never deleted, once entered.
    parameter_change = models.ForeignKey(
        "beneficiaries.ParameterChange",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replays",
        verbose_name="参数变更",
    )
    partitions = models.PositiveSmallIntegerField("分区数", default=0)
    people = models.PositiveIntegerField("人数", default=0)
    claims = models.PositiveIntegerField("明细数", default=0)
    results = models.JSONField("测算结果", default=dict, blank=True)
    error = models.TextField("错误信息", blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "政策模拟测算"
        verbose_name_plural = "政策模拟测算"
        ordering = ["-created_at"]
        permissions = [("start_replay", "可发起政策模拟测算")]

    def __str__(self) -> str:
        return f"模拟测算 #{self.pk} {self.start}—{self.end}"


class ReplayPartition(models.Model):
    """A range of person ids of a replay: decided by one task, its figures kept here until the
    last partition merges them (a partition done is skipped, so a re-delivered task adds
    nothing twice)."""

    replay = models.ForeignKey(
        ReplayRun, on_delete=models.CASCADE, related_name="partition_rows", verbose_name="模拟测算"
    )
    number = models.PositiveSmallIntegerField("分区")
    first_person = models.BigIntegerField("起始对象ID")
    last_person = models.BigIntegerField("截止对象ID")
    done = models.BooleanField("已完成", default=False)
    claims = models.PositiveIntegerField("明细数", default=0)
    result = models.JSONField("分区结果", default=dict, blank=True)
    # As a decision run's partition: when its task was (last) sent, when a worker took it
    # since, and how often the sweeper sent it again after that worker died
    # (`services.replays_sweep`).
    sent_at = models.DateTimeField("发送时间", null=True, blank=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    resends = models.PositiveSmallIntegerField("重发次数", default=0)

    class Meta:
        verbose_name = "模拟测算分区"
        verbose_name_plural = "模拟测算分区"
        constraints = [
            models.UniqueConstraint(fields=["replay", "number"], name="replay_partition_once")
        ]

    def __str__(self) -> str:
        return f"{self.replay} 分区 {self.number}"


class ReplayChange(models.Model):
    """One of the largest changes of a replay, per person: the period's assistance under the
    rules in force and under the draft, and, for each claim that changed, both traces."""

    replay = models.ForeignKey(
        ReplayRun, on_delete=models.CASCADE, related_name="changes", verbose_name="模拟测算"
    )
    rank = models.PositiveSmallIntegerField("排名")
    person = models.ForeignKey(
        "beneficiaries.Person", on_delete=models.PROTECT, related_name="+", verbose_name="救助对象"
    )
    county = models.ForeignKey(
        "beneficiaries.County", on_delete=models.PROTECT, related_name="+", verbose_name="区县"
    )
    identity = models.CharField("身份", max_length=32, blank=True)
    claims = models.PositiveIntegerField("明细数", default=0)
    current_total = models.DecimalField("现行救助金额", **MONEY)
    draft_total = models.DecimalField("草案救助金额", **MONEY)
    difference = models.DecimalField("差额", **MONEY)
    # [{"claim": id, "discharged", "kind", "current": total, "draft": total,
    #   "current_trace": [...], "draft_trace": [...]}, ...] for the claims that changed.
    details = models.JSONField("变化明细", default=list, blank=True)

    class Meta:
        verbose_name = "模拟测算变化最大对象"
        verbose_name_plural = "模拟测算变化最大对象"
        ordering = ["replay", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["replay", "rank"], name="replay_change_rank_once")
        ]

    def __str__(self) -> str:
        return f"{self.replay} 第{self.rank}名"
