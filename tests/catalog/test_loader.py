"""A bad catalog stops with file, field and fix; a good one hashes stably."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from app.catalog.loader import CatalogError, load_catalog

CATALOG_DIR = Path(__file__).resolve().parents[2] / "policy_catalog"
POLICY = "policies/nanjing/nj-green-manufacturing.yaml"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, target)
    return target


def _edit(root: Path, change: object) -> None:
    path = root / POLICY
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _problems(root: Path) -> str:
    with pytest.raises(CatalogError) as raised:
        load_catalog(root)
    return str(raised.value)


def test_unknown_key_names_file_field_and_fix(copy: Path) -> None:
    _edit(copy, lambda d: d.update(titel=d["title"]))
    message = _problems(copy)
    assert (
        "nj-green-manufacturing.yaml" in message and "titel" in message and "unknown key" in message
    )


def test_undefined_parameter_is_refused(copy: Path) -> None:
    _edit(copy, lambda d: d["versions"][0]["caps"].update(per_award="$no_such_parameter"))
    assert "$no_such_parameter is not defined" in _problems(copy)


def test_unknown_fact_is_refused(copy: Path) -> None:
    _edit(
        copy,
        lambda d: d["versions"][0].update(
            eligibility={
                "all": [
                    d["versions"][0]["eligibility"],
                    {"fact": "years.{fy}.revenu", "op": "gt", "value": 0},
                ]
            }
        ),
    )
    assert "years.{fy}.revenu" in _problems(copy)


def test_unknown_recognition_kind_is_refused(copy: Path) -> None:
    _edit(
        copy,
        lambda d: d["versions"][0].update(eligibility={"recognition": {"kind": "green_factroy"}}),
    )
    assert "green_factroy" in _problems(copy)


def test_file_named_after_its_id(copy: Path) -> None:
    _edit(copy, lambda d: d.update(id="nj-green-other"))
    assert "differs from the file name" in _problems(copy)


def test_a_place_slug_is_used_once(copy: Path) -> None:
    # A portal key's jurisdiction is a slug alone: two places sharing one (Fuzhou has a
    # Gulou District too) would leave the key's area ambiguous.
    facts = copy / "facts.yaml"
    data = yaml.safe_load(facts.read_text(encoding="utf-8"))
    wuhan = data["places"][1]["cities"][0]
    wuhan["districts"].append({"value": "gulou", "zh": "鼓楼区", "en": "Gulou District"})
    facts.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    message = _problems(copy)
    assert "facts.yaml" in message and "`gulou` names more than one place" in message


def test_invalid_yaml_is_reported(copy: Path) -> None:
    (copy / POLICY).write_text("id: [unclosed", encoding="utf-8")
    assert "not valid YAML" in _problems(copy)


def test_hash_is_stable_and_follows_content(copy: Path) -> None:
    first, again = load_catalog(copy).hash, load_catalog(copy).hash
    assert first == again == load_catalog(CATALOG_DIR).hash
    _edit(copy, lambda d: d["title"].update(en=d["title"]["en"] + " (revised)"))
    assert load_catalog(copy).hash != first


def test_python_is_never_evaluated_from_yaml(copy: Path) -> None:
    (copy / POLICY).write_text("!!python/object/apply:os.system ['true']\n", encoding="utf-8")
    assert "not valid YAML" in _problems(copy)


SHARED_RULE = {
    "id": "size-test",
    "text": {"zh": "规模测试", "en": "a size test"},
    "parameters": {
        "size_max_staff": {
            "value": 1000,
            "unit": "persons",
            "basis": "national_rule",
            "reference": "test document",
        }
    },
    "rule": {"fact": "employees", "op": "lt", "value": "$size_max_staff", "gate": "size"},
}


def _use_shared(
    root: Path, rule: dict[str, object], params: dict[str, object] | None = None
) -> None:
    (root / "rules").mkdir(exist_ok=True)
    (root / "rules" / "size-test.yaml").write_text(
        yaml.safe_dump(rule, allow_unicode=True), encoding="utf-8"
    )

    def change(d: dict) -> None:  # type: ignore[type-arg]
        v = d["versions"][0]
        v["eligibility"] = {"all": [v["eligibility"], {"use": "size-test"}]}
        v["parameters"].update(params or {})

    _edit(root, change)


def test_a_shared_rule_is_inlined_with_its_parameters(copy: Path) -> None:
    _use_shared(copy, SHARED_RULE)
    policy = load_catalog(copy).policies["nj-green-manufacturing"]
    version = policy.versions[0]
    assert version.parameters["size_max_staff"].value == 1000
    inlined = version.eligibility.all[-1]  # type: ignore[union-attr]
    assert inlined.id == "size-test" and inlined.gate == "size"
    assert inlined.text is not None and inlined.text.en == "a size test"


def test_a_shared_rule_parameter_may_not_shadow_the_policys(copy: Path) -> None:
    clash = {"size_max_staff": {"value": 5, "unit": "persons", "basis": "local_rule", "note": "x"}}
    _use_shared(copy, SHARED_RULE, clash)
    assert "also defined by the shared rule `size-test`" in _problems(copy)


def test_an_unknown_shared_rule_is_refused(copy: Path) -> None:
    _edit(copy, lambda d: d["versions"][0].update(eligibility={"use": "no-such-rule"}))
    assert "`no-such-rule` is not a file of the catalog's rules/ directory" in _problems(copy)


def test_an_unknown_finding_is_refused(copy: Path) -> None:
    _edit(copy, lambda d: d["versions"][0].update(eligibility={"finding": "no_such_finding"}))
    assert "`no_such_finding` is not a finding of facts.yaml" in _problems(copy)
