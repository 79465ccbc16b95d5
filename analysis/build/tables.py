"""Every table of a build in one workbook: ``<out>/tables.xlsx``, a sheet per table.

Chapters write each table they show, as shown (words; small counts masked with the build's
``min_cell``, never the raw values), to ``results/tables/<chapter>__<n>.csv`` with its caption and
notes beside it (``.json``; see analysis.pages.takeaway). The build gathers them in book order,
one sheet each: the caption in the first row, the table, then its notes. Like ``results.json``, the
workbook is written to a temporary file and renamed into place, so a reader never opens half of one,
and the same tables give the same bytes: the times a workbook carries (its zip entries, its created and
modified properties) are set to one fixed instant, never the time of the build.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

from analysis.build.chapters import Chapter

WORKBOOK = "tables.xlsx"
# the one instant every workbook carries (the zip format's earliest date), so its bytes follow its tables
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FIXED_W3CDTF = "1980-01-01T00:00:00Z"


def _cell(text: str):
    """A CSV cell as the workbook shows it: numbers as numbers, everything else ('<5', '12 (40.0%)') as text."""
    if text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def collected_tables(results_dir: Path, chapters: list[Chapter]) -> list[dict]:
    """The tables the chapters wrote, in book order: caption, notes, rows (header row first)."""
    import csv

    folder = results_dir / "tables"
    tables = []
    for chapter in chapters:
        metas = sorted(folder.glob(f"{chapter.key}__*.json"), key=lambda p: int(p.stem.rsplit("__", 1)[1])) \
            if folder.is_dir() else []
        for meta_path in metas:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            with open(meta_path.with_suffix(".csv"), newline="", encoding="utf-8") as handle:
                rows = list(csv.reader(handle))
            tables.append({**meta, "docname": chapter.docname, "rows": rows})
    return tables


def _sheet_title(number: int, docname: str, used: set[str]) -> str:
    # Excel: at most 31 characters, none of []:*?/\ ; unique in the workbook
    base = f"{number:02d} {docname.split('/')[-1]}"[:31]
    title, k = base, 2
    while title in used:
        title, k = f"{base[:27]} ({k})", k + 1
    used.add(title)
    return title


def write_workbook(tables: list[dict], path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    used: set[str] = set()
    if not tables:
        book.create_sheet("No tables")["A1"] = "This build showed no table."
    for number, table in enumerate(tables, start=1):
        sheet = book.create_sheet(_sheet_title(number, table["docname"], used))
        sheet.append([table["caption"]])
        sheet["A1"].font = Font(bold=True)
        sheet.append([f"Chapter: {table['docname']}, table {table['number']}"])
        sheet.append([])
        header, *body = table["rows"] or [[]]
        sheet.append(header)
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
        for row in body:
            sheet.append([_cell(v) for v in row])
        if table["notes"]:
            sheet.append([])
            for note in table["notes"]:
                sheet.append([note])
    book.save(path)
    _fix_times(path)


def _fix_times(path: Path) -> None:
    """Rewrite the saved workbook with every zip entry and document property at :data:`FIXED_TIME`
    (openpyxl stamps the time of saving), entries in the order openpyxl wrote them."""
    with zipfile.ZipFile(path) as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + FIXED_W3CDTF.encode(), data)
            target.writestr(zipfile.ZipInfo(name, date_time=FIXED_TIME), data, compress_type=zipfile.ZIP_DEFLATED)


def publish_workbook(results_dir: Path, chapters: list[Chapter], out: Path) -> Path:
    """Write ``<out>/tables.xlsx`` from the chapters' tables, atomically."""
    target = out / WORKBOOK
    partial = out / f".tables-{os.getpid()}.xlsx"
    write_workbook(collected_tables(results_dir, chapters), partial)
    partial.replace(target)
    return target
