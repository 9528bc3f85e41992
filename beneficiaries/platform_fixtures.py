"""Platform person-identity records (人员身份信息) that look like the platform's export: used by
the tests, the demo and the benches. Each person gets the psn_no the platform gave them and
their identities as dated periods, with the platform's codes (`platform_codes`), a share of
records without certno (the platform found the person by psn_no), closed periods, and the
backdated periods a late certification produces."""

import csv
import datetime as dt
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from beneficiaries.imports import PLATFORM_COLUMNS
from beneficiaries.platform_codes import code_for

HEADERS = [c.header for c in PLATFORM_COLUMNS]


@dataclass(frozen=True)
class Holder:
    """A person as the platform knows them: certno, name, psn_no."""

    id_number: str
    name: str
    psn_no: str


def psn_no_for(id_number: str) -> str:
    """The platform number the fixtures give a person (stable, 20 characters)."""
    return "P" + id_number[:6] + id_number[-13:]


# The mix of identities a county's platform holds for its assisted people.
IDENTITY_MIX = (
    ("dibao", 0.45),
    ("tekun", 0.10),
    ("dibao_edge", 0.15),
    ("rural_monitored", 0.15),
    ("poverty_lifted", 0.10),
    ("severe_disability", 0.05),
)


def identity_records(
    holders: Iterable[Holder],
    *,
    seed: int = 17,
    year: int = 2024,
    without_certno: float = 0.3,
    closed: float = 0.1,
) -> Iterator[dict]:
    """One record per holder (a closed one is followed by the identity that replaced it)."""
    rng = random.Random(seed)
    codes = [c for c, _ in IDENTITY_MIX]
    weights = [w for _, w in IDENTITY_MIX]
    for holder in holders:
        identity = rng.choices(codes, weights)[0]
        start = dt.date(year, rng.randint(1, 6), 1)
        certno = "" if rng.random() < without_certno else holder.id_number
        record = {
            "psn_no": holder.psn_no,
            "certno": certno,
            "psn_name": holder.name,
            "psn_idet_type": code_for(identity),
            "begntime": f"{start.isoformat()} 00:00:00",
            "endtime": "",
            "memo": "",
        }
        if rng.random() < closed:
            end = dt.date(year, start.month + rng.randint(1, 5), 1) - dt.timedelta(days=1)
            record["endtime"] = f"{end.isoformat()} 23:59:59"
            yield record
            after = "tekun" if identity != "tekun" else "dibao"
            yield {
                **record,
                "psn_idet_type": code_for(after),
                "begntime": f"{(end + dt.timedelta(days=1)).isoformat()} 00:00:00",
                "endtime": "",
                "memo": "身份变更",
            }
        else:
            yield record


def write_csv(records: Iterable[dict], target, *, encoding: str = "utf-8") -> int:
    """Write `records` as the platform's CSV (field names as headers); returns the count."""
    count = 0
    with open(target, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for record in records:
            writer.writerow([record.get(h, "") for h in HEADERS])
            count += 1
    return count
