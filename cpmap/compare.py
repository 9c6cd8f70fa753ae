"""``cpmap compare``: several engines on the same layers, the study "how far is the heuristic from the
proven optimum?".

Every engine maps every selected layer with the same inputs and settings; per layer the *reference* is the
best proven optimum (an exact engine's ``optimal`` result) or, when no engine proved one, the best value
found. Outputs: a CSV (one row per layer and engine, with the ratio to the reference), each engine's
result JSON, and a chart of the ratios (PNG and SVG).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import replace
from pathlib import Path

from .api import Problem
from .plot import grouped_bars, save_figure
from .result import RunResult, run_to_json, write_json_atomic, write_text_atomic
from .solve import SolveOptions, solve_problem
from .status import Status


def compare_problem(
    problem: Problem,
    engines: list[str],
    options: SolveOptions,
    layer_names: list[str] | None = None,
    progress=None,
    child_processes: bool = False,
) -> dict[str, RunResult]:
    """Run each engine (in the given order) on the same problem and settings (``child_processes``: see
    :func:`cpmap.solve.solve_problem`)."""
    return {
        e: solve_problem(problem, replace(options, engine=e), layer_names, progress, child_processes=child_processes)
        for e in engines
    }


def reference_values(runs: dict[str, RunResult]) -> list[tuple[float | None, bool]]:
    """Per layer: (reference objective value, whether it is a proven optimum)."""
    out = []
    n = len(next(iter(runs.values())).layers)
    for i in range(n):
        proven = [r.layers[i].objective_value for r in runs.values() if r.layers[i].status == Status.OPTIMAL]
        found = [r.layers[i].objective_value for r in runs.values() if r.layers[i].objective_value is not None]
        if proven:
            out.append((min(proven), True))
        else:
            out.append((min(found) if found else None, False))
    return out


def comparison_rows(runs: dict[str, RunResult]) -> list[dict]:
    """One row per (layer, engine): status, objective, bound, energy, latency, seconds, ratio to reference."""
    refs = reference_values(runs)
    rows = []
    for engine, run in runs.items():
        for lr, (ref, proven) in zip(run.layers, refs):
            ratio = lr.objective_value / ref if lr.objective_value is not None and ref else None
            rows.append(
                {
                    "layer": lr.name,
                    "engine": engine,
                    "status": lr.status,
                    "objective": run.objective,
                    "objective_value": lr.objective_value,
                    "bound": lr.bound,
                    "energy_pJ": lr.energy,
                    "latency_cc": lr.latency,
                    "seconds": round(lr.solve_seconds, 4),
                    "reference": ref,
                    "reference_proven": proven,
                    "ratio_to_reference": ratio,
                }
            )
    return rows


def summary(runs: dict[str, RunResult]) -> str:
    """Per engine: totals, seconds, layers at the reference, worst and geometric-mean ratio."""
    rows = comparison_rows(runs)
    refs = reference_values(runs)
    lines = [f"{'engine':11s} {'energy_pJ':>16s} {'latency_cc':>12s} {'seconds':>9s} {'at reference':>13s} {'geomean ratio':>14s} {'worst ratio':>12s}"]
    for engine, run in runs.items():
        ratios = [r["ratio_to_reference"] for r in rows if r["engine"] == engine and r["ratio_to_reference"] is not None]
        at = sum(1 for x in ratios if x <= 1 + 1e-9)
        geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios)) if ratios else float("nan")
        worst = max(ratios) if ratios else float("nan")
        lines.append(
            f"{engine:11s} {run.total_energy:16.6e} {run.total_latency:12.0f} {run.total_seconds:9.2f} {at:>6d}/{len(run.layers):<6d} {geo:14.6f} {worst:12.6f}"
        )
    proven = sum(1 for _, p in refs if p)
    lines.append(f"reference = best proven optimum on {proven}/{len(refs)} layers, else the best value found")
    return "\n".join(lines)


def write_outputs(runs: dict[str, RunResult], problem: Problem, outdir: Path) -> list[Path]:
    """compare.csv, <engine>.json per engine, compare.png and compare.svg in ``outdir`` (each written atomically)."""
    outdir.mkdir(parents=True, exist_ok=True)
    rows = comparison_rows(runs)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0].keys()) if rows else ["layer"])
    writer.writeheader()
    writer.writerows(rows)
    written = []
    csv_path = outdir / "compare.csv"
    write_text_atomic(csv_path, buf.getvalue())
    written.append(csv_path)
    for engine, run in runs.items():
        p = outdir / f"{engine}.json"
        write_json_atomic(p, run_to_json(run, problem.accelerator))
        written.append(p)
    first = next(iter(runs.values()))
    names = [lr.name for lr in first.layers]
    series = [(e, [r["ratio_to_reference"] for r in rows if r["engine"] == e]) for e in runs]
    fig = grouped_bars(
        f"{first.workload} on {first.accelerator}: {first.objective} / reference (1 = proven optimum)",
        names,
        series,
        f"{first.objective} / reference",
        reference=1.0,
    )
    written += save_figure(fig, outdir / "compare")
    return written
