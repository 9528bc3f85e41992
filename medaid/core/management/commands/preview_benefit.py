"""`python manage.py preview_benefit CASE.json` (or `-` for standard input): the benefit
preview contract on the command line. Prints the result JSON and exits 0; a case that cannot be
read prints `{"error": {"code", "message", "field"}}` and exits 2, never a traceback."""

import json
import sys

from django.core.management.base import BaseCommand

from medaid.core.services import PreviewError, benefit_preview


class Command(BaseCommand):
    help = "按测算契约计算一个案例的救助金额，输出 JSON（CASE 为文件路径，- 表示标准输入）"

    def add_arguments(self, parser):
        parser.add_argument("case", help="案例 JSON 文件路径，或 - 表示标准输入")

    def handle(self, *args, case: str, **options):
        try:
            if case == "-":
                raw = sys.stdin.buffer.read()
            else:
                with open(case, "rb") as f:
                    raw = f.read()
        except OSError as exc:
            self._refuse(PreviewError("unreadable_file", f"无法读取案例文件：{exc.strerror}", None))
        try:
            result = benefit_preview(data=raw)
        except PreviewError as error:
            self._refuse(error)
        except Exception as exc:
            # An engine fault is not the case's: same JSON shape, but exit 1 (not 2).
            body = {
                "error": {"code": "internal_error", "message": f"测算出错：{exc}", "field": None}
            }
            self.stdout.write(json.dumps(body, ensure_ascii=False))
            sys.exit(1)
        self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))

    def _refuse(self, error: PreviewError):
        self.stdout.write(json.dumps(error.as_dict(), ensure_ascii=False))
        self.stdout.flush()
        # SystemExit, not CommandError: the contract's exit code is 2 and its body is JSON.
        sys.exit(2)
