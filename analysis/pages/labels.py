"""The one label registry: every column, level, group and figure id the pages show, in words.

A reader sees "Group L", "not done", "Initial CNS treatment", "Radiotherapy first, group L, patients",
never ``cns_group``, ``not_done`` or ``treatments.initial_rt.L.n``; a figure's legend reads "Brain only
(B)" (:func:`group_legend`), from the same words as the tables. Column labels come from the
cohort schema (its ``meaning``, shortened here where a header needs a short name); the groups come
from the cohort face's ``CNS_GROUPS``; figure ids are read segment by segment from :data:`SEGMENTS`.
:func:`words` is applied by :func:`analysis.pages.chapter.html_table` to every header, index and
text cell, so a table built from raw columns still reads as words.
"""

from __future__ import annotations

import re
from functools import lru_cache

from analysis.cohort import CNS_GROUPS, load_schema

GROUP_WORDS = {"B": "brain only", "BL": "brain and leptomeningeal", "L": "leptomeningeal only",
               "none": "no CNS metastasis", "no_cns": "no CNS metastasis"}
# The paper's Cox models, as the index of a table of several models names them.
MODEL_WORDS = {"all_cns": "All CNS patients", "l_group": "Group L"}
# The Methods page's conventions (analysis.study.METHODS keys) as a reader names them.
METHOD_WORDS = {
    "km_median": "Median survival",
    "median_ci": "Confidence interval of the median",
    "logrank": "Comparing survival curves",
    "cox": "Hazard ratios",
    "chisq": "Comparing proportions",
    "fisher": "Comparing proportions in small tables",
}
# The readings as a reader names them (keys of data/paper-interpretation.yaml); a key not listed
# reads as its words.
READING_WORDS = {
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
# Short column headers; the schema's ``meaning`` is the fallback (its first clause).
COLUMN_WORDS = {
    "cns_group": "CNS group", "group": "CNS group", "vital_status": "Vital status",
    "age_at_abc": "Age at ABC diagnosis (years)", "age_at_cns": "Age at CNS diagnosis (years)",
    "ecog_at_cns": "ECOG performance status", "cns_symptoms": "Neurological symptoms",
    "histology": "Histology", "csf_cytology": "CSF cytology",
    "initial_cns_treatment": "Initial CNS treatment", "csi_completed": "CSI completed",
    "systemic_before_rt": "Systemic therapy before RT", "intrathecal_therapy": "Intrathecal therapy",
    "subsequent_systemic": "Subsequent systemic therapy", "cause_of_death": "Cause of death",
    "local_rt": "Local RT", "age65_at_cns": "Age 65 or over at CNS diagnosis",
    "os_from_cns": "Survival from CNS diagnosis (days)", "os_from_abc": "Survival from ABC diagnosis (days)",
    "time_abc_to_cns": "Time from ABC to CNS diagnosis (days)",
    "abc_date": "Date of ABC diagnosis", "cns_date": "Date of CNS diagnosis",
    "last_contact_date": "Date of death or last contact", "patient_id": "Patient identifier",
    "subsequent_systemic_start_date": "Start of subsequent systemic therapy",
}
# Category levels in words (schema ``allowed`` values); clinical abbreviations stay as clinicians write them.
LEVEL_WORDS = {
    "not_done": "not done", "focal_RT": "focal RT", "cns_progression": "CNS progression",
    "extracranial_progression": "extracranial progression", "none": "none",
}
# Figure-id segments in words (the ids of analysis.paper and the chapters).
SEGMENTS = {
    "n_abc": "Patients with ER+/HER2- ABC", "n_cns": "Patients with CNS metastases",
    "followup_from_abc": "Follow-up from ABC diagnosis", "followup_from_cns": "Follow-up from CNS diagnosis",
    "time_abc_to_cns_all": "Time from ABC to CNS diagnosis, all CNS patients",
    "time_abc_to_cns_by_group": "Time from ABC to CNS diagnosis", "groups": "Share of the CNS patients",
    "risk_of_bm_multivariate": "Brain metastasis (Cox)", "risk_of_lm_multivariate": "Leptomeningeal metastasis (Cox)",
    "bone_involvement_at_cns_L": "Bone involvement at CNS diagnosis, group L",
    "skull_involvement": "Skull involvement", "lobular_histology": "Lobular histology",
    "initial_rt": "Radiotherapy first", "bsc_without_rt": "Best supportive care without RT",
    "craniospinal_irradiation": "Craniospinal irradiation", "survival_days": "survival (days)",
    "did_not_complete": "did not complete it", "systemic_before_rt": "Systemic therapy before RT",
    "chemotherapy": "chemotherapy", "endocrine": "endocrine therapy",
    "subsequent_systemic_therapy": "Subsequent systemic therapy", "intrathecal_therapy": "Intrathecal therapy",
    "prior_srs_in_BL": "Earlier SRS in group BL", "deaths_at_cutoff": "Deaths at the data cut-off",
    "os_from_cns": "Overall survival from CNS diagnosis", "os_from_abc": "Overall survival from ABC diagnosis",
    "cause_of_death": "Cause of death by group", "all_cns": "All CNS patients (Cox)", "l_group": "Group L (Cox)",
    "lung": "lung metastasis at ABC", "liver": "liver metastasis at ABC", "soft_tissue": "soft-tissue metastasis at ABC",
    "bone": "bone metastasis at ABC", "age_65_or_over_at_cns": "age 65 or over",
    "local_rt": "local RT first", "soft_tissue_metastasis_at_lm": "soft-tissue metastasis at LM diagnosis",
    "test": "test across groups", "no_cns": "no CNS metastasis",
    "n": "patients", "of": "of", "pct": "%", "median": "median", "min": "shortest", "max": "longest",
    "lower": "lower limit", "upper": "upper limit", "ci": "95% CI", "hr": "HR", "p": "p", "ci_as_printed": "95% CI as printed", "reverse_km_median": "reverse KM median",
}
CHAPTERS = {"cohort": "The cohort", "backgrounds": "Backgrounds", "treatments": "Treatments",
            "outcomes": "Outcomes", "risk_factors": "Risk factors for survival"}

_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-zA-Z0-9]+)+$")


def group_label(group: str) -> str:
    """'L' -> 'Group L'; 'no_cns' -> 'No CNS metastasis'."""
    if group in CNS_GROUPS:
        return f"Group {group}"
    text = GROUP_WORDS.get(group, str(group))
    return text[:1].upper() + text[1:]


def group_legend(group: str) -> str:
    """A group as a figure's legend names it: the words, then the code the tables use.

    'B' -> 'Brain only (B)'; 'no_cns' -> 'No CNS metastasis'; an unknown group is left as it is.
    """
    text = GROUP_WORDS.get(str(group))
    if text is None:
        return str(group)
    text = text[:1].upper() + text[1:]
    # the code in brackets ties the legend to the risk-table rows and the text ("group BL")
    return f"{text} ({group})" if group in CNS_GROUPS else text


@lru_cache(maxsize=None)
def column_label(name: str) -> str:
    """A cohort column's header: the registry's short name, else the schema's meaning (first clause)."""
    if name in COLUMN_WORDS:
        return COLUMN_WORDS[name]
    schema = load_schema()
    try:
        meaning = schema[name].meaning
    except (KeyError, AttributeError):
        return _plain(name)
    return re.split(r" \(| - |[.;:]", meaning, maxsplit=1)[0].strip() or _plain(name)


def level_label(level) -> str:
    """A category level in words ('not_done' -> 'not done')."""
    text = str(level)
    return LEVEL_WORDS.get(text, _plain(text) if _SNAKE.match(text) else text)


def _plain(token: str) -> str:
    return token.replace("_", " ")


def words(value):
    """Any header or cell: a known column, level or snake_case token in words; the rest unchanged."""
    if not isinstance(value, str) or not value:
        return value
    if value in COLUMN_WORDS:
        return COLUMN_WORDS[value]
    if value in LEVEL_WORDS:
        return LEVEL_WORDS[value]
    if value in MODEL_WORDS:
        return MODEL_WORDS[value]
    if _SNAKE.match(value):
        return column_label(value) if value in _schema_names() else _plain(value)
    return value


# Statistical symbols keep their case at the head of a column ("p", "n", "df", "d A", "p-value" as
# gtsummary prints it); every other header starts with a capital, as a journal table does.
SYMBOL_HEADS = frozenset({"p", "p-value", "n", "d", "df", "k", "t", "e", "x"})


def header_words(value):
    """A column or index header: :func:`words`, then sentence case ("Observed events", "Expected
    events"), except a header led by a statistical symbol ("p (Wald)", "df", "d / (n (n - d))") or by
    a name with capitals inside it (a model term such as "armB"), which keep theirs."""
    value = words(value)
    if not isinstance(value, str) or not value or not value[0].islower():
        return value
    head = re.split(r"[\s(/]", value, maxsplit=1)[0]
    if head in SYMBOL_HEADS or any(ch.isupper() for ch in head[1:]):
        return value
    return value[0].upper() + value[1:]


@lru_cache(maxsize=1)
def _schema_names() -> frozenset[str]:
    schema = load_schema()
    return frozenset(schema.names) | frozenset(schema.derived_names)


def segment_label(segment: str) -> str:
    if segment in CNS_GROUPS or segment == "no_cns":
        return group_label(segment)
    return SEGMENTS.get(segment, _plain(segment))


def figure_label(dotted: str, prefix: str = "") -> str:
    """A figure id in words, without its chapter and the part ``prefix`` already names.

    'treatments.initial_rt.L.n' -> 'Radiotherapy first, group L, patients'.
    """
    tail = dotted[len(prefix):] if prefix and dotted.startswith(prefix) else None
    # a prefix that ends inside a segment ("cohort.n_") names nothing: keep the whole id
    rest = tail.lstrip(".") if tail is not None and (tail == "" or tail.startswith(".")) else dotted
    parts = [part for part in rest.split(".") if part]  # the prefix may be the whole id: no empty label
    if parts and parts[0] in CHAPTERS:
        parts = parts[1:]
    if not parts:  # the prefix names the whole id
        parts = [dotted.rsplit(".", 1)[-1]]
    labels = [segment_label(p) for p in parts]
    # inside a phrase a capitalised word is lower-cased ("group L"), an abbreviation kept ("HR", "CNS")
    labels = [labels[0]] + [w[:1].lower() + w[1:] if w[1:2].islower() else w for w in labels[1:]]
    text = ", ".join(labels)
    return text[:1].upper() + text[1:]
