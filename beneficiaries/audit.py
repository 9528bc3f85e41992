"""The audit context the Person and Identity triggers (django-pghistory) attach to a change."""

from contextlib import nullcontext

import pghistory
from django.db import connection


def history_context(**metadata):
    """Audit context for the triggers; they exist only on PostgreSQL."""
    if connection.vendor != "postgresql":
        return nullcontext()
    return pghistory.context(**metadata)
