"""Where an exhibit's numbers come from, said where the reader reads them (bundled cohort only).

The bundled cohort is generated (analysis.cohort.synth). Some of its figures were *calibrated* to
the paper (agreement then checks the pipeline, not the paper); some variables the paper never
published were drawn from *plausible rates* (they describe no one); some analyses rest on
*generated inputs* the paper does not have at all (therapy start dates). On a user's own cohort
none of this holds, and no mark is shown.
"""

from __future__ import annotations

from pathlib import Path

from analysis.paths import BUNDLED_COHORT

KINDS = {
    "calibrated": ("Calibrated to the paper",
                   "the synthetic cohort was generated so that {what} match the published figures. "
                   "Agreement here shows that the pipeline recomputes what the generator aimed at; "
                   "it is not an independent confirmation of the paper."),
    "plausible": ("Generated from plausible rates",
                  "the paper does not publish {what}. The synthetic cohort draws them from rates chosen "
                  "to look clinically plausible, so these rows describe no real patient and test "
                  "nothing the paper reports."),
    "generated-inputs": ("Rests on generated inputs",
                         "{what} are not in the paper; the generator made them up. The figures show how "
                         "the method behaves on such data, not what happened to the study's patients."),
}


def is_bundled(cohort) -> bool:
    try:
        return Path(cohort).resolve() == BUNDLED_COHORT.resolve()
    except TypeError:
        return False


def provenance_html(kind: str, what: str) -> str:
    title, text = KINDS[kind]
    return (f"<p class='provenance provenance-{kind}'><strong>{title}:</strong> "
            f"{text.format(what=what)}</p>")


def provenance(cohort, kind: str, what: str):
    """A provenance mark for the bundled synthetic cohort (an HTML paragraph), else None (nothing shown)."""
    from IPython.display import HTML

    return HTML(provenance_html(kind, what)) if is_bundled(cohort) else None
