"""Study parameters applied on loading: an administrative cut-off date and a window on the ABC diagnosis.

A registry export runs to the day it was made; a study fixes a data cut-off and the years of diagnosis it
covers. Both are applied to the validated cohort, in memory (the file is validated as it is, every row):

* **Window** (``abc_from``, ``abc_to``, inclusive): patients whose ABC diagnosis is outside are excluded.
* **Cut-off** (``cutoff_date``, administrative censoring): what happened after it is unknown at it.

  - a patient diagnosed with ABC after the cut-off is excluded (not yet in the study at the cut-off);
  - a CNS diagnosis after it is dropped: the patient counts as without CNS metastasis (``cns_group``
    none, the CNS-only values blank), since at the cut-off none was known;
  - follow-up after it ends at it: ``last_contact_date`` becomes the cut-off, and a death after it is
    censored there (``vital_status`` alive, no cause of death);
  - a subsequent systemic therapy starting after it is dropped (``subsequent_systemic`` 0, no start
    date): at the cut-off the patient had not received it.

Every change is counted (:class:`StudyChanges`); the build log and the cohort page report the counts.
With no parameter given nothing changes and no note is shown.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import pandas as pd

from analysis.cohort.schema import NO_CNS_GROUP, Schema

STUDY_PARAMETERS = ("cutoff_date", "abc_from", "abc_to")
_ISO = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def parse_study_date(name: str, value: object) -> dt.date | None:
    """A study parameter's value as a date: ``None``, a ``date`` or text ``YYYY-MM-DD``; ValueError otherwise."""
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    text = str(value).strip()
    if _ISO.match(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"{name} must be a date written YYYY-MM-DD (e.g. 2017-12-31), got {value!r}")


def order_problems(cutoff_date: dt.date | None, abc_from: dt.date | None, abc_to: dt.date | None) -> list[str]:
    """What is wrong with the order of the study dates (nothing: [])."""
    problems = []
    if abc_from and abc_to and abc_from > abc_to:
        problems.append(f"abc_from ({abc_from}) is after abc_to ({abc_to}): the window would be empty")
    if cutoff_date and abc_from and abc_from > cutoff_date:
        problems.append(f"abc_from ({abc_from}) is after cutoff_date ({cutoff_date}): no patient could be "
                        "followed before the cut-off")
    if cutoff_date and abc_to and abc_to > cutoff_date:
        problems.append(f"abc_to ({abc_to}) is after cutoff_date ({cutoff_date}): patients diagnosed after "
                        "the cut-off have no follow-up; end the window on or before the cut-off")
    return problems


@dataclass(frozen=True)
class StudyParameters:
    cutoff_date: dt.date | None = None
    abc_from: dt.date | None = None
    abc_to: dt.date | None = None

    @classmethod
    def of(cls, cutoff_date=None, abc_from=None, abc_to=None) -> "StudyParameters":
        """From dates or ``YYYY-MM-DD`` text; ValueError with every problem when they are not usable."""
        parsed, problems = {}, []
        for name, value in zip(STUDY_PARAMETERS, (cutoff_date, abc_from, abc_to)):
            try:
                parsed[name] = parse_study_date(name, value)
            except ValueError as exc:
                problems.append(str(exc))
        if not problems:
            problems = order_problems(parsed["cutoff_date"], parsed["abc_from"], parsed["abc_to"])
        if problems:
            raise ValueError("; ".join(problems))
        return cls(**parsed)

    @property
    def any(self) -> bool:
        return any((self.cutoff_date, self.abc_from, self.abc_to))

    def describe(self) -> str:
        parts = []
        if self.abc_from or self.abc_to:
            parts.append("ABC diagnosis " + (f"from {self.abc_from} " if self.abc_from else "")
                         + (f"to {self.abc_to}" if self.abc_to else "onwards").strip())
        if self.cutoff_date:
            parts.append(f"data cut-off {self.cutoff_date}")
        return "; ".join(parts)


@dataclass
class StudyChanges:
    """What the study parameters changed: patients excluded and values cut at the cut-off, counted."""

    parameters: StudyParameters
    n_file: int = 0  # patients in the (valid) file
    before_window: int = 0
    after_window: int = 0
    after_cutoff: int = 0  # ABC diagnosis after the cut-off
    cns_dropped: dict[str, int] = field(default_factory=dict)  # group in the file -> patients
    deaths_censored: int = 0
    followup_censored: int = 0  # alive at a last contact after the cut-off
    therapy_dropped: int = 0

    @property
    def n_study(self) -> int:
        return self.n_file - self.before_window - self.after_window - self.after_cutoff

    def lines(self) -> list[str]:
        """The changes as short sentences (the build log, the cohort page)."""
        if not self.parameters.any:
            return []
        p = self.parameters
        out = [f"study parameters: {p.describe()}; {self.n_study} of {self.n_file} patients in the study"]
        if p.abc_from:
            out.append(f"{self.before_window} patient(s) excluded: ABC diagnosis before {p.abc_from}")
        if p.abc_to:
            out.append(f"{self.after_window} patient(s) excluded: ABC diagnosis after {p.abc_to}")
        if p.cutoff_date:
            c = p.cutoff_date
            out.append(f"{self.after_cutoff} patient(s) excluded: ABC diagnosis after the cut-off {c}")
            dropped = sum(self.cns_dropped.values())
            by_group = ", ".join(f"{g} {n}" for g, n in self.cns_dropped.items() if n)
            out.append(f"{dropped} CNS diagnosis(es) after the cut-off dropped"
                       + (f" ({by_group})" if by_group else "") + ": counted as without CNS metastasis")
            out.append(f"{self.deaths_censored} death(s) after the cut-off censored at it")
            out.append(f"{self.followup_censored} follow-up(s) of patients alive after the cut-off censored at it")
            out.append(f"{self.therapy_dropped} subsequent systemic therapy start(s) after the cut-off dropped")
        return out

    def note(self) -> str:
        """One paragraph for the cohort page ("" when no study parameter was given)."""
        lines = self.lines()
        if not lines:
            return ""
        head, rest = lines[0], lines[1:]
        return head[0].upper() + head[1:] + "." + "".join(f" {line[0].upper() + line[1:]}." for line in rest)


def apply_study(typed: pd.DataFrame, parameters: StudyParameters, schema: Schema) -> tuple[pd.DataFrame, StudyChanges]:
    """The validated typed frame (schema columns) with the study parameters applied, and what changed."""
    changes = StudyChanges(parameters, n_file=len(typed))
    if not parameters.any:
        return typed, changes
    data = typed.copy()
    abc = data["abc_date"]
    keep = pd.Series(True, index=data.index)
    if parameters.abc_from:
        before = abc < pd.Timestamp(parameters.abc_from)
        changes.before_window = int(before.sum())
        keep &= ~before
    if parameters.abc_to:
        after = abc > pd.Timestamp(parameters.abc_to)
        changes.after_window = int(after.sum())
        keep &= ~after
    cutoff = parameters.cutoff_date
    if cutoff:
        late = keep & (abc > pd.Timestamp(cutoff))
        changes.after_cutoff = int(late.sum())
        keep &= ~late
    data = data[keep.to_numpy()].copy()
    if cutoff:
        _censor(data, pd.Timestamp(cutoff), changes, schema)
    return data, changes


def _censor(data: pd.DataFrame, cutoff: pd.Timestamp, changes: StudyChanges, schema: Schema) -> None:
    """Administrative censoring at ``cutoff``, in place (see the module docstring)."""
    late_cns = (data["cns_date"] > cutoff).fillna(False).to_numpy()
    groups = data.loc[late_cns, "cns_group"].astype(str).value_counts()
    changes.cns_dropped = {g: int(groups.get(g, 0)) for g in schema.cns_groups}
    for name in schema.cns_only_columns:
        if name in data:
            data.loc[late_cns, name] = pd.NaT if name.endswith("_date") else pd.NA
    data.loc[late_cns, "cns_group"] = NO_CNS_GROUP

    if "subsequent_systemic_start_date" in data:
        late_start = (data["subsequent_systemic_start_date"] > cutoff).fillna(False).to_numpy()
        changes.therapy_dropped = int(late_start.sum())
        data.loc[late_start, "subsequent_systemic_start_date"] = pd.NaT
        if "subsequent_systemic" in data:
            data.loc[late_start, "subsequent_systemic"] = 0

    late_contact = (data["last_contact_date"] > cutoff).fillna(False).to_numpy()
    dead = data["vital_status"].eq("dead").fillna(False).to_numpy()
    changes.deaths_censored = int((late_contact & dead).sum())
    changes.followup_censored = int((late_contact & ~dead).sum())
    data.loc[late_contact, "last_contact_date"] = cutoff
    data.loc[late_contact, "vital_status"] = "alive"
    if "cause_of_death" in data:
        data.loc[late_contact, "cause_of_death"] = pd.NA
