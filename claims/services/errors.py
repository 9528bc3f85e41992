"""The refusal every claims service raises: a named code and the Chinese message a clerk reads."""

from __future__ import annotations


class ClaimsError(Exception):
    """A refused action, with a named code and the Chinese message a clerk reads."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(message)
