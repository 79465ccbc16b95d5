"""An interactive figure that needs no kernel and no server: a slider over precomputed frames.

:func:`censoring_slider` draws, for each end of follow-up from month 1 to the last time, the toy
table's Kaplan-Meier curve when every patient still followed at that month is censored there.
Each frame is a small SVG group; a range input shows one frame through a data attribute and CSS
rules, so the page works as a static file (the only script is the input's one-line handler).
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

__all__ = ["censoring_slider", "slider_frames"]

WIDTH, HEIGHT, PAD = 560, 260, 40


def slider_frames(toy: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """Month -> the Kaplan-Meier table of the toy table with follow-up stopped at that month."""
    from analysis.pages.primer import km_by_hand

    frames = {}
    for end in range(1, int(toy["months"].max()) + 1):
        months = np.minimum(toy["months"].to_numpy(dtype=float), end)
        death = np.where(toy["months"].to_numpy() <= end, toy["death"].to_numpy(), 0)
        frames[end] = km_by_hand(months, death)
    return frames


def _x(t, t_max):
    return PAD + (WIDTH - 2 * PAD) * t / t_max


def _y(s):
    return HEIGHT - PAD - (HEIGHT - 2 * PAD) * s


def _path(km: pd.DataFrame, t_max: float) -> str:
    points, s = [(0.0, 1.0)], 1.0
    for row in km.itertuples(index=False):
        points.append((row.time, s))
        s = row.surv
        points.append((row.time, s))
    points.append((km["time"].max(), s))
    return "M" + " L".join(f"{_x(t, t_max):.1f},{_y(v):.1f}" for t, v in points)


def censoring_slider(toy: pd.DataFrame, uid: str = "km-slider") -> str:
    """HTML of the slider and its frames (one ``<g>`` per month); the frame's last S(t) is written
    beside the slider, so the figure also reads without colour or sight of the curve."""
    frames = slider_frames(toy)
    t_max = float(toy["months"].max())
    last = max(frames)
    groups, rules, labels = [], [], []
    for end, km in frames.items():
        ticks = "".join(f'<line x1="{_x(r.time, t_max):.1f}" x2="{_x(r.time, t_max):.1f}" y1="{_y(r.surv) - 5:.1f}" '
                        f'y2="{_y(r.surv) + 5:.1f}" />' for r in km.itertuples(index=False) if r.censored > 0)
        stop = f'<line class="stop" x1="{_x(end, t_max):.1f}" x2="{_x(end, t_max):.1f}" y1="{PAD}" y2="{HEIGHT - PAD}" />'
        groups.append(f'<g class="frame f{end}"><path d="{_path(km, t_max)}" />{ticks}{stop}</g>')
        rules.append(f'#{uid}[data-end="{end}"] .f{end}, #{uid}[data-end="{end}"] .t{end} {{display: inline}}')
        s_end = float(km["surv"].iloc[-1])
        deaths = int(km["deaths"].sum())
        labels.append(f'<span class="t t{end}">follow-up stops at month {end}: {deaths} deaths seen, '
                      f'S = {s_end:.3f} at the last time</span>')
    axis = (f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{HEIGHT - PAD}" y2="{HEIGHT - PAD}" class="axis" />'
            f'<line x1="{PAD}" x2="{PAD}" y1="{PAD}" y2="{HEIGHT - PAD}" class="axis" />'
            + "".join(f'<text x="{_x(m, t_max):.1f}" y="{HEIGHT - PAD + 16}">{m}</text>'
                      for m in range(0, int(t_max) + 1, 2))
            + "".join(f'<text x="{PAD - 8}" y="{_y(s) + 4:.1f}" text-anchor="end">{s:.1f}</text>'
                      for s in (0, 0.5, 1))
            + f'<text x="{WIDTH / 2}" y="{HEIGHT - 4}">Months since diagnosis</text>')
    style = (f"#{uid} svg {{max-width: 100%; height: auto; font: 12px sans-serif}}"
             f"#{uid} .frame, #{uid} .t {{display: none}}"
             f"#{uid} path {{fill: none; stroke: #0072B2; stroke-width: 2.5}}"
             f"#{uid} .frame line {{stroke: #0072B2; stroke-width: 1.5}}"
             f"#{uid} .frame line.stop {{stroke: #D55E00; stroke-dasharray: 4 3}}"
             f"#{uid} .axis {{stroke: #333}} #{uid} text {{fill: #333; text-anchor: middle}}"
             f"#{uid} input {{width: min(100%, 420px)}}" + "".join(rules))
    title = html.escape("Kaplan-Meier curve of the toy table as the end of follow-up moves")
    return (f'<div id="{uid}" class="primer-live" data-end="{last}"><style>{style}</style>'
            f'<label for="{uid}-input">End of follow-up (month): </label>'
            f'<input id="{uid}-input" type="range" min="1" max="{last}" step="1" value="{last}" '
            f'oninput="this.parentNode.dataset.end = this.value" /> '
            f'<p aria-live="polite">{"".join(labels)}</p>'
            f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}">{axis}{"".join(groups)}</svg></div>')
