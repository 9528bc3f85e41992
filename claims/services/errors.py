"""The refusal every claims service raises: a `medaid.core.errors.Refusal` (a named code and the
Chinese message a clerk reads), of its own class so that callers may catch the claims app's."""

from __future__ import annotations

from medaid.core.errors import Refusal


class ClaimsError(Refusal):
    """A refused claims action: `ClaimsError(message, code=…)`."""
