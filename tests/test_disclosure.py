"""Disclosure control against an attacker: every suppressed cell of every protected table family is
bounded by an integer programme over what the table publishes (its margins, totals and the group
sizes the build publishes); a cell whose minimum equals its maximum is disclosed. Run on synthetic
cohorts of 40, 60 and 2,000 patients with min_cell 5, and on the issue's flow (18 CNS patients)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from analysis.cohort import load_cohort
from analysis.pages import baseline_table, initial_treatment_table, logrank_frame
from analysis.pages.baseline import BASELINE_VARIABLES
from analysis.pages.disclosure import NOT_SHOWN, SECONDARY, WITHHELD, Disclosure, mask_figures
from analysis.pages.disclosure_tables import protect_risk_row, protect_table
from analysis.study import TERM_LABELS, backgrounds_figures, outcomes_figures, treatments_figures
from disclosure_attacker import risk_cells, solve  # noqa: E402  (tests/ is not a package)

K = 5
CHECKED = {"tables": 0, "suppressed": 0, "secondary": 0}


def bounds(published: list[str], truth: list[int], lines) -> dict[int, tuple[float, float]]:
    """The attacker's min and max of each suppressed cell (tests/disclosure_attacker.py); ``lines``:
    (members, constant, total cell): the members add up to the total cell, or to the constant."""
    return solve(published, lines, truth, big=1e7)


def attack(name: str, published: list[str], truth: list[int], lines) -> None:
    CHECKED["tables"] += 1
    CHECKED["suppressed"] += sum(t in (f"<{K}", SECONDARY, NOT_SHOWN) for t in published)
    CHECKED["secondary"] += sum(t == SECONDARY for t in published)
    for i, t in enumerate(published):  # no small count printed
        m = re.fullmatch(r"(\d+)(\s\(.*\))?", t)
        assert not (m and 0 < int(m.group(1)) < K), f"{name}: cell {i} prints {t!r}"
    disclosed = {i: b for i, b in bounds(published, truth, lines).items()
                 if b[0] == b[1] and (published[i] not in ("", NOT_SHOWN) or 0 < truth[i] < K)}
    assert not disclosed, f"{name}: cells {disclosed} follow from what is published"


def count(text: str) -> int:
    return int(re.match(r"\d+", str(text)).group(0))


@pytest.fixture(scope="module", params=[40, 60, 2000])
def synthetic(request, tmp_path_factory):
    import subprocess
    import sys

    path = tmp_path_factory.mktemp("synth") / f"c{request.param}.csv"
    subprocess.run([sys.executable, "-m", "analysis", "synth", "--n-patients", str(request.param),
                    "--seed", "7", "--out", str(path)], check=True, capture_output=True)
    return load_cohort(path)


def _flat(frame: pd.DataFrame) -> list[str]:
    return [str(v).replace("\u00a0", " ") for v in frame.to_numpy().ravel()]


def test_the_issues_flow_needs_a_second_group_suppressed():
    rule = Disclosure.decide(K, {"all": 40, "cns": 18, "no_cns": 22, "B": 16, "BL": 2, "L": 0})
    assert "BL" in rule.suppressed_sizes and len(rule.suppressed_sizes & {"B", "L"}) == 1
    keys = ["all", "cns", "no_cns", "B", "BL", "L"]
    truth = [rule.sizes[k] for k in keys]
    attack("flow", [rule.size_text(k) for k in keys], truth, [([1, 2], None, 0), ([3, 4, 5], None, 1)])


def _links(section, key: str, rule) -> tuple[dict, list]:
    """The figures linked to table ``key`` as results.json prints them, and the (cells, published)
    pairs a page passes to the table's builder (ChapterPage.linked)."""
    shown = mask_figures(section.figures, rule)
    links = section.links.get(key, {})
    return shown, [(cells, not isinstance(shown[f], str)) for f, cells in links.items()]


def test_baseline_table_resists_the_attacker(synthetic):
    """The baseline table with the counts the backgrounds chapter prints in its prose and results.json
    (bone involvement in group L, skull involvement by group: linked cells of this table)."""
    rule = Disclosure.from_cohort(synthetic, K)
    figures = backgrounds_figures(synthetic)
    masked, links = _links(figures, "baseline", rule)
    assert {f.removesuffix(".n") for f in figures.links["baseline"]} == {
        "backgrounds.bone_involvement_at_cns_L", "backgrounds.skull_involvement.B", "backgrounds.skull_involvement.BL",
        "backgrounds.skull_involvement.L"}
    shown, _ = baseline_table(synthetic, rule, links)
    true, _ = baseline_table(synthetic, 0)
    groups = [c for c in shown.columns if c != "p-value"]
    gpos = list(range(len(groups)))  # the same columns, named with different N in the two tables
    rows = [i for i, label in enumerate(shown.index) if "median" not in label
            and any(str(true.iloc[i, g]) != "" for g in gpos)]
    header = [re.search(r"N\u00a0=\u00a0(\S+)\)", c).group(1) for c in groups]
    true_header = [re.search(r"N\u00a0=\u00a0(\S+)\)", c).group(1) for c in true.columns if c != "p-value"]
    published = header + [str(shown.iloc[r, g]).replace("\u00a0", " ") for r in rows for g in gpos]
    truth = [int(h) for h in true_header] + [count(true.iloc[r, g]) for r in rows for g in gpos]
    at = {(r, g): len(groups) + j * len(groups) + gi for j, r in enumerate(rows) for gi, g in enumerate(groups)}
    blocks, current = [], []
    for i in range(len(shown)):
        if i in rows:
            current.append(i)
        elif current:
            blocks.append(current)
            current = []
    blocks += [current] if current else []
    lines = [([at[r, g] for r in block], None, gi) for block in blocks for gi, g in enumerate(groups)]
    lines += [([at[r, g] for g in groups[:-1]], None, at[r, groups[-1]]) for r in rows]
    lines.append((list(range(len(groups) - 1)), None, len(groups) - 1))
    # each linked figure results.json prints is a cell the attacker knows (its group's "Yes")
    labels = {column: label for column, (label, _, _) in BASELINE_VARIABLES.items()}
    for figure, cells in figures.links["baseline"].items():
        (column, level, group), = cells
        start = list(shown.index).index(labels[column])
        row = next(i for i in range(start + 1, len(shown)) if shown.index[i].strip() == "Yes")
        g = next(g for g in groups if g.split()[:2] == ["Group", group])
        if not isinstance(masked[figure], str):
            assert count(true.iloc[row][g]) == figures.figures[figure]
            lines.append(([at[row, g]], figures.figures[figure], None))
    # sizes the build publishes (the flow) are known to the attacker
    for gi, g in enumerate(groups):
        key = "cns" if g.startswith("Overall") else g.split()[1]
        assert published[gi] == rule.size_text(key)
    attack("baseline", published, truth, lines)
    for r, label in enumerate(shown.index):  # medians of a group under K are withheld
        if "median" in label:
            for g in groups:
                key = "cns" if g.startswith("Overall") else g.split()[1]
                assert (shown.iloc[r][g] == WITHHELD) == (rule.small_group(key) or key in rule.suppressed_sizes)


def test_treatment_table_resists_the_attacker(synthetic):
    rule = Disclosure.from_cohort(synthetic, K)
    section = treatments_figures(synthetic)
    counts = section.tables["initial_treatment"]
    shown = initial_treatment_table(counts, rule)
    true = initial_treatment_table(counts, 0)
    rows, cols = shown.shape
    published, truth = _flat(shown), [count(v) for v in _flat(true)]
    lines = [([r * cols + c for r in range(rows - 1)], None, (rows - 1) * cols + c) for c in range(cols)]
    lines += [([r * cols + c for c in range(cols)], sum(truth[r * cols:(r + 1) * cols]), None) for r in range(rows)]
    attack("treatments", published, truth, lines)


def _treatment_attack(name: str, counts: pd.DataFrame, figures: dict, links: dict, rule, use_links: bool = True):
    """The initial-treatment table and the prose's counts of it (patients given any RT, BSC, CSI by
    group: Section.links) solved together: the group sizes, each published figure as the sum of its
    cells, each suppressed one as an unknown that is that sum."""
    shown_figures = mask_figures(figures, rule)
    pairs = [(cells, not isinstance(shown_figures[f], str)) for f, cells in links.items()]
    shown = initial_treatment_table(counts, rule, pairs if use_links else ())
    true = initial_treatment_table(counts, 0)
    rows, cols = shown.shape
    published, truth = _flat(shown), [count(v) for v in _flat(true)]
    lines = [([r * cols + c for r in range(rows - 1)], None, (rows - 1) * cols + c) for c in range(cols)]
    order = {text: r for r, text in enumerate(true.index)}
    from analysis.pages.treatments import TREATMENT_WORDS

    group_at = {re.match(r"Group (\S+)", c).group(1): j for j, c in enumerate(true.columns)}
    for figure, cells in links.items():
        members = [order[TREATMENT_WORDS.get(t, t)] * cols + group_at[g] for t, g in cells
                   if TREATMENT_WORDS.get(t, t) in order and g in group_at]
        # a count of a group whose size is suppressed reads 'suppressed' whatever its value ('·')
        of_hidden_group = all(g in rule.suppressed_sizes for _, g in cells)
        published.append(NOT_SHOWN if of_hidden_group else str(shown_figures[figure]))
        truth.append(int(figures[figure]))
        lines.append((members, None, len(published) - 1))
    attack(name, published, truth, lines)
    return shown


def test_treatment_table_and_its_prose_resist_a_joint_attack(synthetic):
    rule = Disclosure.from_cohort(synthetic, K)
    section = treatments_figures(synthetic)
    assert len(section.links["initial_treatment"]) == 7  # RT and BSC by group, CSI patients
    linked = _treatment_attack("treatments and prose", section.tables["initial_treatment"], section.figures,
                               section.links["initial_treatment"], rule).iloc[:-1]
    # the links cost no whole table: where the table alone prints counts, it still does
    alone = initial_treatment_table(section.tables["initial_treatment"], rule).iloc[:-1]
    if not (alone == NOT_SHOWN).all().all():
        assert not (linked == NOT_SHOWN).all().all(), linked


def test_a_count_the_prose_prints_in_another_cut_gives_no_cell_back():
    """Group B: SRS 1, the rest published. Without the prose's counts (patients given any RT, BSC)
    the table's pattern is safe against its own margins, but the count of patients given RT, which
    the prose prints, gives a suppressed cell back; protected together, it does not."""
    index = ["WBRT", "SRS", "focal_RT", "CSI", "surgery", "BSC"]
    counts = pd.DataFrame({"B": [5, 11, 9, 3, 3, 0], "BL": [6, 0, 11, 10, 9, 7], "L": [9, 1, 2, 5, 0, 6]}, index=index)
    sizes = {g: int(counts[g].sum()) for g in counts}
    rule = Disclosure.decide(K, {"all": 200, "cns": sum(sizes.values()), "no_cns": 200 - sum(sizes.values()), **sizes})
    rt = ["WBRT", "SRS", "focal_RT", "CSI"]
    figures, links = {"treatments.craniospinal_irradiation.n": int(counts.loc["CSI"].sum())}, {}
    for g in sizes:
        for key, rows in (("initial_rt", rt), ("bsc_without_rt", ["BSC"])):
            figures |= {f"treatments.{key}.{g}.n": int(counts.loc[rows, g].sum()), f"treatments.{key}.{g}.of": sizes[g]}
            links[f"treatments.{key}.{g}.n"] = [(t, g) for t in rows]
    links["treatments.craniospinal_irradiation.n"] = [("CSI", g) for g in sizes]
    with pytest.raises(AssertionError, match="follow from what is published"):
        _treatment_attack("treatments, prose ignored", counts, figures, links, rule, use_links=False)
    shown = _treatment_attack("treatments, prose linked", counts, figures, links, rule)
    # and the table still prints counts: a cell the published figures give anyway (BL's surgery:
    # its N less its RT and BSC patients) is known, never a secondary suppression to no purpose
    assert shown.loc["Surgery"].iloc[1] == "9", shown


def test_radiosurgery_table_and_its_counts_resist_a_joint_attack(synthetic):
    rule = Disclosure.from_cohort(synthetic, K)
    section = treatments_figures(synthetic)
    masked, links = _links(section, "prior_srs", rule)
    frame = section.tables["prior_srs"]
    shown = protect_table(frame, rule, links=links)
    rows, cols = frame.shape
    published = _flat(shown)
    truth = [int(v) for v in frame.to_numpy().ravel()]
    lines = [([r * cols + c for r in range(rows)], None, None) for c in range(cols)]
    lines = [(m, rule.sizes[str(g)], None) for (m, _, _), g in zip(lines, frame.columns)
             if str(g) not in rule.suppressed_sizes]
    lines += [([r * cols + c for c in range(cols)], int(frame.iloc[r].sum()), None) for r in range(rows)]
    for figure, cells in section.links["prior_srs"].items():
        (row, group), = cells
        if row in list(frame.index) and not isinstance(masked[figure], str):
            lines.append(([list(frame.index).index(row) * cols + list(frame.columns).index(group)],
                          section.figures[figure], None))
    attack("radiosurgery before and its counts", published, truth, lines)


def test_logrank_and_cause_of_death_resist_the_attacker(synthetic):
    rule = Disclosure.from_cohort(synthetic, K)
    section = outcomes_figures(synthetic)
    if "os_from_cns_logrank" in section.fits:
        true = logrank_frame(section.fits["os_from_cns_logrank"])
        shown = protect_table(true, rule)
        n = len(true)
        patients = [str(v) for v in shown["patients"]]
        observed = [str(v) for v in shown["observed events"]]
        t_pat, t_obs = [int(v) for v in true["patients"]], [int(v) for v in true["observed events"]]
        published = patients + observed + [""] * n
        truth = t_pat + t_obs + [p - o for p, o in zip(t_pat, t_obs)]
        lines = [(list(range(n)), sum(t_pat), None)] + [([n + i, 2 * n + i], None, i) for i in range(n)]
        if (shown["expected events"] == WITHHELD).all():  # the survivors are few: the observed total is not printed
            assert 0 < sum(t_pat) - sum(t_obs) < K and (shown["observed / expected"] == WITHHELD).all()
            assert "survivors" in rule.withheld_expected_note(shown)
        else:  # the expected events add up to the observed
            lines.append((list(range(n, 2 * n)), round(true["expected events"].sum()), None))
        attack("log-rank", published, truth, lines)
        assert all(r in (SECONDARY, WITHHELD) for r, o in zip(shown["observed / expected"], observed) if not o.isdigit())
    if "cause_of_death" in section.tables:
        true = section.tables["cause_of_death"]
        shown = protect_table(true, rule)
        rows, cols = true.shape
        truth = [int(v) for v in true.to_numpy().ravel()]
        lines = [([r * cols + c for c in range(cols)], true.iloc[r].sum(), None) for r in range(rows)]
        published = _flat(shown)
        for c, group in enumerate(true.columns):
            members = [r * cols + c for r in range(rows)]
            if rule.deaths_hidden(group, true.iloc[:, c].sum()):  # the group's deaths: suppressed build-wide
                published.append("")
                truth.append(int(true.iloc[:, c].sum()))
                lines.append((members, None, len(published) - 1))
            else:  # published: the log-rank table prints them
                lines.append((members, true.iloc[:, c].sum(), None))
        attack("cause of death", published, truth, lines)


def test_a_death_count_one_exhibit_suppresses_no_other_prints():
    """Group B: 20 patients, 18 deaths, so 2 survivors. The log-rank table cannot print the 18
    (20 - 18 gives the survivors back), so neither may the causes of death (their column adds up to
    18) nor the at-risk row (its cumulative events reach 18): the deaths are decided once per build."""
    sizes = {"all": 80, "cns": 34, "no_cns": 46, "B": 20, "BL": 6, "L": 8}
    rule = Disclosure.decide(K, sizes, {"B": 18, "BL": 6, "L": 8})
    assert "B" in rule.suppressed_deaths  # BL and L: everyone died, their deaths are their published sizes
    logrank = pd.DataFrame({"patients": [20, 6, 8], "observed events": [18, 6, 8], "expected events": [20.1, 5.2, 6.7],
                            "observed / expected": [0.9, 1.15, 1.19]}, index=pd.Index(["B", "BL", "L"], name="group"))
    assert not str(protect_table(logrank, rule).loc["B", "observed events"]).isdigit()
    causes = pd.DataFrame({"B": [10, 8, 0], "BL": [6, 0, 0], "L": [8, 0, 0]}, index=["cns", "extracranial", "other"])
    shown = protect_table(causes, rule)
    column = [str(v) for v in shown["B"]]
    # the attacker: the column's cells add up to the deaths, deaths + survivors = the 20 patients
    published = column + ["", "", "20"]
    lines = [([0, 1, 2], None, 3), ([3, 4], None, 5)]
    bounds = solve(published, lines, [10, 8, 0, 18, 2, 20], big=1e7)
    assert bounds[4][0] < bounds[4][1], f"the survivors of group B follow from {column}"
    risk = protect_risk_row(20, [(20, 0), (9, 10), (2, 18)], K, hidden_events=18)
    assert risk[-1][1] is not None  # the last time's 18 events are not printed


def test_a_group_in_which_everyone_died_keeps_its_size_as_a_known_total():
    """Group L: 8 patients, 8 deaths. Its deaths equal its published size, so a table whose column
    totals are sizes (radiosurgery before the diagnosis, by group) prints that number anyway: the
    build keeps those deaths published, and such a column is protected against its known total."""
    sizes = {"all": 80, "cns": 34, "no_cns": 46, "B": 20, "BL": 6, "L": 8}
    rule = Disclosure.decide(K, sizes, {"B": 18, "BL": 6, "L": 8})
    assert "L" not in rule.suppressed_deaths
    srs = pd.DataFrame({"B": [12, 8], "BL": [6, 0], "L": [3, 5]}, index=["No", "Yes"])
    shown = protect_table(srs, rule)
    published = _flat(shown)
    truth = [int(v) for v in srs.to_numpy().ravel()]
    lines = [([r * 3 + c for r in range(2)], int(srs.iloc[:, c].sum()), None) for c in range(3)]  # the sizes
    lines += [([r * 3 + c for c in range(3)], int(srs.iloc[r].sum()), None) for r in range(2)]
    attack("radiosurgery before (known sizes)", published, truth, lines)


def test_a_count_named_after_a_group_whose_size_is_suppressed_is_not_shown():
    """'treatments.prior_srs_in_BL' is group BL's cell of the radiosurgery table, which shows '·' for
    a group whose size is suppressed: the prose may not print it either, not even a 0."""
    hidden = Disclosure.decide(K, {"all": 60, "cns": 16, "no_cns": 44, "B": 12, "BL": 1, "L": 3})
    shown = Disclosure.decide(K, {"all": 60, "cns": 36, "no_cns": 24, "B": 12, "BL": 12, "L": 12})
    assert mask_figures({"treatments.prior_srs_in_BL": 0}, hidden) == {"treatments.prior_srs_in_BL": "suppressed"}
    assert mask_figures({"treatments.prior_srs_in_BL": 0}, shown) == {"treatments.prior_srs_in_BL": 0}
    assert mask_figures({"treatments.prior_srs_in_BL": 3}, shown) == {"treatments.prior_srs_in_BL": "<5"}


def test_linked_exhibits_resist_a_joint_attack(synthetic):
    """The exhibits that share the deaths of each CNS group, solved as one system (linked tables):
    the group sizes, the deaths of the CNS patients (results.json), the log-rank table (a group's
    observed events are its deaths when the test holds the whole group), the causes of death by
    group (each column adds up to the group's deaths, the causes to results.json's deaths by cause)
    and the OS figure's at-risk row (at risk + events so far + censored so far = the group; events
    so far never exceed the group's deaths). Each exhibit alone is attacked above; here a cell one
    exhibit suppresses must not follow from another's."""
    rule = Disclosure.from_cohort(synthetic, K)
    section = outcomes_figures(synthetic)
    if "os_from_cns_logrank" not in section.fits or "cause_of_death" not in section.tables:
        pytest.skip("no log-rank test or causes of death on this cohort")
    groups, data = ("B", "BL", "L"), synthetic.data
    cns = data[data["cns"] == 1]
    dead = cns["death"].fillna(0).astype(int) == 1
    t_deaths = {g: int((dead & (cns["group"].astype(str) == g)).sum()) for g in groups}
    published, truth, lines, inequalities = [], [], [], []

    def cell(text, value) -> int:
        published.append(str(text).replace("\u00a0", " "))
        truth.append(int(value))
        return len(published) - 1

    keys = ["all", "cns", "no_cns", *groups]
    size = {k: cell(rule.size_text(k) if k != "no_cns" else "", rule.sizes[k]) for k in keys}
    lines += [([size["cns"], size["no_cns"]], None, size["all"]), ([size[g] for g in groups], None, size["cns"])]
    figures = mask_figures({"outcomes.deaths_at_cutoff.n": int(dead.sum()), "outcomes.deaths_at_cutoff.of": len(cns)}, rule)
    total = cell(figures["outcomes.deaths_at_cutoff.n"], dead.sum())
    died = {g: cell("", t_deaths[g]) for g in groups}
    alive = {g: cell("", rule.sizes[g] - t_deaths[g]) for g in groups}
    lines += [([died[g] for g in groups], None, total)] + [([died[g], alive[g]], None, size[g]) for g in groups]
    # the log-rank table
    true = logrank_frame(section.fits["os_from_cns_logrank"])
    shown = protect_table(true, rule)
    observed = {}
    for g in true.index:
        patients = cell(shown.loc[g, "patients"], true.loc[g, "patients"])
        observed[g] = cell(shown.loc[g, "observed events"], true.loc[g, "observed events"])
        censored = cell("", true.loc[g, "patients"] - true.loc[g, "observed events"])
        lines.append(([observed[g], censored], None, patients))
        if str(g) in groups and int(true.loc[g, "patients"]) == rule.sizes[str(g)]:
            lines += [([patients], None, size[str(g)]), ([observed[g]], None, died[str(g)])]
    if not (shown["expected events"] == WITHHELD).all():  # the expected events add up to the observed
        lines.append((list(observed.values()), round(true["expected events"].sum()), None))
    # the causes of death by group, the causes' totals as results.json prints them
    causes = section.tables["cause_of_death"]
    shown = protect_table(causes, rule)
    at = {(r, c): cell(shown.loc[r, c], causes.loc[r, c]) for r in causes.index for c in causes.columns}
    for c in causes.columns:
        if str(c) in groups and int(causes[c].sum()) == t_deaths[str(c)]:
            lines.append(([at[r, c] for r in causes.index], None, died[str(c)]))
    by_cause = mask_figures({"competing_risks.deaths.cns": int(causes.loc["cns_progression"].sum()),
                             "competing_risks.deaths.other": int(causes.drop("cns_progression").to_numpy().sum())},
                            rule, counts=True)  # as the competing-risks page records them
    for key, rows in (("cns", ["cns_progression"]), ("other", [r for r in causes.index if r != "cns_progression"])):
        value = int(causes.loc[rows].to_numpy().sum())
        lines.append(([at[r, c] for r in rows for c in causes.columns], None,
                      cell(by_cause[f"competing_risks.deaths.{key}"], value)))
    # the at-risk row of the OS figure, counted as drawn: from the events grouped into periods
    from analysis.stats import aggregate_km

    fit = section.fits["os_from_cns"]
    risk = risk_cells(fit, section.fits["os_from_cns_logrank"], rule)
    grouped = aggregate_km(fit.table_, K, 365.25 / 12).km.risk_table(sorted({t for _, t in risk}))
    grouped = grouped.assign(group=grouped["group"].astype(str)).set_index(["group", "time"])
    for (g, time), (at_risk, events) in sorted(risk.items()):
        if g not in groups:
            continue
        t_risk, t_events = (int(grouped.loc[(g, time), c]) for c in ("n_risk", "n_events"))
        r, e = cell(at_risk, t_risk), cell(events, t_events)
        lines.append(([r, e, cell("", rule.sizes[g] - t_risk - t_events)], None, size[g]))
        inequalities.append(([e], died[g]))
    unprinted = [i for i, t in enumerate(published) if t in ("", NOT_SHOWN)]
    CHECKED["tables"] += 1
    disclosed = {i: b for i, b in solve(published, lines, truth, big=1e7, at_most=inequalities).items()
                 if b[0] == b[1] and (i not in unprinted or 0 < truth[i] < K)}
    assert not disclosed, f"linked exhibits: cells {disclosed} follow from what is published " \
        f"({[(published[i], truth[i]) for i in disclosed]})"


def test_figures_withhold_single_patient_values():
    figures = {
        "cohort.n_abc": 40, "cohort.n_cns.n": 18, "cohort.groups.B.n": 16, "cohort.groups.BL.n": 2,
        "cohort.groups.L.n": 0, "cohort.followup_from_cns.min": 10.0, "cohort.followup_from_cns.max": 900.0,
        "treatments.craniospinal_irradiation.survival_days.L": [38.0, 39.0, 49.0, 60.0, 70.0, 577.0],
        "outcomes.os_from_cns.BL.median": 146.0, "outcomes.deaths_at_cutoff.n": 16,
        "outcomes.deaths_at_cutoff.of": 18, "outcomes.deaths_at_cutoff.pct": 88.9}
    shown = mask_figures(figures, K)
    assert shown["treatments.craniospinal_irradiation.survival_days.L"] == WITHHELD
    assert shown["cohort.followup_from_cns.min"] == shown["cohort.followup_from_cns.max"] == WITHHELD
    assert shown["outcomes.os_from_cns.BL.median"] == WITHHELD
    assert shown["cohort.groups.BL.n"] == f"<{K}" and shown["cohort.groups.B.n"] == SECONDARY
    # 2 survivors of 18 is a small count by subtraction: the deaths and their share go
    assert shown["outcomes.deaths_at_cutoff.n"] != 16 and shown["outcomes.deaths_at_cutoff.pct"] != 88.9
    assert mask_figures(figures, 0) == figures


def test_cumulative_incidence_steps_hold_k_deaths_of_their_cause(synthetic):
    """Each drawn step of each cause's curve is >= K deaths of that cause; curves of 1..K-1 deaths
    are listed as withheld and not drawn; every drawn time is a grid point."""
    from analysis.pages import cif_plot
    from analysis.stats import aggregate_cif
    from analysis.study import competing_risks_section

    section = competing_risks_section(synthetic)
    if "cif" not in section.tables:
        pytest.skip("no cause of death in this cohort")
    table = section.tables["cif"]
    period = 365.25 / 12
    aggregated = aggregate_cif(table, K, period)
    grouped = aggregated.fit.table_
    for group, rows in grouped.groupby("group"):
        raw = table[table["group"] == group]
        assert np.allclose(np.round(rows["time"] / period), rows["time"] / period)
        assert rows["n_risk"].iloc[0] == raw["n_risk"].iloc[0]  # nobody lost
        for cause in (1, 2):
            total = int(round(raw[f"cif_{cause}"].diff().fillna(raw[f"cif_{cause}"]).mul(raw["n_risk"])
                              .div(raw["surv"].shift(fill_value=1.0)).sum())) if f"cif_{cause}" in raw else 0
            assert ((group, cause) in aggregated.withheld) == (0 < total < K)
            if f"cif_{cause}" not in rows or (group, cause) in aggregated.withheld:
                continue
            jumps = rows[f"cif_{cause}"].diff().fillna(rows[f"cif_{cause}"]).to_numpy()
            deaths = np.rint(jumps * rows["n_risk"] / rows["surv"].shift(fill_value=1.0)).to_numpy()
            assert all(d == 0 or d >= K for d in deaths), (group, cause, deaths)
    fig = cif_plot(table, min_cell=K)
    note = next(t for t in fig.texts if t.get_gid() == "cif-disclosure-note").get_text()
    assert f"at least {K} deaths" in note
    for ax, cause in zip(fig.axes, (1, 2)):
        for line, group in zip(ax.get_lines(), sorted(set(table["group"]))):
            if (group, cause) in aggregated.withheld:
                assert len(line.get_xdata()) == 1  # the legend's line only


def test_report_what_the_attacker_checked():
    """Printed with -s: the tables checked and the cells suppressed (secondary: the cost)."""
    print(f"\nattacker: {CHECKED['tables']} tables, {CHECKED['suppressed']} suppressed cells, "
          f"{CHECKED['secondary']} of them secondary")
    assert CHECKED["tables"] >= 10


# --------------------------------------------------------------------------- estimates on few events
def _events_by_level(frame: pd.DataFrame, event: str, column: str) -> tuple[int, int]:
    """Recounted here, not by analysis.study.event_bases: events at level 1 and 0 of a binary term."""
    frame = frame.dropna()
    return int(frame.loc[frame[column] == 1, event].sum()), int(frame.loc[frame[column] == 0, event].sum())


def test_model_terms_on_few_events_are_withheld(synthetic):
    """A Cox term whose level or reference level has 1..K-1 deaths: no HR, CI or p in the figures
    (results.json, prose), its table rows or its forest plot; the others are shown as computed."""
    from analysis.pages import cox_frame, forest_plot
    from analysis.study import risk_factor_figures

    rule = Disclosure.from_cohort(synthetic, K)
    section = risk_factor_figures(synthetic)
    shown = mask_figures(section.figures, rule)
    data = synthetic.data
    cns = data[data["cns"] == 1]
    terms = {"age_65_or_over_at_cns": "age65_at_cns", "local_rt": "local_rt",
             "subsequent_systemic_therapy": "subsequent_systemic"}
    frame = cns[["os_from_cns", "death", *terms.values()]].astype(float)
    withheld = set()
    for name, column in terms.items():
        few = any(0 < e < K for e in _events_by_level(frame, "death", column)) or \
            any(0 < n < K for n in (int((frame.dropna()[column] == v).sum()) for v in (0, 1)))
        for what in ("hr", "ci", "p"):
            dotted = f"risk_factors.all_cns.{name}.{what}"
            assert (shown[dotted] == WITHHELD) == few, (dotted, shown[dotted])
        if few:
            withheld.add(name)
    table, note = rule.withhold_rows("all_cns", cox_frame(section.tables["all_cns"]))
    for label, row in table.iterrows():
        assert (set(row) == {WITHHELD}) == any(TERM_LABELS[n] == label for n in withheld)
    assert (note is not None) == bool(withheld) and (not note or "1 to 4 events" in note)
    source = rule.withhold_source("all_cns", section.tables["all_cns"])
    fig = forest_plot(source)
    texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    for name in withheld:
        assert np.isnan(source.loc[TERM_LABELS[name], "hr"])
        hr = section.tables["all_cns"].loc[TERM_LABELS[name], "hr"]
        assert not any(f"{hr:.2f}" in t for t in texts), f"{name}: its HR is drawn"
    assert (sum(t == WITHHELD for t in texts) == len(withheld))
    assert mask_figures(section.figures, 0) == section.figures


def test_cumulative_incidence_on_few_deaths_is_withheld(synthetic):
    """A cumulative incidence at day d whose deaths of the cause up to d are 1..K-1 is withheld in
    the figures and in the page's table (a group of 6 at 16.7% is one death)."""
    from analysis.pages import cif_table
    from analysis.pages.competing_risks import CIF_COLUMNS
    from analysis.study import competing_risks_section

    rule = Disclosure.from_cohort(synthetic, K)
    section = competing_risks_section(synthetic)
    if "cif_at" not in section.tables:
        pytest.skip("no cause of death in this cohort")
    shown = mask_figures(section.figures, rule, counts=True)
    cns = synthetic.data[synthetic.data["cns"] == 1]
    cause = cns["cause_of_death"].astype(str).where(cns["death"] == 1)
    table, _ = rule.withhold_rows("cif_at", cif_table(section.tables["cif_at"]), CIF_COLUMNS)
    checked = 0
    for g in ("B", "BL", "L"):
        mine = cns["group"].astype(str) == g
        for k, key, name in ((1, "cns", "cns_progression"), (2, "other", None)):
            died = cause == name if name else cause.notna() & (cause != "cns_progression") & (cause != "nan")
            for days in (180, 365):
                so_far = int((mine & died & (cns["os_from_cns"] <= days)).sum())
                dotted = f"competing_risks.cif.{g}.{key}.d{days}"
                if dotted not in section.figures or not mine.any():
                    continue
                few = 0 < so_far < K or 0 < int(mine.sum()) < K
                assert (shown[dotted] == WITHHELD) == few or (not few and shown[dotted] == WITHHELD
                                                             and g in rule.suppressed_sizes), (dotted, so_far)
                if few:
                    assert table.loc[(g, days), CIF_COLUMNS[f"cif_{k}"]] == WITHHELD
                checked += 1
    assert checked


def test_a_withheld_estimate_is_said_once_in_prose():
    from analysis.pages.disclosure import tidy_withheld

    assert tidy_withheld("its hazard ratio is withheld (95% CI withheld, p = withheld); with") == \
        "its hazard ratio is withheld; with"
    assert tidy_withheld("age 65 or over HR withheld (95% CI withheld), p = withheld") == "age 65 or over withheld"
    assert tidy_withheld("was withheld% in group B and 12.5% in BL") == "was withheld in group B and 12.5% in BL"
    assert tidy_withheld("test of the group, p = withheld.") == "test of the group, p withheld."
    assert tidy_withheld("was withheld days for group L (95% CI withheld, p\u00a0=\u00a0withheld) and withheld "
                         "days for group BL (withheld, p\u00a0=\u00a0withheld).") == \
        "was withheld for group L and withheld for group BL."
    assert tidy_withheld("In this cohort suppressed patients of group BL had received it.") == \
        "In this cohort a suppressed number of patients of group BL had received it."
    assert tidy_withheld("In group BL, suppressed of <5 patients (suppressed%), and <5 of 12 in group B "
                         "(suppressed %) started.") == \
        "In group BL, a suppressed number of <5 patients, and <5 of 12 in group B started."
    held = "HR withheld (95% CI withheld), p\u00a0=\u00a0withheld"  # p_phrase's no-break spaces
    assert tidy_withheld(held) == "withheld"
    unchanged = "HR 1.20 (95% CI 0.90\u20131.50), p = 0.03"
    assert tidy_withheld(unchanged) == unchanged


def test_a_test_on_a_table_with_a_suppressed_cell_has_its_p_value_withheld(synthetic):
    """Skull involvement, lobular histology and the cause of death by group: with the margins
    published, a p-value to four decimals can single out the one table that fits them, so the p of a
    table holding a count of 1 to 4 is withheld in results.json, and Table 1 withholds the p of each
    characteristic whose cells it suppresses; a table without one keeps its p."""
    rule = Disclosure.from_cohort(synthetic, K)
    data = synthetic.data[synthetic.data["cns"] == 1]
    shown = mask_figures({**backgrounds_figures(synthetic).figures, **outcomes_figures(synthetic).figures}, rule)
    known = data["skull_mets_at_cns"].notna()
    cells = pd.crosstab(data.loc[known, "group"].astype(str), data.loc[known, "skull_mets_at_cns"]).to_numpy().ravel()
    small = any(0 < c < K for c in cells)
    assert (shown["backgrounds.skull_involvement.test.p"] == WITHHELD) == small
    table, notes = baseline_table(synthetic, rule)
    skull = list(table.index).index("Skull involvement")
    blocked = any(str(v) in (f"<{K}", SECONDARY, NOT_SHOWN) for v in table.iloc[skull + 1:skull + 3, :-1].to_numpy().ravel())
    assert (table.iloc[skull]["p-value"] == WITHHELD) == blocked
    assert any("p-values withheld" in n for n in notes) == (table["p-value"] == WITHHELD).any()
    assert WITHHELD not in baseline_table(synthetic, 0)[0]["p-value"].tolist()
