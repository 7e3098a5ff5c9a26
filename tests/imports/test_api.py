"""``POST /v1/imports`` on both backends: uploads, auth, dry run, limits, problems."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from app.services.bulk_import import XLSX_TYPE
from tests.imports.support import csv_bytes, good_row, many_rows, table, xlsx_bytes

PROBLEM = "application/problem+json"


def _enterprise(api: TestClient, uscc: str) -> dict | None:  # type: ignore[type-arg]
    """The enterprise with this USCC as ``GET /v1/enterprises`` lists it, if any."""
    found = api.get("/v1/enterprises", params={"limit": 200, "district": "jiangning"})
    assert found.status_code == 200
    cursor = found.json()
    while True:
        for item in cursor["items"]:
            if item["uscc"] == uscc:
                return item  # type: ignore[no-any-return]
        if not cursor["next_cursor"]:
            return None
        cursor = api.get(
            "/v1/enterprises",
            params={"limit": 200, "district": "jiangning", "cursor": cursor["next_cursor"]},
        ).json()


def test_multipart_csv_upload(api: TestClient) -> None:
    rows = many_rows(3)
    rows[2]["revenue_2024"] = "-1"
    data = csv_bytes(table(rows, chinese=True))
    answer = api.post("/v1/imports", files={"file": ("企业名单.csv", data, "text/csv")})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert {
        k: report[k] for k in ("rows", "accepted", "rejected", "created", "updated", "unchanged")
    } == {"rows": 3, "accepted": 2, "rejected": 1, "created": 2, "updated": 0, "unchanged": 0}
    assert report["errors"] == [
        {"row": 4, "field": "营业收入_2024", "reason": "this amount cannot be negative"}
    ]
    assert report["errors_total"] == 1 and report["applied"] is True and report["dry_run"] is False
    assert report["file_name"] == "企业名单.csv" and report["format"] == "csv"
    stored = _enterprise(api, rows[0]["uscc"])
    assert stored is not None and stored["version"] == 1
    versions = api.get(f"/v1/enterprises/{stored['id']}/versions").json()["items"]
    assert versions[0]["created_by"].startswith("admin:api-tests-admin")


def test_raw_xlsx_body_and_reimport(api: TestClient) -> None:
    rows = many_rows(2)
    data = xlsx_bytes(table(rows))
    first = api.post("/v1/imports", content=data, headers={"Content-Type": XLSX_TYPE})
    assert first.status_code == 200, first.text
    assert first.json()["created"] == 2 and first.json()["format"] == "xlsx"
    again = api.post("/v1/imports", content=data, headers={"Content-Type": XLSX_TYPE}).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert again["applied"] is True and again["import_id"] is None


def test_dry_run_writes_nothing(api: TestClient) -> None:
    row = good_row()
    data = csv_bytes(table([row]))
    answer = api.post(
        "/v1/imports",
        params={"dry_run": "true"},
        content=data,
        headers={"Content-Type": "text/csv"},
    )
    assert answer.status_code == 200
    report = answer.json()
    assert (report["created"], report["applied"], report["dry_run"]) == (1, False, True)
    assert _enterprise(api, row["uscc"]) is None


def test_without_a_key_401_and_read_only_keys_403(
    api: TestClient, token_for: Callable[..., str]
) -> None:
    data = csv_bytes(table([good_row()]))
    anonymous = api.post(
        "/v1/imports", content=data, headers={"Content-Type": "text/csv", "Authorization": ""}
    )
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM
    auditor = api.post(
        "/v1/imports",
        content=data,
        headers={"Content-Type": "text/csv", "Authorization": f"Bearer {token_for('auditor')}"},
    )
    assert auditor.status_code == 403 and auditor.headers["content-type"] == PROBLEM
    assert "a auditor key cannot do this" in auditor.json()["detail"]


def test_portal_rows_outside_its_area_are_rejected(
    api: TestClient, token_for: Callable[..., str]
) -> None:
    token = token_for("portal", jurisdiction="jiangning")
    inside, outside = good_row(), good_row(district="gulou", park="")
    answer = api.post(
        "/v1/imports",
        files={"file": ("p.csv", csv_bytes(table([inside, outside])), "text/csv")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["created"], report["rejected"]) == (1, 1)
    assert report["errors"][0]["row"] == 3 and report["errors"][0]["field"] == "city"


def test_unknown_columns_are_a_422_before_anything_is_written(api: TestClient) -> None:
    row = good_row()
    cells = table([row])
    cells[0][1] = "企业名字"
    answer = api.post("/v1/imports", files={"file": ("x.csv", csv_bytes(cells), "text/csv")})
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["unknown_columns"] == ["企业名字"]
    assert "企业名称" in problem["known_columns"]
    assert "unknown column(s): `企业名字`" in problem["detail"]
    assert _enterprise(api, row["uscc"]) is None


@pytest.mark.parametrize(
    ("files", "content", "content_type"),
    [
        (
            {"file": ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/vnd.ms-excel")},
            None,
            None,
        ),
        (None, b"\x89PNG\r\n\x1a\n", "image/png"),
        ({"file": ("report.pdf", b"%PDF-1.4", "application/pdf")}, None, None),
    ],
)
def test_other_file_types_are_415(
    api: TestClient,
    files: dict | None,
    content: bytes | None,
    content_type: str | None,  # type: ignore[type-arg]
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    answer = api.post("/v1/imports", files=files, content=content, headers=headers)
    assert answer.status_code == 415 and answer.headers["content-type"] == PROBLEM


def test_a_multipart_body_without_the_file_field_is_422(api: TestClient) -> None:
    answer = api.post(
        "/v1/imports", data={"other": "x"}, files={"wrong": ("x.csv", b"a", "text/csv")}
    )
    assert answer.status_code == 422 and answer.json()["errors"][0]["pointer"] == "/file"
    empty = api.post("/v1/imports", content=b"", headers={"Content-Type": "text/csv"})
    assert empty.status_code == 422


def test_the_schema_documents_the_endpoint(api: TestClient) -> None:
    operation = api.get("/openapi.json").json()["paths"]["/v1/imports"]["post"]
    assert set(operation["requestBody"]["content"]) == {
        "multipart/form-data",
        "text/csv",
        XLSX_TYPE,
    }
    assert {"200", "401", "403", "413", "415", "422", "500"} <= set(operation["responses"])
