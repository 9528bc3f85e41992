"""Core services: API tokens, staff accounts, the benefit preview. Long jobs are in
`medaid.core.jobs`."""

from django.db import transaction


def api_token_issue(*, user):
    """Give a department or hospital account a fresh API token, revoking the old one.

    The key is shown to the administrator once; rotating it is how a leaked key is revoked.
    """
    from rest_framework.authtoken.models import Token

    if not (user.department_id or user.hospital_id):
        raise ValueError("只有部门或医疗机构账户可以持有接口令牌")
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


# --- the benefit preview (issue #3's contract, shared by the command, the API and the admin) --


class PreviewError(Exception):
    """A case the preview contract refuses: a named code, Chinese text, the offending field."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def as_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


def benefit_preview(*, data) -> dict:
    """Decide one preview-contract case (a dict, or its JSON as str/bytes) and return the
    contract's result dict. Raises `PreviewError` for a case that cannot be read.

    A thin wrapper: reading the case, deciding it and writing the result are the policy
    engine's (`medaid.policy.contract`); this only turns refusals into one exception that the
    command, the API and the admin calculator each render in the contract's error shape."""
    from medaid.policy import decide
    from medaid.policy.contract import CaseError, parse_case, parse_case_json, result_to_dict

    try:
        case = parse_case(data) if isinstance(data, dict) else parse_case_json(data)
    except CaseError as error:
        raise PreviewError(error.code, error.message, error.field) from error
    except RecursionError:
        # Thousands of "[" exhaust the JSON reader's recursion: not a case, and not a 500.
        raise PreviewError("invalid_json", "JSON 嵌套层数过深，无法读取。", None) from None
    return result_to_dict(decide(case))


def staff_user_create(
    *,
    username: str,
    password: str,
    role_key: str,
    county=None,
    department=None,
    hospital=None,
    full_name: str = "",
):
    """Create (or reset) a staff account holding one role. County-bound roles need a county;
    city-wide roles must not have one."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from medaid.core.roles import ROLES_BY_KEY

    role = ROLES_BY_KEY[role_key]
    if role.county_bound and county is None:
        raise ValueError(f"{role.name}须指定所属区县")
    if not role.county_bound and county is not None:
        raise ValueError(f"{role.name}为全市角色，不应指定区县")
    user_model = get_user_model()
    user, _ = user_model.objects.update_or_create(
        username=username,
        defaults={
            "county": county,
            "department": department,
            "hospital": hospital,
            "first_name": full_name,
            "is_staff": True,
            "is_active": True,
        },
    )
    user.set_password(password)
    user.save()
    user.groups.set([Group.objects.get(name=role.name)])
    return user
