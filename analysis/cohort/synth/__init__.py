"""The synthetic cohort generator: a made-up patient file calibrated to the paper's figures.

``generate_calibrated`` builds the paper-sized cohort (deterministic for a seed, ``DEFAULT_SEED``
regenerates ``data/synthetic_cohort.csv`` byte for byte); ``generate_uncalibrated`` any size of the
same structure; ``python -m analysis synth`` runs :func:`run`. See :mod:`analysis.cohort.synth.generator`.
"""

from analysis.cohort.synth.generator import (
    DEFAULT_OUT, DEFAULT_SEED, calibrated_size, configure_parser, generate, generate_calibrated,
    generate_uncalibrated, run, write_csv,
)

__all__ = [
    "DEFAULT_SEED", "DEFAULT_OUT", "generate", "generate_calibrated", "generate_uncalibrated",
    "calibrated_size", "write_csv", "configure_parser", "run",
]
