"""The validators (`medaid.core.validators`) as the API's serializer fields and the admin's form
checks, so both refuse a value with the validators' own message and code: a serializer field
reports it under its path (`claims.0.in_policy_cost`), a form under its field."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.settings import api_settings

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


# DRF answers code "invalid" for a value of the wrong shape whatever the field ("abc" for a
# date, a list for a text): the API names the shape the field wanted instead (docs/bad-input.md,
# "codes"). The first match wins, so a subclass stands before its base.
SHAPE_CODES: tuple[tuple[type, str], ...] = (
    (serializers.BooleanField, "not_boolean"),
    (serializers.DateTimeField, "bad_datetime"),
    (serializers.DateField, "bad_date"),
    (serializers.DecimalField, "bad_amount"),
    (serializers.IntegerField, "not_integer"),
    (serializers.FloatField, "not_number"),
    (serializers.FileField, "not_file"),
    (serializers.JSONField, "bad_json"),
    (serializers.CharField, "not_text"),
    (serializers.BaseSerializer, "not_object"),
)
GENERIC_CODE = "invalid"


def shape_code(field) -> str:
    return next((code for kind, code in SHAPE_CODES if isinstance(field, kind)), GENERIC_CODE)


def _recode(detail, field):
    if isinstance(detail, list):
        return [_recode(item, field) for item in detail]
    if isinstance(detail, dict):
        # A ListField's or DictField's errors by index or key: the child's shape.
        child = getattr(field, "child", field)
        return {key: _recode(value, child) for key, value in detail.items()}
    if isinstance(detail, ErrorDetail) and detail.code == GENERIC_CODE:
        return ErrorDetail(str(detail), code=shape_code(field))
    return detail


class CodedErrorsMixin:
    """Put first in an input serializer's bases (`class X(CodedErrorsMixin, Serializer)`):
    each refusal carries a code of its own, never DRF's generic "invalid". A test finds every
    writable serializer of the API and checks that it has this mixin."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail
            if not isinstance(detail, dict):
                raise
            coded = {}
            for name, errors in detail.items():
                if name in self.fields:
                    coded[name] = _recode(errors, self.fields[name])
                elif name == api_settings.NON_FIELD_ERRORS_KEY and not isinstance(data, Mapping):
                    coded[name] = _recode(errors, self)
                else:
                    coded[name] = errors
            raise serializers.ValidationError(coded) from None


class InputSerializer(CodedErrorsMixin, serializers.Serializer):
    """The base of every serializer that reads a request body."""


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
