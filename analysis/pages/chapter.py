"""Turn computed sections into what a chapter shows: glued figures and HTML tables.

A chapter makes one :class:`ChapterPage` and calls it: ``record`` (figures -> results.json and
glue), ``comparison`` (the paper's figure beside the computed one), ``table`` (a summary table as a
real HTML table with a caption) and ``figure`` (a glued plot). The page applies small-cell
suppression (``min_cell``) to every count it shows, and shows a note instead of a table or a
figure that the cohort could not support. No patient-level row passes through here: every table is
a summary.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from analysis.results import Results
from analysis.pages.format import figure_text, id_text, markdown_text, p_cell, p_phrase, plot_text, reported_digits
from analysis.pages.comparison import SCROLL_HINT, comparison_html, comparison_rows, note_html
from analysis.pages.labels import header_words, words
from analysis.pages.competing_risks import CIF_COLUMNS
from analysis.pages.disclosure import Disclosure, mask_cell, mask_figures, tidy_withheld
from analysis.pages.disclosure_tables import protect_table
from analysis.pages.takeaway import (
    TableStore, comparison_frame, is_bundled_cohort, neutral_comparison_html, own_caption,
)

def _in_words(frame: pd.DataFrame) -> pd.DataFrame:
    """Headers, index entries and text cells through the label registry (no snake_case reaches a
    reader); headers and row labels in sentence case, as a journal table prints them."""
    # words and header_words pass anything but text through (numbers, None names) unchanged
    frame = frame.rename(columns=header_words, index=header_words)
    frame.index = frame.index.set_names([header_words(n) for n in frame.index.names])
    frame.columns = frame.columns.set_names([header_words(n) for n in frame.columns.names])
    return frame.map(words)


def _whole_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """A float column that holds only whole numbers (counts after a reindex) prints without '.0'."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_float_dtype(values) and values.notna().any() and \
                (values.dropna() == values.dropna().round()).all():
            out[column] = values.map(lambda v: v if pd.isna(v) else int(v)).astype(object)
    return out


# names a reader types as they are (column names and values of the cohort file, file names): shown as code
LITERAL_NAME = re.compile(r"\b(?:[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[\w-]+\.(?:py|ya?ml|csv|xlsx|parquet|json|md))\b")


def displayed_frame(frame: pd.DataFrame, *, min_cell: int = 0, literal_names: bool = False) -> pd.DataFrame:
    """The table as a reader sees it (words, whole counts, small counts masked): what the page shows,
    and what its CSV and the build's workbook hold (never the raw counts)."""
    frame = _whole_counts(frame)
    if literal_names:  # headers in words; the cells keep the names as a file has them
        frame = frame.rename(columns=header_words)
    else:
        frame = _in_words(frame)
    if min_cell:
        frame = frame.map(lambda v: mask_cell(v, min_cell))
    return frame


def html_table(frame: pd.DataFrame, caption: str, *, index: bool = True, notes: Iterable[str] = (),
               min_cell: int = 0, literal_names: bool = False):
    """A summary table as an HTML table with a caption (and footnotes), for display in a chapter.

    Every header, index entry and text cell is put in words (:func:`analysis.pages.labels.words`);
    whole-number float columns print as counts. The table sits in a box that scrolls sideways on a
    narrow screen, with a hint shown when it does. With ``min_cell``, integer cells from 1 to
    min_cell - 1 are shown as '<min_cell'. ``literal_names``: the table documents the file format
    (data dictionary, methods), so column names, values and file names in it are set as code, as
    typed, instead of being put in words.
    """
    from IPython.display import HTML

    frame = displayed_frame(frame, min_cell=min_cell, literal_names=literal_names)
    if min_cell:
        notes = [*notes, Disclosure(min_cell).note()]

    names = [n for n in frame.index.names] if index else []
    body = frame.to_html(index=index, escape=True, border=0, classes="table book-table",
                         na_rep="\u2013", index_names=False)
    if any(names):  # the index names head their columns, in the header row, not in a row of their own
        head, rest = body.split("</tr>", 1)
        for name in names:
            head = head.replace("<th></th>", f"<th>{html.escape(str(name or ''))}</th>", 1)
        body = head + "</tr>" + rest
    # a table of sentences (data dictionary, calibration notes) may wrap anywhere rather than overflow
    wide = len(frame.columns) > 5 or frame.map(lambda v: isinstance(v, str) and len(v) > 60).to_numpy().any()
    body = body.replace(' class="dataframe table book-table"',
                        ' class="table book-table wrap"' if wide else ' class="table book-table"')
    if literal_names:  # after escaping: the names are plain text, the code tags are ours
        head, rest = body.split("</thead>", 1) if "</thead>" in body else ("", body)
        body = head + ("</thead>" if head else "") + LITERAL_NAME.sub(
            lambda m: "<code>" + m.group(0).replace("_", "_<wbr>") + "</code>", rest)  # long names wrap at _
    foot = "".join(f"<p class='table-note'>{note_html(n)}</p>" for n in notes)
    return HTML(f"<figure class='book-table'><figcaption>{html.escape(caption)}</figcaption>"
                f"{SCROLL_HINT}<div class='table-scroll'>{body}</div>{foot}</figure>")


def logrank_frame(test) -> pd.DataFrame:
    """A log-rank result as a table: patients, observed and expected events, their ratio."""
    table = test.table.copy()
    table["observed / expected"] = table["observed"] / table["expected"]
    table = table.rename(columns={"n": "patients", "observed": "observed events",
                                  "expected": "expected events"})
    table = table.set_index("group") if "group" in table.columns else table
    return table.round({"expected events": 1, "observed / expected": 2})


def paper_hazard_ratios(prefix: str) -> pd.DataFrame:
    """The paper's hazard ratios under ``prefix`` (hr, lower, upper, p), for a forest plot beside ours.

    Indexed by the book's label of each term (as the rows of a section's Cox table);
    bounds are NaN when the paper gives none.
    """
    from analysis.paper import published_value
    from analysis.study import TERM_LABELS

    block = published_value(prefix)
    rows = {}
    for term, values in block.items():
        if isinstance(values, dict) and "hr" in values:
            lower, upper = values.get("ci", [float("nan"), float("nan")])
            rows[TERM_LABELS.get(term, term)] = {"hr": values["hr"], "lower": lower, "upper": upper, "p": values.get("p")}
    return pd.DataFrame.from_dict(rows, orient="index")


def cox_frame(coefficients: pd.DataFrame) -> pd.DataFrame:
    """Cox coefficients as a table: HR with profile CI and LR p, then the Wald versions.

    ``coefficients`` is a section's Cox table (rows labelled by
    :data:`analysis.study.reproduction.TERM_LABELS`) or a model's ``coefficients_``.
    """
    c = coefficients
    frame = pd.DataFrame({
        "HR": c["hr"].map(lambda v: figure_text(v, 3)),
        "95% CI (profile)": [figure_text([lo, up], 3) for lo, up in zip(c["hr_profile_lower"], c["hr_profile_upper"])],
        "p (likelihood ratio)": c["p_lr"].map(p_cell),
        "95% CI (Wald)": [figure_text([lo, up], 3) for lo, up in zip(c["hr_lower"], c["hr_upper"])],
        "p (Wald)": c["p"].map(p_cell),
    }, index=c.index.rename("term"))
    return frame


def firth_frame(refit: pd.DataFrame) -> pd.DataFrame:
    """:func:`analysis.study.firth_refit` as a table: HR, profile CI and likelihood-ratio p per term and fit."""
    return pd.DataFrame({
        "HR": refit["hr"].round(3),
        "95% CI (profile)": [figure_text([lo, up], 3) for lo, up in zip(refit["hr_profile_lower"],
                                                                       refit["hr_profile_upper"])],
        "p (likelihood ratio)": refit["p_lr"].map(p_cell),
    }, index=refit.index)


def zph_frame(fits: dict) -> pd.DataFrame:
    """cox.zph of every fitted Cox model in ``fits`` (name -> CoxModel), one block per model."""
    blocks = []
    for name, fit in fits.items():
        if not hasattr(fit, "zph") or getattr(fit, "method_", None) == "firth":  # zph is undefined for a penalized fit
            continue
        from analysis.study import COLUMN_LABELS

        z = fit.zph().copy().rename(index=COLUMN_LABELS)
        z["model"] = name
        blocks.append(z.reset_index().rename(columns={"index": "term"}))
    if not blocks:
        return pd.DataFrame(columns=["model", "term", "chi-squared", "df", "p"])
    table = pd.concat(blocks, ignore_index=True)
    table = table.rename(columns={"chisq": "chi-squared"})
    table.columns = ["term" if c in ("term", "level_0") else c for c in table.columns]
    table["chi-squared"] = table["chi-squared"].round(3)
    table["p"] = table["p"].map(p_cell)
    return table.set_index(["model", "term"])[["chi-squared", "df", "p"]]


def glue_figure(name: str, figure) -> None:
    """Glue a matplotlib figure as a PNG image (for a ``{glue:figure}`` directive) and close it.

    Rendered here rather than by the notebook's display hooks, so it works whatever the
    matplotlib backend; metadata is dropped so the same figure gives the same bytes.
    """
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image
    from myst_nb import glue

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    glue(name, Image(data=buffer.getvalue(), format="png"), display=False)


def note_figure(text: str):
    """A small image that says why a figure is not shown (a glued figure must always exist)."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(7.5, 1.2))
    fig.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=10)
    plt.close(fig)
    return fig


def _source(section, key: str):
    return section.tables[key] if key in section.tables else section.fits.get(key)


class ChapterPage:
    """What one chapter shows, with its small-cell rule.

    Parameters
    ----------
    results_path : path or None
        The chapter's results file (from the build), or None when run on its own.
    min_cell : int
        Counts from 1 to min_cell - 1 are shown as '<min_cell' in the text, the tables, the
        at-risk rows of the plots and results.json (0: off).
    """

    def __init__(self, results_path: str | Path | None = None, min_cell: int = 0, cohort=None):
        self.results_path = results_path
        self.min_cell = int(min_cell or 0)
        self.results = Results("", results_path)
        # one set of suppressed group sizes per build: every chapter decides it from the same cohort
        self.disclosure = Disclosure.from_cohort(cohort, self.min_cell)
        # a user's cohort is reported as itself, the paper beside it for comparison (no verdicts)
        self.own_cohort = not is_bundled_cohort(cohort)
        self.tables = TableStore(results_path)
        self.texts: dict[str, str] = {}  # each recorded figure as the prose prints it (for sentence)
        self.shown: dict[str, Any] = {}  # each recorded figure as results.json holds it (for linked)
        # the optional columns the cohort lacks: a sentence left out names them
        self.missing_columns = list(getattr(cohort, "missing_optional", None) or [])
        self._said_missing: set[str] = set()

    def record(self, figures: dict[str, Any], expected_prefix: str | None = None, *, digits: int | None = None,
               counts: bool | None = None) -> dict[str, Any]:
        """Record the figures (masked) in results.json and glue each as ``id``, its text as ``id.txt``
        and, for a p-value, ``id.eq`` for prose ("p = 0.0123", "p < 0.0001", never "p = <0.0001").

        ``digits``: None prints each figure at the book's precision for its id; a number prints that
        many decimals, trimmed (7.5, not 7.500), for the primer and the "Beyond the paper" pages,
        where probabilities and hazard-ratio intervals need three. ``counts`` says which figures
        the small-cell rule treats as counts of patients: None, those whose id names a count (the
        paper's ids); True, every integer (ids of the book's own); False, none (the primer's
        made-up table). Every published id under ``expected_prefix`` that was not computed is
        glued as 'NA', so the prose renders on any cohort (an empty group, a missing column).
        """
        from myst_nb import glue

        from analysis.paper import flatten, load_published
        from analysis.study import EXTRA_IDS

        shown = mask_figures(figures, self.disclosure, counts=counts)
        self.shown.update(shown)
        for dotted, value in shown.items():
            self.results.add(dotted, value)
            text = id_text(dotted, value) if digits is None or dotted.endswith(".p") \
                else figure_text(value, digits, trim=True)
            self.texts[dotted] = text
            glue(f"{dotted}.txt", text, display=False)
            if dotted.endswith(".p"):
                self.texts[f"{dotted}.eq"] = p_phrase(value)
                glue(f"{dotted}.eq", self.texts[f"{dotted}.eq"], display=False)
        if expected_prefix:
            section = expected_prefix.split(".")[0]
            expected = set(flatten(load_published().get(section, {}), section)) | set(EXTRA_IDS)
            for dotted in sorted(i for i in expected if i.startswith(expected_prefix) and i not in shown):
                glue(dotted, "NA", display=False)
                glue(f"{dotted}.txt", "NA", display=False)
                self.texts[dotted] = "NA"
                if dotted.endswith(".p"):
                    self.texts[f"{dotted}.eq"] = p_phrase("NA")
                    glue(f"{dotted}.eq", self.texts[f"{dotted}.eq"], display=False)
        return shown

    def sentence(self, name: str, template: str, otherwise: str | None = None, *, needs: Iterable[str] = (),
                 leaves_out: str = "") -> str:
        """Glue ``name`` as ``template`` with each ``{id}`` filled in as the prose prints it (``{id.eq}``:
        a p-value as "p = 0.012"), or, when any of those figures was not computed, as a note saying
        why: a missing column gives a sentence that says so, never "NA of NA patients (NA%)".

        Parameters
        ----------
        name : str
            The glue name the chapter's text shows with ``{glue:text}``.
        template : str
            The sentence, with recorded figure ids in braces.
        otherwise : str, optional
            The note to show instead; by default it is made by :meth:`gap` from ``needs`` and
            ``leaves_out``.
        needs : iterable of str
            The optional columns of the schema the figures come from.
        leaves_out : str
            What the chapter leaves out without them ("the test of skull involvement by group").

        Returns
        -------
        str
            The text glued.
        """
        from myst_nb import glue

        fields = re.findall(r"\{([\w.]+)\}", template)
        missing = any(self.texts.get(f.removesuffix(".eq"), "NA") in ("NA", "", "nan") for f in fields)
        if not missing:
            text = tidy_withheld(re.sub(r"\{([\w.]+)\}", lambda m: self.texts[m.group(1)], template))
        elif otherwise is None:
            text = self.gap(needs, leaves_out)
        else:
            text = otherwise
        glue(name, text, display=False)
        return text

    def gap(self, needs: Iterable[str], leaves_out: str) -> str:
        """The note shown instead of a sentence this cohort cannot support: the optional columns of
        ``needs`` it lacks, by name, and what the chapter leaves out; without a missing column, that
        the cohort's groups or events were too few (the notes at the top of the page say which)."""
        absent = [c for c in needs if c in self.missing_columns]
        what = leaves_out or "these figures"
        if absent:
            names = [f"'{c}'" for c in absent]
            names = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
            if names in self._said_missing:  # said once on the page; the next notes stay short
                return f"Without the {names} column this chapter also leaves out {what}."
            self._said_missing.add(names)
            return f"This cohort has no {names} column, so this chapter leaves out {what}."
        return (f"This chapter leaves out {what}, which this cohort cannot support (a group without patients, "
                "or too few patients or events).")

    def linked(self, section, key: str) -> list[tuple[list[tuple], bool]]:
        """The figures of ``section`` that add up cells of its table ``key`` (``Section.links``), as
        (cells, published): published when results.json prints the figure's value, so that table
        and figure are protected together. A figure not computed (NaN) links nothing."""
        links = getattr(section, "links", {}).get(key, {})
        if not links or not self.min_cell:
            return []
        # as recorded; a figure the page has not recorded (yet) is masked as record would
        masked = mask_figures(section.figures, self.disclosure) if set(links) - set(self.shown) else {}
        out = []
        for figure, cells in links.items():
            value = self.shown.get(figure, masked.get(figure))
            if value is None or (isinstance(value, float) and value != value):
                continue
            out.append((cells, not isinstance(value, str)))
        return out

    def table(self, frame: pd.DataFrame, caption: str, *, index: bool = True, notes: Iterable[str] = (),
              counts: bool = False, literal_names: bool = False, links=()):
        """An HTML table with its CSV link (and its sheet in the build's workbook); ``counts=True``
        applies the disclosure rule (primary and secondary) to its counts, protected together with
        ``links`` (:meth:`linked`); ``literal_names``: a table of the file format, names set as
        typed (see :func:`html_table`)."""
        from IPython.display import HTML

        if counts and self.min_cell:
            frame = protect_table(frame, self.disclosure, links=links)
            if (why := self.disclosure.withheld_expected_note(frame)) is not None:
                notes = [*notes, why]
        min_cell = self.min_cell if counts else 0
        shown = html_table(frame, caption, index=index, notes=notes, min_cell=min_cell, literal_names=literal_names)
        notes = [*notes, Disclosure(min_cell).note()] if min_cell else list(notes)
        link = self.tables.link(displayed_frame(frame, min_cell=min_cell, literal_names=literal_names), caption,
                                notes, index=index)
        return HTML(shown.data + link)

    def comparison(self, figures: dict[str, Any], prefix: str, caption: str,
                   labels: dict[str, str] | None = None, notes: Iterable[str] = ()):
        """The paper-versus-computed table of one block of figures."""
        from IPython.display import HTML

        rows = comparison_rows(figures, prefix, labels, self.disclosure)
        if self.own_cohort:
            caption = own_caption(caption)
            shown = neutral_comparison_html(rows, caption, notes)
        else:
            shown = comparison_html(rows, caption, notes)
        return HTML(shown + self.tables.link(comparison_frame(rows, self.own_cohort), caption, notes, index=False))

    def notes(self, section):
        """The section's notes (empty groups, models not fitted...) as a visible admonition."""
        from IPython.display import Markdown

        if not section.notes:
            return None  # nothing to show (an empty Markdown would print its repr)
        items = "\n".join(f"- {markdown_text(note)}" for note in section.notes)  # notes can quote the file name
        return Markdown(f"```{{note}}\nWhat this cohort could not support:\n\n{items}\n```")

    def optional(self, section, key: str, build, caption: str, **kwargs):
        """A table built from ``section.tables[key]`` (else ``section.fits[key]``), or a note why not."""
        from IPython.display import Markdown

        source = _source(section, key)
        if source is None:
            reason = "; ".join(section.notes) or "the cohort does not have what it needs"
            return Markdown(f"*{markdown_text(caption)}: not computed ({markdown_text(reason)}).*")
        # estimates on 1..k-1 events (model terms, RMST, cumulative incidence) go before the page shows them
        frame, withheld = self.disclosure.withhold_rows(key, build(source), CIF_COLUMNS)
        if withheld:
            kwargs["notes"] = [*kwargs.get("notes", ()), withheld]
        return self.table(frame, caption, links=self.linked(section, key), **kwargs)

    def figure(self, name: str, section, key: str, make) -> None:
        """Glue the plot ``make(source)`` as ``name`` (source as in :meth:`optional`), or a note."""
        source = _source(section, key)
        if source is None:
            reason = "; ".join(section.notes) or "the cohort does not have what it needs"
            glue_figure(name, note_figure(f"Not drawn: {plot_text(reason)}"))
        else:  # a forest plot draws no estimate on 1..k-1 events; no at-risk row of a suppressed group
            from analysis.pages.plots import hidden_risk_rows

            rule = self.disclosure
            with hidden_risk_rows(rule.suppressed_sizes, {g: rule.deaths[g] for g in rule.suppressed_deaths}):
                glue_figure(name, make(self.disclosure.withhold_source(key, source)))


def glue_paper(*ids: str) -> None:
    """Glue the paper's printed figures as ``paper.<id>`` and ``paper.<id>.txt`` for the prose.

    Read from the project's copy of the published statistics; not recorded in results.json, which
    holds computed figures only.
    """
    from myst_nb import glue

    from analysis.paper import published_value

    for dotted in ids:
        value = published_value(dotted)
        glue(f"paper.{dotted}", value, display=False)
        glue(f"paper.{dotted}.txt", id_text(dotted, value), display=False)
        if dotted.endswith(".p"):
            glue(f"paper.{dotted}.eq", p_phrase(value), display=False)
