"""The API's pagination: `SafeCursorPagination`, DRF's cursor pagination hardened against cursors
it did not hand out. It is DEFAULT_PAGINATION_CLASS and the base of every viewset's own
(re-exported by medaid.core.api); it lives apart from api.py because DRF imports the default
pagination class while it loads its generic views, before the schema tools can be imported."""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class InvalidCursor(ValidationError):
    """A `cursor` that this API did not hand out (edited, truncated, forged): 400."""

    default_detail = "分页游标无效，请从第一页重新查询。"
    default_code = "invalid_cursor"

    def __init__(self):
        super().__init__({"cursor": [self.default_detail]}, code=self.default_code)


class SafeCursorPagination(CursorPagination):
    """Cursor pagination (DEFAULT_PAGINATION_CLASS, and the base of every viewset's own) that
    answers a cursor it did not issue with 400 instead of a server error: DRF decodes any
    base64 `p=` position and hands it to the ordering field's lookup, where `p=abc` on an id
    raises ValueError (a 500) and a bad offset a 404."""

    ordering = "-id"
    invalid_cursor_message = InvalidCursor.default_detail

    def paginate_queryset(self, queryset, request, view=None):
        self._model = getattr(queryset, "model", None)
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            if request.query_params.get(self.cursor_query_param) is None:
                raise
            raise InvalidCursor() from exc
        except (ValueError, TypeError, OverflowError, DjangoValidationError, DataError) as exc:
            if request.query_params.get(self.cursor_query_param) is None:
                raise
            raise InvalidCursor() from exc

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None or self._model is None:
            return cursor
        # The position must be a value of the (first) ordering field.
        ordering = self.ordering if isinstance(self.ordering, str) else self.ordering[0]
        try:
            field = self._model._meta.get_field(ordering.lstrip("-"))
        except FieldDoesNotExist:
            return cursor
        try:
            value = field.to_python(cursor.position)
            field.get_prep_value(value)
        except (ValueError, TypeError, OverflowError, DjangoValidationError) as exc:
            raise InvalidCursor() from exc
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise InvalidCursor()
        return cursor
