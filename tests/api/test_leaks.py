"""Small leaks: what one tenant's answers may say about another's objects, and text
that changes how other text is shown.

- registering (or setting) a USCC another tenant holds is a 409 that names nothing of
  the holder (its id stays as unknown as a 404 keeps it); a key that may see the
  holder is told its id;
- an enterprise key is never shown the label or prefix of the key that acted on its
  enterprise or awards, only the role;
- every human-text field refuses control characters (ESC, C1, line breaks), bidi
  overrides, zero-width marks and whitespace-only text with a 422 naming the field.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.db import repositories as repo
from tests.api.conftest import issue_token
from tests.api.support import assert_problem, create_enterprise, pointers, profile

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
PLATFORM = "nj-public-platform"  # amount set by the reviewer, paid by Nanjing


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _platform(location: dict[str, str], **extra: Any) -> dict[str, Any]:
    return profile(
        "南京示例智能计算中心有限公司",
        kind="platform",
        location=location,
        compliance={"serious_dishonesty": False},
        recognitions=[
            {"kind": "ai_computing_center", "level": "municipal", "granted_on": "2022-07-01"}
        ],
        years={"2024": {"performance": {PLATFORM: 88}}},
        **extra,
    )


JIANGNING = {"province": "jiangsu", "city": "nanjing", "district": "jiangning"}
HONGSHAN = {"province": "hubei", "city": "wuhan", "district": "hongshan"}


# ---------------------------------------------------------------- 409 on a USCC


def test_another_tenants_uscc_is_a_409_that_names_nothing_of_theirs(client: TestClient) -> None:
    theirs = create_enterprise(client, _platform(JIANGNING))
    hongshan = _bearer(issue_token(client.app, "portal", jurisdiction="hongshan"))  # type: ignore[arg-type]
    mine = {**_platform(HONGSHAN), "uscc": theirs["uscc"], "name": "武汉示例有限公司"}
    answer = client.post("/v1/enterprises", json=mine, headers=hongshan)
    problem = assert_problem(answer, 409)
    assert pointers(problem) == ["/uscc"]
    assert "existing_id" not in problem
    for secret in (theirs["id"], "jiangning", "nanjing", theirs["name"]):
        assert secret not in answer.text

    # The same through PUT: an enterprise of its own that had no USCC yet.
    own = client.post("/v1/enterprises", json={**mine, "uscc": None}, headers=hongshan)
    assert own.status_code == 201, own.text
    put = client.put(f"/v1/enterprises/{own.json()['id']}", json=mine, headers=hongshan)
    assert_problem(put, 409)
    assert theirs["id"] not in put.text and "existing_id" not in put.json()

    # A key that may see the holder is told which enterprise it is.
    nanjing = _bearer(issue_token(client.app, "portal", jurisdiction="nanjing"))  # type: ignore[arg-type]
    again = {**_platform(JIANGNING), "uscc": theirs["uscc"]}
    seen = assert_problem(client.post("/v1/enterprises", json=again, headers=nanjing), 409)
    assert seen["existing_id"] == theirs["id"]


# ---------------------------------------------------------------- who acted


def test_an_enterprise_key_sees_the_role_that_acted_never_the_key(client: TestClient) -> None:
    label = "Nanjing MIIT desk 7 (Wang Lei)"
    portal_token = issue_token(client.app, "portal", jurisdiction="nanjing")  # type: ignore[arg-type]
    portal = {"Authorization": f"Bearer {portal_token}"}
    prefix = portal_token.split("_")[1]
    with client.app.state.sessionmaker.begin() as session:  # type: ignore[attr-defined]
        key = repo.get_api_key_by_prefix(session, prefix)
        assert key is not None
        key.label = label
    body = _platform(JIANGNING)
    enterprise = client.post("/v1/enterprises", json=body, headers=portal).json()
    award_body = {
        "enterprise_id": enterprise["id"],
        "policy_id": PLATFORM,
        "fiscal_year": 2024,
        "amount": "10000.00",
    }
    award = client.post("/v1/awards", json=award_body, headers=portal)
    assert award.status_code == 201, award.text
    aid = award.json()["id"]
    notice = {"notice_start": "2024-01-02", "notice_end": "2024-01-12"}
    assert client.post(f"/v1/awards/{aid}/notice", json=notice, headers=portal).status_code == 200

    own = _bearer(issue_token(client.app, "enterprise", enterprise_id=enterprise["id"]))  # type: ignore[arg-type]
    reads = {
        "award": client.get(f"/v1/awards/{aid}", headers=own),
        "awards": client.get("/v1/awards", headers=own),
        "events": client.get(f"/v1/awards/{aid}/events", headers=own),
        "versions": client.get(f"/v1/enterprises/{enterprise['id']}/versions", headers=own),
    }
    for name, answer in reads.items():
        assert answer.status_code == 200, (name, answer.text)
        assert label not in answer.text and prefix not in answer.text, name
    assert reads["award"].json()["created_by"] == "portal"
    assert [a["created_by"] for a in reads["awards"].json()["items"]] == ["portal"]
    assert {e["actor"] for e in reads["events"].json()["items"]} == {"portal"}
    assert [v["created_by"] for v in reads["versions"].json()["items"]] == ["portal"]

    # Government keys (and auditors) still see who acted, for the record.
    auditor = _bearer(issue_token(client.app, "auditor"))  # type: ignore[arg-type]
    for headers in (portal, auditor):
        shown = client.get(f"/v1/awards/{aid}", headers=headers).json()["created_by"]
        assert label in shown and prefix in shown


# ---------------------------------------------------------------- human text

BAD_TEXT = [
    pytest.param("示例\u202etxt.exe", "U+202E", id="right-to-left-override"),
    pytest.param("示例\u2066公司\u2069", "U+2066", id="left-to-right-isolate"),
    pytest.param("\x1b[2J\x1b[31m示例公司", "U+001B", id="terminal-escape"),
    pytest.param("示例\x9b31m公司", "U+009B", id="c1-control-sequence-introducer"),
    pytest.param("示例\x07公司", "U+0007", id="bell"),
    pytest.param("示例\n公司", "U+000A", id="line-break"),
    pytest.param("示例\u2028公司", "U+2028", id="line-separator"),
    pytest.param("示例\u200b公司", "U+200B", id="zero-width-space"),
    pytest.param("\ufeff示例公司", "U+FEFF", id="byte-order-mark"),
    pytest.param("   ", "whitespace", id="spaces-only"),
    pytest.param("\u3000\u3000", "whitespace", id="ideographic-spaces-only"),
]
GOOD_TEXT = [
    "南京示例科技有限公司",
    "Acme (Nanjing) Co., Ltd.",
    "南京 示例\u3000公司",
    "Société Générale 🙂",
]


@pytest.mark.parametrize(("text", "named"), BAD_TEXT)
def test_names_and_reasons_refuse_invisible_and_blank_text(
    client: TestClient, text: str, named: str
) -> None:
    award = f"/v1/awards/{UNKNOWN_ID}"
    requests: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/v1/enterprises", profile(text, location=JIANGNING), "/name"),
        ("PUT", f"/v1/enterprises/{UNKNOWN_ID}", profile(text), "/name"),
        (
            "POST",
            "/v1/eligibility",
            {"profile": profile(text), "fiscal_year": 2024},
            "/profile/name",
        ),
        ("POST", "/v1/gaps", {"profile": profile(text), "fiscal_year": 2024}, "/profile/name"),
        ("POST", f"{award}/reject", {"reason": text}, "/reason"),
        ("POST", f"{award}/approve", {"reason": text}, "/reason"),
        (
            "POST",
            f"{award}/notice",
            {"notice_start": "2024-01-02", "notice_end": "2024-01-12", "reason": text},
            "/reason",
        ),
        ("POST", f"{award}/objections", {"text": text}, "/text"),
        ("POST", f"{award}/objections", {"text": "objection", "by": text}, "/by"),
        ("PUT", f"/v1/budgets/{UNKNOWN_ID}", {"amount": "1.00", "reason": text}, "/reason"),
    ]
    if named == "U+000A":
        # Reasons and objections are prose: a line break is theirs to use (tested below).
        requests = [r for r in requests if r[3] not in ("/reason", "/text")]
    for method, path, body, pointer in requests:
        problem = assert_problem(client.request(method, path, json=body), 422)
        assert pointers(problem) == [pointer], (method, path)
        [error] = problem["errors"]
        assert named in error["detail"], (method, path, error)


@pytest.mark.parametrize("text", GOOD_TEXT)
def test_ordinary_names_in_any_script_are_accepted(client: TestClient, text: str) -> None:
    created = create_enterprise(client, profile(text, location=JIANGNING))
    assert created["name"] == text


def test_reasons_and_objections_keep_their_line_breaks(client: TestClient) -> None:
    enterprise = create_enterprise(client, _platform(JIANGNING))
    award = client.post(
        "/v1/awards",
        json={
            "enterprise_id": enterprise["id"],
            "policy_id": PLATFORM,
            "fiscal_year": 2024,
            "amount": "10000.00",
        },
    )
    assert award.status_code == 201, award.text
    aid = award.json()["id"]
    notice = {"notice_start": "2024-01-02", "notice_end": "2024-01-12"}
    assert client.post(f"/v1/awards/{aid}/notice", json=notice).status_code == 200
    objection = client.post(
        f"/v1/awards/{aid}/objections",
        json={"text": "一、面积有误;\r\n二、租金发票缺失。\r\n", "by": "市民"},
    )
    assert objection.status_code == 200, objection.text
    events = client.get(f"/v1/awards/{aid}/events").json()["items"]
    assert events[-1]["reason"] == "一、面积有误;\n二、租金发票缺失。\n"
    # ... but a control character inside a line is still refused.
    refused = client.post(f"/v1/awards/{aid}/objections", json={"text": "一\n二\x1b[2J"})
    [error] = assert_problem(refused, 422)["errors"]
    assert error["pointer"] == "/text" and "U+001B" in error["detail"]
