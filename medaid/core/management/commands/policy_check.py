"""`python manage.py policy_check [PACK ...]`: the pack checker (medaid.policy.checker) over
every pack, or the ones named. Every ref must cite an article its seed document has, every
parameter must cover the pack's validity without gaps or overlaps, and every identity and kind
must be in the glossary. Prints one line per finding; exits 1 when there is any.

The seeds and the glossary are read from `../shared` beside the checkout (as CI has them), or
from `--shared DIR`."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from medaid.policy import available_policies
from medaid.policy.checker import check_pack


class Command(BaseCommand):
    help = "检查政策包：条款引用见于政策原文、参数日期覆盖有效期且不重叠、身份与项目代码见于术语表"

    def add_arguments(self, parser):
        parser.add_argument("packs", nargs="*", help="政策包代码（默认全部）")
        parser.add_argument(
            "--shared",
            type=Path,
            default=Path(settings.BASE_DIR).parent / "shared",
            help="含 seeds/ 与 domain/glossary.md 的目录（默认为检出目录旁的 ../shared）",
        )
        parser.add_argument(
            "--pack-dir", type=Path, default=None, help="检查此目录中的政策包（只能指定一个代码）"
        )

    def handle(self, *args, packs, shared: Path, pack_dir: Path | None, **options):
        seeds = shared / "seeds"
        if not seeds.is_dir():
            raise CommandError(f"找不到政策原文目录 {seeds}（可用 --shared 指定）")
        codes = packs or list(available_policies())
        if pack_dir is not None and len(codes) != 1:
            raise CommandError("--pack-dir 只能与一个政策包代码同用")
        unknown = [c for c in codes if pack_dir is None and c not in available_policies()]
        if unknown:
            raise CommandError(f"未知的政策包：{'、'.join(unknown)}")
        glossary = shared / "domain" / "glossary.md"
        failed = 0
        for code in codes:
            report = check_pack(code, seeds, directory=pack_dir, glossary_md=glossary)
            for finding in report.findings:
                self.stdout.write(str(finding))
            status = "通过" if report.ok else f"{len(report.findings)} 处问题"
            self.stdout.write(
                f"{code}: {status}（检查引用 {report.refs} 条，其中产品决定 {report.decisions} 条）"
            )
            failed += not report.ok
        if failed:
            raise CommandError(f"{failed} 个政策包未通过检查")
