"""Names in an import file pass the same text check as the API's (``HumanText``)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.db import repositories as repo
from tests.imports.support import csv_bytes, good_row, table


def test_names_with_invisible_characters_are_rejected_rows(api: TestClient) -> None:
    rows = [
        good_row(name="南京示例\u202etxt.exe"),
        good_row(name="\x1b]0;owned\x07南京示例"),
        good_row(name="南京示例\x85公司"),
        good_row(name="\u3000 \u3000"),  # blank: as if the cell were empty
        good_row(name="南京示例 科技有限公司"),
    ]
    answer = api.post(
        "/v1/imports", files={"file": ("names.csv", csv_bytes(table(rows)), "text/csv")}
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    errors = {e["row"]: (e["field"], e["reason"]) for e in report["errors"]}
    assert errors[2][0] == errors[3][0] == errors[4][0] == errors[5][0] == "name"
    assert "U+202E" in errors[2][1] and "U+001B" in errors[3][1] and "U+0085" in errors[4][1]
    assert "required" in errors[5][1]
    assert (report["created"], report["rejected"]) == (1, 4)
    with api.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        for row in rows[:4]:
            assert repo.get_enterprise_by_uscc(session, row["uscc"]) is None
