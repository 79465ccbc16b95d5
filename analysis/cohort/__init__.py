"""The cohort file: is it acceptable, what is derived from it, and the synthetic generator.

``load_cohort`` reads CSV, Excel or Parquet, validates every row against ``schema.yaml`` and
reports all problems at once; a mapping file (``mapping``) reads an export in its own terms, and the
study parameters (``study_window``: cut-off date, ABC window) are applied on loading; ``synth`` writes the calibrated synthetic cohort. ``CNS_GROUPS``
(B, BL, L) are the schema's allowed ``cns_group`` values other than ``none``.
"""

from analysis.cohort.load import Cohort, cohort_from_frame, load_cohort, validate_cohort, validate_frame
from analysis.cohort.mapping import Mapping, MappingError, load_mapping
from analysis.cohort.problems import CohortValidationError, ValidationReport
from analysis.cohort.schema import (
    CNS_GROUPS, Schema, analyses_available, analyses_switched_off, data_dictionary, derived_columns, load_schema,
)
from analysis.cohort.study_window import STUDY_PARAMETERS, StudyChanges, StudyParameters
from analysis.cohort.synth.generator import DEFAULT_SEED

__all__ = [
    "load_cohort", "validate_cohort", "validate_frame", "cohort_from_frame",
    "Cohort", "ValidationReport", "CohortValidationError",
    "load_mapping", "Mapping", "MappingError", "StudyParameters", "StudyChanges", "STUDY_PARAMETERS",
    "load_schema", "Schema", "data_dictionary", "derived_columns", "analyses_available", "analyses_switched_off",
    "CNS_GROUPS", "DEFAULT_SEED",
]
