"""The columns derived on loading a valid cohort (``derived`` in ``schema.yaml``, which documents them).

Times are whole days between dates (float, NaN where not applicable); ``local_rt`` reads the treatments
the schema lists for it as local RT.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.cohort.schema import NO_CNS_GROUP, Schema, load_schema

# The derived columns in the order the loaded frame has them (after the file's columns).
DERIVED_COLUMNS: tuple[str, ...] = load_schema().derived_names


def finish_frame(typed: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The loaded cohort from a validated typed frame: categories, CNS-only values blanked for
    patients without CNS metastasis, and the derived columns in ``DERIVED_COLUMNS`` order."""
    data = typed.copy()
    data.index.name = "source_row"
    for name in data.columns:
        spec = schema[name]
        if spec.type == "category":
            data[name] = pd.Categorical(data[name].astype(object).where(data[name].notna(), None),
                                        categories=list(spec.allowed))
    not_cns = data["cns_group"].eq(NO_CNS_GROUP).to_numpy()
    for name in schema.cns_only_columns:
        if name in data and name != "cns_date":
            # warned by cross_checks; cns_date is not blanked because a CNS date for such a patient is an error
            data.loc[not_cns, name] = pd.NA if data[name].dtype != "datetime64[ns]" else pd.NaT
    if "csi_completed" in data and "initial_cns_treatment" in data:
        data.loc[data["initial_cns_treatment"].ne("CSI").to_numpy(), "csi_completed"] = pd.NA  # warned

    data["group"] = pd.Categorical(data["cns_group"].astype(object), categories=list(schema.groups), ordered=True)
    cns = ~pd.Series(not_cns, index=data.index)
    data["cns"] = cns.astype("int64")
    day = np.timedelta64(1, "D")
    data["time_abc_to_cns"] = (data["cns_date"] - data["abc_date"]) / day
    data["os_from_cns"] = (data["last_contact_date"] - data["cns_date"]) / day
    data["os_from_abc"] = (data["last_contact_date"] - data["abc_date"]) / day
    data["death"] = data["vital_status"].eq("dead").astype("int64")
    data["age65_at_cns"] = (data["age_at_cns"] >= 65).astype("Int64").where(cns, pd.NA)
    if "initial_cns_treatment" in data:
        treatment = data["initial_cns_treatment"]
        data["local_rt"] = treatment.isin(schema.rt_treatments).astype("Int64").where(treatment.notna() & cns, pd.NA)
    else:
        data["local_rt"] = pd.Series(pd.NA, index=data.index, dtype="Int64")
    return data
