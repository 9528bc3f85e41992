"""What more than one benchmark needs. Nothing here imports Django: a bench imports it before
`django.setup()` (its own database is chosen before Django reads DATABASE_URL)."""

import os
import statistics
import time
from urllib.parse import urlsplit, urlunsplit

# The columns a bench COPYs when it seeds claims straight into the claims table (bypassing the
# declaration path); each bench's row tuples follow this order. Written out rather than built
# from claims.models' field tuples on purpose: this module is read before `django.setup()`, the
# list is bound to the benches' hand-written positional rows (a reordered tuple in claims.models
# must not silently shift them), and it is not the claim's facts: it adds the ids, source,
# settlement, status and timestamps, and leaves out chronic_category (the benches seed none).
# tests/claims/test_field_lists.py checks each column against the Claim model.
CLAIM_SEED_COLUMNS = (
    "person_id",
    "county_id",
    "hospital_id",
    "source",
    "external_ref",
    "kind",
    "admitted",
    "discharged",
    "referred",
    "follow_up",
    "emergency",
    "major_disease",
    "settlement",
    "total_cost",
    "in_policy_cost",
    "out_of_catalog_cost",
    "basic_insurance_paid",
    "critical_illness_paid",
    "other_paid",
    "declared_assistance",
    "receipt_numbers",
    "status",
    "review_reason",
    "review_note",
    "created_at",
    "updated_at",
)


def own_database(suffix: str) -> str:
    """Point DATABASE_URL at the bench's own PostgreSQL database, `<base>_<suffix>`, created when
    missing: a bench that seeds a million rows must not share a database with another."""
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        raise SystemExit(f"bench ({suffix}) needs PostgreSQL: set DATABASE_URL")
    parts = urlsplit(url)
    base = parts.path.lstrip("/") or "medaid"
    name = base if base.endswith(f"_{suffix}") else f"{base}_{suffix}"
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + name))
    return name


def median_ms(client, url: str, repeat: int):
    """A page's median time in ms over `repeat` requests after one warm-up, and the warm-up's
    response (which must be a 200: a bench never times an error page)."""
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), response
