import pytest
from django.contrib.auth.models import Group

from beneficiaries.models import County, Department, DepartmentKind, PoolingArea
from medaid.core.models import User
from medaid.core.roles import ROLES_BY_KEY

PASSWORD = "Yiliao-jiuzhu-2024"


@pytest.fixture
def area(db):
    return PoolingArea.objects.create(code="530500", name="保山市", policy_code="baoshan")


@pytest.fixture
def county_a(area):
    return County.objects.create(pooling_area=area, code="530502", name="隆阳区")


@pytest.fixture
def county_b(area):
    return County.objects.create(pooling_area=area, code="530521", name="施甸县")


def make_user(username, role_key=None, *, county=None, is_staff=True, **extra):
    user = User.objects.create_user(
        username=username, password=PASSWORD, county=county, is_staff=is_staff, **extra
    )
    if role_key:
        user.groups.add(Group.objects.get(name=ROLES_BY_KEY[role_key].name))
    return user


@pytest.fixture
def clerk_a(county_a):
    return make_user("clerk_a", "counter_clerk", county=county_a)


@pytest.fixture
def clerk_b(county_b):
    return make_user("clerk_b", "counter_clerk", county=county_b)


@pytest.fixture
def auditor(db):
    return make_user("auditor", "auditor")


@pytest.fixture
def city_admin(db):
    return make_user("city_admin", "city_administrator")


@pytest.fixture
def department_a(county_a):
    return Department.objects.create(
        county=county_a, kind=DepartmentKind.CIVIL_AFFAIRS, name="隆阳区民政局"
    )


@pytest.fixture
def department_account(department_a):
    return make_user("dept_a", "department_submitter", department=department_a, is_staff=False)
