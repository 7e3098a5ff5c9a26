"""Missing facts by the vocabulary's names: the head of each description, the year of a
yearly fact, and the path itself for anything the vocabulary does not know."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.catalog.loader import Catalog, load_catalog
from app.console.fact_labels import FactLabels, head, labeller

CATALOG_DIR = Path(__file__).resolve().parents[2] / "policy_catalog"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(CATALOG_DIR)


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("年度营业收入(销售收入)", "年度营业收入"),
        ("年度高新技术产品(服务)收入", "年度高新技术产品(服务)收入"),  # inside the name
        (
            "已获认定(资质、称号、名单)清单;缺少此项则所有认定类条件均为未知",
            "已获认定(资质、称号、名单)清单",
        ),
        ("年度不征税收入(按企业所得税法第七条口径;无则填0)", "年度不征税收入"),  # ; inside
        ("the day it applies - picks the version", "the day it applies"),
        ("a score (0-100, 国科发政〔2017〕115号 art. 8(2))", "a score"),  # nested at the end
        ("(only a note)", "(only a note)"),  # nothing would be left: kept whole
        ("revenue", "revenue"),
    ],
)
def test_the_head_of_a_description(description: str, expected: str) -> None:
    assert head(description) == expected


def test_paths_are_named_by_the_vocabulary(catalog: Catalog) -> None:
    labels = FactLabels.of(catalog)
    assert labels.label("years.2025.revenue", "zh") == "2025年 年度营业收入"
    assert labels.label("years.2025.revenue", "en") == "revenue of the fiscal year (2025)"
    assert labels.label("foreign_invested", "zh") == "外商投资企业"
    assert labels.label("recognitions", "en") == "recognitions held"
    assert labels.label("recognitions.0.kind", "zh") == "认定类别"
    assert labels.label("finding:hte_core_ip_support", "zh").startswith("企业知识产权")
    # Unknown to the vocabulary: shown as it is, never dropped.
    assert labels.label("years.2025.unheard_of", "zh") == "years.2025.unheard_of"
    assert labels.label("finding:unheard_of", "en") == "finding:unheard_of"


def test_every_fact_of_the_vocabulary_has_a_name(catalog: Catalog) -> None:
    labels = FactLabels.of(catalog)
    for spec in catalog.vocabulary.facts:
        path = spec.path.replace("*", "2025", 1).replace("*", "x")
        for lang in ("zh", "en"):
            named = labels.label(path, lang)
            description = spec.zh if lang == "zh" else spec.en
            assert named and (named != path or head(description) == path), (path, lang)
            assert named.count("(") + named.count("(") == named.count(")") + named.count(")")


def test_labels_are_made_once_per_catalog(catalog: Catalog) -> None:
    first, second = labeller(catalog, "zh"), labeller(catalog, "en")
    assert first("foreign_invested") == "外商投资企业"
    assert second("foreign_invested") == "foreign-invested enterprise"
