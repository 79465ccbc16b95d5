"""Paper-versus-book tables as readable rows: one row per thing a clinician would look up.

The scorecard judges every figure on its own (``treatments.initial_rt.L.n``, ``.of``, ``.pct``);
a reader wants "Radiotherapy first, group L: paper 12/20 (60.0%), this book 12/20 (60.0%)". So the
figures of one stem are written together (a count with its denominator and share; a median with
its CI or range; a hazard ratio with its CI and p), and the row's agreement is the worst of its
parts, naming the part that differs. Ids never reach the visible table.
"""

from __future__ import annotations

import html
import re
from typing import Any, Iterable

from analysis.paper import scorecard
from analysis.pages.format import figure_text, id_text, p_phrase, reported_digits
from analysis.pages.labels import CHAPTERS, figure_label, segment_label
from analysis.pages.disclosure import mask_figures, tidy_withheld

# the worst status names a row (a row is as good as its worst part)
SEVERITY = ["exact", "within tolerance", "suppressed", "paper issue", "not computable", "differs"]
COUNT_PARTS, TIME_PARTS, HR_PARTS = ("n", "of", "pct"), ("median", "ci", "min", "max"), ("hr", "ci", "p")
COLUMNS = ["Figure", "Paper", "This book", "Agreement"]
# shown by book/_static/book.js only when the table's box overflows (a phone, a wide table)
SCROLL_HINT = "<p class='scroll-hint' aria-hidden='true'>Scroll sideways for more columns \u2192</p>"


def _stem(dotted: str) -> tuple[str, str]:
    """(stem, part) when ``dotted`` is one part of a block; else (dotted, '')."""
    stem, _, last = dotted.rpartition(".")
    if last in COUNT_PARTS + TIME_PARTS + HR_PARTS and stem:
        return stem, last
    return dotted, ""


def _part_text(stem: str, part: str, value: Any) -> str:
    dotted = f"{stem}.{part}" if part else stem
    if ".survival_days" in dotted and isinstance(value, (list, tuple)):  # one time per patient, not a range
        return ", ".join(id_text(dotted, [v])[:] for v in value)
    if part == "p":
        return p_phrase(value)
    return id_text(dotted, value)


def block_text(stem: str, parts: dict[str, Any]) -> str:
    """The values of one stem as a clinician writes them ('12/20 (60.0%)', 'HR 2.10 (95% CI 1.40–3.20), p = 0.004')."""
    t = {k: _part_text(stem, k, v) for k, v in parts.items()}
    if "hr" in t:
        text = f"HR {t['hr']}"
        text += f" (95% CI {t['ci']})" if "ci" in t else ""
        return text + (f", {t['p']}" if "p" in t else "")
    if "n" in t or "of" in t or "pct" in t:
        count = "/".join(t[k] for k in ("n", "of") if k in t)
        if "pct" in t:
            pct = t["pct"] if isinstance(parts["pct"], str) else f"{t['pct']}%"  # 'suppressed', not 'suppressed%'
            return f"{count} ({pct})" if count else pct
        return count
    if "median" in t or "min" in t:
        text = t.get("median", "")
        extras = ([f"95% CI {t['ci']}"] if "ci" in t else []) + (
            [f"range {t.get('min', 'NA')}\u2013{t.get('max', 'NA')}"] if "min" in t or "max" in t else [])
        return f"{text} ({'; '.join(extras)})" if extras else text
    if "ci" in t:
        return t["ci"]
    if "p" in t:
        return t["p"]
    return next(iter(t.values()), "")


def comparison_rows(figures: dict[str, Any], prefix: str, labels: dict[str, str] | None = None,
                    min_cell=0) -> list[dict[str, Any]]:
    """One dict per readable row: stem, chapter, figure (words), paper, book, status, agreement."""
    card = scorecard(figures)
    card = card[card["id"].str.startswith(prefix)]
    shown = mask_figures(figures, min_cell)
    labels = labels or {}
    blocks: dict[str, dict] = {}
    for row in card.itertuples():
        stem, part = _stem(row.id)
        block = blocks.setdefault(stem, {"paper": {}, "book": {}, "status": {}, "diff": {}})
        block["paper"][part] = row.paper
        block["book"][part] = shown.get(row.id, row.computed)
        masked = shown.get(row.id) != figures.get(row.id)
        # a suppressed figure's agreement would tell it ("exact": it is the paper's number)
        block["status"][part] = "suppressed" if masked else row.status
        if row.difference is not None and not masked:
            block["diff"][part] = figure_text(row.difference, reported_digits(row.id))
    rows = []
    for stem, block in blocks.items():
        worst = max(block["status"].values(), key=SEVERITY.index)
        off = [p for p, s in block["status"].items() if s == worst]
        agreement = worst
        if worst != "exact" and len(block["status"]) > 1:
            agreement += " (" + ", ".join(segment_label(p) if p else "value" for p in off) + ")"
        label = labels.get(stem) or labels.get(next(iter(f"{stem}.{p}" for p in block["status"])), None)
        counted = list(block["status"]) == ["n"]  # a bare count: say what is counted
        rows.append({
            "stem": stem, "chapter": stem.split(".")[0],
            "figure": label or figure_label(stem, prefix) + (", patients" if counted else ""),
            "paper": block_text(stem, block["paper"]) if "" not in block["paper"] else id_text(stem, block["paper"][""]),
            "book": tidy_withheld(block_text(stem, block["book"]) if "" not in block["book"]
                                  else id_text(stem, block["book"][""])),
            "status": worst, "agreement": agreement,
        })
    return rows


_LINK = re.compile(r"\[([^\]]+)\]\(([\w./-]+\.html(?:#[\w-]+)?)\)")


def note_html(note: str) -> str:
    """A table note as HTML: escaped, with Markdown links to sibling pages ('[Methods](methods.html)')
    made links (a note is HTML, not MyST, so a {doc} role would print as text)."""
    return _LINK.sub(lambda m: f"<a href='{m.group(2)}'>{m.group(1)}</a>", html.escape(note, quote=False))


def _cells(row: dict) -> str:
    status = html.escape(row["status"]).replace(" ", "-")
    return (f"<tr><th scope='row' data-label='{COLUMNS[0]}'>{html.escape(row['figure'])}</th>"
            f"<td data-label='{COLUMNS[1]}'>{html.escape(row['paper'])}</td>"
            f"<td data-label='{COLUMNS[2]}'>{html.escape(row['book'])}</td>"
            f"<td data-label='{COLUMNS[3]}'><span class='status status-{status}'>"
            f"{html.escape(row['agreement'])}</span></td></tr>")


def comparison_html(rows: list[dict], caption: str, notes: Iterable[str] = (),
                    sections: dict[str, tuple[str, str]] | None = None) -> str:
    """The rows as a stacked-on-phones HTML table; with ``sections`` (chapter -> (title, href)), one
    linked heading row per chapter (the scorecard)."""
    head = "".join(f"<th scope='col'>{c}</th>" for c in COLUMNS)
    bodies = []
    if sections:
        for chapter in dict.fromkeys(r["chapter"] for r in rows):
            title, href = sections.get(chapter, (CHAPTERS.get(chapter, chapter), ""))
            link = f"<a href='{html.escape(href)}'>{html.escape(title)}</a>" if href else html.escape(title)
            body = "".join(_cells(r) for r in rows if r["chapter"] == chapter)
            bodies.append(f"<tbody><tr class='group-row'><th colspan='4' scope='rowgroup'>{link}</th></tr>"
                          f"{body}</tbody>")
    else:
        bodies.append("<tbody>" + "".join(_cells(r) for r in rows) + "</tbody>")
    foot = "".join(f"<p class='table-note'>{note_html(n)}</p>" for n in notes)
    return (f"<figure class='book-table comparison'><figcaption>{html.escape(caption)}</figcaption>"
            f"{SCROLL_HINT}<div class='table-scroll'><table class='table book-table stack'><thead><tr>{head}</tr></thead>"
            f"{''.join(bodies)}</table></div>{foot}</figure>")
