"""Benchmark: a generated department roster imported, validated and applied.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/medaid_bench \
        .venv/bin/python bench/roster_import.py [--n N]

Each measured import runs in a child process so that its peak memory (ru_maxrss) is its own.
Phases, for .csv and then .xlsx: a fresh import into an empty registry, the same file again
(recognised by its hash), and the same rows in a re-saved file (a full stage and merge in
which every row is already in the registry). Targets: under 60 s end to end; peak memory under
300 MB (.csv) and 1.5 GB (.xlsx). The last line printed is one JSON object.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medaid.settings")

COUNTY_CODE = "530502"
TOWNSHIPS = [f"{COUNTY_CODE}{i:03d}" for i in range(1, 21)]
CODES = ["低保对象", "特困人员", "低保边缘家庭成员", "孤儿", "低收入家庭60周岁以上老年人"]
HEADERS = [
    "序号",
    "公民身份号码",
    "姓名",
    "身份类别",
    "起始日期",
    "认定日期",
    "户编号",
    "乡镇（街道）",
    "参保险种",
]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯"
    "邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰春梅建国志强红梅永福正荣"


def rows(n: int, seed: int = 7):
    from beneficiaries.id_numbers import make

    rng = random.Random(seed)
    base = date(1940, 1, 1)
    for i in range(n):
        # Unique numbers: the sequence digits and the birth date together encode i.
        birth = base + timedelta(days=i // 1000 % 29000)
        id_number = make(COUNTY_CODE, birth, i % 1000)
        if i % 997 == 0:  # a mistyped check digit now and then, as real lists have
            id_number = id_number[:-1] + ("0" if id_number[-1] != "0" else "1")
        name = SURNAMES[rng.randrange(len(SURNAMES))] + GIVEN[rng.randrange(len(GIVEN))]
        start = date(2020, 1, 1) + timedelta(days=rng.randrange(0, 1400))
        yield [
            str(i + 1),
            id_number,
            name,
            CODES[i % len(CODES)],
            start.isoformat(),
            (start - timedelta(days=10)).isoformat(),
            f"H{i // 3:07d}",
            TOWNSHIPS[i % len(TOWNSHIPS)],
            "城乡居民",
        ]


def generate(n: int, folder: Path) -> tuple[Path, Path, Path]:
    import csv

    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"roster-{n}.csv"
    resaved = folder / f"roster-{n}-resaved.csv"
    xlsx_path = folder / f"roster-{n}.xlsx"
    if not csv_path.exists():
        with open(csv_path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(HEADERS)
            writer.writerows(rows(n))
    if not resaved.exists():
        with open(csv_path, "rb") as src, open(resaved, "wb") as dst:
            dst.write(b"\xef\xbb\xbf")  # the same rows, saved again by another program
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    if not xlsx_path.exists():
        from rustpy_xlsxwriter import FastExcel

        records = (dict(zip(HEADERS, r, strict=True)) for r in rows(n))
        FastExcel(str(xlsx_path)).sheet("名册", records).save()
    return csv_path, resaved, xlsx_path


def setup_registry() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from beneficiaries.models import County, Department, DepartmentKind, PoolingArea, Township

    call_command("migrate", "beneficiaries", verbosity=0, interactive=False)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "TRUNCATE beneficiaries_identity, beneficiaries_rosterimportrow, "
                "beneficiaries_rosterimport, beneficiaries_identityevent, "
                "beneficiaries_personevent CASCADE"
            )
            cursor.execute("TRUNCATE beneficiaries_person, beneficiaries_household CASCADE")
        else:
            for table in ("identity", "rosterimportrow", "rosterimport", "person", "household"):
                cursor.execute(f"DELETE FROM beneficiaries_{table}")
    area, _ = PoolingArea.objects.get_or_create(
        code="530500", defaults={"name": "保山市", "policy_code": "baoshan"}
    )
    county, _ = County.objects.get_or_create(
        code=COUNTY_CODE, defaults={"pooling_area": area, "name": "隆阳区"}
    )
    for code in TOWNSHIPS:
        Township.objects.get_or_create(
            code=code, defaults={"county": county, "name": f"乡镇{code[-3:]}"}
        )
    Department.objects.get_or_create(
        county=county, kind=DepartmentKind.CIVIL_AFFAIRS, defaults={"name": "隆阳区民政局"}
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE beneficiaries_person")


def child(path: str) -> None:
    import django

    django.setup()
    from django.core.files import File

    from beneficiaries import services
    from beneficiaries.models import Department, DepartmentKind, RosterImport

    department = Department.objects.get(county__code=COUNTY_CODE, kind=DepartmentKind.CIVIL_AFFAIRS)
    started = time.perf_counter()
    with open(path, "rb") as handle:
        batch, created = services.roster_import_receive(
            department=department,
            kind=RosterImport.Kind.ROSTER,
            upload=File(handle, name=Path(path).name),
            file_name=Path(path).name,
            stated_date=date(2024, 8, 15),
            channel=RosterImport.Channel.API,
        )
    received = time.perf_counter()
    timings = {"receive_s": round(received - started, 2)}
    if created:
        services.roster_import_validate(batch=batch, preview=False)
        validated = time.perf_counter()
        summary = services.roster_import_apply(batch=batch)
        timings["validate_s"] = round(validated - received, 2)
        timings["apply_s"] = round(time.perf_counter() - validated, 2)
    else:
        summary = {"counts": {}, "duplicate_file": True}
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "peak_mb": round(peak_mb),
                "created": created,
                "counts": summary.get("counts", {}),
                **timings,
            },
            ensure_ascii=False,
        )
    )


def run_child(*args: str, env: dict) -> dict | None:
    out = subprocess.run(
        [sys.executable, __file__, *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


def measure(n: int, folder: Path, formats: list[str], env: dict, label: str) -> dict:
    """Every phase against the database `env` names, each import in its own child process."""
    csv_path, resaved, xlsx_path = generate(n, folder)
    figures = {}
    for fmt, path in (("csv", csv_path), ("xlsx", xlsx_path)):
        if fmt not in formats:
            continue
        run_child("--setup", env=env)
        first = run_child("--child", str(path), env=env)
        print(f"{label} {fmt} 首次导入 {n} 行：{json.dumps(first, ensure_ascii=False)}")
        again = run_child("--child", str(path), env=env)
        print(f"{label} {fmt} 同一文件再次上传：{json.dumps(again, ensure_ascii=False)}")
        figures[fmt] = first
        figures[f"{fmt}_same_file"] = again
        if fmt == "csv":
            rerun = run_child("--child", str(resaved), env=env)
            print(
                f"{label} csv 同样内容另存后重新导入（全部已在册）："
                f"{json.dumps(rerun, ensure_ascii=False)}"
            )
            figures["csv_same_rows"] = rerun
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument(
        "--sqlite-n",
        type=int,
        default=50_000,
        help="rows of the roster on the embedded default (SQLite); 0 skips it",
    )
    parser.add_argument("--child")
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--folder", default=str(ROOT / "out" / "bench"))
    parser.add_argument("--only", choices=["csv", "xlsx"])
    args = parser.parse_args()
    if args.setup:
        setup_registry()
        return
    if args.child:
        child(args.child)
        return
    folder = Path(args.folder)
    formats = [args.only] if args.only else ["csv", "xlsx"]
    result: dict = {"bench": "roster_import"}
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        figures = measure(args.n, folder, formats, dict(os.environ), "PostgreSQL")
        main_fmt = "csv" if "csv" in figures else "xlsx"
        result.update(
            n=args.n,
            per_s=round(args.n / figures[main_fmt]["seconds"]),
            seconds=figures[main_fmt]["seconds"],
            peak_mb=figures[main_fmt]["peak_mb"],
        )
        for key, value in figures.items():
            result[f"{key}_seconds"] = value["seconds"]
            result[f"{key}_peak_mb"] = value["peak_mb"]
    else:
        print("DATABASE_URL 未指向 PostgreSQL：只测 SQLite（内置默认）")
    if args.sqlite_n:
        # The embedded default: a county's roster into a SQLite file of its own (target 15 s).
        database = folder / "roster-bench.sqlite3"
        folder.mkdir(parents=True, exist_ok=True)
        database.unlink(missing_ok=True)
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
        figures = measure(args.sqlite_n, folder, ["csv"], env, "SQLite")
        result["sqlite_n"] = args.sqlite_n
        for key, value in figures.items():
            result[f"sqlite_{key}_seconds"] = value["seconds"]
        result["sqlite_validate_s"] = figures["csv"]["validate_s"]
        result["sqlite_apply_s"] = figures["csv"]["apply_s"]
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
