"""Benchmark: the REST API under load, on the production server.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/medaid_load \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/api_load.py [--clients 20] [--seconds 60] [--rows 2]

Starts what production runs (README › Production): gunicorn with `medaid.wsgi` and a celery
worker on both queues, on the given PostgreSQL database and Redis. Seeds its own pooling area
(a fresh code each run): `--clients` hospitals, each with its own API token (a hospital's
system is one client), and people with an identity. Then each client posts declarations of
`--rows` claims as JSON (`POST /api/v1/declarations/`) one after the other for `--seconds`,
and the workers decide them as they arrive.

Prints `requests_per_s` (acknowledged 201s per second of load), `p50_ms`/`p95_ms`/`p99_ms`,
`errors` (any answer but 201, or a connection error: must be 0), `lost` (declarations
acknowledged but not stored exactly once with every claim decided exactly once: must be 0)
and `drain_seconds` (from the end of the load until every acknowledged declaration is done).
Goal (issue #14): >= 150 requests/s, p95 < 200 ms, errors 0, lost 0, and a backlog drained
as fast as it arrives. The last line printed is one JSON object.
"""

import argparse
import datetime as dt
import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medaid.settings")

YEAR, MONTH = 2026, 11
PEOPLE_PER_CLIENT = 400


def seed(token: str, clients: int):
    """A pooling area, one county, a hospital (with its API token) per client, and people."""
    from beneficiaries.models import County, Identity, Person, PoolingArea
    from claims.models import Hospital
    from medaid.core.models import User
    from medaid.core.services import api_token_issue

    area = PoolingArea.objects.create(
        code=f"L{token}", name=f"压测县{token}", policy_code="pingshun"
    )
    county = County.objects.create(pooling_area=area, code=f"L{token}00", name=f"压测县{token}")
    hospitals = Hospital.objects.bulk_create(
        Hospital(
            code=f"L{token}H{i:02d}",
            name=f"压测医院{token}-{i}",
            level=2,
            fee_class="county_2",
            county=county,
        )
        for i in range(clients)
    )
    people = Person.objects.bulk_create(
        Person(
            id_number=f"9{token}{n:09d}"[:18],
            name=f"压测对象{n}",
            sex="F" if n % 2 else "M",
            birth_date=dt.date(1950 + n % 50, 1 + n % 12, 1),
            county=county,
        )
        for n in range(clients * PEOPLE_PER_CLIENT)
    )
    codes = ("tekun", "dibao", "dibao_edge")
    Identity.objects.bulk_create(
        Identity(person=p, code=codes[n % 3], start=dt.date(YEAR, 1, 1))
        for n, p in enumerate(people)
    )
    tokens = []
    for hospital in hospitals:
        user = User.objects.create_user(
            username=f"load-{hospital.code}", county=county, hospital=hospital
        )
        tokens.append(api_token_issue(user=user).key)
    return hospitals, people, tokens


class Client(threading.Thread):
    """One hospital's system: posts a declaration, waits for the answer, posts the next."""

    def __init__(self, number, port, token, hospital_code, people, rows, stop_at):
        super().__init__(daemon=True)
        self.number, self.port, self.token = number, port, token
        self.hospital_code, self.people, self.rows = hospital_code, people, rows
        self.stop_at = stop_at
        self.latencies: list[float] = []
        self.acknowledged: list[tuple[int, list[str]]] = []
        self.errors: list[str] = []

    def declaration(self, sequence: int) -> tuple[bytes, list[str]]:
        rows, refs = [], []
        for k in range(self.rows):
            person = self.people[(sequence * self.rows + k) % len(self.people)]
            ref = f"{self.hospital_code}-{sequence}-{k}"
            # Each claim of a person a day after the last: a year of stays fits 28 days apart.
            day = 1 + (sequence * self.rows + k) // len(self.people) % 28
            rows.append(
                {
                    "hospital_code": self.hospital_code,
                    "id_number": person[0],
                    "name": person[1],
                    "external_ref": ref,
                    "kind": "inpatient",
                    "admitted": f"{YEAR}-{MONTH:02d}-{day:02d}",
                    "discharged": f"{YEAR}-{MONTH:02d}-{day:02d}",
                    "total_cost": "3000.00",
                    "in_policy_cost": "2600.00",
                    "out_of_catalog_cost": "400.00",
                    "basic_insurance_paid": "1500.00",
                    "critical_illness_paid": "0.00",
                    "other_paid": "0.00",
                    "declared_assistance": "0.00",
                }
            )
            refs.append(ref)
        body = {"hospital": self.hospital_code, "year": YEAR, "month": MONTH, "rows": rows}
        return json.dumps(body).encode(), refs

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {
            "Authorization": f"Token {self.token}",
            "Content-Type": "application/json",
            "Host": "127.0.0.1",
        }
        sequence = 0
        while time.monotonic() < self.stop_at:
            body, refs = self.declaration(sequence)
            sequence += 1
            started = time.monotonic()
            try:
                conn.request("POST", "/api/v1/declarations/", body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                continue
            self.latencies.append(time.monotonic() - started)
            if response.status == 201:
                self.acknowledged.append((json.loads(payload)["id"], refs))
            else:
                self.errors.append(f"{response.status}: {payload[:300]!r}")
        conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv, env, log_path: Path, ready: bytes, timeout: float = 60) -> subprocess.Popen:
    log = open(log_path, "wb")  # noqa: SIM115 - the process owns it until it is stopped
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{argv[0]} exited early:\n{log_path.read_text(errors='replace')}")
        if ready in log_path.read_bytes():
            return proc
        time.sleep(0.2)
    raise RuntimeError(f"{argv} did not start in {timeout}s:\n{log_path.read_text()}")


def cpu_seconds() -> dict[int, tuple[int, str, float]]:
    """Every live process's (session, name, CPU seconds so far), from /proc: where the
    machine's two cores went during the load (web, worker, database, the clients)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        # After the name: state ppid pgrp session … utime (12th) stime (13th).
        found[int(entry.name)] = (int(fields[3]), name, (int(fields[11]) + int(fields[12])) / tick)
    return found


def cpu_split(before: dict, after: dict, sessions: dict[str, int]) -> dict[str, float]:
    """CPU seconds spent between two readings, by part: each started server's session, the
    PostgreSQL processes, and this process (the clients' threads)."""
    spent = dict.fromkeys([*sessions, "database", "clients"], 0.0)
    for pid, (session, name, cpu) in after.items():
        delta = cpu - before.get(pid, (session, name, 0.0))[2]
        part = next((k for k, v in sessions.items() if v == session), None)
        if part is None and name.startswith("postgres"):
            part = "database"
        if part is None and pid == os.getpid():
            part = "clients"
        if part is not None:
            spent[part] += delta
    return {k: round(v, 1) for k, v in spent.items()}


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def lost_declarations(acknowledged, hospital_ids) -> tuple[int, int]:
    """Declarations acknowledged but not stored exactly once with every claim decided once;
    and the claims counted."""
    from django.db.models import Count, Q

    from claims.models import Claim, Declaration

    counts = {
        pk: (claims, decided)
        for pk, claims, decided in Declaration.objects.filter(hospital_id__in=hospital_ids)
        .annotate(
            n_claims=Count("claims", distinct=True),
            n_decided=Count(
                "claims__decisions",
                filter=Q(claims__decisions__is_current=True),
                distinct=True,
            ),
        )
        .values_list("pk", "n_claims", "n_decided")
    }
    refs_expected = {ref for _, refs in acknowledged for ref in refs}
    refs_stored = list(
        Claim.objects.filter(hospital_id__in=hospital_ids).values_list("external_ref", flat=True)
    )
    lost = sum(
        1 for declaration_id, refs in acknowledged if counts.get(declaration_id) != (len(refs),) * 2
    )
    duplicated = len(refs_stored) - len(set(refs_stored))
    unexpected = len(set(refs_stored) - refs_expected)
    return lost + duplicated + unexpected, len(refs_stored)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rows", type=int, default=2, help="claims per declaration")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--drain-timeout", type=float, default=900)
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if not database_url.startswith("postgres") or not broker_url.startswith("redis"):
        sys.exit("api_load needs DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis)")

    import django

    django.setup()
    from django.core.management import call_command

    from claims.models import Declaration

    call_command("migrate", verbosity=0)
    token = f"{secrets.randbelow(10**6):06d}"
    hospitals, people, tokens = seed(token, args.clients)
    from django.db import connection

    connection.close()

    work = Path(tempfile.mkdtemp(prefix="medaid-load-"))
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "DB_CONN_MAX_AGE": os.environ.get("DB_CONN_MAX_AGE", "60"),
        "MEDIA_ROOT": str(work / "media"),
        "REPORTS_DIR": str(work / "out"),
        "PYTHONPATH": str(ROOT),
    }
    bin_dir = Path(sys.executable).parent
    worker = start(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "medaid.core.celery",
            "worker",
            "-Q",
            "default,heavy",
            "-c",
            str(args.worker_concurrency),
            "--prefetch-multiplier",
            "4",
            "-l",
            "info",
        ],
        env,
        work / "worker.log",
        b" ready.",
    )
    web = start(
        [
            str(bin_dir / "gunicorn"),
            "medaid.wsgi",
            "-w",
            str(args.web_workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "info",
        ],
        env,
        work / "web.log",
        b"Booting worker",
    )
    time.sleep(2)  # every web worker booted
    try:
        cpu_before = cpu_seconds()
        started = time.monotonic()
        stop_at = started + args.seconds
        per_client = [
            [(p.id_number, p.name) for p in people[i :: args.clients]] for i in range(args.clients)
        ]
        clients = [
            Client(i, port, tokens[i], hospitals[i].code, per_client[i], args.rows, stop_at)
            for i in range(args.clients)
        ]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        load_seconds = time.monotonic() - started
        load_ended = time.monotonic()

        acknowledged = [a for c in clients for a in c.acknowledged]
        ids = [declaration_id for declaration_id, _ in acknowledged]
        drained = False
        while time.monotonic() - load_ended < args.drain_timeout:
            waiting = (
                Declaration.objects.filter(pk__in=ids)
                .exclude(status=Declaration.Status.DONE)
                .count()
            )
            if not waiting:
                drained = True
                break
            time.sleep(0.5)
        drain_seconds = time.monotonic() - load_ended
        cpu = cpu_split(cpu_before, cpu_seconds(), {"web": web.pid, "worker": worker.pid})
    finally:
        stop(web)
        stop(worker)

    latencies = sorted(x for c in clients for x in c.latencies)
    errors = [e for c in clients for e in c.errors]
    lost, claims = lost_declarations(acknowledged, [h.pk for h in hospitals])

    def percentile(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    figures = {
        "clients": args.clients,
        "seconds": round(load_seconds, 1),
        "declarations": len(acknowledged),
        "claims": claims,
        "requests_per_s": round(len(acknowledged) / load_seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else 0.0,
        "p95_ms": round(percentile(0.95), 1),
        "p99_ms": round(percentile(0.99), 1),
        "errors": len(errors),
        "lost": lost,
        "drained": drained,
        "drain_seconds": round(drain_seconds, 1),
        "web_workers": args.web_workers,
        "worker_concurrency": args.worker_concurrency,
        "load_average": round(os.getloadavg()[0], 1),
        # Where the two cores went, from the load's start until the backlog was decided: CPU
        # seconds per part, per acknowledged declaration, and the cores kept busy on average.
        "cpu_seconds": cpu,
        "cpu_ms_per_declaration": {
            k: round(v * 1000 / max(len(acknowledged), 1), 2) for k, v in cpu.items()
        },
        "cores_busy": round(sum(cpu.values()) / (load_seconds + drain_seconds), 2),
    }
    for error in errors[:5]:
        print("error:", error)
    print(
        f"{figures['declarations']} declarations ({claims} claims) from {args.clients} clients in "
        f"{figures['seconds']} s: {figures['requests_per_s']} req/s, p95 {figures['p95_ms']} ms, "
        f"{figures['errors']} errors, {lost} lost, drained {figures['drain_seconds']} s after "
        f"(logs in {work})"
    )
    print(json.dumps(figures))
    return 0 if not errors and not lost and drained else 1


if __name__ == "__main__":
    sys.exit(main())
