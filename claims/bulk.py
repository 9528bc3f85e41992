"""One bulk-insert path for both databases: COPY on PostgreSQL, executemany on SQLite. Callers
then merge with set-based SQL that both dialects accept."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Sequence

from django.db import connection


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def insert_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert `rows` (tuples in `columns` order; dict/list values are JSON) into `table`."""
    qn = connection.ops.quote_name
    cols = ", ".join(qn(c) for c in columns)
    count = 0
    if is_postgres():
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f"COPY {qn(table)} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([_pg_value(v) for v in row])
                    count += 1
        return count
    sql = f"INSERT INTO {qn(table)} ({cols}) VALUES ({', '.join(['%s'] * len(columns))})"
    batch: list[list] = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append([_sqlite_value(v) for v in row])
            if len(batch) >= 2000:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def _pg_value(value):
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def _sqlite_value(value):
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if value is not None and not isinstance(value, int | float | str | bytes | bool):
        return str(value)
    return value


def chunks(items: Sequence, size: int = 5000):
    for start in range(0, len(items), size):
        yield items[start : start + size]
