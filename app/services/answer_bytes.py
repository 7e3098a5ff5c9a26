"""The open calculator's answer as JSON bytes, assembled from fragments serialised once.

``check_eligibility`` (``app.services.matching``) shapes the answer as dicts, which
the route then serialised: about 480 reason objects and 33 policy objects made and
walked per request. The bytes here are the same (``tests/unit/test_answer_bytes.py``
holds them equal to ``dumps(check_eligibility(...))`` over many profiles and fiscal
years), built without the dicts:

- what an answer of a policy version says whatever the profile (its id, version,
  title, kind, payer) is serialised once, as the bytes before and after the fields
  that vary;
- each reason's JSON is serialised once and kept on its ``ClauseResult``: most of an
  answer's reasons are outcomes the compiled catalog keeps and hands out again (a
  leaf's answer to a word, a missing fact, a cap's clause), so most are reused bytes;
- the rest (status, amounts, missing facts) are a few small values per policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import orjson

from app.catalog.loader import Catalog
from app.catalog.schema import PolicyFile
from app.domain.engine import evaluate_catalog
from app.domain.results import ClauseResult, Evaluation, Tri
from app.services.findings import findings_json, known_findings
from app.services.matching import select_policies, totals

_dumps = orjson.dumps
_TRUE, _FALSE = Tri.TRUE, Tri.FALSE
_STATUS = {s: _dumps(s) for s in ("eligible", "ineligible", "undetermined")}
_BASIS = {b: _dumps(b) for b in ("computed", "set_by_reviewer", "estimate", "none")}


def _money(value: Decimal | None) -> bytes:
    # As ``app.api.fastjson`` writes a Decimal: a string with two places.
    return b"null" if value is None else b'"%s"' % f"{value:.2f}".encode()


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def reason_bytes(result: ClauseResult) -> bytes:
    """One reason's JSON (``matching.reason_json``), kept on the result: a result the
    compiled catalog hands out again is serialised once."""
    kept = result.__dict__
    json = kept.get("_bytes")
    if json is None:
        truth = result.truth
        json = kept["_bytes"] = _dumps(
            {
                "clause": result.clause,
                "met": True if truth is _TRUE else False if truth is _FALSE else None,
                "text": {"zh": result.text.zh, "en": result.text.en},
                "missing_facts": list(result.missing),
            }
        )
    return json


class _Frame:
    """The bytes of a policy version's answer around the fields that vary."""

    __slots__ = ("head", "policy", "tail")

    def __init__(self, policy: PolicyFile, version: str | None) -> None:
        self.policy = policy
        self.head = b'{"policy_id":%s,"policy_version":%s,"title":%s,"kind":%s,"status":' % (
            _dumps(policy.id),
            _dumps(version),
            _dumps({"zh": policy.title.zh, "en": policy.title.en}),
            _dumps(policy.kind),
        )
        payer = None
        if policy.payer is not None:
            payer = {"level": policy.payer.level, "jurisdiction": policy.payer.jurisdiction}
        self.tail = b',"payer":%s}' % _dumps(payer)


#: Frames by ``(id(policy), version)``, each holding its policy (an ``id`` is reused
#: once its object is gone).
_FRAMES: dict[tuple[int, str | None], _Frame] = {}


def _frame(policy: PolicyFile, version: str | None) -> _Frame:
    frame = _FRAMES.get((id(policy), version))
    if frame is None or frame.policy is not policy:
        if len(_FRAMES) > 4096:  # tests load many catalogs
            _FRAMES.clear()
        frame = _FRAMES[(id(policy), version)] = _Frame(policy, version)
    return frame


def _answer(
    policy: PolicyFile, ev: Evaluation, catalog: Catalog, known: Mapping[str, Any]
) -> bytes:
    """``matching.answer_json`` of one policy, serialised."""
    frame = _frame(policy, ev.policy_version)
    reasons = b",".join([reason_bytes(r) for r in ev.reasons])
    required = (
        _dumps(findings_json(catalog, ev.findings_required, known))
        if ev.findings_required
        else b"[]"
    )
    used = (
        _dumps([{"key": k, **v} for k, v in ev.findings_used.items()], default=_default)
        if ev.findings_used
        else b"[]"
    )
    return b"".join(
        (
            frame.head,
            _STATUS[ev.status],
            b',"amount":',
            _money(ev.amount),
            b',"amount_basis":',
            _BASIS[ev.amount_basis],
            b',"uncapped_amount":',
            _money(ev.uncapped_amount),
            b',"reasons":[',
            reasons,
            b'],"missing_facts":',
            _dumps(ev.missing_facts) if ev.missing_facts else b"[]",
            b',"findings_required":',
            required,
            b',"findings_used":',
            used,
            frame.tail,
        )
    )


def eligibility_bytes(
    catalog: Catalog,
    facts: Mapping[str, Any],
    fiscal_year: int,
    policy_ids: Iterable[str] | None = None,
) -> bytes:
    """The open calculator's answer (no history, no findings) as JSON: the bytes of
    ``dumps(check_eligibility(catalog, facts, fiscal_year, policy_ids))``."""
    policies = select_policies(catalog, policy_ids)
    evaluations = evaluate_catalog(policies, facts, fiscal_year)
    return answer_bytes(catalog, fiscal_year, policies, evaluations)


def answer_bytes(
    catalog: Catalog,
    fiscal_year: int,
    policies: Sequence[PolicyFile],
    evaluations: Sequence[Evaluation],
) -> bytes:
    known = known_findings(catalog)
    results = b",".join(
        [_answer(p, e, catalog, known) for p, e in zip(policies, evaluations, strict=True)]
    )
    return b'{"fiscal_year":%d,"catalog_hash":%s,"totals":%s,"results":[%s]}' % (
        fiscal_year,
        _dumps(catalog.hash),
        _dumps(totals(evaluations), default=_default),
        results,
    )
