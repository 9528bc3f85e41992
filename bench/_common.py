"""What more than one benchmark needs. Plain data only: a bench imports it before
`django.setup()`."""

# The columns a bench COPYs when it seeds claims straight into the claims table (bypassing the
# declaration path); each bench's row tuples follow this order. Written out rather than built
# from claims.models' field tuples on purpose: this module is read before `django.setup()`, the
# list is bound to the benches' hand-written positional rows (a reordered tuple in claims.models
# must not silently shift them), and it is not the claim's facts: it adds the ids, source,
# settlement, status and timestamps, and leaves out chronic_category (the benches seed none).
# tests/claims/test_field_lists.py checks each column against the Claim model.
CLAIM_SEED_COLUMNS = (
    "person_id",
    "county_id",
    "hospital_id",
    "source",
    "external_ref",
    "kind",
    "admitted",
    "discharged",
    "referred",
    "follow_up",
    "emergency",
    "major_disease",
    "settlement",
    "total_cost",
    "in_policy_cost",
    "out_of_catalog_cost",
    "basic_insurance_paid",
    "critical_illness_paid",
    "other_paid",
    "declared_assistance",
    "receipt_numbers",
    "status",
    "review_reason",
    "review_note",
    "created_at",
    "updated_at",
)
