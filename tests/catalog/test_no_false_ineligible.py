"""A wrong "no" is the worst answer a portal can give: the enterprise stops there.

For every policy, every worked case that is not already ineligible is evaluated again
with each fact it gives left out, one at a time, and with each recorded finding left
unrecorded: the answer may become undetermined, never ineligible. A route the catalog
cannot settle (an award the profile does not mention, a finding not yet made) therefore
never turns into a refusal.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from copy import deepcopy
from typing import Any

import pytest

from app.catalog.loader import Catalog, read_yaml
from app.domain.engine import evaluate
from tests.catalog.cases import case_findings, case_history
from tests.catalog.conftest import CATALOG_DIR

#: Picks which version of the measures applies rather than stating a fact of the
#: enterprise: without it the version of the year of application answers, which may
#: rightly refuse what an earlier version allowed.
VERSION_SELECTORS = {"application_date"}


def _leaf_paths(node: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(node, Mapping) and node:
        for key, value in node.items():
            yield from _leaf_paths(value, (*prefix, str(key)))
    elif prefix:
        yield prefix


def _without(profile: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    copy = deepcopy(dict(profile))
    node = copy
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return copy


def _policy_ids() -> list[str]:

    return sorted(
        str((read_yaml(p.read_text(encoding="utf-8")) or {}).get("id", p.stem))
        for p in (CATALOG_DIR / "policies").rglob("*.yaml")
    )


@pytest.mark.parametrize("policy_id", _policy_ids())
def test_an_unknown_fact_or_finding_never_makes_a_policy_ineligible(
    catalog: Catalog, policy_id: str
) -> None:
    policy = catalog.policies[policy_id]
    checked = 0
    for case in policy.cases:
        findings = case_findings(case)
        history = case_history(policy, case)
        if evaluate(policy, case.profile, case.fiscal_year, history, findings=findings).status == (
            "ineligible"
        ):
            continue
        for path in _leaf_paths(case.profile):
            if ".".join(path) in VERSION_SELECTORS:
                continue
            answer = evaluate(
                policy, _without(case.profile, path), case.fiscal_year, history, findings=findings
            )
            assert answer.status != "ineligible", (
                f"{policy_id} / {case.name}: leaving out {'.'.join(path)} gives a refusal:\n"
                + "\n".join(f"{r.met}: {r.text.en}" for r in answer.reasons if r.met is False)
            )
            checked += 1
        for key in findings:
            fewer = {k: f for k, f in findings.items() if k != key}
            answer = evaluate(policy, case.profile, case.fiscal_year, history, findings=fewer)
            assert answer.status != "ineligible", f"{policy_id} / {case.name}: without {key}"
            checked += 1
    assert checked, f"{policy_id} has no case that is not ineligible to check"
