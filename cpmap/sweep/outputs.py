"""The tables of a sweep: ``points.csv`` (one row per task), ``pareto.csv`` (the non-dominated rows in area,
energy and latency per workload, engine and objective) and, with several engines, ``comparison.csv`` (per
hardware variant, workload and objective: each engine's distance to the proven optimum, layer by layer)."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..compare import reference_values
from ..result import LayerResult, RunResult, write_text_atomic
from .spec import HardwarePoint, SweepPlan, SweepTask

#: run statuses, worst first: a run is as good as its worst layer
_FAILED = ("infeasible", "unknown", "skipped")

HEAD = ["point", "hardware", "accelerator", "workload", "engine", "objective"]
TAIL = ["area", "energy_pJ", "latency_cycles", "edp", "layers", "layers_optimal", "seconds", "status"]


def run_status(doc: dict[str, Any]) -> str:
    """The status of a whole run: the first failed layer status, else ``optimal`` when every layer is proven,
    else ``heuristic`` or ``feasible``."""
    statuses = [layer["status"] for layer in doc["layers"]]
    for s in _FAILED:
        if s in statuses:
            return s
    if statuses and all(s == "optimal" for s in statuses):
        return "optimal"
    return "heuristic" if "heuristic" in statuses else "feasible"


def cell(value: Any) -> Any:
    """A CSV cell: lists and dicts as JSON, the rest as is (floats keep every digit)."""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def point_row(task: SweepTask, hw: HardwarePoint, doc: dict[str, Any] | None, error: str | None = None) -> dict[str, Any]:
    """The ``points.csv`` row of one task (metrics empty when it has no result)."""
    row: dict[str, Any] = {
        "point": task.point,
        "hardware": hw.hardware_id,
        "accelerator": hw.base.name,
        "workload": task.workload_name,
        "engine": task.engine,
        "objective": task.objective,
    }
    row.update({p: cell(v) for p, v in hw.values})
    row["area"] = hw.area.total
    if doc is None:
        row.update({k: None for k in TAIL[1:-1]})
        row["status"] = "error" if error else "missing"
        return row
    energy, latency = doc["total"]["energy"], doc["total"]["latency"]
    row.update(
        {
            "energy_pJ": energy,
            "latency_cycles": latency,
            "edp": energy * latency,
            "layers": len(doc["layers"]),
            "layers_optimal": sum(1 for layer in doc["layers"] if layer["status"] == "optimal"),
            "seconds": doc["total"]["solve_seconds"],
            "status": run_status(doc),
        }
    )
    return row


def csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def columns(plan: SweepPlan) -> list[str]:
    return HEAD + list(plan.spec.parameters) + TAIL


def usable(row: dict[str, Any]) -> bool:
    """A row whose totals cover every layer (no failed or missing run)."""
    return row["status"] in ("optimal", "feasible", "heuristic")


def pareto_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (workload, engine, objective), the rows no other row beats in area, energy and latency (minimised:
    another row dominates when it is no worse in all three and better in one). Rows keep their order."""
    keys = ("area", "energy_pJ", "latency_cycles")
    out = []
    for row in rows:
        if not usable(row):
            continue
        group = [r for r in rows if usable(r) and (r["workload"], r["engine"], r["objective"]) == (row["workload"], row["engine"], row["objective"])]
        mine = [row[k] for k in keys]
        dominated = any(
            all(r[k] <= v for k, v in zip(keys, mine)) and any(r[k] < v for k, v in zip(keys, mine)) for r in group
        )
        if not dominated:
            out.append(row)
    return out


@dataclass(frozen=True)
class LayerRatio:
    """One layer of one engine's run against the reference of that layer (best proven optimum, else best found)."""

    hardware: str
    accelerator: str
    workload: str
    objective: str
    engine: str
    layer: str
    ratio: float | None
    reference_proven: bool


def _run_from_doc(doc: dict[str, Any]) -> RunResult:
    layers = [
        LayerResult(name=x["name"], loop_sizes=x["loop_sizes"], status=x["status"], objective_value=x["objective_value"])
        for x in doc["layers"]
    ]
    return RunResult(doc["accelerator"], doc["workload"], doc["objective"], doc["engine"], layers)


def layer_ratios(plan: SweepPlan, docs: dict[str, dict[str, Any]]) -> list[LayerRatio]:
    """Every layer of every engine against the per-layer reference, for each (hardware, workload, objective)
    that more than one engine solved (the comparison study)."""
    groups: dict[tuple[str, str, str], dict[str, SweepTask]] = {}
    for t in plan.tasks:
        if t.point in docs:
            groups.setdefault((t.hardware_id, t.workload_name, t.objective), {})[t.engine] = t
    out = []
    for (hw_id, workload, objective), by_engine in groups.items():
        if len(by_engine) < 2:
            continue
        runs = {e: _run_from_doc(docs[t.point]) for e, t in by_engine.items()}
        refs = reference_values(runs)
        hw = plan.hardware_of(next(iter(by_engine.values())))
        for engine, run in runs.items():
            for lr, (ref, proven) in zip(run.layers, refs):
                ratio = lr.objective_value / ref if lr.objective_value is not None and ref else None
                out.append(LayerRatio(hw_id, hw.base.name, workload, objective, engine, lr.name, ratio, proven))
    return out


COMPARISON_COLUMNS = [
    "hardware", "accelerator", "workload", "objective", "engine", "layers", "layers_proven_reference",
    "at_reference", "geomean_ratio", "worst_ratio", "energy_pJ", "latency_cycles", "seconds",
]


def comparison_rows(plan: SweepPlan, docs: dict[str, dict[str, Any]], ratios: list[LayerRatio]) -> list[dict[str, Any]]:
    """Per (hardware, workload, objective, engine) of the comparison study: layers at the reference, geometric
    mean and worst ratio, totals and time to solution."""
    rows = []
    for t in plan.tasks:
        mine = [r for r in ratios if (r.hardware, r.workload, r.objective, r.engine) == (t.hardware_id, t.workload_name, t.objective, t.engine)]
        if not mine:
            continue
        values = [r.ratio for r in mine if r.ratio is not None]
        doc = docs[t.point]
        rows.append(
            {
                "hardware": t.hardware_id,
                "accelerator": mine[0].accelerator,
                "workload": t.workload_name,
                "objective": t.objective,
                "engine": t.engine,
                "layers": len(mine),
                "layers_proven_reference": sum(1 for r in mine if r.reference_proven),
                "at_reference": sum(1 for x in values if x <= 1 + 1e-9),
                "geomean_ratio": math.exp(sum(math.log(x) for x in values) / len(values)) if values else None,
                "worst_ratio": max(values) if values else None,
                "energy_pJ": doc["total"]["energy"],
                "latency_cycles": doc["total"]["latency"],
                "seconds": doc["total"]["solve_seconds"],
            }
        )
    return rows


def write_tables(output_dir: Path, plan: SweepPlan, rows: list[dict[str, Any]], comparison: list[dict[str, Any]]) -> list[Path]:
    """points.csv, pareto.csv and (for several engines) comparison.csv, each written atomically."""
    cols = columns(plan)
    written = []
    for name, data, cs in (
        ("points.csv", rows, cols),
        ("pareto.csv", pareto_rows(rows), cols),
        ("comparison.csv", comparison, COMPARISON_COLUMNS),
    ):
        if name == "comparison.csv" and not comparison:
            continue
        p = output_dir / name
        write_text_atomic(p, csv_text(data, cs))
        written.append(p)
    return written
