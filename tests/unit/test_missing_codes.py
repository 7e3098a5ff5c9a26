"""Missing facts as the batch engine's codes, and back to the names the engine gave."""

from __future__ import annotations

from app.db.missing_codes import code_of, missing_json, names_of, resolved, signed

PATHS = [f"years.2024.fact_{i:02d}" for i in range(62)] + ["finding:novel", "employees"]


def test_a_code_reads_back_as_the_sorted_names_and_findings() -> None:
    facts = ("employees", "years.2024.fact_03")
    code = code_of(PATHS, facts, ("novel",))
    assert code is not None and code < 0  # bit 63 (employees) is the sign of the column
    assert names_of(code, PATHS) == (facts, ("novel",))
    assert resolved(code, None, PATHS) == {"paths": list(facts), "findings": ["novel"]}


def test_names_no_code_reproduces_have_none() -> None:
    assert code_of(PATHS, ("revenue",), ()) is None  # not among the policy's paths
    assert code_of(PATHS, ("years.2024.fact_05", "years.2024.fact_01"), ()) is None  # order
    assert code_of(PATHS, (), ("unknown",)) is None


def test_nothing_missing_is_no_names() -> None:
    assert code_of(PATHS, (), ()) == 0
    assert missing_json(*names_of(0, PATHS)) is None
    assert resolved(0, None, PATHS) is None


def test_a_result_without_a_code_keeps_its_names() -> None:
    names = {"paths": ["revenue"]}
    assert resolved(None, names, PATHS) is names
    assert resolved(5, names, None) is names


def test_signed_keeps_64_bits() -> None:
    assert signed(2**63) == -(2**63)
    assert signed(2**63 - 1) == 2**63 - 1
    assert names_of(signed(2**63 | 1), PATHS) == (("employees", "years.2024.fact_00"), ())
