"""Load the policy catalog from YAML, validate it and freeze it.

A bad file stops the service (and ``incentives catalog check``) with a message that
names the file, the field and the fix. Beyond the schema, the loader checks what a
schema cannot: every ``$parameter`` is defined, every fact path and vocabulary word a
rule uses is in ``facts.yaml``, and each file is named after its policy id.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from app.catalog.places import Places
from app.catalog.schema import PolicyFile, SharedRule, Version
from app.catalog.vocabulary import VocabularyFile


class CatalogError(Exception):
    """The catalog cannot be used; ``problems`` lists each one as 'file: field: fix'."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "the policy catalog is invalid:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def canonical_json(value: Any) -> str:
    """One text per value (sorted keys, no spaces), so hashes agree everywhere."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def policy_version_document(policy: PolicyFile, version: Version) -> dict[str, Any]:
    """What is stored for one policy version: enough to replay an award without files."""
    # The policy's cases come along: the stored document validates as a PolicyFile again.
    header = policy.model_dump(mode="json", by_alias=True, exclude={"versions"})
    return {**header, "versions": [version.model_dump(mode="json", by_alias=True)]}


@dataclass(frozen=True)
class Catalog:
    policies: Mapping[str, PolicyFile]
    vocabulary: VocabularyFile
    hash: str
    files: Mapping[str, Path] = field(default_factory=dict)

    def __iter__(self) -> Iterator[PolicyFile]:
        return iter(self.policies.values())

    @cached_property
    def words(self) -> dict[str, set[str]]:
        """Every enumeration's words, plus the places by level."""
        words = {
            name: {w.value for w in items} for name, items in self.vocabulary.enumerations.items()
        }
        words["province"] = {p.value for p in self.vocabulary.places}
        words["city"] = {c.value for p in self.vocabulary.places for c in p.cities}
        words["district"] = {
            d.value for p in self.vocabulary.places for c in p.cities for d in c.districts
        }
        words["park"] = {
            k.value
            for p in self.vocabulary.places
            for c in p.cities
            for d in c.districts
            for k in d.parks
        }
        return words

    @cached_property
    def places(self) -> Places:
        """The place tree (province ⊃ city ⊃ district ⊃ park) for locations and scopes."""
        return Places(self.vocabulary.places)


#: libyaml's safe loader when PyYAML was built with it (the wheels are): it parses the
#: catalog about seven times faster than the pure-Python one, and every process that
#: serves or checks the catalog loads it. Both build plain data, never Python objects.
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(text: str) -> Any:
    """Plain data from YAML text (mappings, lists, strings, numbers, dates)."""
    return yaml.load(text, Loader=_SAFE_LOADER)


def _load_yaml(path: Path) -> Any:
    try:
        return read_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogError([f"{path}: not valid YAML: {exc}"]) from exc


def _validation_problems(path: Path, exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        fix = error["msg"]
        if error["type"] == "extra_forbidden":
            fix = "unknown key: remove it or correct its spelling (see policy_catalog/FORMAT.md)"
        elif error["type"] == "missing":
            fix = "required: add it"
        problems.append(f"{path}: {where}: {fix}")
    return problems


def _validate(model: type[BaseModel], path: Path, data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(_validation_problems(path, exc)) from exc


_FACT_KEYS = {"fact", "sum_years", "growth", "months_in_year", "years_since", "date_within"}
_YEAR_PART = re.compile(r"^(\{fy([+-]\d+)?\}|\d{4})$")


def _walk(node: Any, parent: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every (parent key, key, value) in a YAML tree."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield parent, key, value
            yield from _walk(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, parent)


def _fact_of(parent: str, key: str, value: Any) -> str | None:
    """The fact path a node reads, if it reads one."""
    if not isinstance(value, str):
        return None
    if key in ("sum_years", "growth") or (parent == "first_time_above" and key == "fact"):
        return f"years.*.{value}"
    if parent == "days_before_application" and key == "since":
        return value
    return value if key in _FACT_KEYS else None


def _fact_known(path: str, patterns: list[list[str]]) -> bool:
    parts = ["*" if _YEAR_PART.match(p) else p for p in path.split(".")]
    return any(
        len(pattern) == len(parts)
        and all(a == "*" or a == b for a, b in zip(pattern, parts, strict=True))
        for pattern in patterns
    )


def _check_version(
    path: Path,
    index: int,
    raw: Any,
    version: Version,
    catalog_words: dict[str, set[str]],
    patterns: list[list[str]],
) -> list[str]:
    problems = []
    where = f"{path}: versions.{index}"
    for parent, key, value in _walk(raw):
        if isinstance(value, str) and value.startswith("$") and value[1:] not in version.parameters:
            problems.append(
                f"{where}: {key}: parameter {value} is not defined: add it under `parameters`"
            )
        fact = _fact_of(parent, key, value)
        if fact and not _fact_known(fact, patterns):
            problems.append(
                f"{where}: {key}: fact `{value}` is not in facts.yaml: add it there or fix the path"
            )
        if key == "recognition" and isinstance(value, Mapping):
            kind = value.get("kind")
            if kind not in catalog_words.get("recognition_kind", set()):
                problems.append(
                    f"{where}: recognition.kind: `{kind}` is not a recognition_kind in facts.yaml"
                )
            for level in value.get("levels") or []:
                if level not in catalog_words.get("recognition_level", set()):
                    problems.append(
                        f"{where}: recognition.levels: `{level}` is not a recognition_level"
                    )
    return problems


def load_shared_rules(directory: Path) -> tuple[dict[str, SharedRule], list[str]]:
    """``rules/<name>.yaml``: rules several policies apply, by name."""
    rules: dict[str, SharedRule] = {}
    problems: list[str] = []
    for path in sorted((directory / "rules").glob("*.yaml")):
        try:
            rules[path.stem] = _validate(SharedRule, path, _load_yaml(path))
        except CatalogError as exc:
            problems.extend(exc.problems)
    return rules, problems


def _inline_shared(node: Any, shared: Mapping[str, SharedRule], used: set[str]) -> Any:
    """The YAML tree with each ``{use: name}`` replaced by the shared rule it names.

    Inlined before validation, so a stored policy version is whole on its own and an
    auditor replays it without the rules directory.
    """
    if isinstance(node, list):
        return [_inline_shared(item, shared, used) for item in node]
    if not isinstance(node, Mapping):
        return node
    if "use" in node and isinstance(node["use"], str) and node["use"] in shared:
        rule = shared[node["use"]]
        used.add(node["use"])
        inlined = rule.rule.model_dump(mode="json", by_alias=True, exclude_none=True)
        inlined["id"] = node.get("id", rule.id)
        inlined["text"] = node.get("text", rule.text.model_dump())
        return inlined
    return {key: _inline_shared(value, shared, used) for key, value in node.items()}


def _expand_version(
    path: Path, index: int, raw: Any, shared: Mapping[str, SharedRule]
) -> tuple[Any, list[str]]:
    """A version's YAML with shared rules inlined and their parameters joined to its own."""
    if not isinstance(raw, Mapping):
        return raw, []
    problems = [
        f"{path}: versions.{index}: use: `{value}` is not a file of the catalog's rules/ "
        "directory: add it there or fix the name"
        for _, key, value in _walk(raw)
        if key == "use" and not (isinstance(value, str) and value in shared)
    ]
    used: set[str] = set()
    expanded = dict(_inline_shared(raw, shared, used))
    params = dict(expanded.get("parameters") or {})
    for name in sorted(used):
        for pname, param in shared[name].parameters.items():
            if pname in params:
                problems.append(
                    f"{path}: versions.{index}: parameters.{pname}: also defined by the shared "
                    f"rule `{name}`: rename one of them"
                )
            params[pname] = param.model_dump(mode="json", exclude_none=True)
    if used:
        expanded["parameters"] = params
    return expanded, problems


def _gates_without_id(node: Any) -> Iterator[Any]:
    """Clauses marked ``gate`` that have no ``id``: the gap analysis finds gates by id."""
    if isinstance(node, Mapping):
        if "gate" in node and not node.get("id"):
            yield node["gate"]
        for value in node.values():
            yield from _gates_without_id(value)
    elif isinstance(node, list):
        for item in node:
            yield from _gates_without_id(item)


def _check_findings(path: Path, raw: Any, keys: set[str]) -> list[str]:
    return [
        f"{path}: {key}: `{value}` is not a finding of facts.yaml `findings`: add it there"
        for _, key, value in _walk(raw)
        if key == "finding" and value not in keys
    ]


def load_catalog(directory: Path) -> Catalog:
    """Read ``facts.yaml`` and ``policies/**/*.yaml``; raise ``CatalogError`` on any problem."""
    directory = Path(directory)
    facts_path = directory / "facts.yaml"
    if not facts_path.is_file():
        raise CatalogError([f"{facts_path}: missing: the catalog needs its fact vocabulary"])
    vocabulary: VocabularyFile = _validate(VocabularyFile, facts_path, _load_yaml(facts_path))
    patterns = [f.path.split(".") for f in vocabulary.facts]
    policies: dict[str, PolicyFile] = {}
    files: dict[str, Path] = {}
    # A slug alone names a place (an API key's jurisdiction, a budget's payer).
    problems: list[str] = [
        f"{facts_path}: places: `{slug}` names more than one place: give each its own slug"
        for slug in dict.fromkeys(Places(vocabulary.places).duplicates)
    ]
    provisional = Catalog({}, vocabulary, "")
    shared, shared_problems = load_shared_rules(directory)
    problems += shared_problems
    finding_keys = {f.key for f in vocabulary.findings}
    for path in sorted((directory / "policies").rglob("*.yaml")):
        raw = _load_yaml(path)
        if isinstance(raw, dict) and isinstance(raw.get("versions"), list):
            versions = []
            for i, version_raw in enumerate(raw["versions"]):
                expanded, found = _expand_version(path, i, version_raw, shared)
                versions.append(expanded)
                problems += found
            raw = {**raw, "versions": versions}
        problems += _check_findings(path, raw, finding_keys)
        problems += [
            f"{path}: gate: a clause marked `gate: {gate}` needs an `id`: add one"
            for gate in _gates_without_id(raw)
        ]
        try:
            policy: PolicyFile = _validate(PolicyFile, path, raw)
        except CatalogError as exc:
            problems.extend(exc.problems)
            continue
        if policy.id != path.stem:
            problems.append(
                f"{path}: id: `{policy.id}` differs from the file name: rename one of them"
            )
        if policy.id in policies:
            problems.append(f"{path}: id: `{policy.id}` is also defined in {files[policy.id]}")
        for i, version in enumerate(policy.versions):
            problems += _check_version(
                path, i, raw["versions"][i], version, provisional.words, patterns
            )
        policies[policy.id] = policy
        files[policy.id] = path
    if not policies and not problems:
        problems.append(f"{directory / 'policies'}: no policy files found")
    if problems:
        raise CatalogError(problems)
    digest = sha256(
        canonical_json(
            {
                "facts": vocabulary.model_dump(mode="json"),
                "policies": {
                    pid: p.model_dump(mode="json", by_alias=True)
                    for pid, p in sorted(policies.items())
                },
            }
        )
    )
    return Catalog(policies, vocabulary, digest, files)
