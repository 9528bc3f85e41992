"""公民身份号码 (GB 11643-1999): normalisation, checksum, and what the number itself says.

The one place other apps check an ID number. A number typed at a counter or sent in a
department's list often carries full-width digits, a lower-case x or stray spaces; those are
normalised. Everything else that is wrong is refused with a named reason and Chinese text:
a number that fails its checksum was mistyped, and guessing a correction would attach a
benefit to the wrong person.
"""

from datetime import date
from operator import mul
from typing import NamedTuple

from medaid.core.errors import Refusal

# Weights 2^(17-i) mod 11 and the check characters for a weighted sum mod 11 (GB 11643 §8.2).
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
# Full-width digits, X and space, plus spaces of every width, mapped to their ASCII forms.
_TRANSLATE = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        "Ｘ": "X",
        "ｘ": "X",
        "x": "X",
        " ": None,
        "\u3000": None,
        "\u00a0": None,
        "\t": None,
        "\u200b": None,
        "\ufeff": None,
        "'": None,  # Excel's "store as text" prefix survives some exports.
    }
)
_CHECK_SET = frozenset(_CHECK)
_ODD = frozenset("13579")
_ZERO_OFFSET = 48 * sum(_WEIGHTS)  # each digit's code point is 48 above its value


class IdNumberError(Refusal, ValueError):
    """A refused ID number, with a named `code` and a Chinese `message`."""


# Reason codes, each with the Chinese text a clerk or a department reads.
REASONS: dict[str, str] = {
    "id_empty": "公民身份号码为空",
    "id_length": "公民身份号码应为18位",
    "id_characters": "公民身份号码含有非法字符（仅前17位数字、末位数字或X）",
    "id_birth_date": "公民身份号码中的出生日期无效",
    "id_checksum": "公民身份号码校验位错误（GB 11643），请核对号码",
    "id_numeric_cell": (
        "公民身份号码以数值格式保存，Excel只保留15位有效数字，号码已损坏；"
        "请将该列设为文本格式并重新录入号码"
    ),
}


class IdNumber(NamedTuple):
    number: str
    birth_date: date
    sex: str  # "M" or "F", as Person.Sex
    region: str  # the 6-digit administrative code of the place of first registration


def normalise(raw: str) -> str:
    """Full-width characters, a lower-case x, spaces and a leading apostrophe removed."""
    return raw.translate(_TRANSLATE)


def check_character(first17: str) -> str:
    """The check character of 17 ASCII digits. A department's list runs this a million times:
    one weighted sum over the bytes, corrected once for the digits' code points."""
    return _CHECK[(sum(map(mul, _WEIGHTS, first17.encode("ascii"))) - _ZERO_OFFSET) % 11]


# Birth dates already seen valid, by their eight digits: a list of a million people has only
# some tens of thousands of distinct birth days. A day once valid (not in the future) stays so.
_BIRTH_DATES: dict[str, date] = {}
_BIRTH_DATES_LIMIT = 100_000


def _birth_date(digits: str) -> date:
    try:
        birth = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise IdNumberError(REASONS["id_birth_date"], code="id_birth_date") from None
    if birth.year < 1880 or birth > date.today():
        raise IdNumberError(REASONS["id_birth_date"], code="id_birth_date")
    if len(_BIRTH_DATES) < _BIRTH_DATES_LIMIT:
        _BIRTH_DATES[digits] = birth
    return birth


def parse(raw) -> IdNumber:
    """Normalise and validate `raw`; raise `IdNumberError` with the reason.

    A number arriving as an int or float came from a numeric spreadsheet cell: Excel keeps
    15 significant digits, so the last three digits are already lost and it is refused.
    """
    if raw.__class__ is not str:
        if isinstance(raw, (bool, int | float)):
            raise IdNumberError(REASONS["id_numeric_cell"], code="id_numeric_cell")
        if raw is None:
            raise IdNumberError(REASONS["id_empty"], code="id_empty")
        raw = str(raw)
    number = raw.translate(_TRANSLATE)
    first17 = number[:17]
    if (
        len(number) != 18
        or not (first17.isdigit() and first17.isascii())
        or number[17] not in _CHECK_SET
    ):
        if not number:
            raise IdNumberError(REASONS["id_empty"], code="id_empty")
        # "5.30102199001011E+17" is what a CSV saved from a damaged numeric cell looks like.
        upper = number.upper()
        if "E+" in upper and upper.replace(".", "").split("E+")[0].isdigit():
            raise IdNumberError(REASONS["id_numeric_cell"], code="id_numeric_cell")
        if len(number) != 18:
            raise IdNumberError(REASONS["id_length"], code="id_length")
        raise IdNumberError(REASONS["id_characters"], code="id_characters")
    birth = _BIRTH_DATES.get(number[6:14]) or _birth_date(number[6:14])
    if check_character(first17) != number[17]:
        raise IdNumberError(REASONS["id_checksum"], code="id_checksum")
    return IdNumber(number, birth, "M" if number[16] in _ODD else "F", number[:6])


def is_valid(raw) -> bool:
    try:
        parse(raw)
    except IdNumberError:
        return False
    return True


def make(region: str, birth: date, sequence: int, *, sex: str | None = None) -> str:
    """Build a valid number (demo data, tests, benchmarks). `sequence` is 0–999; when `sex` is
    given its parity is adjusted so that the 17th digit says the right sex."""
    seq = sequence % 1000
    if sex is not None and (seq % 2 == 1) != (sex == "M"):
        seq = seq + 1 if seq < 999 else seq - 1
    first17 = f"{region[:6]:0<6}{birth:%Y%m%d}{seq:03d}"
    return first17 + check_character(first17)
