"""What more than one benchmark needs. Plain data only: a bench imports it before
`django.setup()`."""

# The columns a bench COPYs when it seeds claims straight into the claims table (bypassing the
# declaration path); each bench's row tuples follow this order.
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
