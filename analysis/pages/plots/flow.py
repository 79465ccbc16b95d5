"""The patient-flow diagram (CONSORT style): all patients, with and without CNS metastasis, the CNS groups."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from analysis.cohort import CNS_GROUPS
from analysis.pages.format import percent_text
from analysis.pages.plots.style import FONT_SIZE, OKABE_ITO, SMALL_FONT_SIZE, _new_figure

_FLOW_KEYS = ("all", "cns", "no_cns", *CNS_GROUPS)
# Box captions; a CNS group the schema adds without one here is captioned by its name.
_FLOW_TEXT = {
    "all": "All patients with\nER+/HER2\u2212 ABC",
    "cns": "CNS metastasis",
    "no_cns": "No CNS metastasis",
    "B": "B: brain metastasis\nwithout obvious LM",
    "BL": "BL: brain metastasis\nwith LM",
    "L": "L: LM without obvious\nbrain metastasis",
}


def flow_diagram(counts: Mapping[str, int], *, texts: Mapping[str, str] | None = None, disclosure=None) -> Figure:
    """Box-and-arrow patient flow: all ABC patients -> with / without CNS
    metastasis -> groups B, BL and L, with counts and percentages of the parent box.

    Parameters
    ----------
    counts : mapping
        Keys all, cns, no_cns, B, BL, L with whole, non-negative counts;
        cns + no_cns must equal all and B + BL + L must equal cns.
    texts : mapping, optional
        Replacement box captions per key (counts are added below them).
    disclosure : Disclosure, optional
        The build's rule: a box whose size it suppresses prints '<k' or 'x', and no percentage is
        printed in a box that is suppressed or whose parent is (the share would give the size back).

    Returns
    -------
    matplotlib.figure.Figure
    """
    missing = [k for k in _FLOW_KEYS if k not in counts]
    if missing:
        raise ValueError(f"counts: key(s) {', '.join(map(repr, missing))} missing; expected keys {_FLOW_KEYS}")
    values = {}
    for key in _FLOW_KEYS:
        value = counts[key]
        if pd.isna(value) or int(value) != value or value < 0:
            raise ValueError(f"counts[{key!r}]: expected a whole number >= 0, got {value!r}")
        values[key] = int(value)
    if values["cns"] + values["no_cns"] != values["all"]:
        raise ValueError(f"counts: cns + no_cns = {values['cns'] + values['no_cns']} but all = {values['all']}; "
                         "the boxes must add up")
    in_groups = sum(values[g] for g in CNS_GROUPS)
    if in_groups != values["cns"]:
        raise ValueError(f"counts: {' + '.join(CNS_GROUPS)} = {in_groups} but "
                         f"cns = {values['cns']}; the boxes must add up")
    captions = {**{g: g for g in CNS_GROUPS}, **_FLOW_TEXT, **(texts or {})}
    parent = {"cns": "all", "no_cns": "all", **{g: "cns" for g in CNS_GROUPS}}

    hidden = set(disclosure.suppressed_sizes) if disclosure is not None else set()

    def box_text(key):
        line = f"n = {disclosure.size_text(key) if key in hidden else values[key]}"
        if key in parent and key not in hidden and parent[key] not in hidden:
            line += f" ({percent_text(values[key], values[parent[key]])})"
        return f"{captions[key]}\n{line}"

    fig = _new_figure((7.5, 4.6))
    ax = fig.subplots()
    ax.set_xlim(0, 100)
    ax.set_ylim(-6, 60)
    ax.axis("off")
    # Box centres (x, y) and widths in data units of a 100 x 64 canvas; one height for all.
    layout = {
        "all": (40, 52, 34), "cns": (40, 30.5, 28), "no_cns": (82, 30.5, 28),
        **{g: (13 + 27 * i, 8, 25.5) for i, g in enumerate(CNS_GROUPS)},  # side by side under "cns"
    }
    height = 11.5
    edge = {"cns": OKABE_ITO[0], "no_cns": "0.45"}
    for key, (x, y, width) in layout.items():
        ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                    boxstyle="round,pad=0,rounding_size=1.2", linewidth=1.3,
                                    edgecolor=edge.get(key, "0.2"), facecolor="white", gid=f"flow-box-{key}"))
        ax.text(x, y, box_text(key), ha="center", va="center", fontsize=FONT_SIZE, linespacing=1.3,
                gid=f"flow-text-{key}")

    def connect(src, children):
        """Orthogonal connector (CONSORT style): down from the parent to a bus, then an arrow into each child."""
        x0, y0, _ = layout[src]
        top = layout[children[0]][1] + height / 2
        bus = (y0 - height / 2 + top) / 2
        xs = [layout[c][0] for c in children]
        line = {"color": "0.25", "linewidth": 1.2, "solid_capstyle": "butt"}
        ax.plot([x0, x0], [y0 - height / 2, bus], **line)
        ax.plot([min(xs + [x0]), max(xs + [x0])], [bus, bus], **line)
        for child, x in zip(children, xs):
            ax.add_patch(FancyArrowPatch((x, bus), (x, top), arrowstyle="-|>", mutation_scale=12, linewidth=1.2,
                                         color="0.25", shrinkA=0, shrinkB=0, gid=f"flow-arrow-{src}-{child}"))

    connect("all", ["cns", "no_cns"])
    connect("cns", list(CNS_GROUPS))
    ax.text(0, -5.5, "Percentages are of the box above.\nABC, advanced breast cancer; CNS, central nervous system; "
            "LM, leptomeningeal metastasis.", fontsize=SMALL_FONT_SIZE, ha="left", va="bottom", color="0.25",
            linespacing=1.3)
    return fig

