"""The cohort file: is it acceptable, what is derived from it, and the synthetic generator.

``load_cohort`` reads CSV, Excel or Parquet, validates every row against ``schema.yaml`` and
reports all problems at once; ``synth`` writes the calibrated synthetic cohort.
"""

from analysis.cohort.load import (
    Cohort, CohortValidationError, ValidationReport, cohort_from_frame, load_cohort, validate_cohort, validate_frame,
)
from analysis.cohort.schema import (
    Schema, analyses_available, analyses_switched_off, data_dictionary, derived_columns, load_schema,
)
from analysis.cohort.synth.generator import DEFAULT_SEED

__all__ = [
    "load_cohort", "validate_cohort", "validate_frame", "cohort_from_frame",
    "Cohort", "ValidationReport", "CohortValidationError",
    "load_schema", "Schema", "data_dictionary", "derived_columns", "analyses_available", "analyses_switched_off",
    "DEFAULT_SEED",
]
