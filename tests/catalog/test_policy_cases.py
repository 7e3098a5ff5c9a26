"""Every policy file's own cases, run through the engine (openfisca-style tests as data).

Each case is also checked as a client would send it: the profile must be valid for
the API and use only words of the vocabulary, so a case cannot test a fact that no
client could ever send.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.api.schemas.profile import EnterpriseProfile
from app.catalog.loader import Catalog, read_yaml
from app.domain.engine import evaluate
from app.services.vocabulary import check_words
from tests.catalog.cases import case_findings, case_history
from tests.catalog.conftest import CATALOG_DIR


def _cases() -> list[tuple[str, int, str]]:
    """(policy id, case index, case name) read straight from the files, for test ids."""
    found = []
    for path in sorted((CATALOG_DIR / "policies").rglob("*.yaml")):
        data = read_yaml(path.read_text(encoding="utf-8")) or {}
        for i, case in enumerate(data.get("cases") or []):
            found.append((str(data.get("id", path.stem)), i, str(case.get("name", i))))
    return found


CASES = _cases()


@pytest.mark.parametrize(
    ("policy_id", "index", "name"), CASES, ids=[f"{p}:{n}" for p, _, n in CASES]
)
def test_policy_case(catalog: Catalog, policy_id: str, index: int, name: str) -> None:
    policy = catalog.policies[policy_id]
    case = policy.cases[index]
    result = evaluate(
        policy,
        case.profile,
        case.fiscal_year,
        case_history(policy, case),
        findings=case_findings(case),
    )
    expect = case.expect
    reasons = "\n".join(f"{r.met}: {r.text.en}" for r in result.reasons)
    assert result.status == expect.status, f"{policy_id} / {name}: got {result.status}\n{reasons}"
    if expect.amount is not None:
        assert result.amount == expect.amount, f"{policy_id} / {name}: amount {result.amount}"
    if expect.amount_at_most is not None:
        assert result.amount is not None and result.amount <= expect.amount_at_most
    if expect.missing_facts is not None:
        assert sorted(result.missing_facts) == sorted(expect.missing_facts)
    if expect.findings_required is not None:
        assert list(result.findings_required) == sorted(expect.findings_required)
    for key in case.findings:
        if result.status != "ineligible":
            assert key in result.findings_used, f"the case's finding {key} was not read"
    if expect.reason_contains is not None:
        texts = [r.text.en for r in result.reasons] + [r.text.zh for r in result.reasons]
        assert any(expect.reason_contains in t for t in texts), (
            f"no reason says {expect.reason_contains!r}"
        )
    if result.amount is not None:
        assert result.amount == result.amount.quantize(Decimal("0.01"))


@pytest.mark.parametrize(
    ("policy_id", "index", "name"), CASES, ids=[f"{p}:{n}" for p, _, n in CASES]
)
def test_case_profile_is_one_a_client_could_send(
    catalog: Catalog, policy_id: str, index: int, name: str
) -> None:
    case = catalog.policies[policy_id].cases[index]
    profile = EnterpriseProfile.model_validate({"name": "case", **case.profile})
    check_words(profile, catalog)


def test_every_policy_has_eligible_and_ineligible_cases(catalog: Catalog) -> None:
    for policy in catalog:
        statuses = {c.expect.status for c in policy.cases}
        assert {"eligible", "ineligible"} <= statuses, (
            f"{policy.id} lacks an eligible or ineligible case"
        )


def _model_paths(model: type, prefix: str = "") -> set[str]:
    """Dotted fact paths the API's profile model accepts (``*`` for keys of a mapping)."""
    from typing import get_args

    from pydantic import BaseModel

    paths: set[str] = set()
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        path = prefix + name
        members = [a for a in (get_args(field.annotation) or (field.annotation,))]
        nested = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        mappings = [m for m in members if getattr(m, "__origin__", None) is dict]
        lists = [m for m in members if getattr(m, "__origin__", None) is list]
        if nested:
            paths |= _model_paths(nested[0], path + ".")
        elif mappings:
            value = get_args(mappings[0])[1]
            if isinstance(value, type) and issubclass(value, BaseModel):
                paths |= _model_paths(value, path + ".*.")
            else:
                paths.add(path + ".*")
        elif lists:
            item = get_args(lists[0])[0]
            paths.add(path)
            if isinstance(item, type) and issubclass(item, BaseModel):
                paths |= _model_paths(item, path + ".*.")
        else:
            paths.add(path)
    return paths


def test_vocabulary_and_api_profile_name_the_same_facts(catalog: Catalog) -> None:
    """facts.yaml documents exactly the facts a client can send."""
    documented = {f.path for f in catalog.vocabulary.facts}
    accepted = _model_paths(EnterpriseProfile) - {"name", "uscc"}
    assert documented - accepted == set(), "in facts.yaml but refused by the API"
    assert accepted - documented == set(), "accepted by the API but not in facts.yaml"
