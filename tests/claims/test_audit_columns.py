"""The claims' statement-level update trigger copies a fixed column list: keep it in step."""

from claims.models import CLAIM_AUDIT_COLUMNS, Claim


def test_the_update_audit_copies_every_claim_column():
    columns = {f.column for f in Claim._meta.concrete_fields}
    assert set(CLAIM_AUDIT_COLUMNS) == columns
    event_columns = {f.column for f in Claim.pgh_event_model._meta.concrete_fields}
    assert set(CLAIM_AUDIT_COLUMNS) <= event_columns
