"""`manage.py import_platform FILE --year 2026 --month 10 [--hospital CODE]`: a platform
settlement list (.xlsx / .csv) received as that month's declaration, decided and compared with
maf_pay — in this process when no broker is configured, by the workers otherwise."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from claims.models import Declaration, Hospital
from claims.platform import services
from claims.services import ClaimsError


class Command(BaseCommand):
    help = "导入医保信息平台结算清单（.xlsx / .csv）作为月度申报，计算并与平台救助金额比对。"

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--month", type=int, required=True)
        parser.add_argument("--hospital", help="机构编码：只收该机构的记录（默认按各行机构）")

    def handle(self, *args, file: Path, year: int, month: int, hospital=None, **options):
        if not file.is_file():
            raise CommandError(f"文件不存在：{file}")
        target = None
        if hospital:
            target = Hospital.objects.filter(code=hospital).first()
            if target is None:
                raise CommandError(f"医疗机构编码不存在：{hospital}")
        try:
            declaration = services.platform_upload(
                path=file, file_name=file.name, year=year, month=month, hospital=target
            )
        except ClaimsError as exc:
            raise CommandError(exc.message) from exc
        declaration = Declaration.objects.get(pk=declaration.pk)
        mismatches = declaration.platform_settlements.filter(outcome="mismatch").count()
        self.stdout.write(
            f"{declaration}：{declaration.get_status_display()}；行数 {declaration.lines_total}，"
            f"拒收 {declaration.lines_refused}，受理 {declaration.claims_accepted}，"
            f"转复核 {declaration.claims_review}（与平台金额不一致 {mismatches}）"
        )
