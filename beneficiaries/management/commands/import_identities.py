"""`manage.py import_identities FILE --county CODE [--stated 2026-10-05] [--apply]`: the national
platform's person-identity records (.xlsx / .csv: psn_no, certno, psn_name, psn_idet_type,
begntime, endtime, memo) received from the county's 医疗保障 department and validated — the
roster pipeline's checks, preview, review bound and error file; with `--apply`, merged as dated
identity periods (a backdated identity recomputes the person's claims)."""

import datetime as dt
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from beneficiaries import services
from beneficiaries.models import Department, DepartmentKind, RosterImport
from medaid.core.errors import Refusal


class Command(BaseCommand):
    help = "导入医保信息平台人员身份信息（.xlsx / .csv）为带起止日期的身份记录。"

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--county", required=True, help="区县行政区划代码")
        parser.add_argument("--stated", type=dt.date.fromisoformat, help="名单载明日期，默认今天")
        parser.add_argument("--apply", action="store_true", help="校验后直接入库")

    def handle(self, *args, file: Path, county: str, stated=None, apply=False, **options):
        if not file.is_file():
            raise CommandError(f"文件不存在：{file}")
        department = Department.objects.filter(
            county__code=county, kind=DepartmentKind.MEDICAL_SECURITY
        ).first()
        if department is None:
            raise CommandError(f"区县 {county} 没有医疗保障部门")
        upload = SimpleUploadedFile(file.name, file.read_bytes())
        try:
            batch, created = services.roster_import_receive(
                department=department,
                kind=RosterImport.Kind.PLATFORM,
                upload=upload,
                file_name=file.name,
                stated_date=stated or timezone.localdate(),
                channel=RosterImport.Channel.ADMIN,
            )
        except Refusal as exc:
            raise CommandError(exc.message) from exc
        if not created:
            self.stdout.write(
                f"该文件已导入过（{batch}，{batch.get_status_display()}），未重复导入"
            )
            return
        batch = services.roster_import_process(batch=batch, apply=apply)
        if batch.status == RosterImport.Status.REJECTED:
            raise CommandError(f"文件被整体退回：{batch.error}")
        counts = (batch.result or batch.preview or {}).get("counts", {})
        self.stdout.write(
            f"{batch}：{batch.get_status_display()}；"
            f"行数 {batch.rows_total}，错误 {batch.rows_error}；"
            + "，".join(f"{k or '待入库'} {v}" for k, v in sorted(counts.items()))
        )
