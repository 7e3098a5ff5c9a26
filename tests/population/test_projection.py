"""The fact projection says what the profile documents say (both databases).

Columns read from the projection equal the columns the batch builder reads from the
documents; profiles rebuilt from it get the per-profile engine's same answers; values
it cannot hold exactly send the enterprise to its document.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from sqlalchemy.orm import Session

from app.db.fact_columns import FACTS
from app.db.repositories import enterprises as repo
from app.db.repositories.projected import Chunk, iterate_projection
from app.domain.batch import required_columns, table_from_profiles
from app.domain.batch.columns import ProfileTable
from app.domain.engine import evaluate_catalog
from app.services.projected_table import table_from_chunk
from tests.population.conftest import CATALOG, random_profile

ODD: list[dict[str, Any]] = [
    {"name": "a", "employees": "many"},  # a word where a number belongs
    {"name": "b", "registered_on": "20240301"},  # a date not in ISO form
    {"name": "c", "years": {"02024": {"revenue": "1"}}},  # a year key a path never reads
    {"name": "d", "lease": {"area_m2": "1.0000001"}},  # more decimals than kept
    {"name": "e", "recognitions": [{"kind": 3}]},
    {"name": "f", "own_brand": "yes"},
    {"name": "g", "years": {"2024": "n/a"}},
]
EXACT: list[dict[str, Any]] = [
    {"name": "h", "employees": 12, "years": {"2024": {"revenue": 100, "ic_rd_list": True}}},
    {"name": "i", "recognitions": [], "years": {"2023": {}}},
    {"name": "j", "lease": {"area_m2": "120.5"}, "tax": {"book_based": False}},
    {"name": "l", "recognitions": [{"kind": "a\tb\\c\nd", "level": "城市"}]},
]


def _store(session: Session, profiles: list[dict[str, Any]]) -> list[str]:
    now = datetime.now(UTC)
    ids = sorted(str(uuid.uuid4()) for _ in profiles)
    common = {"created_at": now}
    repo.insert_enterprises(
        session,
        [
            {"id": i, "uscc": None, "name": p["name"], "kind": None, "province": None,
             "city": None, "district": None, "park": None, "current_version": 1,
             "updated_at": now, **common}
            for i, p in zip(ids, profiles, strict=True)
        ],
    )  # fmt: skip
    repo.insert_profile_versions(
        session,
        [
            {"id": str(uuid.uuid4()), "enterprise_id": i, "version": 1, "profile": p,
             "profile_hash": "x" * 64, "created_by": "test", **common}
            for i, p in zip(ids, profiles, strict=True)
        ],
    )  # fmt: skip
    return ids


def test_fact_columns_are_the_vocabulary() -> None:
    import yaml

    facts = yaml.safe_load((CATALOG / "facts.yaml").read_text(encoding="utf-8"))["facts"]
    assert tuple((f["path"], f["type"]) for f in facts) == FACTS, (
        "app/db/fact_columns.py FACTS must list facts.yaml's facts (and a migration add the column)"
    )


@pytest.mark.parametrize("fiscal_year", [2022, 2024])
def test_projection_reads_as_the_documents(db_session: Session, fiscal_year: int) -> None:
    from app.catalog.loader import load_catalog

    catalog = load_catalog(CATALOG)
    rng = random.Random(fiscal_year)
    profiles = [random_profile(rng) for _ in range(150)] + EXACT + ODD
    ids = _store(db_session, profiles)
    by_id = dict(zip(ids, profiles, strict=True))
    specs = required_columns(list(catalog), fiscal_year)
    chunk = _only(db_session, ids)
    assert sorted(chunk.ids + chunk.documents) == ids
    assert {by_id[i]["name"] for i in chunk.documents} == {p["name"] for p in ODD}
    table = table_from_chunk(chunk, specs)
    expected = table_from_profiles([by_id[i] for i in chunk.ids], specs)
    _same_columns(table, expected)
    sample = range(0, chunk.n, 7)
    for row in sample:
        rebuilt = evaluate_catalog(list(catalog), table.profile(row), fiscal_year)
        original = evaluate_catalog(list(catalog), by_id[chunk.ids[row]], fiscal_year)
        assert [(e.policy_id, e.status, e.amount, e.missing_facts) for e in rebuilt] == [
            (e.policy_id, e.status, e.amount, e.missing_facts) for e in original
        ]


def test_a_new_profile_version_replaces_the_projection(db_session: Session) -> None:
    (eid,) = _store(db_session, [{"name": "k", "employees": 5}])
    repo.insert_profile_versions(
        db_session,
        [{"id": str(uuid.uuid4()), "enterprise_id": eid, "version": 2,
          "profile": {"name": "k", "employees": "five"}, "profile_hash": "y" * 64,
          "created_by": "test", "created_at": datetime.now(UTC)}],
    )  # fmt: skip
    chunk = _only(db_session, [eid])
    assert chunk.ids == [] and chunk.documents == [eid]


def _only(session: Session, ids: list[str]) -> Chunk:
    """The chunk of these enterprises (the database may hold others' too)."""
    (chunk,) = list(iterate_projection(session, batch=1_000_000))
    mine = set(ids)
    keep = [i for i, eid in enumerate(chunk.ids) if eid in mine]
    rows = {old: new for new, old in enumerate(keep)}

    def owned(part: dict[str, list[Any]]) -> dict[str, list[Any]]:
        picked = [i for i, r in enumerate(part["row"]) if r in rows]
        out = {name: [values[i] for i in picked] for name, values in part.items()}
        out["row"] = [rows[r] for r in out["row"]]
        return out

    return Chunk(
        [chunk.ids[i] for i in keep],
        {k: [v[i] for i in keep] for k, v in chunk.places.items()},
        {k: [v[i] for i in keep] for k, v in chunk.facts.items()},
        owned(chunk.years),
        owned(chunk.scores),
        owned(chunk.recognitions),
        [d for d in chunk.documents if d in mine],
    )


def _same_columns(got: ProfileTable, want: ProfileTable) -> None:
    assert got.year_keys == want.year_keys
    assert set(got.num) == set(want.num) and set(got.cat) == set(want.cat)
    assert set(got.date) == set(want.date)
    for path, col in want.num.items():
        mine = got.num[path]
        assert np.array_equal(mine.known, col.known), path
        left = [int(v) * 10**col.scale for v in mine.value[mine.known]]
        right = [int(v) * 10**mine.scale for v in col.value[col.known]]
        assert left == right, path
    for path, cat in want.cat.items():
        assert _words(got.cat[path]) == _words(cat), path
    for path, dates in want.date.items():
        assert np.array_equal(got.date[path].known, dates.known), path
        assert np.array_equal(got.date[path].days[dates.known], dates.days[dates.known]), path
    if want.recognitions is not None:
        assert got.recognitions is not None
        assert np.array_equal(got.recognitions.known, want.recognitions.known)
        assert _items(got) == _items(want)


def _words(cat: Any) -> list[Any]:
    return [cat.vocab[c] if c >= 0 else int(c) for c in cat.codes]


def _items(table: ProfileTable) -> list[tuple[Any, ...]]:
    rec = table.recognitions
    assert rec is not None
    return [
        (int(r), rec.kinds[k], rec.levels[lv] if lv >= 0 else None, int(g), int(e))
        for r, k, lv, g, e in zip(
            rec.row, rec.kind, rec.level, rec.granted, rec.expires, strict=True
        )
    ]


def test_a_run_reads_every_enterprise_once_with_the_same_answers(db_session: Session) -> None:
    from app.catalog.loader import load_catalog
    from app.services.population import Row, evaluate_rows_one_by_one
    from app.services.population_chunks import evaluate_part, iterate_parts

    catalog = load_catalog(CATALOG)
    rng = random.Random(7)
    profiles = [random_profile(rng) for _ in range(60)] + EXACT + ODD
    ids = _store(db_session, profiles)
    db_session.commit()
    by_id = dict(zip(ids, profiles, strict=True))
    seen: list[str] = []
    for parts in iterate_parts(db_session, 2024, None, batch=25):
        for part in parts:
            mine = [i for i, r in enumerate(part.rows) if r.enterprise_id in by_id]
            answers = evaluate_part(list(catalog), part, 2024)
            want = evaluate_rows_one_by_one(
                list(catalog),
                [Row(part.rows[i].enterprise_id, by_id[part.rows[i].enterprise_id]) for i in mine],
                2024,
            )
            assert [answers[i] for i in mine] == want
            seen += [part.rows[i].enterprise_id for i in mine]
    assert sorted(seen) == ids


def test_copy_reads_what_the_selects_read(db_session: Session, db_backend: str) -> None:
    """PostgreSQL's COPY path gives the chunk the ordinary SELECTs give."""
    from app.db.repositories.projected import _copied, _selected

    rng = random.Random(3)
    ids = _store(db_session, [random_profile(rng) for _ in range(80)] + EXACT)
    first, last = "", ids[-1]
    selected = _selected(db_session, None, first, last)
    if db_backend != "postgres":
        return
    copied = _copied(db_session, None, first, last)
    assert copied is not None, "the COPY path should read this chunk"
    assert copied.ids == selected.ids
    assert copied.places == selected.places
    assert copied.facts == selected.facts
    for mine, theirs in (
        (copied.years, selected.years),
        (copied.scores, selected.scores),
        (copied.recognitions, selected.recognitions),
    ):
        order = sorted(
            range(len(theirs["row"])), key=lambda i: repr([theirs[k][i] for k in sorted(theirs)])
        )
        want = {k: [v[i] for i in order] for k, v in theirs.items()}
        order = sorted(
            range(len(mine["row"])), key=lambda i: repr([mine[k][i] for k in sorted(mine)])
        )
        assert {k: [v[i] for i in order] for k, v in mine.items()} == want
    # Within an area (a portal's run): the same enterprises, places and facts.
    from pathlib import Path

    from sqlalchemy import update

    from app.catalog.loader import load_catalog
    from app.db.models import Enterprise

    db_session.execute(
        update(Enterprise)
        .where(Enterprise.id.in_(ids[::3]))
        .values(province="jiangsu", city="nanjing", district="jiangning")
    )

    catalog = load_catalog(Path(__file__).resolve().parents[2] / "policy_catalog")
    nanjing = catalog.places.area("nanjing")
    assert nanjing is not None
    within = _selected(db_session, nanjing, first, last)
    copied_within = _copied(db_session, nanjing, first, last)
    assert copied_within is not None
    assert 0 < len(within.ids) < len(selected.ids)
    assert copied_within.ids == within.ids
    assert copied_within.places == within.places
    assert copied_within.facts == within.facts


def test_findings_reach_the_projected_rows(db_session: Session) -> None:
    """An enterprise with reviewers' findings is settled with them from the projection."""
    from app.catalog.loader import load_catalog
    from app.db.models import EnterpriseFinding
    from app.services.findings import findings_of
    from app.services.population import Row, evaluate_rows_one_by_one
    from app.services.population_chunks import evaluate_part, iterate_parts

    catalog = load_catalog(CATALOG)
    rng = random.Random(11)
    profiles = [random_profile(rng) for _ in range(12)]
    ids = _store(db_session, profiles)
    for key in ("hte_core_ip_support", "hte_green_channel_pilot", "hte_incident_before_window"):
        db_session.add(
            EnterpriseFinding(
                enterprise_id=ids[3], fiscal_year=2024, key=key, met=True, reviewer="test"
            )
        )
    db_session.commit()
    found = findings_of(db_session, [ids[3]], 2024)[ids[3]]
    by_id = dict(zip(ids, profiles, strict=True))
    checked = 0
    for parts in iterate_parts(db_session, 2024, None, batch=5):  # the 4th in chunk 1
        for part in parts:
            for i, row in enumerate(part.rows):
                if row.enterprise_id != ids[3]:
                    continue
                assert part.chunk is not None and part.findings.get(i) == found
                want = evaluate_rows_one_by_one(
                    list(catalog), [Row(ids[3], by_id[ids[3]], findings=found)], 2024
                )[0]
                assert evaluate_part(list(catalog), part, 2024)[i] == want
                checked += 1
    assert checked == 1


def test_the_migration_projects_the_stored_profiles(fresh_db_url: Any) -> None:
    """Enterprises stored before the projection existed get theirs from 0005."""
    import json

    from sqlalchemy import text

    from app.db.session import make_engine, migrate

    migrate(fresh_db_url, "0004_enterprise_findings")
    engine = make_engine(fresh_db_url)
    now = datetime.now(UTC).isoformat()
    profiles = {
        "e1": {"name": "a", "employees": 7, "years": {"2024": {"revenue": "1.50"}}},
        "e2": {"name": "b", "employees": "many"},
    }
    try:
        with engine.begin() as connection:
            for eid, profile in profiles.items():
                connection.execute(
                    text(
                        "INSERT INTO enterprises (id, name, current_version, created_at,"
                        " updated_at) VALUES (:id, 'x', 1, :now, :now)"
                    ),
                    {"id": eid, "now": now},
                )
                connection.execute(
                    text(
                        "INSERT INTO profile_versions (id, enterprise_id, version, profile,"
                        " profile_hash, created_at, created_by) VALUES (:pid, :id, 1,"
                        " :profile, 'h', :now, 't')"
                    ),
                    {"pid": "p" + eid, "id": eid, "profile": json.dumps(profile), "now": now},
                )
        migrate(fresh_db_url)
        with engine.connect() as connection:
            facts = dict(
                connection.execute(
                    text("SELECT enterprise_id, exact FROM enterprise_facts ORDER BY 1")
                ).all()
            )
            years = connection.execute(
                text("SELECT enterprise_id, year, revenue FROM enterprise_fact_years")
            ).all()
        assert facts == {"e1": True, "e2": False}
        assert [tuple(r) for r in years] == [("e1", 2024, 150)]
    finally:
        engine.dispose()
