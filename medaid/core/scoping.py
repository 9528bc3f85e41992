"""County scoping, in one place for every queryset: admin lists, counts, filters,
autocomplete, the API and exports all call `scope_to_user`.

A user with a county sees that county only. A user without one is city-wide. A department
account is held to its department's county even when its own county is left blank (the county
follows the department), and a hospital account sees only rows tied to its own hospital:
querysets that have no hospital to filter on are empty for it.
"""

from collections.abc import Sequence

from django.db.models import Q, QuerySet

FULL_ID_PERMISSION = "beneficiaries.view_full_id_number"


def user_county_id(user) -> int | None:
    """The county a user is held to, or None for a city-wide user."""
    if user is None or not user.is_authenticated:
        return None
    if user.county_id is not None:
        return user.county_id
    department = getattr(user, "department", None)
    if department is not None:
        return department.county_id
    return None


def is_city_wide(user) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and (user.is_superuser or (user_county_id(user) is None and not user.hospital_id))
    )


def scope_to_user(
    queryset: QuerySet,
    user,
    *,
    county_field: str | Sequence[str] | None = "county",
    hospital_field: str | None = None,
) -> QuerySet:
    """The rows of `queryset` that `user` may see.

    `county_field` is the lookup path from the queryset's model to its county
    (`"county"`, `"person__county"`); None means the rows belong to no county (reference data
    such as hospitals), visible to every staff user. Several paths (a sequence) make a row
    visible to a county when any of them leads there: a platform declaration from the
    province has no hospital of its own, and belongs to every county whose claims it holds
    (`("hospital__county", "claims__county")`). `hospital_field` is the path to the hospital
    for rows a hospital account may see (`"hospital"` on claims).
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    if user.hospital_id:
        if hospital_field is None:
            return queryset.none()
        return queryset.filter(**{hospital_field: user.hospital_id})
    county_id = user_county_id(user)
    if county_id is None or county_field is None:
        return queryset
    if isinstance(county_field, str):
        return queryset.filter(**{county_field: county_id})
    anywhere = Q()
    for path in county_field:
        anywhere |= Q(**{path: county_id})
    # A path through a to-many relation would repeat a row once per match: a subquery keeps
    # each row once, and leaves the caller's queryset (its ordering, annotations) as it was.
    return queryset.filter(pk__in=queryset.model._base_manager.filter(anywhere).values("pk"))


def user_may_see_county(user, county_id: int | None) -> bool:
    if user.is_superuser:
        return True
    if user.hospital_id:
        return False
    own = user_county_id(user)
    return own is None or county_id == own


def may_see_full_id_number(user) -> bool:
    return user is not None and user.is_authenticated and user.has_perm(FULL_ID_PERMISSION)


def mask_id_number(id_number: str, user=None) -> str:
    """`530102199001011234` → `5301**********1234` unless the user's role needs the number."""
    if not id_number:
        return ""
    if user is not None and may_see_full_id_number(user):
        return id_number
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]
