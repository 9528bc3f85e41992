"""County scoping, in one place for every queryset: admin lists, counts, filters,
autocomplete, the API and exports all call `scope_to_user`.

A user with a county sees that county only. A user without one is city-wide. Department and
hospital accounts are narrowed further by their own API permissions.
"""

from django.db.models import QuerySet

FULL_ID_PERMISSION = "beneficiaries.view_full_id_number"


def scope_to_user(queryset: QuerySet, user, *, county_field: str = "county") -> QuerySet:
    if user is None or not user.is_authenticated:
        return queryset.none()
    if user.is_superuser or user.county_id is None:
        return queryset
    return queryset.filter(**{county_field: user.county_id})


def user_may_see_county(user, county_id: int | None) -> bool:
    if user.is_superuser or user.county_id is None:
        return True
    return county_id == user.county_id


def mask_id_number(id_number: str, user=None) -> str:
    """`530102199001011234` → `5301**********1234` unless the user's role needs the number."""
    if not id_number:
        return ""
    if user is not None and user.has_perm(FULL_ID_PERMISSION):
        return id_number
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]
