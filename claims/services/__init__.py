"""Every write of the claims app, by capability:

- `recompute`: decision runs and their partitions, a person's or a whole year's recomputation,
  and its dry run (`recompute_preview`, what a recompute would change);
- `declarations`: hospital declarations, from the received file to the decided claims;
- `applications`: counter applications and their supervisor's approval;
- `review`: corrections of a claim and the review queue's answers;
- `warnings`: monitoring of burdens, the warning lists sent to departments and their answers;
- `settlement`: the claims' side of the funds app's monthly settlement (claims marked settled);
- `checks`: the rules a claim's figures keep, and which pack covers a day;
- `errors`: `ClaimsError`, the refusal they raise.

The admin, the API, the funds app and the tests use the names below (`from claims import
services`); modules inside the package import each other directly.
"""

from claims.services.applications import (
    application_approve,
    application_claim_add,
    application_create,
    application_reject,
    application_return,
    application_submit,
    applications_mark_paid,
    applications_payment_reversed,
    second_approval_threshold,
)
from claims.services.checks import (
    MONEY_FIELDS,
    claim_figures_errors,
    policy_covers,
    policy_window,
)
from claims.services.declarations import (
    DECLARATION_LINE_COLUMNS,
    DECLARATION_LINE_FIELDS,
    DuplicateDeclaration,
    content_hash,
    declaration_finish,
    declaration_prepare,
    declaration_process,
    declaration_receive,
    declaration_refuse,
    declarations_check,
    declarations_finish,
    declarations_merge,
    json_hash,
)
from claims.services.errors import ClaimsError
from claims.services.recompute import (
    DEFAULT_PARTITIONS,
    PARTITION_LOCK_SPACE,
    RecomputeGap,
    partitions_sweep,
    people_recompute,
    recompute_preview,
    run_create,
    run_dispatch,
    run_execute,
    run_fail,
    run_finish,
    run_partition_decide,
    run_retry,
    trace_json,
    year_recompute_start,
)
from claims.services.review import CORRECTABLE_FIELDS, claim_correct, claim_review_resolve
from claims.services.settlement import claims_mark_settled, claims_reopen
from claims.services.warnings import burdens_monitor, warning_answer, warning_lists_send

__all__ = [
    "CORRECTABLE_FIELDS",
    "DECLARATION_LINE_COLUMNS",
    "DECLARATION_LINE_FIELDS",
    "DEFAULT_PARTITIONS",
    "MONEY_FIELDS",
    "PARTITION_LOCK_SPACE",
    "ClaimsError",
    "DuplicateDeclaration",
    "RecomputeGap",
    "application_approve",
    "application_claim_add",
    "application_create",
    "application_reject",
    "application_return",
    "application_submit",
    "applications_mark_paid",
    "applications_payment_reversed",
    "burdens_monitor",
    "claim_correct",
    "claim_figures_errors",
    "claim_review_resolve",
    "claims_mark_settled",
    "claims_reopen",
    "content_hash",
    "declaration_finish",
    "declaration_prepare",
    "declaration_process",
    "declaration_receive",
    "declaration_refuse",
    "declarations_check",
    "declarations_finish",
    "declarations_merge",
    "json_hash",
    "partitions_sweep",
    "people_recompute",
    "policy_covers",
    "policy_window",
    "recompute_preview",
    "run_create",
    "run_dispatch",
    "run_execute",
    "run_fail",
    "run_finish",
    "run_partition_decide",
    "run_retry",
    "second_approval_threshold",
    "trace_json",
    "warning_answer",
    "warning_lists_send",
    "year_recompute_start",
]
