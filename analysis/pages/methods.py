"""Tables for the Methods page: the conventions and the readings of the paper."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from analysis.study import METHODS
from analysis.paths import INTERPRETATION_PATH

JMP_EQUIVALENT = {
    "km_median": "JMP Survival platform: median survival time",
    "median_ci": "JMP reports a median CI without naming its band; the log band is R's default",
    "logrank": "JMP Survival platform: Log-Rank test",
    "cox": "JMP Fit Proportional Hazards: Risk Ratios with profile-likelihood limits, Effect Likelihood Ratio Tests",
    "chisq": "JMP Contingency: Pearson chi-square",
    "fisher": "JMP Contingency: Fisher's exact test",
}
# The conventions as a reader names them (the keys are the study layer's ids).
WHAT = {
    "km_median": "Median survival",
    "median_ci": "Confidence interval of the median",
    "logrank": "Comparing survival curves",
    "cox": "Hazard ratios",
    "chisq": "Comparing proportions",
    "fisher": "Comparing proportions in small tables",
}


# The readings as a reader names them (keys of data/paper-interpretation.yaml); a key not listed
# reads as its words.
ITEM = {
    "synthetic_seed": "Seed of the bundled cohort", "data_cutoff": "Data cut-off",
    "abc_window": "Study window (ABC diagnosis)", "no_loss_to_follow_up": "Loss to follow-up",
    "km_median_rule": "Median survival rule", "median_ci_method": "Confidence interval of the median",
    "bl_upper_confidence_limits": "Group BL's upper confidence limits", "cox_method": "Cox model",
    "chi_squared": "Chi-squared test", "fisher_exact": "Fisher's exact test",
    "followup_from_abc_median": "Median follow-up from ABC", "followup_from_cns": "Follow-up from the CNS diagnosis",
    "time_abc_to_cns": "Time from ABC to the CNS diagnosis", "os_from_abc_test": "Test of OS from ABC",
    "os_from_cns_L_ci": "Group L's median CI (OS from CNS)", "bm_risk_model": "Risk model for brain metastases",
    "lm_risk_model": "Risk model for leptomeningeal disease", "os_models": "Cox models of OS",
    "local_rt": "Local radiotherapy", "l_group_model_n17": "Patients in group L's model",
    "subsequent_systemic": "Subsequent systemic therapy", "csi_details": "Craniospinal irradiation",
    "ilc_test": "Test of lobular histology", "skull_test": "Test of skull involvement",
    "cause_of_death_test": "Test of the causes of death", "alive_cns_patients": "CNS patients alive at the cut-off",
    "synthetic_method": "How the bundled cohort was made", "plausible_rates": "Figures drawn from plausible rates",
    "prior_srs_in_BL": "Radiosurgery before the CNS diagnosis",
}


def methods_table() -> pd.DataFrame:
    return pd.DataFrame(
        [{"what": WHAT.get(key, key.replace("_", " ").capitalize()), "method in this book": text, "in JMP (the paper's software)": JMP_EQUIVALENT[key]}
         for key, text in METHODS.items()])


def interpretation_table(path: Path = INTERPRETATION_PATH, *, own: bool = False) -> pd.DataFrame:
    """The book's readings of the paper, one row per item; ``own=True`` (a user's cohort) leaves out
    the items marked ``about: bundled cohort``, which say how the bundled cohort was generated and
    are not true of the user's file."""
    items = yaml.safe_load(path.read_text(encoding="utf-8"))["items"]
    return pd.DataFrame(
        [{"item": ITEM.get(key, key.replace("_", " ").capitalize()), "choice": item["choice"], "why": item.get("why", "")}
         for key, item in items.items() if not (own and item.get("about") == "bundled cohort")])
