"""Every write to the registry, by capability; this package's names are the app's service
surface for the other apps, the admin, the API and the tasks.

- `rosters`: receiving, validating, previewing and applying a department's list, retrying a
  failed batch, the 10th-of-month feed check (the merge SQL itself is `beneficiaries.merge`);
- `roster_review`: the second person for an apply that ends many identities, and the one-step
  reversal of an apply (撤销本次导入);
- `identities`: identity periods one at a time (the counter, the admin);
- `certification`: 因病致贫 applications and their decision;
- `platform_numbers`: the platform's person number recorded from other apps' platform files;
- `premium`: subsidy rosters, the monthly additions, the premium transfer request;
- `parameter_changes`: dated policy values and the area's pack by date, entered, checked and
  approved by a second person (issue #16 part 1).
"""

from beneficiaries.imports import FileRefused
from beneficiaries.services.certification import (
    ApprovalError,
    illness_application_check,
    illness_application_create,
    illness_application_decide,
)
from beneficiaries.services.identities import identities_change, identity_check, identity_open
from beneficiaries.services.parameter_changes import (
    ParameterChangeError,
    parameter_change_approve,
    parameter_change_propose,
    parameter_change_revise,
    parameter_change_send_back,
    parameter_change_submit,
    parameter_change_withdraw,
    parameter_choices,
)
from beneficiaries.services.platform_numbers import people_psn_no_record
from beneficiaries.services.premium import (
    premium_transfer_request_create,
    premium_transfer_request_mark_posted,
    subsidy_additions_run,
    subsidy_roster_build,
    subsidy_roster_confirm,
)
from beneficiaries.services.roster_review import roster_import_reverse, roster_import_review
from beneficiaries.services.rosters import (
    ImportStateError,
    feed_checks_run,
    feed_due_date,
    roster_import_apply,
    roster_import_job,
    roster_import_job_run,
    roster_import_job_start,
    roster_import_preview,
    roster_import_process,
    roster_import_receive,
    roster_import_retry,
    roster_import_validate,
)

__all__ = [
    "ApprovalError",
    "FileRefused",
    "ImportStateError",
    "ParameterChangeError",
    "feed_checks_run",
    "feed_due_date",
    "identities_change",
    "identity_check",
    "identity_open",
    "illness_application_check",
    "illness_application_create",
    "illness_application_decide",
    "parameter_change_approve",
    "parameter_change_propose",
    "parameter_change_revise",
    "parameter_change_send_back",
    "parameter_change_submit",
    "parameter_change_withdraw",
    "parameter_choices",
    "people_psn_no_record",
    "premium_transfer_request_create",
    "premium_transfer_request_mark_posted",
    "roster_import_apply",
    "roster_import_job",
    "roster_import_job_run",
    "roster_import_job_start",
    "roster_import_preview",
    "roster_import_process",
    "roster_import_receive",
    "roster_import_retry",
    "roster_import_reverse",
    "roster_import_review",
    "roster_import_validate",
    "subsidy_additions_run",
    "subsidy_roster_build",
    "subsidy_roster_confirm",
]
