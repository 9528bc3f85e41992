"""Finding, loading and validating packs.

Loading needs both the parameters and the rules: it hands each `Pack` the rules' terms compiler,
then compiles every date-range (terms, then fund rules) so a pack that cannot decide fails at
load rather than on its first claim. It sits above both so they need not import each other.
"""

from __future__ import annotations

import re
from pathlib import Path

from medaid.policy.parameters import Amendment, Pack
from medaid.policy.rules.funds import compile_funds
from medaid.policy.rules.terms import compile_terms

PACKS_DIR = Path(__file__).resolve().parent / "packs"

# A code names a folder under PACKS_DIR; one that could be a path (a slash, a dot), or longer
# than a file name may be (an OSError, not a KeyError), is refused before the filesystem is asked.
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

_PACKS: dict[str, Pack] = {}


def available_policies() -> tuple[str, ...]:
    return tuple(sorted(p.name for p in PACKS_DIR.iterdir() if (p / "pack.yaml").is_file()))


def load_pack(code: str, directory: Path | None = None) -> Pack:
    """Load, validate and cache a pack. Raises KeyError for an unknown code, PackError if bad."""
    if directory is not None:
        pack = Pack(code, directory, compile_terms)
        _validate(pack)
        return pack
    pack = _PACKS.get(code)
    if pack is None:
        if not _CODE.match(code) or not (PACKS_DIR / code / "pack.yaml").is_file():
            raise KeyError(code)
        pack = Pack(code, PACKS_DIR / code, compile_terms)
        _validate(pack)
        _PACKS[code] = pack
    return pack


def amend_pack(code: str, amendments: tuple[Amendment, ...]) -> Pack:
    """The pack `code` with `amendments` laid over it, validated like a shipped pack.

    Raises OverrideError (naming the amendment's key) for a change the pack cannot take, or
    PackError if the amended pack can no longer decide on some date-range.
    """
    base = load_pack(code)
    pack = base.amended(amendments)
    if pack is not base and not getattr(pack, "_validated", False):
        _validate(pack)
        pack._validated = True
    return pack


def _validate(pack: Pack) -> None:
    """Compile the rules of every date-range so a pack that cannot decide fails at load."""
    for start in pack.ranges:
        pack.terms(start)
        compile_funds(pack.snapshot(start))
