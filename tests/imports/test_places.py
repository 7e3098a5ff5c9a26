"""Bulk import keeps to the same places as the API: a row's location is one place of
the catalog's tree, and a portal imports only into its own area."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from app.db import repositories as repo
from tests.imports.support import csv_bytes, good_row, table


def _import(api: TestClient, rows: list[dict[str, str]], token: str | None = None) -> dict:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = api.post(
        "/v1/imports",
        files={"file": ("places.csv", csv_bytes(table(rows)), "text/csv")},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _stored(api: TestClient, uscc: str) -> bool:
    with api.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        return repo.get_enterprise_by_uscc(session, uscc) is not None


def test_a_row_whose_levels_disagree_is_rejected_at_the_column_that_disagrees(
    api: TestClient, token_for: Callable[..., str]
) -> None:
    good = good_row()
    misfiled = good_row(province="hubei", city="nanjing", district="hongshan", park="")
    reverse = good_row(province="", city="wuhan", district="jiangning", park="")
    park_elsewhere = good_row(park="east-lake-high-tech-zone")
    rows = [good, misfiled, reverse, park_elsewhere]
    for token in (None, token_for("portal", jurisdiction="hongshan")):
        report = _import(api, [dict(r) for r in rows], token)
        errors = {(e["row"], e["field"]): e["reason"] for e in report["errors"]}
        assert "wuhan" in errors[(3, "district")] and "give a district" in errors[(3, "district")]
        assert "nanjing" in errors[(4, "district")]
        assert "hongshan" in errors[(5, "park")]
        assert report["rejected"] == (3 if token is None else 4)  # Hongshan: not `good` either
    for row in rows[1:]:
        assert not _stored(api, row["uscc"])


def test_a_portal_cannot_update_another_areas_enterprise_nor_learn_about_it(
    api: TestClient, token_for: Callable[..., str]
) -> None:
    theirs = good_row()  # Jiangning, Nanjing
    assert _import(api, [theirs])["created"] == 1
    hongshan = token_for("portal", jurisdiction="hongshan")
    moved = dict(theirs, province="hubei", city="wuhan", district="hongshan", park="")
    report = _import(api, [moved], hongshan)
    assert (report["created"], report["updated"], report["rejected"]) == (0, 0, 1)
    [error] = report["errors"]
    assert "already registered" in error["reason"]
    with api.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        stored = repo.get_enterprise_by_uscc(session, theirs["uscc"])
        assert stored is not None and stored.district == "jiangning"
        # Nothing of the other tenant's enterprise is in the answer: no id, no place.
        for secret in (stored.id, "jiangning", "nanjing"):
            assert secret not in str(report["errors"])
