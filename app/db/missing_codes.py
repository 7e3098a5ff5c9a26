"""What an undetermined matching result waits for, stored as a number.

A run stores each undetermined answer's missing facts and required findings as the
batch engine's bitmask over the policy's paths (``PathIndex.paths``; a finding is the
path ``finding:<key>``), and the paths once per run and policy
(``matching_run_paths``). Reading a result turns its code back into the names the
engine gave, sorted as it sorts them; an answer whose names no code reproduces
exactly is stored with its names instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.domain.batch.leaves import FINDING

#: Codes are bitmasks of up to 64 paths, kept in a signed 64-bit column.
_WORD = 1 << 64


def missing_json(facts: Sequence[str], findings: Sequence[str]) -> dict[str, list[str]] | None:
    """What the results pages and exports read: ``{"paths": [...], "findings": [...]}``
    (``findings`` only when there are some); ``None`` when nothing is named."""
    if not (facts or findings):
        return None
    found: dict[str, list[str]] = {"paths": list(facts)}
    if findings:
        found["findings"] = list(findings)
    return found


def names_of(code: int, paths: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The missing facts and the required findings a code stands for, as the engine
    lists them (each sorted)."""
    mask = code % _WORD
    named = sorted(path for bit, path in enumerate(paths) if mask >> bit & 1)
    facts = tuple(p for p in named if not p.startswith(FINDING))
    findings = tuple(p[len(FINDING) :] for p in named if p.startswith(FINDING))
    return facts, findings


def code_of(paths: Sequence[str], facts: Sequence[str], findings: Sequence[str]) -> int | None:
    """The signed code of these names over ``paths``; ``None`` if a name is not among
    them or the code would read back otherwise (names in another order)."""
    bit_of = {path: bit for bit, path in enumerate(paths)}
    mask = 0
    for name in (*facts, *(FINDING + key for key in findings)):
        bit = bit_of.get(name)
        if bit is None:
            return None
        mask |= 1 << bit
    if names_of(mask, paths) != (tuple(facts), tuple(findings)):
        return None
    return signed(mask)


def signed(mask: int) -> int:
    """A 64-bit mask as the signed integer the database column holds."""
    return mask - _WORD if mask >= _WORD // 2 else mask


def resolved(code: int | None, names: Any, paths: Sequence[str] | None) -> Any:
    """A stored result's missing facts as the pages read them: from its code and the
    run's paths for its policy, or its names when it has no code."""
    if code is None or paths is None:
        return names
    return missing_json(*names_of(code, paths))
