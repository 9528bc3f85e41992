"""The pack checker (`manage.py policy_check`): does a pack say only what its documents say?

Pure functions over a pack folder and the seed texts (`shared/seeds/*.txt`), no Django:

- **citations**: every value's `ref` cites an article (or a verbatim phrase) of a document the
  pack declares in `pack.yaml` `sources:` (the name it is cited by → the seed file), and that
  article exists in the seed. `第十四条（五）`, `四（二）2（1）`, `（十）`, `二（一）1`, `表3、表4`,
  `第十四条至第十六条` are located as nested headings of the seed's own numbering. A ref that is
  a product decision (`产品决定`) and cites no document is allowed and counted, not refused:
  policies.md's Decisions are parameters too.
- **coverage**: each parameter is in force from the pack's first day (or from a later version
  that introduces it) to the end of its validity, with one value per date and none dated after
  the validity ends (`expires`).
- **glossary**: every identity and claim kind the pack names — in parameter names and in
  values — is a canonical code (`glossary.py`, and `shared/domain/glossary.md` when given), and
  every profile and pool a name points at is declared in `pack.yaml`.

`check_pack` returns findings; an empty list is a clean pack. A pack that does not load at all
is one finding of kind `load`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from medaid.policy.errors import PackError
from medaid.policy.glossary import CLAIM_KINDS, IDENTITY_CODES
from medaid.policy.loader import load_pack
from medaid.policy.parameters import Pack

PRODUCT_DECISION = "产品决定"

_CN_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN = "零一二三四五六七八九十百"

# The seeds' own numbering, as headings at the start of a line (after the parentheses are
# normalised to full width): rank says what nests in what.
ARTICLE, SECTION, PAREN, ITEM, SUBPAREN, TABLE = (
    "article",
    "section",
    "paren",
    "item",
    "sub",
    "table",
)
_RANK = {ARTICLE: 0, SECTION: 0, PAREN: 1, ITEM: 2, SUBPAREN: 3, TABLE: 4}
_HEADINGS = (
    (ARTICLE, re.compile(rf"^第([{_CN}]+)条")),
    (SECTION, re.compile(rf"^([{_CN}]+)、")),
    (PAREN, re.compile(rf"^（([{_CN}]+)）")),
    (SUBPAREN, re.compile(r"^（([0-9]+)）")),
    (ITEM, re.compile(r"^([0-9]+)[.．、]")),
)
# One step of a citation's locator, read left to right.
_STEPS = (
    (ARTICLE, re.compile(rf"第([{_CN}]+)条")),
    (PAREN, re.compile(rf"（([{_CN}]+)）")),
    (SUBPAREN, re.compile(r"（([0-9]+)）")),
    (TABLE, re.compile(r" ?表([0-9]+)")),
    (SECTION, re.compile(rf"([{_CN}]+)(?:、|(?=（))")),
    (ITEM, re.compile(r"([0-9]+)(?![0-9]*[年月日元%万])")),
)
_SEPARATORS = ("、", "至")


@dataclass(frozen=True, slots=True)
class Finding:
    """One fault: `kind` is load, citation, coverage or glossary; `where` names the file and key."""

    pack: str
    kind: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.pack}: [{self.kind}] {self.where}: {self.message}"


@dataclass
class Report:
    pack: str
    findings: list[Finding] = field(default_factory=list)
    refs: int = 0  # distinct refs checked
    decisions: int = 0  # refs that are product decisions citing no document

    @property
    def ok(self) -> bool:
        return not self.findings


def cn_number(text: str) -> int:
    """十四 → 14, 四十七 → 47, 二十 → 20, 十 → 10."""
    if "百" in text:
        hundreds, _, rest = text.partition("百")
        return cn_number(hundreds or "一") * 100 + (cn_number(rest) if rest else 0)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
    return _CN_DIGITS[text]


def _number(kind: str, raw: str) -> int:
    return int(raw) if kind in (ITEM, SUBPAREN, TABLE) else cn_number(raw)


def normalise(text: str) -> str:
    return text.replace("(", "（").replace(")", "）").replace("．", ".")


class Seed:
    """A seed text split into lines, with its numbered headings found once."""

    def __init__(self, text: str) -> None:
        self.lines = [line.strip() for line in normalise(text).splitlines()]
        self.flat = re.sub(r"\s+", "", normalise(text))
        self.headings: list[tuple[int, str, int]] = []  # (line, kind, number)
        for i, line in enumerate(self.lines):
            for kind, pattern in _HEADINGS:
                found = pattern.match(line)
                if found:
                    self.headings.append((i, kind, _number(kind, found.group(1))))
                    break

    def locate(self, path: list[tuple[str, int]]) -> bool:
        """Whether the nested headings of `path` exist, each inside the one before."""
        lo, hi = 0, len(self.lines)
        for kind, number in path:
            if kind == TABLE:
                text = "".join(self.lines[lo:hi])
                if not re.search(rf"表{number}(?![0-9])", text):
                    return False
                continue
            rank = _RANK[kind]
            found = None
            for index, (line, hkind, hnumber) in enumerate(self.headings):
                if line < lo or line >= hi:
                    continue
                if hkind == kind and hnumber == number:
                    found = index
                    break
            if found is None:
                return False
            start = self.headings[found][0]
            end = hi
            for line, hkind, _ in self.headings[found + 1 :]:
                if line >= hi:
                    break
                if _RANK[hkind] <= rank:
                    end = line
                    break
            lo, hi = start, end
        return True

    def has_phrase(self, phrase: str) -> bool:
        return bool(phrase) and re.sub(r"\s+", "", normalise(phrase)) in self.flat


def _match_step(text: str, pos: int) -> tuple[str, re.Match] | None:
    for kind, pattern in _STEPS:
        found = pattern.match(text, pos)
        if found:
            return kind, found
    return None


def locator_paths(text: str) -> tuple[list[list[tuple[str, int]]], str]:
    """The heading paths a citation's locator names, and the text after it.

    `第三十三条（二）（三）` → [[article 33, paren 2], [article 33, paren 3]];
    `四（二）表3、表4` → [[section 4, paren 2, table 3], [section 4, paren 2, table 4]].
    """
    text = normalise(text).lstrip()
    paths: list[list[tuple[str, int]]] = []
    path: list[tuple[str, int]] = []
    pos = 0
    while pos < len(text):
        if path and text[pos] in _SEPARATORS:
            pos += 1
            continue
        matched = _match_step(text, pos)
        if matched is None:
            break
        kind, found = matched
        if kind == SECTION and path:
            break  # a numeral inside the text after the locator (三类人员), not a heading
        step = (kind, _number(kind, found.group(1)))
        rank = _RANK[kind]
        if path and rank <= _RANK[path[-1][0]]:
            paths.append(path)
            path = [s for s in path if _RANK[s[0]] < rank]
        path.append(step)
        pos = found.end()
    if path:
        paths.append(path)
    return paths, text[pos:]


def check_citations(pack: Pack, sources: dict[str, Seed], report: Report) -> None:
    aliases = sorted(sources, key=len, reverse=True)
    seen: dict[str, str] = {}
    for param in pack.parameters.values():
        for value in param.values:
            seen.setdefault(
                value.ref, f"{Path(param.file).name}: {param.name}.values.{value.start}"
            )
    for version in pack.versions:
        seen.setdefault(version.ref, f"pack.yaml: versions.{version.start}")
    if pack.expires_ref:
        seen.setdefault(pack.expires_ref, "pack.yaml: expires_ref")
    for name, ref in pack.refs.items():
        seen.setdefault(ref, f"pack.yaml: refs.{name}")
    for name, rule in pack.change_rules.items():
        seen.setdefault(rule.ref, f"pack.yaml: parameter_changes.{name}")
    report.refs = len(seen)
    for ref, where in seen.items():
        cited = 0
        pos = 0
        while True:
            hits = [(ref.find(alias, pos), alias) for alias in aliases]
            hits = [(i, a) for i, a in hits if i >= 0]
            if not hits:
                break
            at, alias = min(hits, key=lambda h: (h[0], -len(h[1])))
            pos = at + len(alias)
            seed = sources[alias]
            paths, rest = locator_paths(ref[pos:])
            if not paths:
                phrase = re.split(r"[（；，,]", rest, maxsplit=1)[0]
                if seed.has_phrase(phrase):
                    cited += 1
                else:
                    report.findings.append(
                        Finding(
                            pack.code,
                            "citation",
                            where,
                            f"「{ref}」cites {alias} without an article it has",
                        )
                    )
                continue
            for path in paths:
                if seed.locate(path):
                    cited += 1
                else:
                    report.findings.append(
                        Finding(
                            pack.code,
                            "citation",
                            where,
                            f"「{ref}」: {alias} has no {_path_text(path)}",
                        )
                    )
        if not cited and not any(f.where == where for f in report.findings):
            if PRODUCT_DECISION in ref:
                report.decisions += 1
            else:
                report.findings.append(
                    Finding(
                        pack.code,
                        "citation",
                        where,
                        f"「{ref}」cites no article of "
                        f"{'、'.join(aliases) or 'any declared source'}",
                    )
                )


def _path_text(path: list[tuple[str, int]]) -> str:
    names = {
        ARTICLE: "第{}条",
        SECTION: "{}、",
        PAREN: "（{}）",
        ITEM: "{}.",
        SUBPAREN: "（{}）",
        TABLE: "表{}",
    }
    return "".join(names[kind].format(number) for kind, number in path)


def check_coverage(pack: Pack, report: Report) -> None:
    """Dated values cover the pack's validity: from its first day (or a later version that
    introduces the parameter) to its end, one value per date, nothing after the end."""
    version_days = {v.start for v in pack.versions}
    end = pack.expires
    for version in pack.versions:
        if end is not None and version.start > end:
            report.findings.append(
                Finding(
                    pack.code,
                    "coverage",
                    f"pack.yaml: versions.{version.start}",
                    f"version starts after the pack expires ({end})",
                )
            )
    for param in pack.parameters.values():
        where = f"{Path(param.file).name}: {param.name}"
        first = param.values[0].start
        if first not in version_days:
            report.findings.append(
                Finding(
                    pack.code,
                    "coverage",
                    where,
                    f"gap: not in force from {pack.first_day} until {first} "
                    "(a parameter starts on the pack's first day or on a version's)",
                )
            )
        for value in param.values:
            if end is not None and value.start > end:
                report.findings.append(
                    Finding(
                        pack.code,
                        "coverage",
                        f"{where}.values.{value.start}",
                        f"dated after the pack's validity ends ({end})",
                    )
                )


def glossary_codes(markdown: str) -> tuple[frozenset[str], frozenset[str]]:
    """The identity and claim-kind codes of shared/domain/glossary.md (its two code tables)."""
    sections = re.split(r"^## ", markdown, flags=re.M)
    found: dict[str, set[str]] = {"identity": set(), "kind": set()}
    for section in sections:
        key = (
            "identity"
            if section.startswith("Identities")
            else "kind"
            if section.startswith("Claim kinds")
            else None
        )
        if key:
            found[key] |= set(re.findall(r"^\|\s*`([a-z0-9_]+)`", section, flags=re.M))
    return frozenset(found["identity"]), frozenset(found["kind"])


# Which segment of a parameter name is an identity, a kind, a profile or a pool.
_NAMED: tuple[tuple[re.Pattern, dict[int, str]], ...] = tuple(
    (re.compile(pattern), roles)
    for pattern, roles in (
        (r"^identity\.", {1: "identity"}),
        (r"^reach_back_days\.", {1: "identity"}),
        (r"^premium\.[^.]+\.", {1: "identity"}),
        (r"^(mode|kinds|deductible|application_window_months)\.", {1: "profile"}),
        (r"^hospital_levels\.", {1: "kind"}),
        (r"^min_age(_waived_by)?\.", {1: "profile", 2: "kind"}),
        (r"^ratio\.", {1: "profile", 2: "kind_or_level"}),
        (r"^annual_cap\.", {1: "pool", 2: "profile"}),
        (r"^annual_cap_major_disease\.", {1: "pool"}),
        (r"^major_route\.(deductible|ratio)\.", {2: "profile"}),
        (r"^(top_up\.combined_ratio|out_of_catalog\.assistance)\.", {2: "profile"}),
    )
)


def check_glossary(
    pack: Pack, glossary: tuple[frozenset[str], frozenset[str]] | None, report: Report
) -> None:
    identities = IDENTITY_CODES | pack.extra_identities
    kinds = CLAIM_KINDS
    if glossary is not None:
        identities = (identities & glossary[0]) | pack.extra_identities
        kinds = kinds & glossary[1]
    pools = {n.split(".", 1)[1] for n in pack.parameters if n.startswith("pool.")}
    for name, param in pack.parameters.items():
        where = f"{Path(param.file).name}: {name}"
        parts = name.split(".")
        for pattern, roles in _NAMED:
            if not pattern.match(name):
                continue
            for index, role in roles.items():
                if index >= len(parts) or parts[index].startswith("level_"):
                    continue
                code = parts[index]
                if role == "kind_or_level":
                    role = "kind"
                problem = None
                if role == "identity" and code not in identities:
                    problem = f"identity {code!r} is not in the glossary"
                elif role == "kind" and code not in kinds:
                    problem = f"claim kind {code!r} is not in the glossary"
                elif role == "profile" and code not in pack.profiles:
                    problem = f"profile {code!r} is not declared in pack.yaml profiles"
                elif role == "pool" and code not in pools:
                    problem = f"pool {code!r} is not defined (pool.{code})"
                if problem:
                    report.findings.append(Finding(pack.code, "glossary", where, problem))
            break
        codes = [v.value for v in param.values if isinstance(v.value, tuple)]
        role = {"many:identity": identities, "many:kind": kinds}.get(param.kind)
        if role is not None:
            label = "identity" if param.kind == "many:identity" else "claim kind"
            for value in codes:
                for code in value:
                    if code not in role:
                        report.findings.append(
                            Finding(
                                pack.code,
                                "glossary",
                                where,
                                f"{label} {code!r} is not in the glossary",
                            )
                        )


def check_pack(
    code: str,
    seeds_dir: Path,
    *,
    directory: Path | None = None,
    glossary_md: Path | None = None,
) -> Report:
    """Check one pack (`directory` for a pack outside packs/, e.g. a test's temporary copy)."""
    report = Report(code)
    try:
        pack = load_pack(code, directory)
    except (PackError, KeyError) as exc:
        report.findings.append(Finding(code, "load", code, f"does not load: {exc}"))
        return report
    sources: dict[str, Seed] = {}
    for alias, file in pack.sources.items():
        path = seeds_dir / str(file)
        if not path.is_file():
            report.findings.append(
                Finding(
                    code,
                    "citation",
                    f"pack.yaml: sources.{alias}",
                    f"seed document {path} not found",
                )
            )
            continue
        sources[alias] = _seed(path)
    if not sources and not report.findings:
        report.findings.append(
            Finding(
                code,
                "citation",
                "pack.yaml: sources",
                "declares no source document (name → seed file)",
            )
        )
    check_citations(pack, sources, report)
    check_coverage(pack, report)
    glossary = None
    if glossary_md is not None and glossary_md.is_file():
        glossary = glossary_codes(glossary_md.read_text(encoding="utf-8"))
    check_glossary(pack, glossary, report)
    return report


_SEEDS: dict[Path, Seed] = {}


def _seed(path: Path) -> Seed:
    seed = _SEEDS.get(path)
    if seed is None:
        seed = _SEEDS[path] = Seed(path.read_text(encoding="utf-8"))
    return seed
