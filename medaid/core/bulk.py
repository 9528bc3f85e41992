"""The one bulk-insert path for both databases: COPY on PostgreSQL, executemany on SQLite. Callers
then merge with set-based SQL that both dialects accept."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Sequence

from django.db import connection


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def insert_rows(
    table: str, columns: Sequence[str], rows: Iterable[Sequence], *, plain: bool = False
) -> int:
    """Insert `rows` (tuples in `columns` order; dict/list values are JSON) into `table`.
    `plain`: the rows hold no dict or list (JSON already text), so PostgreSQL takes them as
    they are."""
    qn = connection.ops.quote_name
    cols = ", ".join(qn(c) for c in columns)
    count = 0
    if is_postgres():
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f"COPY {qn(table)} ({cols}) FROM STDIN") as copy:
                if plain:
                    for row in rows:
                        copy.write_row(row)
                        count += 1
                else:
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
    if isinstance(value, list | dict):  # a str is taken as JSON text already
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


def update_by_ids(table: str, assignments: str, ids: Sequence[int], where: str = "", params=()):
    """`UPDATE table SET assignments WHERE id IN ids [AND where]` as one statement per 5000 ids
    (PostgreSQL: one array parameter, not thousands of placeholders Django would compile one by
    one). `params` fill the placeholders of `assignments` and `where`, in that order."""
    qn = connection.ops.quote_name
    extra = f" AND {where}" if where else ""
    count = 0
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute(
                f"UPDATE {qn(table)} SET {assignments} WHERE id = ANY(%s){extra}",
                (*params[: assignments.count("%s")], list(ids), *params[assignments.count("%s") :]),
            )
            return cursor.rowcount
        params = [_sqlite_value(v) for v in params]
        for chunk in chunks(ids, 900):
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"UPDATE {qn(table)} SET {assignments} WHERE id IN ({marks}){extra}",
                (*params[: assignments.count("%s")], *chunk, *params[assignments.count("%s") :]),
            )
            count += cursor.rowcount
    return count


def in_ids(column: str, ids: Sequence[int]) -> tuple[str, list]:
    """`column` among a few thousand `ids` at most, as SQL and its parameters: one array on
    PostgreSQL (a statement with hundreds of placeholders is parsed anew each time), a list of
    placeholders on SQLite."""
    if is_postgres():
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def chunks(items: Sequence, size: int = 5000):
    for start in range(0, len(items), size):
        yield items[start : start + size]
