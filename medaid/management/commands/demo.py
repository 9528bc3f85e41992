"""`make demo`: one synthetic pooling area per policy pack (beneficiaries.demo.JURISDICTIONS:
保山市, 曲靖市 under Yunnan's provincial rules, 昆明市, 平顺县, 张掖市), run through the same
services and tasks production uses, with each jurisdiction's Excel reports written to
REPORTS_DIR (out/)."""

import datetime as dt
import shutil
import time
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from medaid.core.money import yuan_text

DEMO_PASSWORD = "medaid-demo-2026"
DEMO_YEAR = 2026
DEMO_MONTHS = [(DEMO_YEAR, m) for m in range(7, 11)]


# Baoshan 第八条（二） and 云政办发〔2022〕40号 （五）: the fixed subsidies are the provincial
# standard, which the texts do not give; the demo sets illustrative figures on the contribution
# year, as an agency would. Pingshun's and Zhangye's texts give their own (share or amount).
def _amounts(**amounts) -> dict:
    return {f"premium.{code}.amount": amount for code, amount in amounts.items()}


DEMO_PREMIUM = {
    "individual_contribution": "400.00",
    "collection": (dt.date(DEMO_YEAR - 1, 9, 1), dt.date(DEMO_YEAR - 1, 12, 31)),
    # By the pack deciding the area on the collection's first day (Kunming's: yunnan).
    "parameters": {
        "baoshan": _amounts(
            dibao="260",
            fanpin="260",
            severe_disability="200",
            low_income_elderly="200",
            low_income_minor="200",
            border_resident="100",
        ),
        "yunnan": _amounts(dibao="260", dibao_full="260", dibao_partial="260", fanpin="260"),
    },
}
# The jurisdictions in the order the demo builds them.
ORDER = ("baoshan", "yunnan", "kunming", "pingshun", "zhangye")


class Command(BaseCommand):
    help = (
        "建立演示数据（每个政策包一个统筹区：保山市、曲靖市〔云南省措施〕、昆明市、平顺县、张掖市）"
        "并按生产流程跑完当月任务，报表写入 out/。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--people-per-county",
            type=int,
            default=1200,
            help="保山市每个区县的人数（其他统筹区按比例）",
        )
        parser.add_argument("--per-hospital", type=int, default=40, help="每家医院每月申报笔数")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--areas",
            default=",".join(ORDER),
            help=f"建立哪些统筹区（政策包代码，逗号分隔，默认 {','.join(ORDER)}）",
        )
        parser.add_argument(
            "--registry-only",
            action="store_true",
            help="只建立区县、账户、人员、医院和账号，不申报、不结算、不出报表（浏览器测试用）",
        )
        parser.add_argument(
            "--keep", action="store_true", help="保留已有数据（默认清空后重建演示库）"
        )

    def handle(
        self, *args, people_per_county, per_hospital, seed, areas, registry_only, keep, **options
    ):
        from django.core.management.base import CommandError

        from beneficiaries.demo import JURISDICTIONS

        keys = (
            [k.strip() for k in areas.split(",") if k.strip()]
            if isinstance(areas, str)
            else list(areas)
        )
        unknown = [k for k in keys if k not in JURISDICTIONS]
        if unknown or not keys:
            raise CommandError(
                f"未知的统筹区：{'、'.join(unknown) or '（空）'}；可选 {'、'.join(ORDER)}"
            )
        keys = [k for k in ORDER if k in keys]
        started = time.monotonic()
        if not keep:
            call_command("flush", interactive=False, verbosity=0)
            # flush empties auth tables; the roles come back the way migrate makes them.
            from medaid.core.roles import sync_roles

            sync_roles()

        self._step("政策包")
        self._packs()

        self._step("救助对象名册（统筹区及其适用政策、区县、部门、家庭、身份）")
        from beneficiaries.demo import demo_registry_create

        for key in keys:
            self._say(
                demo_registry_create(
                    seed=seed, people_per_county=people_per_county, jurisdiction=key
                )
            )

        self._step("账户与角色")
        users = self._users(keys)

        self._step("基金账户、预算与资金到账")
        from funds.demo import demo_funds_create

        for key in keys:
            created = demo_funds_create(seed=seed, year=DEMO_YEAR, jurisdiction=key)
            self._say(
                f"{JURISDICTIONS[key].name}：{len(created.get('counties', []))} 个区县开户入账"
            )

        self._step("资助参保：年度名册、每月新增、划转居民医保基金（制单、复核后记账）")
        self._say(self._premium_subsidies(users))

        from beneficiaries.models import County
        from claims.demo import demo_claims_create, demo_hospitals_create

        if registry_only:
            demo_hospitals_create(County.objects.order_by("code"))
            self._step("完成（只建档）")
            self.stdout.write(f"用时 {time.monotonic() - started:.1f} 秒")
            self._logins(users)
            return

        self._step("医疗机构与各月申报、窗口申请（经生产任务计算，按各统筹区当时适用的政策包）")
        from claims.demo import demo_monitor, demo_platform_import

        for key in keys:
            spec = JURISDICTIONS[key]
            counties = County.objects.filter(pooling_area__code=spec.code)
            summary = demo_claims_create(
                seed=seed,
                months=list(spec.months),
                per_hospital=max(1, round(per_hospital * spec.scale)),
                counties=counties,
                monitor=False,
            )
            months = f"{spec.months[0][0]}年{spec.months[0][1]}—{spec.months[-1][1]}月"
            self._say(
                f"{spec.name}（{months}）：医院 {summary['hospitals']} 家，申报 "
                f"{summary['declarations']} 批，受理 {summary['claims']} 笔，转复核 "
                f"{summary['review']}，拒收 {summary['refused_lines']} 行，窗口申请 "
                f"{summary['applications']} 件"
            )
        self._say(demo_monitor(months=DEMO_MONTHS))

        # The platform's fixtures know the identities of Baoshan's caseload; the other areas'
        # (低收入, 其他特殊困难) have no platform dictionary code there yet.
        self._step("医保信息平台结算清单（保山市，与平台医疗救助金额比对）")
        from beneficiaries.models import PoolingArea

        self._say(
            demo_platform_import(
                seed=seed,
                year=DEMO_YEAR,
                month=DEMO_MONTHS[-1][1],
                areas=PoolingArea.objects.filter(code=JURISDICTIONS["baoshan"].code),
            )
        )

        self._step("参数变更：录入、第二人批准、生效日起重算")
        from beneficiaries.demo import demo_parameter_change

        self._say(
            demo_parameter_change(proposer=users["city_admin"], approver=users["city_admin2"])
        )

        self._step("当月任务：变动名册检查、监测预警、按月结算（制单、复核后记账）")
        self._month_jobs(users)

        self._step("Excel 报表（每个统筹区第一个区县）")
        written = self._reports(users["city_admin"], keys)

        self._step("完成")
        self.stdout.write(
            f"用时 {time.monotonic() - started:.1f} 秒；报表 {len(written)} 个写入 "
            f"{settings.REPORTS_DIR}"
        )
        self._logins(users)

    def _step(self, title: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"== {title}"))

    def _say(self, summary) -> None:
        if isinstance(summary, dict):
            for key, value in summary.items():
                self.stdout.write(f"   {key}: {value}")
        elif summary is not None:
            self.stdout.write(f"   {summary}")

    def _packs(self) -> None:
        from medaid.policy import available_policies, load_pack

        for code in available_policies():
            pack = load_pack(code)
            versions = ", ".join(v.start.isoformat() for v in pack.versions)
            self.stdout.write(f"   {code}: {pack.title}（版本 {versions}）")

    @transaction.atomic
    def _users(self, keys) -> dict:
        """City-wide accounts, and in each jurisdiction's first county a clerk, two supervisors
        (the second approval) and two finance officers (maker–checker). The auditor and the
        city administrators are city-wide roles (medaid.core.roles): they see every area."""
        from beneficiaries.demo import JURISDICTIONS
        from beneficiaries.models import County, Department
        from medaid.core.services import api_token_issue, staff_user_create

        specs = [
            ("city_admin", "city_administrator", None, {}),
            ("city_admin2", "city_administrator", None, {}),
            ("auditor", "auditor", None, {}),
        ]
        for key in keys:
            spec = JURISDICTIONS[key]
            county = County.objects.get(code=spec.counties[0][0])
            suffix = spec.login
            specs += [
                (f"clerk_{suffix}", "counter_clerk", county, {}),
                (f"supervisor_{suffix}", "supervisor", county, {}),
                (f"supervisor2_{suffix}", "supervisor", county, {}),
                (f"finance_{suffix}", "finance", county, {}),
                (f"finance2_{suffix}", "finance", county, {}),
            ]
            if key == "baoshan":
                tengchong = County.objects.get(name="腾冲市")
                civil_affairs = Department.objects.get(county=county, kind="civil_affairs")
                specs += [
                    ("clerk_tengchong", "counter_clerk", tengchong, {}),
                    (
                        f"civil_affairs_{suffix}",
                        "department_submitter",
                        county,
                        {"department": civil_affairs},
                    ),
                ]
        users = {}
        for username, role, county, extra in specs:
            users[username] = staff_user_create(
                username=username, password=DEMO_PASSWORD, role_key=role, county=county, **extra
            )
        if "civil_affairs_longyang" in users:
            users["_token"] = api_token_issue(user=users["civil_affairs_longyang"]).key
        # Who proposes and who approves each county's money moves (maker–checker).
        users["_finance"] = {}
        for key in keys:
            spec = JURISDICTIONS[key]
            users["_finance"][spec.counties[0][0]] = (
                users[f"finance_{spec.login}"],
                users[f"finance2_{spec.login}"],
            )
        return users

    @staticmethod
    def _maker_checker(users, county) -> tuple:
        """Who proposes and who approves a county's money moves: the two finance officers of a
        jurisdiction's first county, the two city administrators elsewhere (maker–checker,
        `funds.moves`)."""
        return users["_finance"].get(county.code, (users["city_admin"], users["city_admin2"]))

    def _move(self, users, county, kind, reason, **params):
        from funds.moves import move_approve, move_propose

        maker, checker = self._maker_checker(users, county)
        move = move_propose(kind=kind, maker=maker, reason=reason, **params)
        return move_approve(move=move, checker=checker, reason="已核对金额与账户，同意记账")

    def _premium_subsidies(self, users) -> dict:
        from beneficiaries.models import ContributionYear, County, PoolingArea
        from beneficiaries.selectors import policy_on
        from beneficiaries.services import (
            premium_transfer_request_create,
            subsidy_additions_run,
            subsidy_roster_build,
            subsidy_roster_confirm,
        )
        from funds.models import Account, AccountKind, MoneyMove

        start, end = DEMO_PREMIUM["collection"]
        for area in PoolingArea.objects.order_by("code"):
            pack = policy_on(pooling_area=area, day=start).code
            ContributionYear.objects.create(
                pooling_area=area,
                year=DEMO_YEAR,
                individual_contribution=DEMO_PREMIUM["individual_contribution"],
                collection_start=start,
                collection_end=end,
                parameters=DEMO_PREMIUM["parameters"].get(pack, {}),
            )
        people = amount = 0
        user = users["city_admin"]
        for county in County.objects.order_by("code"):
            roster = subsidy_roster_build(
                county=county, year=DEMO_YEAR, decision_date=start, created_by=user
            )
            subsidy_additions_run(roster=roster, on=dt.date(DEMO_YEAR, 10, 31))
            roster = subsidy_roster_confirm(roster=roster)
            request = premium_transfer_request_create(roster=roster)
            if request is None:
                continue
            self._move(
                users,
                county,
                MoneyMove.Kind.PREMIUM_TRANSFER,
                "年度资助参保名册已确认，按核定人数划转居民医保基金",
                request=request,
                # Baoshan 第八条（四）: the city pays from its fiscal special account (the
                # other areas the same way).
                from_account=Account.objects.get(
                    pooling_area=county.pooling_area, county=None, kind=AccountKind.FISCAL
                ),
                date=dt.date(DEMO_YEAR, 10, 31),
            )
            people += request.headcount
            amount += request.amount
        return {"资助人数": people, "划转金额": f"{yuan_text(amount)} 元"}

    def _month_jobs(self, users) -> None:
        # The tasks production's beat sends, sent the same way (eager without a broker).
        from django.db.models import Count, Sum

        from beneficiaries.models import County
        from beneficiaries.tasks import check_change_feeds
        from claims.tasks import monitor_burdens, send_warning_lists
        from funds.models import MoneyMove, SettlementRun, SettlementStatement
        from funds.tasks import settle_month

        # The demo's claims are declared and decided today, so they fall into this month's
        # settlement (a decision belongs to the month it was made in; see funds.settlement).
        year, month = self._settlement_period()
        for county in County.objects.order_by("code"):
            settle_month.delay(county.pk, year, month)
        # Each staged month waits for its posting to be proposed and approved; the approval
        # sends the run again, which posts.
        staged = SettlementRun.objects.filter(
            year=year, month=month, status=SettlementRun.Status.STAGED
        ).select_related("county__pooling_area")
        for run in staged.order_by("county__code"):
            self._move(
                users,
                run.county,
                MoneyMove.Kind.SETTLEMENT,
                "本月结算单已与医院申报核对，提交记账",
                run=run,
            )
        paid = SettlementStatement.objects.filter(run__year=year, run__month=month).aggregate(
            n=Count("id"), total=Sum("total")
        )
        self._say(
            f"{year}年{month}月按月结算：{County.objects.count()} 个区县，"
            f"结算单 {paid['n']} 张，应付合计 {yuan_text(paid['total'] or 0)} 元"
        )
        monitor_burdens.delay()
        send_warning_lists.delay()
        check_change_feeds.delay()
        self._say("监测预警名单已生成并推送；变动名册按时报送情况已检查")

    def _settlement_period(self) -> tuple[int, int]:
        today = timezone.localdate()
        return today.year, today.month

    def _reports(self, user, keys) -> list[Path]:
        """Every report of each jurisdiction's first county (its last demo month; the
        settlement statement of the month just settled); reports of no county once."""
        from beneficiaries.demo import JURISDICTIONS
        from beneficiaries.models import County
        from medaid.core.models import Job
        from medaid.core.reports import REPORTS, report_job_start

        out = Path(settings.REPORTS_DIR)
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        settled_year, settled_month = self._settlement_period()
        written = []
        for n, key in enumerate(keys):
            spec = JURISDICTIONS[key]
            county = County.objects.get(code=spec.counties[0][0])
            year, month = spec.months[-1]
            values = {"county": county, "period": f"{year}-{month:02d}", "year": DEMO_YEAR}
            for spec_ in REPORTS.values():
                if "county" not in spec_.needs and n:
                    continue
                parameters = {k: values[k] for k in spec_.needs if k in ("period", "year")}
                if spec_.kind == "settlement_statement":
                    parameters["period"] = f"{settled_year}-{settled_month:02d}"
                job = report_job_start(
                    kind=spec_.kind,
                    user=user,
                    county=county if "county" in spec_.needs else None,
                    parameters=parameters,
                )
                job.refresh_from_db()
                if job.status != Job.Status.SUCCEEDED or not job.result_file:
                    self.stderr.write(f"   {spec.name} {spec_.label}: 失败 {job.error}")
                    continue
                target = out / job.result.get("filename", Path(job.result_file.name).name)
                with (
                    default_storage.open(job.result_file.name, "rb") as src,
                    open(target, "wb") as dst,
                ):
                    shutil.copyfileobj(src, dst)
                written.append(target)
                self.stdout.write(f"   {spec_.label}: {target}")
        return written

    def _logins(self, users) -> None:
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("管理后台：http://127.0.0.1:8000/admin/"))
        # The finance pages of issue 15: what finance_longyang opens first.
        self.stdout.write("基金收支图表：http://127.0.0.1:8000/admin/finance/")
        self.stdout.write("账户明细：基金账户列表 › 余额与收支明细（各月收支、对方账户、逐笔余额）")
        self.stdout.write(f"演示账号（密码均为 {DEMO_PASSWORD}）：")
        for username, user in users.items():
            if username.startswith("_"):
                continue
            groups = "、".join(user.groups.values_list("name", flat=True))
            county = user.county.name if user.county else "全市"
            self.stdout.write(f"   {username:<24} {groups:<8} {county}")
        if "_token" in users:
            self.stdout.write(f"部门接口令牌（civil_affairs_longyang）：{users['_token']}")
        self.stdout.write(f"今天：{dt.date.today().isoformat()}")
