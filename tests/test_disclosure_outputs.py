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
from disclosure_attacker import solve  # noqa: E402  (tests/ is not a package)
from analysis.study import outcomes_figures, treatments_figures
from conftest import patient_level_strings

K = 5
SIZES = {"all": "cohort.n_abc", "cns": "cohort.n_cns.n", "B": "cohort.groups.B.n",
         "BL": "cohort.groups.BL.n", "L": "cohort.groups.L.n"}
REPORT: dict[int, dict[str, int]] = {}


@pytest.fixture(scope="module", params=[40, 60])
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
                                                               for part in key.split(".")):
            continue
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
    """The count tables as the pages print them, with the group sizes of results.json; their
    margins (row and column totals) are taken as known, a stronger attacker than the page makes."""
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
        patients = [cells[header.index("patients") - 1] for _, cells in rows]
        observed = [cells[header.index("observed events") - 1] for _, cells in rows]
        t_pat = [int(true.loc[g, "patients"]) for g in names]
        t_obs = [int(true.loc[g, "observed events"]) for g in names]
        m = len(names)
        published = sizes + patients + observed + [""] * m
        truth = [len(cohort.data), sum(t_pat), len(cohort.data) - sum(t_pat)] + \
            [int((cohort.data["group"].astype(str) == g).sum()) for g in ("B", "BL", "L")] + \
            t_pat + t_obs + [p - o for p, o in zip(t_pat, t_obs)]
        size_truth = _true_sizes(cohort)
        truth[:6] = size_truth
        lines = [([1, 2], None, 0), ([3, 4, 5], None, 1),
                 (list(range(6 + m, 6 + 2 * m)), round(true["expected events"].sum()), None)]
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
        lines += [([at(i, j) for j in range(c)], int(true.iloc[i].sum()), None) for i in range(r)]
        for j in range(c):
            group = re.search(r"\b(B|BL|L)\b", header[j + 1])
            column = int(true.iloc[:, j].sum())
            if group and column == size_truth[groups[group.group(1)]]:
                lines.append(([at(i, j) for i in range(r)], None, groups[group.group(1)]))  # its size, as printed
            else:
                lines.append(([at(i, j) for i in range(r)], column, None))
        flat, truth = sizes + flat, size_truth + truth
        attack(n, caption, flat, lines, truth, hidden=[2])
        checked += 1
    assert checked >= 2


def test_report_what_the_attacker_checked():
    """Printed with -s: per cohort, the tables checked and the suppressed cells (secondary: the cost)."""
    for n, report in sorted(REPORT.items()):
        print(f"\n{n} patients: attacker checked {report['tables']} published tables, "
              f"{report['suppressed']} suppressed cells, {report['secondary']} of them secondary")
    assert REPORT and all(r["tables"] >= 3 for r in REPORT.values())
