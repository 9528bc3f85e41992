from django import template

from medaid.core.admin import amount_html
from medaid.core.money import yuan_text
from medaid.core.roles import ROLES_BY_KEY, user_roles
from medaid.dashboard import panels_for

register = template.Library()


@register.filter
def amount(value):
    """`{{ value|amount }}`: the admin's amount (right-aligned, red when negative)."""
    return amount_html(value)


@register.filter
def yuan(value):
    """`{{ value|yuan }}`: the amount as plain text (`12,345.60`), for printed pages."""
    return yuan_text(value)


@register.simple_tag(takes_context=True)
def dashboard_panels(context):
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return []
    return panels_for(request)


@register.simple_tag(takes_context=True)
def role_names(context) -> str:
    request = context.get("request")
    if request is None:
        return ""
    return "、".join(ROLES_BY_KEY[k].name for k in sorted(user_roles(request.user)))
