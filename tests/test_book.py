"""The real book, built once on the bundled synthetic cohort: pages, figures, tables, results.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from analysis.paths import PROJECT_ROOT
from analysis.paper.published import flatten, load_published
from conftest import BOOK_COHORT, assert_no_patient_data

COHORT = BOOK_COHORT
# page -> what must be on it (figure anchors and table captions)
EXPECTED = {
    "book/cohort": ["fig-flow", "Cohort size: paper and this book", "Follow-up (days)"],
    "book/backgrounds": ["fig-ttc", "fig-cns-risk", "Characteristics at the diagnosis of CNS metastases",
                         "Cox models for the risk of CNS metastasis"],
    "book/treatments": ["Initial treatment of the CNS metastases by group", "Craniospinal irradiation"],
    "book/outcomes": ["fig-os-cns", "fig-os-abc", "Median overall survival from CNS diagnosis",
                      "Log-rank test of overall survival", "Cause of death by group"],
    "book/risk_factors": ["fig-os-all", "fig-os-l", "ordinary and Firth-penalized", "Proportional-hazards test"],
    "book/scorecard": ["Figures by status", "Every published figure"],
    "book/critique": ["An impossible confidence interval"],
    "book/methods": ["Conventions used for every figure", "choices where the paper is ambiguous"],
    "book/data_dictionary": ["Columns of a cohort file"],
    "book/calibration": ["Calibration targets by status", "Every calibration target"],
    "book/rerun": ["not a valid date", "unknown category", "min_cell"],
}


@pytest.fixture()
def built(built_book):
    return built_book


def page(built, name: str) -> str:
    return (built.html_index.parent / f"{name}.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_chapter_shows_its_key_figures_and_tables(built, name):
    html = page(built, name)
    for needle in EXPECTED[name]:
        assert needle in html, f"{needle!r} missing from {name}.html"
    # figures are embedded images with alt text, and tables are HTML tables, not a DataFrame repr
    for anchor in (n for n in EXPECTED[name] if n.startswith("fig-")):
        figure = re.search(rf'<figure[^>]*id="{anchor}".*?</figure>', html, re.S)
        assert figure and re.search(r'<img[^>]+alt="[^"]{20,}"', figure.group(0)), anchor
    assert "<table" in html
    assert "<style scoped>" not in html  # pandas' notebook repr of a DataFrame


def test_no_glue_or_missing_reference_is_left_unrendered(built):
    for name in EXPECTED:
        html = page(built, name)
        assert "{glue:" not in html and "<Figure size" not in html, name


def test_results_json_has_an_id_for_every_computable_published_figure(built):
    results = json.loads(built.results_json.read_text())
    published = flatten({k: v for k, v in load_published().items() if k not in ("study", "paper_issues")})
    numeric = {k for k, v in published.items() if isinstance(v, (int, float, list)) and not isinstance(v, bool)}
    not_in_schema = {"cohort.all_cns_mri_positive", "treatments.prior_srs_in_BL",
                     "outcomes.os_from_cns.L.ci_as_printed"}
    missing = sorted(numeric - not_in_schema - set(results))
    assert not missing, missing
    assert results["scorecard.total"] > 0


def test_no_patient_identifier_or_date_reaches_the_output(built):
    assert_no_patient_data(built.out, pd.read_csv(COHORT, dtype=str))


def test_pages_request_nothing_from_a_cdn(built):
    for html_path in built.html_index.parent.rglob("*.html"):
        html = html_path.read_text(encoding="utf-8")
        external = re.findall(r'(?:src|href)="(https?://[^"]+)"', html)
        scripts = [u for u in external if u.endswith((".js", ".css")) or "cdn" in u]
        assert not scripts, f"{html_path.name}: {scripts}"


def test_primer_chapters_link_their_myst_source_for_download(built_book):
    html_dir = built_book.html_index.parent
    page = (html_dir / "book" / "primer" / "kaplan_meier.html").read_text(encoding="utf-8")
    links = re.findall(r'href="([^"]*_downloads/[^"]*kaplan_meier\.md)"', page)
    assert links, "the Kaplan-Meier chapter does not link its MyST source"
    downloaded = (html_dir / "book" / "primer" / links[0]).resolve()
    source = PROJECT_ROOT / "book" / "primer" / "kaplan_meier.md"
    assert downloaded.read_bytes() == source.read_bytes()
