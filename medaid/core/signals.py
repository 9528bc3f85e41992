"""The login audit: every sign-in, sign-out and failed sign-in becomes a `LoginEvent` row.
(django-axes counts the failures and locks the account; this is the record people read.)"""

from __future__ import annotations

import ipaddress

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from medaid.core.models import LoginEvent


def client_ip(request) -> str | None:
    """The caller's address as Django sees it (REMOTE_ADDR; a proxy in front must pass the
    real address on, e.g. gunicorn's --forwarded-allow-ips)."""
    if request is None:
        return None
    value = (request.META.get("REMOTE_ADDR") or "").strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


@receiver(user_logged_in, dispatch_uid="medaid.login_event.login")
def _logged_in(sender, request, user, **kwargs):
    LoginEvent.objects.create(
        user=user,
        username=user.get_username()[:150],
        ip=client_ip(request),
        kind=LoginEvent.Kind.LOGIN,
    )


@receiver(user_logged_out, dispatch_uid="medaid.login_event.logout")
def _logged_out(sender, request, user, **kwargs):
    if user is None:  # a logout without a session
        return
    LoginEvent.objects.create(
        user=user,
        username=user.get_username()[:150],
        ip=client_ip(request),
        kind=LoginEvent.Kind.LOGOUT,
    )


@receiver(user_login_failed, dispatch_uid="medaid.login_event.failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    username = str(credentials.get(User.USERNAME_FIELD) or credentials.get("username") or "")
    LoginEvent.objects.create(
        user=User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
        if username
        else None,
        username=username[:150],
        ip=client_ip(request),
        kind=LoginEvent.Kind.FAILED,
    )
