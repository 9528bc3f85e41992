"""The one shape of a refusal: a named code, the Chinese message the user reads and, where it
applies, the field or line at fault. Every app's refusals derive from `Refusal`, so the admin,
the API and jobs answer them alike (a message, an HTTP 4xx with a JSON body, a failed job with
its reason) and never as a server error."""


class Refusal(Exception):
    """An operation refused for a reason the user can act on; nothing was changed."""

    code = "refused"
    # The API answers a refusal with this status (medaid.core.api_errors); a subclass for a
    # conflict with the current state (already done, already closed …) sets 409.
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field

    def as_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class Rollback(Exception):
    """Raised inside `transaction.atomic()` to undo a dry run (a preview, a trial roster) on
    purpose; caught right outside it."""
