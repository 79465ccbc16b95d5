"""Disclosure control on what a build publishes: the book built with min_cell 5 on synthetic
cohorts of 40 and 60 patients (one build each, shared by the tests of this module), then

* every output file (HTML, JSON, notebooks, SVG, PNG text chunks, searchindex.js, _sources, the
  results tables) is scanned for patient ids and dates, for single-patient times (each patient's
  survival and follow-up in results.json; the extremes of follow-up anywhere a table shows them),
  and for counts from 1 to 4 standing as counts (results.json, count tables, the flow diagram);
* an attacker reads the published results.json and tables and bounds every suppressed cell with
  an integer programme (scipy's milp) over the group sizes and each table's margins; a cell whose
  minimum equals its maximum is disclosed.

Printed with -s: the tables the attacker checked and the secondary suppressions they cost.
"""

from __future__ import annotations

import html
import json
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pandas as pd
import pytest

from analysis.build import build_book
from analysis.cohort import load_cohort
from analysis.paper.comparison import kind_of
from analysis.pages import logrank_frame
from analysis.pages.disclosure import NOT_SHOWN, SECONDARY, SUPPRESSED, Disclosure
from disclosure_attacker import risk_cells, solve  # noqa: E402  (tests/ is not a package)
from analysis.study import outcomes_figures, treatments_figures
from conftest import patient_level_strings

K = 5
SIZES = {"all": "cohort.n_abc", "cns": "cohort.n_cns.n", "B": "cohort.groups.B.n",
         "BL": "cohort.groups.BL.n", "L": "cohort.groups.L.n"}
REPORT: dict[int, dict[str, int]] = {}


# DISCLOSURE_SIZES=40,60,2000 adds the 2,000-patient cohort (a build of about a minute more; measured
# and reported rather than run in CI)
@pytest.fixture(scope="module", params=[int(n) for n in __import__("os").environ.get("DISCLOSURE_SIZES", "40,60").split(",")])
def build(request, tmp_path_factory):
    """(n, cohort file, loaded cohort, build output folder): one full build per cohort size."""
    import os

    if os.environ.get("DISCLOSURE_BUILDS"):  # a folder of earlier builds b<n> of c<n>.csv (while editing this file)
        folder = Path(os.environ["DISCLOSURE_BUILDS"])
        REPORT.setdefault(request.param, {"tables": 0, "suppressed": 0, "secondary": 0})
        csv = folder / f"c{request.param}.csv"
        return request.param, csv, load_cohort(csv), folder / f"b{request.param}"
    folder = tmp_path_factory.mktemp(f"dc{request.param}")
    csv = folder / "cohort.csv"
    subprocess.run([sys.executable, "-m", "analysis", "synth", "--n-patients", str(request.param),
                    "--seed", "7", "--out", str(csv)], check=True, capture_output=True)
    result = build_book(out=folder / "book", cohort=csv, params={"min_cell": str(K)}, log=lambda _: None)
    REPORT.setdefault(request.param, {"tables": 0, "suppressed": 0, "secondary": 0})
    return request.param, csv, load_cohort(csv), result.out


# --------------------------------------------------------------------------- reading the outputs
def png_text(data: bytes) -> str:
    """The text chunks (tEXt, zTXt, iTXt) of a PNG: where a plotting library leaves metadata."""
    out, at = [], 8
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if kind == b"tEXt":
            out.append(body.decode("latin-1"))
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            out.append(key.decode("latin-1") + " " + zlib.decompress(rest[1:]).decode("latin-1"))
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            flag, rest = rest[0], rest[2:]
            _, _, rest = rest.partition(b"\0")  # language tag
            _, _, text = rest.partition(b"\0")  # translated keyword
            out.append(key.decode("latin-1") + " " + (zlib.decompress(text) if flag else text).decode("utf-8"))
        at += 12 + length
    return "\n".join(out)


def output_texts(out: Path):
    """(path, text) of every file of the build: PNGs by their text chunks, zips (the workbook) by
    their members, the rest as text."""
    for path in sorted(out.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if data[:4] == b"PK\x03\x04":  # a zip (tables.xlsx): its members, uncompressed
            import io
            import zipfile

            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                yield path, "\n".join(archive.read(m).decode("utf-8", errors="ignore") for m in archive.namelist())
            continue
        yield path, png_text(data) if data[:8] == b"\x89PNG\r\n\x1a\n" else data.decode("utf-8", errors="ignore")


def tables(out: Path):
    """(page, caption, header cells, rows of (index cells, data cells)) of every table on every page."""
    for page in sorted((out / "html").rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        for figure in re.findall(r"<figure class=.book-table.>.*?</figure>", text, re.S):
            caption = html.unescape(re.sub(r"<[^>]+>", "", re.search(r"<figcaption>(.*?)</figcaption>",
                                                                       figure, re.S).group(1)))
            head = re.search(r"<thead>(.*?)</thead>", figure, re.S)
            header = [_text(c) for c in re.findall(r"<th[^>]*>(.*?)</th>", head.group(1), re.S)] if head else []
            body = re.search(r"<tbody>(.*?)</tbody>", figure, re.S)
            rows = [([_text(c) for c in re.findall(r"<th[^>]*>(.*?)</th>", row, re.S)],
                     [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)])
                    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)] if body else []
            yield page, caption, header, rows, "are suppressed" in figure


def _text(cell: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", cell)).replace("\u00a0", " ").strip()


def the_table(out: Path, caption_start: str):
    found = [(header, rows) for _, caption, header, rows, _ in tables(out) if caption.startswith(caption_start)]
    return found[0] if found else None


def column_of(header: list[str], name: str) -> int:
    """The position of a column named ``name`` in any case: a page prints headers in sentence case
    ("Observed events") and group names in capitals ("Group BL"), so neither is lowered."""
    return [h.lower() for h in header].index(name.lower())


def numbers(value) -> list[float]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, list):
        return [x for v in value for x in numbers(v)]
    return []


# --------------------------------------------------------------------------- 1. the scan
def test_no_patient_id_or_date_in_any_output_file(build):
    n, csv, _, out = build
    needles = patient_level_strings(pd.read_csv(csv, dtype=str))
    scanned = 0
    for path, text in output_texts(out):
        scanned += 1
        leaked = sorted(x for x in needles if x in text)
        assert not leaked, f"{path.relative_to(out)}: {leaked[:5]}"
    assert scanned > 300 and any(p.name == "searchindex.js" for p in out.rglob("searchindex.js"))
    assert any(p.suffix == ".png" for p in out.rglob("*.png")) and any(out.rglob("_sources/**/*"))


def _single_patient_times(cohort) -> tuple[set[float], set[float]]:
    """(every patient's own times, the extremes of follow-up overall and by group)."""
    data = cohort.data
    times, extremes = set(), set()
    for column in ("os_from_cns", "os_from_abc", "time_abc_to_cns"):
        if column not in data:
            continue
        times |= set(data[column].dropna().astype(float))
        for _, values in [("all", data[column])] + list(data.groupby(data["group"].astype(str))[column]):
            values = values.dropna()
            if len(values):
                extremes |= {float(values.min()), float(values.max())}
    return times - {0.0}, extremes - {0.0}


# A median (and its CI or quartiles) of a group of k or more is an order statistic of the group, a
# patient's time by construction; it is what survival studies publish and the rule keeps it.
_ORDER_STATISTIC = {"median", "ci", "q1", "q3", "iqr", "reverse_km_median", "cutoff", "horizon"}


def test_no_single_patient_time_in_results_or_tables(build):
    n, _, cohort, out = build
    times, extremes = _single_patient_times(cohort)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    leaked = {}
    for key, value in results.items():
        if kind_of(key, parent_has_hr=False) == "count" or any(part in _ORDER_STATISTIC or "median" in part
                                                               or part.endswith("_ci") for part in key.split(".")):
            continue
        if key.startswith("primer.") or ".deaths." in key:
            continue  # the primer's made-up ten patients; counts of deaths (a count equal to a time is no leak)
        hits = [v for v in numbers(value) if v in extremes or (v in times and v >= 30 and len(numbers(value)) > 1)]
        if hits:
            leaked[key] = value
    assert not leaked, f"single-patient times in results.json: {leaked}"
    for page, caption, _, rows, _ in tables(out):
        for index, cells in rows:
            if any(word in " ".join(index).lower() for word in ("median", "quartile")):
                continue
            for cell in cells:
                if "median" in caption.lower() and "%" not in cell:
                    continue  # the medians' comparison tables: order statistics, see above
                if re.search(r"\d{4}-\d{2}-\d{2}", cell) or "made-up" in caption:
                    continue  # a date is no range (dates are scanned above); the file-format page's example
                shown = {float(x) for x in re.findall(r"(?<![\d.])\d+(?:\.\d+)?(?![\d.])", cell)}
                assert not (shown & extremes and re.search(r"\d\s*[\u2013-]\s*\d", cell)), \
                    f"{page.name}, {caption!r}: a range with a patient's own time {cell!r}"


def test_no_small_count_published(build):
    n, _, cohort, out = build
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    small = {k: v for k, v in results.items() if kind_of(k, parent_has_hr=False) == "count"
             and isinstance(v, int) and not isinstance(v, bool) and 0 < v < K}
    assert not small, small
    checked = 0
    for page, caption, _, rows, counts in tables(out):
        if not counts:
            continue
        checked += 1
        for _, cells in rows:
            bad = [c for c in cells if (m := re.fullmatch(r"(\d+)(?:\s\([^()]*%\))?", c)) and 0 < int(m.group(1)) < K]
            assert not bad, f"{page.name}, {caption!r}: {bad}"
    assert checked >= 5
    # the flow diagram, drawn as the cohort chapter draws it (its counts are in the picture only)
    from analysis.pages import flow_diagram
    from analysis.study import cohort_figures

    section = cohort_figures(cohort)
    figure = flow_diagram(section.tables["flow"]["patients"].to_dict(), disclosure=Disclosure.from_cohort(cohort, K))
    text = " ".join(t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text")))
    bad = [m for m in re.findall(r"(?<![\w.<])(\d+)(?![\w.%])", text) if 0 < int(m) < K]
    assert not bad, f"flow diagram: {text!r}"


# --------------------------------------------------------------------------- 2. the attacker (tests/disclosure_attacker.py)
def attack(n: int, name: str, published: list[str], lines, truth=None, hidden=()) -> None:
    """Fail if a suppressed cell of ``published`` follows from what is published. ``hidden``:
    cells the table implies but does not print; they are disclosed only when small."""
    report = REPORT[n]
    report["tables"] += 1
    report.setdefault("names", []).append(name)
    report["suppressed"] += sum(t in (f"<{K}", SECONDARY, NOT_SHOWN, SUPPRESSED) for t in published)
    report["secondary"] += sum(t in (SECONDARY, SUPPRESSED) for t in published)
    disclosed = {i: b for i, b in solve(published, lines, truth).items() if b[0] == b[1]
                 and (i not in set(hidden) or (truth is not None and 0 < truth[i] < K))}
    assert not disclosed, f"{n} patients, {name}: cells {disclosed} follow from what is published"


def _published_sizes(results: dict) -> list[str]:
    sizes = [str(results[SIZES[k]]) for k in ("all", "cns")] + [""]  # no_cns: all - cns, not printed
    return sizes + [str(results[SIZES[g]]) for g in ("B", "BL", "L")]


def test_results_json_resists_the_attacker(build):
    """The flow (all = CNS + no CNS, CNS = B + BL + L) with every count of a group published in
    results.json: each group's n of its patients (n + the rest = the group's size)."""
    n, _, cohort, out = build
    results = {k: ("x" if v == SUPPRESSED else str(v) if not isinstance(v, float) else str(int(v)) if v.is_integer()
                   else str(v)) for k, v in json.loads((out / "results.json").read_text(encoding="utf-8")).items()}
    published = _published_sizes(results)
    lines = [([1, 2], None, 0), ([3, 4, 5], None, 1)]
    at = {"B": 3, "BL": 4, "L": 5}
    hidden = [2]
    for key in sorted(results):
        match = re.fullmatch(r"(.+)\.(B|BL|L)\.of", key)
        if not match or f"{match.group(1)}.{match.group(2)}.n" not in results:
            continue
        if results[key] != published[at[match.group(2)]]:
            continue  # a subset of the group: its own denominator, not the group's size
        # results.json's 'suppressed' may hide a count for its complement's sake: not known to be >= K
        shown = results[f"{match.group(1)}.{match.group(2)}.n"]
        published += [shown if shown != "x" else "", ""]
        lines.append(([len(published) - 2, len(published) - 1], None, at[match.group(2)]))
        hidden.append(len(published) - 1)
    attack(n, "results.json", published, lines, hidden=hidden)


def _true_sizes(cohort) -> list[int]:
    data = cohort.data
    groups = [int((data["group"].astype(str) == g).sum()) for g in ("B", "BL", "L")]
    return [len(data), sum(groups), len(data) - sum(groups), *groups]


def test_published_tables_resist_the_attacker(build):
    """The count tables as the pages print them, with the group sizes of results.json and the counts
    their chapter prints in other cuts (Section.links); their margins (row and column totals) are
    taken as known, a stronger attacker than the page makes, but for the treatments' totals."""
    n, _, cohort, out = build
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    sizes = [str(v) if str(v) != SUPPRESSED else SECONDARY for v in _published_sizes(results)]
    groups = {"B": 3, "BL": 4, "L": 5}
    outcomes = outcomes_figures(cohort)
    checked = 0
    if "os_from_cns_logrank" in outcomes.fits and (table := the_table(out, "Log-rank test of overall survival")):
        true = logrank_frame(outcomes.fits["os_from_cns_logrank"])
        header, rows = table
        names = [index[0] for index, _ in rows]
        patients = [cells[column_of(header, "patients") - 1] for _, cells in rows]
        observed = [cells[column_of(header, "observed events") - 1] for _, cells in rows]
        t_pat = [int(true.loc[g, "patients"]) for g in names]
        t_obs = [int(true.loc[g, "observed events"]) for g in names]
        m = len(names)
        published = sizes + patients + observed + [""] * m
        truth = [len(cohort.data), sum(t_pat), len(cohort.data) - sum(t_pat)] + \
            [int((cohort.data["group"].astype(str) == g).sum()) for g in ("B", "BL", "L")] + \
            t_pat + t_obs + [p - o for p, o in zip(t_pat, t_obs)]
        size_truth = _true_sizes(cohort)
        truth[:6] = size_truth
        lines = [([1, 2], None, 0), ([3, 4, 5], None, 1)]
        expected = [cells[column_of(header, "expected events") - 1] for _, cells in rows]
        if "withheld" not in expected:  # the expected events add up to the observed (withheld when the survivors are few)
            lines.append((list(range(6 + m, 6 + 2 * m)), round(true["expected events"].sum()), None))
        lines += [([6 + m + i, 6 + 2 * m + i], None, 6 + i) for i in range(m)]
        # the test's patients are the group's when none lacks a survival time: then its size is theirs
        lines += [([6 + i], None, groups[g]) for i, g in enumerate(names)
                  if g in groups and t_pat[i] == size_truth[groups[g]]]
        lines.append((list(range(6, 6 + m)), None, 1) if sum(t_pat) == size_truth[1]
                     else (list(range(6, 6 + m)), sum(t_pat), None))
        attack(n, "log-rank (outcomes)", published, lines, truth, hidden=[2, *range(6 + 2 * m, 6 + 3 * m)])
        checked += 1
    for section, key, caption in ((outcomes, "cause_of_death", "Cause of death by group"),
                                  (treatments_figures(cohort), "initial_treatment", "Initial treatment of the CNS"),
                                  (treatments_figures(cohort), "prior_srs", "Stereotactic radiosurgery before")):
        table = the_table(out, caption)
        if key not in section.tables or table is None:
            continue
        header, rows = table
        true = section.tables[key]
        if key == "initial_treatment":  # the page orders the treatments clinically: its builder's order
            from analysis.pages import initial_treatment_table

            shown = initial_treatment_table(true, 0)
            true = shown.iloc[:-1].map(lambda v: int(re.match(r"\d+", str(v)).group(0)))  # less its Total row
        # a Total row prints the group sizes, which the attacker holds already (the column sums)
        cells = [cells for index, cells in rows if index[:1] != ["Total"]]
        r, c = len(cells), len(cells[0])
        assert true.shape == (r, c), f"{caption}: the page's table is not the section's {true.shape}"
        flat = [cells[i][j] for i in range(r) for j in range(c)]
        truth = [int(v) for v in true.to_numpy().ravel()]
        size_truth = _true_sizes(cohort)
        at = lambda i, j: 6 + i * c + j  # noqa: E731  (after the six group sizes)
        lines = [([1, 2], None, 0), ([3, 4, 5], None, 1)]
        # a row's total is taken as known (a stronger attacker than the page makes), except for the
        # treatments: their totals are printed only as the chapter's linked counts (added below)
        if key != "initial_treatment":
            lines += [([at(i, j) for j in range(c)], int(true.iloc[i].sum()), None) for i in range(r)]
        rule, extra = Disclosure.from_cohort(cohort, K), []
        for j in range(c):
            group = re.search(r"\b(B|BL|L)\b", header[j + 1])
            column = int(true.iloc[:, j].sum())
            # a column of deaths adds up to the group's deaths: known only where the build prints them
            # (a group in which everyone died does not tell the attacker so: its deaths may be suppressed)
            if group and key == "cause_of_death" and rule.deaths_hidden(group.group(1), column):
                extra.append(column)
                lines.append(([at(i, j) for i in range(r)], None, 6 + r * c + len(extra) - 1))
            elif group and column == size_truth[groups[group.group(1)]]:
                lines.append(([at(i, j) for i in range(r)], None, groups[group.group(1)]))  # its size, as printed
            elif group and rule.deaths_hidden(group.group(1), column):  # a group's deaths, suppressed build-wide
                extra.append(column)
                lines.append(([at(i, j) for i in range(r)], None, 6 + r * c + len(extra) - 1))
            else:
                lines.append(([at(i, j) for i in range(r)], column, None))
        # the counts the chapter prints as sums of this table's cells (Section.links), as results.json has them
        rows_at = {str(label): i for i, label in enumerate(true.index)}
        if key == "initial_treatment":
            from analysis.pages.labels import level_label
            from analysis.pages.treatments import TREATMENT_WORDS

            rows_at = {t: rows_at[TREATMENT_WORDS.get(t, level_label(t))] for t in section.tables[key].index
                       if TREATMENT_WORDS.get(t, level_label(t)) in rows_at}
        columns_at = {g.group(1): j for j in range(c) if (g := re.search(r"\b(B|BL|L)\b", header[j + 1]))}
        for figure, members in section.links.get(key, {}).items():
            value = results.get(figure)
            cells_of = [at(rows_at[str(t)], columns_at[g]) for t, g in members if str(t) in rows_at and g in columns_at]
            if isinstance(value, int) and cells_of:
                lines.append((cells_of, value, None))
        flat, truth = sizes + flat + [""] * len(extra), size_truth + truth + extra
        attack(n, caption, flat, lines, truth, hidden=[2, *range(6 + r * c, 6 + r * c + len(extra))])
        checked += 1
    assert checked >= 2


def _cells_of(table) -> tuple[list[str], list[tuple[list[str], list[str]]]]:
    header, rows = table
    return header, rows


def test_baseline_table_as_published_resists_the_attacker(build):
    """Table 1 as the page prints it: each characteristic's levels add up to the group's N (in the
    header), the groups to the Overall column; medians are not counts."""
    from analysis.pages import baseline_table

    n, _, cohort, out = build
    table = the_table(out, "Characteristics at the diagnosis of CNS metastases")
    if table is None:
        pytest.skip("no baseline table on this cohort")
    header, rows = table
    true, _ = baseline_table(cohort, 0)
    groups = [j for j, h in enumerate(header[1:]) if "N =" in h]
    assert len(rows) == len(true)
    sizes = [re.search(r"N = (\S+)\)", header[1 + j]).group(1) for j in groups]
    true_sizes = [int(re.search(r"N\u00a0=\u00a0(\d+)", c).group(1)) for c in true.columns if "N" in c]
    count_rows = [i for i, (index, cells) in enumerate(rows) if "median" not in " ".join(index)
                  and any(cells[j] != "" for j in groups)]
    published, truth = list(sizes), list(true_sizes)
    at = {}
    for i in count_rows:
        for gi, j in enumerate(groups):
            at[i, gi] = len(published)
            published.append(rows[i][1][j])
            truth.append(int(re.match(r"\d+", str(true.iloc[i, j])).group(0)))
    blocks, current = [], []
    for i in range(len(rows)):
        if i in count_rows:
            current.append(i)
        elif current:
            blocks.append(current)
            current = []
    blocks += [current] if current else []
    m = len(groups)
    lines = [([at[i, gi] for i in block], None, gi) for block in blocks for gi in range(m)]
    lines += [([at[i, gi] for gi in range(m - 1)], None, at[i, m - 1]) for i in count_rows]  # groups -> Overall
    lines.append((list(range(m - 1)), None, m - 1))
    # bone and skull involvement by group, as results.json prints them: the group's "Yes" cell
    from analysis.pages.baseline import BASELINE_VARIABLES
    from analysis.study import backgrounds_figures

    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    labels = [" ".join(index).strip() for index, _ in rows]
    for figure, ((column, _, group),) in backgrounds_figures(cohort).links.get("baseline", {}).items():
        start = labels.index(BASELINE_VARIABLES[column][0])
        row = next(i for i in range(start + 1, len(rows)) if labels[i] == "Yes")
        gi = next(gi for gi, j in enumerate(groups) if header[1 + j].startswith(f"Group {group} "))
        if isinstance(results.get(figure), int) and row in count_rows:
            lines.append(([at[row, gi]], results[figure], None))
    # a cell of a group whose size is suppressed ('·') is anything: disclosed only if small
    attack(n, "Table 1 (baseline)", published, lines, truth, hidden=[i for i, t in enumerate(published) if t == NOT_SHOWN])


def test_flow_diagram_resists_the_attacker(build):
    """The flow diagram as drawn: all = CNS + no CNS, CNS = B + BL + L."""
    from analysis.pages import flow_diagram
    from analysis.study import cohort_figures

    n, _, cohort, out = build
    section = cohort_figures(cohort)
    counts = section.tables["flow"]["patients"].to_dict()
    figure = flow_diagram(counts, disclosure=Disclosure.from_cohort(cohort, K))
    drawn = {}
    for text in figure.findobj(lambda a: hasattr(a, "get_text")):
        match = re.search(r"\nn = (\S+)", text.get_text())
        if match:  # each box: its caption's first line, then "n = ..."
            drawn[text.get_text().split("\n")[0]] = match.group(1)
    first_lines = {"all": "All patients with", "cns": "CNS metastasis", "no_cns": "No CNS metastasis",
                   "B": "B: brain metastasis", "BL": "BL: brain metastasis", "L": "L: LM without obvious"}
    keys = list(first_lines)
    assert set(drawn) == set(first_lines.values()), drawn
    published = [drawn[first_lines[k]] for k in keys]
    truth = [int(counts[k]) for k in keys]
    attack(n, "flow diagram", published, [([1, 2], None, 0), ([3, 4, 5], None, 1)], truth)


def test_numbers_at_risk_resist_the_attacker(build):
    """The at-risk row of the OS figure as drawn: at each time, at risk + events so far + censored so
    far (not printed) = the group's size (as the flow publishes it)."""
    n, _, cohort, out = build
    outcomes = outcomes_figures(cohort)
    if "os_from_cns" not in outcomes.fits:
        pytest.skip("no OS fit on this cohort")
    cells = risk_cells(outcomes.fits["os_from_cns"], outcomes.fits.get("os_from_cns_logrank"),
                       Disclosure.from_cohort(cohort, K))  # as ChapterPage.figure draws it
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    sizes = [str(v) if str(v) != SUPPRESSED else SECONDARY for v in _published_sizes(results)]
    published, lines, hidden = list(sizes), [([1, 2], None, 0), ([3, 4, 5], None, 1)], [2]
    assert cells
    groups = {"B": 3, "BL": 4, "L": 5}
    for (group, _), (at_risk, events) in sorted(cells.items()):
        start = len(published)
        published += [at_risk, events, ""]
        lines.append(([start, start + 1, start + 2], None, groups[group]))
        hidden.append(start + 2)
    attack(n, "numbers at risk (OS from CNS)", published, lines, hidden=hidden)
    for at_risk, events in cells.values():  # no count from 1 to K - 1 printed
        assert not any(v.isdigit() and 0 < int(v) < K for v in (at_risk, events)), (at_risk, events)


def test_deaths_by_cause_in_results_resist_the_attacker(build):
    """Competing risks in results.json: deaths from CNS progression + other causes = deaths, and the
    deaths + the survivors (not printed) = the CNS patients."""
    n, _, cohort, out = build
    results = {k: ("x" if v == SUPPRESSED else str(v)) for k, v in
               json.loads((out / "results.json").read_text(encoding="utf-8")).items()}
    keys = ["competing_risks.deaths.cns", "competing_risks.deaths.other", "outcomes.deaths_at_cutoff.n",
            "outcomes.deaths_at_cutoff.of"]
    if not all(k in results and results[k] not in ("None", "nan") for k in keys):
        pytest.skip("no causes of death on this cohort")
    published = [results[k] for k in keys] + [""]
    attack(n, "deaths by cause", published, [([0, 1], None, 2), ([2, 4], None, 3)], hidden=[4])


def test_immortal_time_counts_resist_the_attacker(build):
    """The immortal-time table's counts (Cox event counts of each analysis): per row, the deaths and
    the survivors (not printed) add up to the patients, so do the treated and the untreated."""
    n, _, cohort, out = build
    table = the_table(out, "Subsequent systemic therapy under each analysis")
    if table is None or not table[1]:
        pytest.skip("the immortal-time analyses are not computed on this cohort")
    header, rows = table
    published, lines, hidden = [], [], []
    for _, cells in rows:
        patients, deaths, treated = (cells[column_of(header, c) - 1] for c in ("patients", "deaths", "treated"))
        at = len(published)
        published += [patients, deaths, "", treated, ""]
        lines += [([at + 1, at + 2], None, at), ([at + 3, at + 4], None, at)]
        hidden += [at + 2, at + 4]
    attack(n, "immortal time (Cox event counts)", published, lines, hidden=hidden)


def test_estimates_on_few_events_are_withheld_everywhere(build):
    """Every hazard ratio, CI, p, median, RMST and cumulative incidence that rests on 1 to K - 1
    events (analysis.study.event_bases) is 'withheld' in results.json and in its page's table; the
    page says what was withheld and why."""
    from analysis.pages.disclosure import WITHHELD

    n, _, cohort, out = build
    rule = Disclosure.from_cohort(cohort, K)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    if n >= 1000 and not rule.few:
        pytest.skip("no estimate of this large cohort rests on 1 to K - 1 events")
    assert rule.few
    for basis in rule.few:
        under = {k: v for k, v in results.items() if (k == basis.prefix or k.startswith(basis.prefix + "."))
                 and kind_of(k, parent_has_hr=False) != "count" and not k.endswith((".n", ".deaths", ".treated"))}
        assert all(v == WITHHELD for v in under.values()), under
    captions = {"all_cns": "Cox model of overall survival from CNS diagnosis, all CNS patients",
                "l_group": "Cox model of overall survival from CNS diagnosis, group L",
                "cif_at": "Cumulative incidence of death by cause", "cause_specific": "Cause-specific Cox models",
                "fine_gray": "Fine-Gray models", "rmst": "Restricted mean survival"}
    checked = 0
    for page, caption, header, rows, _ in tables(out):
        key = next((k for k, c in captions.items() if caption.startswith(c)), None)
        bases = [b for b in rule.few if key is not None and b.table == key]
        if not bases:
            continue
        figure = next(f for f in re.findall(r"<figure class=.book-table.>.*?</figure>",
                                            page.read_text(encoding="utf-8"), re.S)
                      if _text(re.search(r"<figcaption>(.*?)</figcaption>", f, re.S).group(1)) == caption)
        hits = 0
        for basis in bases:
            row = basis.row if isinstance(basis.row, tuple) else (basis.row,)
            found = [cells for index, cells in rows if tuple(index[:len(row)]) == tuple(str(r) for r in row)]
            if not found:  # not in the table (a model not fitted), or a multi-index row printed under another
                continue
            assert WITHHELD in found[0], (caption, basis.row, found[0])
            hits += 1
        if hits:  # the page says what it withheld, and why
            assert "Withheld under disclosure control" in html.unescape(figure), caption
            checked += 1
    assert checked


def test_report_what_the_attacker_checked():
    """Printed with -s: per cohort, the tables checked and the suppressed cells (secondary: the cost)."""
    for n, report in sorted(REPORT.items()):
        print(f"\n{n} patients: attacker checked {report['tables']} published tables and figures "
              f"({', '.join(report.get('names', []))}); {report['suppressed']} suppressed cells, of which "
              f"{report['secondary']} are secondary suppressions (the extra cells protecting the others)")
    families = {"results.json", "Table 1 (baseline)", "flow diagram", "numbers at risk (OS from CNS)",
                "Initial treatment of the CNS", "Cause of death by group"}
    assert REPORT and all(r["tables"] >= 8 and families <= set(r.get("names", ())) for r in REPORT.values())
