"""An award replays from the database alone, so a later catalog change cannot move it.

Awards of three kinds (a fixed sum under a cap, a reviewer-set amount, an amount
computed from the profile's lease) replay to a match. Then the catalog is copied,
two figures are changed (nj-green-manufacturing pays 300,000 instead of 500,000; the
rent subsidy counts at most 60 yuan/m2/month instead of 80), and the server restarts
on the copy: a new award gets the new figure, while the stored awards still replay to
a match with their old amounts, and their rows are untouched.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from app.catalog.loader import load_catalog
from app.db.models import Award
from tests.ledger.server import CATALOG_DIR, LedgerServer
from tests.ledger.support import (
    GREEN,
    NOTICE,
    PLATFORM,
    RENT,
    act,
    compute,
    green_profile,
    ok,
    platform_profile,
    register,
    rent_profile,
)


def _award_rows(server: LedgerServer, ids: list[str]) -> dict[str, dict[str, Any]]:
    with server.session() as session:
        rows = session.scalars(select(Award).where(Award.id.in_(ids))).all()
        return {
            r.id: {c.key: getattr(r, c.key) for c in Award.__mapper__.column_attrs} for r in rows
        }


def _change(path: Path, pattern: str, replacement: str) -> None:
    text = path.read_text(encoding="utf-8")
    changed, count = re.subn(pattern, replacement, text)
    assert count >= 1, f"{pattern!r} not found in {path}"
    path.write_text(changed, encoding="utf-8")


def _changed_catalog(directory: Path) -> Path:
    copy = directory / "policy_catalog"
    shutil.copytree(CATALOG_DIR, copy)
    policies = copy / "policies" / "nanjing"
    # Both the ceiling and the fixed award of nj-green-manufacturing: 500000 -> 300000.
    _change(policies / f"{GREEN}.yaml", r"(?m)^(\s+value:) 500000$", r"\1 300000")
    _change(policies / f"{RENT}.yaml", r"(?m)^(\s+max_unit_price:\n\s+value:) 80$", r"\1 60")
    return copy


def _replay(client: httpx.Client, award_id: str) -> dict[str, Any]:
    result = ok(client.get(f"/v1/awards/{award_id}/replay"))
    assert result["match"] is True, result["differences"]
    assert result["differences"] == []
    return result


def test_stored_awards_replay_unchanged_after_the_catalog_changes(
    own_server: LedgerServer, tmp_path: Path
) -> None:
    """On a server of this module's own: it is restarted on a changed catalog."""
    server = own_server
    with server.client(server.admin_token) as admin:
        _before_and_after(server, admin, tmp_path)


def _before_and_after(server: LedgerServer, admin: httpx.Client, tmp_path: Path) -> None:
    green = ok(compute(admin, register(admin, green_profile())["id"], GREEN), 201)
    platform = ok(
        compute(admin, register(admin, platform_profile())["id"], PLATFORM, amount="20000.00"), 201
    )
    rent = ok(compute(admin, register(admin, rent_profile())["id"], RENT), 201)
    expected = {green["id"]: "500000.00", platform["id"]: "20000.00", rent["id"]: "480000.00"}
    assert {a["id"]: a["amount"] for a in (green, platform, rent)} == expected
    # One of them moves on through its lifecycle; that changes nothing in its replay.
    ok(act(admin, green["id"], "notice", **NOTICE))
    ok(act(admin, green["id"], "approve", reason="listed nationally"))

    ids = list(expected)
    for award_id in ids:
        assert _replay(admin, award_id)["recomputed"]["amount"] == expected[award_id]
    before_json = {i: ok(admin.get(f"/v1/awards/{i}")) for i in ids}
    before_rows = _award_rows(server, ids)
    old_hash = ok(admin.get("/health"))["catalog_hash"]

    changed = _changed_catalog(tmp_path)
    new_hash = load_catalog(changed).hash
    assert new_hash != old_hash
    server.restart(catalog_dir=changed)

    with server.client(server.admin_token) as client:
        assert ok(client.get("/health"))["catalog_hash"] == new_hash
        # The change is in force: a new award is computed with the new figures ...
        new_green = ok(compute(client, register(client, green_profile())["id"], GREEN), 201)
        assert new_green["amount"] == "300000.00"
        assert new_green["catalog_hash"] == new_hash
        new_rent = ok(compute(client, register(client, rent_profile())["id"], RENT), 201)
        assert new_rent["amount"] == "360000.00"  # 500 m2 x 12 months x 60
        _replay(client, new_green["id"])
        _replay(client, new_rent["id"])

        # ... and the stored awards are what they were, and replay to what they were.
        for award_id in ids:
            result = _replay(client, award_id)
            assert (
                result["stored"]["amount"] == result["recomputed"]["amount"] == expected[award_id]
            )
            assert ok(client.get(f"/v1/awards/{award_id}")) == before_json[award_id]
        assert _award_rows(server, ids) == before_rows

    rows = _award_rows(server, [green["id"], new_green["id"]])
    assert rows[green["id"]]["policy_version_id"] != rows[new_green["id"]]["policy_version_id"]
    assert (
        rows[green["id"]]["policy_version"] == rows[new_green["id"]]["policy_version"] == "2022.1"
    )
