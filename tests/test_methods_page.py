"""The Methods page's tables: readers' words in the first column; a user's book leaves out the
readings that describe how the bundled cohort was generated."""

import re

import yaml

from analysis.pages import interpretation_table, methods_table
from analysis.paths import INTERPRETATION_PATH


def test_first_columns_read_as_words_not_ids():
    for names in (methods_table()["what"], interpretation_table()["item"]):
        assert not [n for n in names if re.search(r"[a-z]_[a-z]|^[a-z]", n)], list(names)


def test_a_users_book_leaves_out_the_bundled_cohorts_own_readings():
    items = yaml.safe_load(INTERPRETATION_PATH.read_text(encoding="utf-8"))["items"]
    about_bundled = [k for k, v in items.items() if v.get("about") == "bundled cohort"]
    assert "synthetic_method" in about_bundled
    assert len(interpretation_table()) == len(items)
    own = interpretation_table(own=True)
    assert len(own) == len(items) - len(about_bundled)
    assert not own["choice"].str.contains("synthetic", case=False).any()
