import pytest
from django.contrib.auth.models import Permission
from rest_framework import serializers, viewsets
from rest_framework.test import APIRequestFactory, force_authenticate

from beneficiaries.models import Person
from claims.models import Hospital
from medaid.core.api import (
    IsDepartmentAccount,
    IsHospitalAccount,
    ModelPermissions,
    ScopedViewSetMixin,
)
from tests.medaid.conftest import make_user


class PersonSerializer(serializers.ModelSerializer):
    class Meta:
        model = Person
        fields = ["id", "id_number", "name", "sex", "birth_date", "county"]
        extra_kwargs = {"county": {"required": False}}


class PersonViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    queryset = Person.objects.order_by("pk")
    serializer_class = PersonSerializer
    permission_classes = [ModelPermissions]
    pagination_class = None


def call(user, method="get", pk=None, data=None):
    factory = APIRequestFactory()
    url = "/people/" if pk is None else f"/people/{pk}/"
    request = getattr(factory, method)(url, data, format="json")
    force_authenticate(request, user=user)
    actions = {
        "get": "list" if pk is None else "retrieve",
        "post": "create",
        "patch": "partial_update",
    }
    view = PersonViewSet.as_view({method: actions[method]})
    return view(request, pk=pk) if pk else view(request)


@pytest.fixture
def people(county_a, county_b):
    return [
        Person.objects.create(
            id_number=f"53050219900101{n:04d}",
            name=f"人{n}",
            sex="M",
            birth_date="1990-01-01",
            county=c,
        )
        for n, c in ((1, county_a), (2, county_b))
    ]


@pytest.mark.django_db
def test_department_token_sees_and_writes_only_its_county(
    people, department_account, county_a, county_b
):
    response = call(department_account)
    assert response.status_code == 200
    assert [p["name"] for p in response.data] == ["人1"]
    assert call(department_account, pk=people[1].pk).status_code == 404
    body = {"id_number": "530502199001019999", "name": "新", "sex": "F", "birth_date": "1980-01-01"}
    response = call(department_account, "post", data=body)
    assert response.status_code == 201, response.data
    assert Person.objects.get(name="新").county_id == county_a.pk
    response = call(
        department_account,
        "post",
        data={**body, "id_number": "530502199001018888", "county": county_b.pk},
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_county_clerk_and_city_user(people, clerk_a, auditor):
    assert [p["name"] for p in call(clerk_a).data] == ["人1"]
    assert [p["name"] for p in call(auditor).data] == ["人1", "人2"]
    # The auditor reads but may not write.
    assert call(auditor, "patch", pk=people[0].pk, data={"name": "改"}).status_code == 403


@pytest.mark.django_db
def test_hospital_token_sees_no_people(people, county_a):
    hospital = Hospital.objects.create(code="H9", name="医院", level=1, county=county_a)
    account = make_user("h9", hospital=hospital, is_staff=False)
    account.user_permissions.add(Permission.objects.get(codename="view_person"))
    assert call(account).data == []


@pytest.mark.django_db
def test_account_kind_permissions(department_account, clerk_a, county_a):
    class Req:
        def __init__(self, user):
            self.user = user

    assert IsDepartmentAccount().has_permission(Req(department_account), None)
    assert not IsDepartmentAccount().has_permission(Req(clerk_a), None)
    assert not IsHospitalAccount().has_permission(Req(department_account), None)
