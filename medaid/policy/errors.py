"""What the engine raises to its callers: a malformed pack, a case's bad override, a rule the
pack does not have.

At the bottom of the package, so the pack loader and every rule raise the same classes without
importing one another.
"""

from __future__ import annotations

from pathlib import Path


class PackError(ValueError):
    """A pack file is malformed. Names the file, the key and the problem."""

    def __init__(self, file: Path | str, key: str, problem: str) -> None:
        self.file = str(file)
        self.key = key
        self.problem = problem
        super().__init__(f"{self.file}: {key}: {problem}")


class OverrideError(ValueError):
    """A case asked to override a parameter the pack does not have, or gave a bad value."""

    def __init__(self, name: str, code: str, problem: str) -> None:
        self.name = name
        self.code = code
        self.problem = problem
        super().__init__(f"{name}: {problem}")


class RuleNotInPack(LookupError):
    """The pack has no such rule (e.g. Pingshun leaves 因病致贫 certification to Shanxi rules)."""
