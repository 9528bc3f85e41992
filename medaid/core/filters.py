"""The API's filter backend (DEFAULT_FILTER_BACKENDS): django-filter, plus one guard.

A filter value can pass the filter's own field and still be a value the database lookup
cannot build: `?year=0` or `?year=10000` on a date's `__year` (no such year for Python's
date), an integer past 64 bits. Those fail only when the query is compiled — inside the
paginator, as a server error. `SafeFilterBackend` compiles the filtered query at once and
answers such a value with 400 in the API's error shape."""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.core.exceptions import ValidationError as DjangoValidationError
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError


def _plain(detail):
    if isinstance(detail, dict):
        return {key: _plain(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_plain(value) for value in detail]
    return str(detail)


class SafeFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        try:
            queryset = super().filter_queryset(request, queryset, view)
        except ValidationError as exc:
            # django-filter keeps the messages, not their codes: a bad filter value is named
            # as one (its field is the query parameter).
            raise ValidationError(_plain(exc.detail), code="invalid_filter") from None
        if not request.query_params:
            return queryset
        try:
            queryset.query.get_compiler(queryset.db).as_sql()
        except (EmptyResultSet, FullResultSet):
            pass
        except (ValueError, TypeError, OverflowError, DjangoValidationError) as exc:
            raise ValidationError(
                {"non_field_errors": ["查询条件的取值超出有效范围（如年份须在 1 至 9999 之间）。"]},
                code="invalid_filter",
            ) from exc
        return queryset
