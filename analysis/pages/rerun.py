"""The "rerun with your data" page: a validation report on a deliberately broken example file."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from analysis.cohort import validate_cohort
from analysis.paths import COHORT_TEMPLATE

TEMPLATE = COHORT_TEMPLATE


def broken_example() -> tuple[pd.DataFrame, str]:
    """The template with three typical mistakes, and the validator's full report on it.

    The mistakes: a date in day/month/year form, a CNS diagnosis before the ABC diagnosis, and an
    unknown CNS group. The file is written to a temporary folder (the template is not touched).
    """
    frame = pd.read_csv(TEMPLATE, dtype=str, keep_default_na=False)
    # Dates moved into the 1990s, outside any study window, so the example's made-up dates can
    # never coincide with a date of the cohort the book is built from.
    dates = [c for c in frame.columns if c.endswith("_date")]
    frame[dates] = frame[dates].apply(lambda column: column.str.replace(r"^201", "199", regex=True))
    frame.loc[0, "abc_date"] = "10/04/1992"
    frame.loc[1, "cns_group"] = "LM"
    extra = frame.iloc[[0]].copy()
    extra["patient_id"] = "FAKE-0003"
    extra["abc_date"], extra["cns_date"] = "1996-05-01", "1995-01-10"
    extra["last_contact_date"], extra["subsequent_systemic_start_date"] = "1997-01-01", "1996-06-01"
    extra["age_at_cns"] = "57"
    frame = pd.concat([frame, extra], ignore_index=True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "my_cohort.csv"
        frame.to_csv(path, index=False)
        # the temporary folder's name changes every run: show the file name only
        report = validate_cohort(path).format().replace(f"{folder}/", "")
    shown = frame[["patient_id", "abc_date", "cns_date", "last_contact_date", "cns_group"]]
    return shown, report
