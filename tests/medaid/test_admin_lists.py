"""Issue #15 items 3 and 4: one amount format, finding people by the last digits of their ID
number, autocomplete options that tell rows apart and keep to the clerk's county, and big
lists paged without a full count (the last page too)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.admin.templatetags import admin_list

from beneficiaries.models import County, Person
from beneficiaries.selectors import people_search
from claims.models import Claim, Hospital
from medaid.core.admin import LimitedCountPaginator, amount_html
from tests.medaid.conftest import make_user


def person(county, number, name):
    return Person.objects.create(
        id_number=number, name=name, sex="M", birth_date=dt.date(1960, 1, 1), county=county
    )


@pytest.fixture
def people(county_a, county_b):
    return [
        person(county_a, "53050219600101123X", "张三"),
        person(county_a, "530502196001014567", "张三丰"),
        person(county_a, "530502196001019876", "李四"),
        person(county_b, "530521196001011234", "王五"),
    ]


def test_an_amount_reads_alike_everywhere_and_a_negative_is_red():
    assert amount_html(Decimal("1234567.5")) == '<span class="amount">1,234,567.50</span>'
    assert amount_html(Decimal("-5")) == '<span class="amount negative">-5.00</span>'
    assert amount_html(None) == "—"
    # A money field shown by the admin itself (a list cell, a read-only field) goes the same way;
    # a ratio (four places) does not.
    field = Claim._meta.get_field("in_policy_cost")
    assert admin_list.display_for_field(Decimal("-12.3"), field, "—") == (
        '<span class="amount negative">-12.30</span>'
    )
    ratio = Claim._meta.get_field("discharged")
    assert "amount" not in str(admin_list.display_for_field(dt.date(2024, 1, 1), ratio, "—"))


@pytest.mark.django_db
def test_people_are_found_by_the_last_6_or_4_characters_the_full_number_or_a_name(people):
    everyone = Person.objects.all()
    assert list(people_search(everyone, "01123X")) == [people[0]]
    assert list(people_search(everyone, "123x")) == [people[0]]  # lower-case x
    assert list(people_search(everyone, "１２３４")) == [people[3]]  # full-width digits
    assert list(people_search(everyone, "530502196001019876")) == [people[2]]
    assert set(people_search(everyone, "张三")) == {people[0], people[1]}
    assert list(people_search(everyone, "李四")) == [people[2]]
    assert list(people_search(everyone, "000000")) == []


@pytest.mark.django_db
def test_a_clerk_searches_the_list_by_the_last_digits_within_the_county(client, people, county_a):
    clerk = make_user("clerk_s", "counter_clerk", county=county_a)
    client.force_login(clerk)
    page = client.get("/admin/beneficiaries/person/", {"q": "019876"}).content.decode()
    assert "李四" in page and "张三" not in page
    # Another county's person is not found by a clerk, whatever the digits.
    page = client.get("/admin/beneficiaries/person/", {"q": "1234"}).content.decode()
    assert "王五" not in page


@pytest.mark.django_db
def test_autocomplete_offers_only_the_clerks_county_with_county_in_the_option(
    client, people, county_a
):
    clerk = make_user("clerk_ac", "counter_clerk", county=county_a)
    client.force_login(clerk)
    answer = client.get(
        "/admin/autocomplete/",
        {"app_label": "claims", "model_name": "application", "field_name": "person", "term": ""},
    )
    assert answer.status_code == 200
    texts = [r["text"] for r in answer.json()["results"]]
    assert len(texts) == 3 and all("隆阳区" in t for t in texts)
    assert not any("王五" in t for t in texts)
    by_digits = client.get(
        "/admin/autocomplete/",
        {
            "app_label": "claims",
            "model_name": "application",
            "field_name": "person",
            "term": "4567",
        },
    ).json()["results"]
    assert [r["id"] for r in by_digits] == [str(people[1].pk)]


@pytest.mark.django_db
def test_hospitals_of_the_same_name_are_told_apart_in_the_dropdown(client, county_a, county_b):
    for i, county in enumerate((county_a, county_b)):
        Hospital.objects.create(code=f"H{i}", name="人民医院", level=2 + i, county=county)
    clerk = make_user("clerk_h", "counter_clerk", county=county_a)
    client.force_login(clerk)
    results = client.get(
        "/admin/autocomplete/",
        {"app_label": "claims", "model_name": "claim", "field_name": "hospital", "term": "人民"},
    ).json()["results"]
    assert sorted(r["text"] for r in results) == [
        "人民医院（施甸县·三级）",
        "人民医院（隆阳区·二级）",
    ]


@pytest.mark.django_db
def test_past_the_cap_the_count_is_said_as_such_and_the_last_page_shows_the_last_rows(
    county_a, monkeypatch
):
    for i in range(9):
        person(county_a, f"5305021960010100{i:02d}", f"甲{i}")
    ordered = Person.objects.order_by("name", "id")
    exact = LimitedCountPaginator(ordered, 2)
    assert exact.count == 9 and exact.count_is_exact and exact.count_text == "9 条"

    monkeypatch.setattr(LimitedCountPaginator, "cap", 3)
    # An estimate too high (PostgreSQL's planner guessed 20): the last page still shows the
    # list's real last rows, in the list's order.
    monkeypatch.setattr("medaid.core.admin.planner_estimate", lambda queryset: 20)
    paginator = LimitedCountPaginator(ordered, 2)
    assert not paginator.count_is_exact
    assert paginator.count_text == "3+ 条（约 20 条）"
    assert paginator.num_pages == 10
    assert [p.name for p in paginator.page(10)] == ["甲7", "甲8"]


@pytest.mark.django_db
def test_a_deep_page_is_the_same_rows_read_by_ids_first(county_a, monkeypatch):
    for i in range(9):
        person(county_a, f"5305021960010100{i:02d}", f"乙{i}")
    monkeypatch.setattr(LimitedCountPaginator, "deferred_from", 2)
    ordered = Person.objects.order_by("-name", "id")
    paginator = LimitedCountPaginator(ordered, 2)
    for number in (1, 2, 3, 5):
        assert list(paginator.page(number)) == list(ordered[(number - 1) * 2 : number * 2])


@pytest.mark.django_db
def test_the_claims_list_pages_to_its_last_page(client, county_a):
    city = make_user("city_l", "city_administrator")
    client.force_login(city)
    assert County.objects.count() >= 1
    answer = client.get("/admin/claims/claim/", {"p": "1"})
    assert answer.status_code == 200
    assert "共 0 条" in answer.content.decode()
