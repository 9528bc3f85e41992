"""The claim field lists start from claims.models' tuples; the ones written out on purpose are
kept in step here."""

from claims import imports, services
from claims.api.serializers import (
    ApplicationClaimInSerializer,
    ClaimCorrectionSerializer,
    ClaimSerializer,
)
from claims.models import (
    CLAIM_AMOUNT_FIELDS,
    CLAIM_FACT_FIELDS,
    Claim,
    DeclarationLine,
)


def test_declaration_lines_carry_the_claims_facts_and_amounts():
    fields = services.DECLARATION_LINE_FIELDS
    assert set(CLAIM_FACT_FIELDS) <= set(fields)
    assert set(CLAIM_AMOUNT_FIELDS) <= set(fields)
    staged = {f.name for f in DeclarationLine._meta.concrete_fields}
    assert set(services.DECLARATION_LINE_COLUMNS) <= staged
    claim_columns = {f.name for f in Claim._meta.concrete_fields}
    assert set(CLAIM_FACT_FIELDS) | set(CLAIM_AMOUNT_FIELDS) <= claim_columns


def test_the_serializers_name_the_claims_facts():
    assert set(ClaimCorrectionSerializer().fields) == set(services.CORRECTABLE_FIELDS)
    assert set(ApplicationClaimInSerializer().fields) == {"hospital", *CLAIM_FACT_FIELDS}
    api_fields = ClaimSerializer.Meta.fields
    assert set(CLAIM_FACT_FIELDS) | set(CLAIM_AMOUNT_FIELDS) <= set(api_fields)


def test_a_parsed_line_follows_the_staging_columns():
    row = imports.parse_line(2, {"id_number": "1" * 20, "external_ref": "X", "kind": "住院"})
    assert len(row) == len(services.DECLARATION_LINE_COLUMNS)
    values = dict(zip(services.DECLARATION_LINE_COLUMNS, row, strict=True))
    assert values["line_no"] == 2 and values["external_ref"] == "X"
    assert values["error"] == "missing_field"


def test_the_benches_seed_columns_are_claim_columns():
    from bench._common import CLAIM_SEED_COLUMNS

    columns = {f.column for f in Claim._meta.concrete_fields}
    assert set(CLAIM_SEED_COLUMNS) <= columns
    assert len(set(CLAIM_SEED_COLUMNS)) == len(CLAIM_SEED_COLUMNS)
