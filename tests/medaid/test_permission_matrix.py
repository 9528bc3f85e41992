"""The permission matrix, generated from the code and checked against `roles.OPERATIONS`.

Enumerated, never listed by hand: (a) every admin action of every registered ModelAdmin (a
superuser's `get_actions`), (b) every custom admin URL (the site's and each ModelAdmin's
`get_urls` beyond Django's own), (c) every route and method of the API under /api/v1/. Each must
map to an operation or be marked a read (`roles.ADMIN_ACTIONS`, `ADMIN_URLS`, `API_ROUTES`), and
for every role what it may do must equal what OPERATIONS gives it: an action is offered iff the
role holds its permission; a POST (or the route's write method) by a role without the permission
is answered 403 before anything is read or looked up, and by a role with it anything but 403.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.admin import AdminSite, ModelAdmin
from django.contrib.auth.models import Group, Permission
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from medaid.core.models import User
from medaid.core.roles import (
    ADMIN_ACTIONS,
    ADMIN_URLS,
    API_ROUTES,
    AUDITOR,
    OPERATION_PERMISSIONS,
    OPERATIONS,
    READ,
    ROLES,
    render_roles_markdown,
    role_holds,
)
from tests.medaid.conftest import make_user

NO_PK = 999_999
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def role_users(county_a):
    return {
        role.key: make_user(
            f"m_{role.key}", role.key, county=county_a if role.county_bound else None
        )
        for role in ROLES
    }


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _holds_any(role_key: str, permissions) -> bool:
    if isinstance(permissions, str):
        permissions = (permissions,)
    return any(role_holds(role_key, p) for p in permissions)


# --- enumeration ---------------------------------------------------------------------------


def admin_actions(superuser) -> dict[str, tuple]:
    """`app_label.modelname.action` → (model, model admin, action name) for every action."""
    found = {}
    request = _request(superuser)
    for model, model_admin in admin.site._registry.items():
        for name in model_admin.get_actions(request):
            found[f"{model._meta.label_lower}.{name}"] = (model, model_admin, name)
    return found


def _names(patterns) -> dict[str, URLPattern]:
    out = {}
    for pattern in patterns:
        if isinstance(pattern, URLPattern) and pattern.name:
            out[pattern.name] = pattern
    return out


def custom_admin_urls() -> dict[str, URLPattern]:
    """Every named admin URL that neither Django's AdminSite nor ModelAdmin makes."""
    # app_list exists once an app is registered; a fresh site has none.
    standard_site = {*_names(AdminSite().get_urls()), "app_list"}
    found = {
        name: p for name, p in _names(admin.site.get_urls()).items() if name not in standard_site
    }
    for model_admin in admin.site._registry.values():
        standard = set(_names(ModelAdmin.get_urls(model_admin)))
        for name, pattern in _names(model_admin.get_urls()).items():
            if name not in standard:
                found[name] = pattern
    return found


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def api_routes() -> dict[tuple[str, str], URLPattern]:
    """(URL name, METHOD) → pattern, for every route under /api/v1/."""
    found = {}
    for route, pattern in _walk(get_resolver().url_patterns):
        if not route.startswith("api/v1/") or not pattern.name:
            continue
        callback = pattern.callback
        cls = getattr(callback, "cls", None)
        allowed = {m.upper() for m in getattr(cls, "http_method_names", ())}
        actions = getattr(callback, "actions", None)
        if actions is not None:
            methods = {m.upper() for m in actions}
        else:
            methods = {m.upper() for m in allowed if hasattr(cls, m.lower())}
        for method in methods & allowed - {"OPTIONS", "HEAD"}:
            found[(pattern.name, method)] = pattern
    return found


def _url(name: str, pattern: URLPattern, *, namespace: str = "") -> str:
    regex = pattern.pattern.regex
    kwargs = {k: NO_PK for k in regex.groupindex if k != "format"}
    for key, converter in getattr(pattern.pattern, "converters", {}).items():
        kwargs[key] = NO_PK if converter.regex == "[0-9]+" else str(NO_PK)
    return reverse(f"{namespace}{name}", kwargs=kwargs)


# --- the table itself -----------------------------------------------------------------------


@pytest.mark.django_db
def test_every_operation_is_a_real_permission_and_the_groups_hold_exactly_the_table():
    existing = {
        f"{a}.{c}" for a, c in Permission.objects.values_list("content_type__app_label", "codename")
    }
    assert existing >= OPERATION_PERMISSIONS, OPERATION_PERMISSIONS - existing
    assert len(OPERATIONS) == len(OPERATION_PERMISSIONS), "an operation is listed twice"
    for role in ROLES:
        # A role's own patterns never name an operation: OPERATIONS is the one place.
        assert not set(role.permissions) & OPERATION_PERMISSIONS, role.key
        group = Group.objects.get(name=role.name)
        held = {
            f"{a}.{c}"
            for a, c in group.permissions.values_list("content_type__app_label", "codename")
        }
        assert held & OPERATION_PERMISSIONS == {
            op.permission for op in OPERATIONS if role.key in op.roles
        }, role.key


def test_the_auditor_holds_no_operation():
    assert not [op.permission for op in OPERATIONS if AUDITOR.key in op.roles]


def test_docs_roles_md_is_the_rendering_of_the_table():
    committed = (ROOT / "docs" / "roles.md").read_text(encoding="utf-8")
    assert committed == render_roles_markdown(), "run `python -m medaid.core.roles`"


# --- (a) admin actions ---------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_actions_are_offered_exactly_to_the_roles_holding_their_operation(role_users):
    superuser = User.objects.create_superuser("matrix_root", password="x" * 16)
    actions = admin_actions(superuser)
    unmapped = sorted(
        k for k in actions if k not in ADMIN_ACTIONS and not k.endswith(".delete_selected")
    )
    assert not unmapped, (
        f"admin actions with no operation or READ in roles.ADMIN_ACTIONS: {unmapped}"
    )
    stale = sorted(set(ADMIN_ACTIONS) - set(actions))
    assert not stale, f"roles.ADMIN_ACTIONS names actions that do not exist: {stale}"

    wrong = []
    checked = 0
    for key, (model, model_admin, name) in sorted(actions.items()):
        permission = ADMIN_ACTIONS.get(key)
        if name == "delete_selected":
            # Deleting needs the model's delete permission, which no role holds.
            permission = f"{model._meta.app_label}.delete_{model._meta.model_name}"
        if permission == READ:
            continue
        for role_key, user in role_users.items():
            request = _request(user)
            offered = model_admin.has_view_or_change_permission(
                request
            ) and name in model_admin.get_actions(request)
            expected = _holds_any(role_key, permission)
            checked += 1
            if offered != expected:
                wrong.append((key, role_key, "offered" if offered else "not offered"))
    assert not wrong, wrong
    assert checked >= len(ROLES) * 10


# --- (b) custom admin URLs -----------------------------------------------------------------


@pytest.mark.django_db
def test_custom_admin_urls_refuse_with_403_whoever_lacks_the_operation(role_users):
    urls = custom_admin_urls()
    unmapped = sorted(set(urls) - set(ADMIN_URLS))
    assert not unmapped, (
        f"custom admin URLs with no operation or READ in roles.ADMIN_URLS: {unmapped}"
    )
    stale = sorted(set(ADMIN_URLS) - set(urls))
    assert not stale, f"roles.ADMIN_URLS names URLs that do not exist: {stale}"

    wrong = []
    for name, pattern in sorted(urls.items()):
        permission = ADMIN_URLS[name]
        if permission == READ:
            continue
        url = _url(name, pattern, namespace="admin:")
        for role_key, user in role_users.items():
            client = Client()
            client.force_login(user)
            status = client.post(url, {}).status_code
            expected_refused = not _holds_any(role_key, permission)
            if (status == 403) != expected_refused:
                wrong.append((name, role_key, status))
    assert not wrong, wrong


# --- (c) the API -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_writes_refuse_with_403_whoever_lacks_the_operation(role_users):
    routes = api_routes()
    unmapped = sorted(set(routes) - set(API_ROUTES))
    assert not unmapped, f"API routes with no operation or READ in roles.API_ROUTES: {unmapped}"
    stale = sorted(set(API_ROUTES) - set(routes))
    assert not stale, f"roles.API_ROUTES names routes that do not exist: {stale}"
    for (name, method), permission in API_ROUTES.items():
        if method in WRITE_METHODS and permission == READ:
            assert name == "api-preview", f"{method} {name} writes and needs an operation"

    wrong = []
    for (name, method), pattern in sorted(routes.items()):
        permission = API_ROUTES[(name, method)]
        if permission == READ:
            continue
        url = _url(name, pattern)
        for role_key, user in role_users.items():
            client = Client()
            client.force_login(user)
            response = client.generic(method, url, "", content_type="application/json")
            expected_refused = not _holds_any(role_key, permission)
            if (response.status_code == 403) != expected_refused:
                wrong.append((method, name, role_key, response.status_code))
    assert not wrong, wrong


@pytest.mark.django_db
def test_the_auditor_performs_no_write_anywhere(role_users):
    auditor = role_users[AUDITOR.key]
    superuser = User.objects.create_superuser("matrix_root2", password="x" * 16)
    request = _request(auditor)
    for key, (_model, model_admin, name) in admin_actions(superuser).items():
        if ADMIN_ACTIONS.get(key, "delete") != READ:
            assert not (
                model_admin.has_view_or_change_permission(request)
                and name in model_admin.get_actions(request)
            ), key
    client = Client()
    client.force_login(auditor)
    for name, pattern in custom_admin_urls().items():
        if ADMIN_URLS[name] != READ:
            assert client.post(_url(name, pattern, namespace="admin:"), {}).status_code == 403, name
    for (name, method), pattern in api_routes().items():
        if API_ROUTES[(name, method)] != READ:
            response = client.generic(
                method, _url(name, pattern), "", content_type="application/json"
            )
            assert response.status_code == 403, (method, name)


# --- what the pages show -------------------------------------------------------------------


@pytest.mark.django_db
def test_filter_sidebars_list_only_the_users_county_and_object_tools_follow_the_table(
    role_users, county_a, county_b
):
    clerk, auditor = role_users["counter_clerk"], role_users[AUDITOR.key]
    client = Client()
    client.force_login(clerk)
    for url in (
        "/admin/beneficiaries/township/",
        "/admin/beneficiaries/person/",
        "/admin/beneficiaries/identity/",
        "/admin/beneficiaries/subsidyroster/",
    ):
        page = client.get(url).content.decode()
        assert county_b.name not in page, url
    client.force_login(auditor)
    assert "发起月度结算" not in client.get("/admin/funds/settlementrun/").content.decode()
    assert "上传名册" not in client.get("/admin/beneficiaries/rosterimport/").content.decode()
    client.force_login(role_users["finance"])
    assert "发起月度结算" in client.get("/admin/funds/settlementrun/").content.decode()
    client.force_login(clerk)
    assert "上传名册" in client.get("/admin/beneficiaries/rosterimport/").content.decode()
