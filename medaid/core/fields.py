"""The validators (`medaid.core.validators`) as the API's serializer fields and the admin's form
checks, so both refuse a value with the validators' own message and code: a serializer field
reports it under its path (`claims.0.in_policy_cost`), a form under its field."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from rest_framework import serializers

from medaid.core import validators
from medaid.core.errors import Refusal


def _drf(check, value, **kwargs):
    try:
        return check(value, **kwargs)
    except Refusal as exc:
        raise serializers.ValidationError(exc.message, code=exc.code) from None


class Money(serializers.DecimalField):
    """An amount in yuan (`validators.money`): two decimals at most, a maximum per kind."""

    def __init__(self, *, kind: str = "claim", negative: bool = False, **kwargs):
        self.kind, self.negative = kind, negative
        super().__init__(max_digits=14, decimal_places=2, **kwargs)

    def to_internal_value(self, data):
        return _drf(
            validators.money,
            data,
            field=self.field_name,
            label=str(self.label or self.field_name),
            kind=self.kind,
            negative=self.negative,
        )


class Day(serializers.DateField):
    """A date no later than the horizon of its kind (`validators.day`)."""

    def __init__(self, *, ahead: str = "happened", **kwargs):
        self.ahead = ahead
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        value = super().to_internal_value(value)
        return _drf(
            validators.day,
            value,
            field=self.field_name,
            label=str(self.label or self.field_name),
            today=timezone.localdate(),
            ahead=self.ahead,
        )


class Text(serializers.CharField):
    """Text refused (never cut) past its length, and with no control characters."""

    def __init__(self, *, multiline: bool = False, **kwargs):
        self.multiline = multiline
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        return _drf(
            validators.text,
            value,
            field=self.field_name,
            label=str(self.label or self.field_name),
            max_length=self.max_length or 10_000,
            multiline=self.multiline,
        )


class StrictBoolean(serializers.BooleanField):
    """Only JSON's true and false (DRF's own field also takes "yes", "on", 1 …)."""

    def to_internal_value(self, data):
        label = str(self.label or self.field_name)
        return _drf(validators.boolean, data, field=self.field_name, label=label)


def form_check(check, value, **kwargs):
    """A validator in a form's `clean_<field>` or `clean`: its refusal as the form's error."""
    try:
        return check(value, **kwargs)
    except Refusal as exc:
        raise forms.ValidationError(exc.message, code=exc.code) from None


def form_refusal(form, exc: Refusal) -> None:
    """A service's refusal on the form: under its field when the form has it, else above the
    form (never a constraint name, never a 500)."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


class ServiceCheckedForm(forms.ModelForm):
    """An admin form that runs its service's own check in `clean`, so the clerk sees a refusal
    under its field before anything is saved — the same check the service runs again when it
    writes (one rule, never a second copy in the form)."""

    def service_check(self, data: dict) -> None:
        raise NotImplementedError

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                self.service_check(data)
            except Refusal as exc:
                form_refusal(self, exc)
        return data
