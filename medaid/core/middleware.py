"""Request middleware of the cross-cutting parts."""

from django.db import connection
from pghistory.middleware import HistoryMiddleware as PghistoryMiddleware


class HistoryMiddleware(PghistoryMiddleware):
    """django-pghistory's middleware (the acting user and URL recorded on every audited change),
    on PostgreSQL only: its context rides on each SQL statement as `set_config(...)`, which
    SQLite (the embedded default, where no audit triggers exist) cannot execute."""

    def __call__(self, request):
        if connection.vendor != "postgresql":
            return self.get_response(request)
        return super().__call__(request)
