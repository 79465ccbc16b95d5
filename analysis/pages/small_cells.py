"""Kept for the modules that still import it (the Kaplan-Meier risk table): the rule lives in
:mod:`analysis.pages.disclosure`."""

from analysis.pages.disclosure import mask_cell, mask_count, mask_figures

__all__ = ["mask_cell", "mask_count", "mask_figures"]
