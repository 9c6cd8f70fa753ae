"""The heuristic-vs-optimum study: LOMA (lpf 6 and 8) and SALSA (several seeds) against the exact engine.

A *grid* is networks x accelerators (the ``instances/<network>__<accelerator>.yaml`` files) x objectives x
study engines. Every engine maps every layer of an instance with the same inputs (``solve_problem``, ``--jobs``
processes, 1 by default for fair times); per layer the *reference* is whatever the exact engine returns, with
its status recorded (``optimal``: a proven optimum; ``feasible``: the exact engine's best mapping with a proven
bound, when a --time-limit stopped it), and every heuristic's ratio ``value / reference``.

Outputs: one CSV row per (instance, objective, engine, seed, layer); matplotlib plots (ratio distributions per
accelerator, time vs quality); a generated Markdown report with the headline table. ``scripts/study.py`` is
the command. Identical layers are solved once by every engine (their copies show 0 s), as in ``cpmap solve``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from .api import load_problem
from .errors import InputError
from .io.workloads import load_workload
from .result import write_json_atomic
from .solve import SolveOptions, solve_problem

NETWORKS = ("resnet18", "resnet50", "mobilenetv2", "bert_base_gemms", "llama7b_prefill_gemms", "llama7b_decode_gemms")
ACCELERATORS = ("tpu_like", "edge_tpu_like", "meta_prototype", "ascend_like", "tesla_npu_like", "aimc", "dimc")
OBJECTIVES = ("energy", "latency")
#: study engine label -> (cpmap engine, LOMA lpf limit)
ENGINES = {"exact": ("cpsat", 6), "loma_lpf6": ("loma", 6), "loma_lpf8": ("loma", 8), "salsa": ("salsa", 6)}
HEURISTICS = ("loma_lpf6", "loma_lpf8", "salsa")
FULL_GRID_SEEDS = 10  # the SALSA seeds per layer
#: named subsets (--subset): the full grid, and what fits a 2-core machine in well under an hour
SUBSETS = {
    "full": dict(networks=NETWORKS, accelerators=ACCELERATORS, objectives=OBJECTIVES),
    "small": dict(networks=("resnet18", "llama7b_prefill_gemms"), accelerators=("tpu_like", "ascend_like", "aimc"), objectives=("energy",)),
}
CSV_FIELDS = (
    "network", "accelerator", "objective", "engine", "seed", "layer", "status", "objective_value", "energy_pJ",
    "latency_cc", "seconds", "solved_once_as", "reference", "reference_status", "reference_bound", "ratio",
)
AT_OPTIMUM = 1 + 1e-9


@dataclass(frozen=True)
class Instance:
    """One ``instances/*.yaml`` file: a layer set on an accelerator with its mapping file."""

    name: str
    network: str
    accelerator: str
    workload: Path
    hardware: Path
    mapping: Path | None  # None: no mapping file (the generator chooses freely, no ordering)
    layers: tuple[str, ...] | None = None


@dataclass(frozen=True)
class StudySettings:
    """Everything that fixes a study's numbers (recorded in the report and checked when reusing a cache)."""

    seeds: int = 10
    salsa_iterations: int = 1000
    salsa_start_temperature: float = 0.05
    nb_spatial_mappings: int = 3
    jobs: int = 1
    time_limit: float | None = None


@dataclass
class CellResult:
    """One engine (and seed) on one instance and objective: per layer rows (no reference yet) and wall time."""

    instance: str
    objective: str
    engine: str
    seed: int | None
    wall_seconds: float
    layers: list[dict] = field(default_factory=list)
    #: CPU seconds of the run (this process and its finished children): fair under a loaded machine
    cpu_seconds: float | None = None


def load_instance(path: Path, root: Path) -> Instance:
    """Read an instance file; paths in it are relative to the repository ``root``."""
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or "__" not in str(data.get("name", "")):
        raise InputError(path, "name", "expected <network>__<accelerator>")
    network, accelerator = data["name"].split("__", 1)
    layers = data.get("layers")
    return Instance(
        data["name"], network, accelerator, root / data["workload"], root / data["accelerator"], root / data["mapping"],
        tuple(layers) if layers else None,
    )


def grid_instances(root: Path, networks, accelerators) -> list[Instance]:
    """The instances of the grid, networks major; a missing instance file is an input error."""
    out = []
    for net in networks:
        for acc in accelerators:
            path = root / "instances" / f"{net}__{acc}.yaml"
            if not path.is_file():
                raise InputError(path, None, f"no instance for network {net!r} on accelerator {acc!r}")
            out.append(load_instance(path, root))
    return out


def solve_options(engine: str, objective: str, settings: StudySettings, seed: int | None) -> SolveOptions:
    """cpmap's options for one study engine. SALSA minimises the objective's own quantity where it can
    (energy, or latency without on/off-loading); for EDP it keeps ZigZag's default, energy."""
    name, lpf = ENGINES[engine]
    return SolveOptions(
        engine=name,
        objective=objective,
        lpf_limit=lpf,
        nb_spatial_mappings=settings.nb_spatial_mappings,
        jobs=settings.jobs,
        time_limit=settings.time_limit if name == "cpsat" else None,
        salsa_iterations=settings.salsa_iterations,
        salsa_start_temperature=settings.salsa_start_temperature,
        salsa_criterion=objective if objective in ("energy", "latency") else "energy",
        seed=seed or 0,
    )


def run_cell(inst: Instance, objective: str, engine: str, seed: int | None, settings: StudySettings) -> CellResult:
    """Map every layer of ``inst`` with one study engine and return its per-layer rows."""
    problem = load_problem(inst.workload, inst.hardware, inst.mapping)
    t0, c0 = time.perf_counter(), cpu_seconds()
    run = solve_problem(problem, solve_options(engine, objective, settings, seed), list(inst.layers) if inst.layers else None)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    layers = []
    for r in run.layers:
        once = next((n.split("same shape as ", 1)[1].split(":")[0] for n in r.notes if n.startswith("same shape as ")), "")
        layers.append(
            {
                "layer": r.name,
                "status": str(r.status),
                "objective_value": r.objective_value,
                "bound": r.bound,
                "energy_pJ": r.energy,
                "latency_cc": r.latency,
                "seconds": round(r.solve_seconds, 4),
                "solved_once_as": once,
            }
        )
    return CellResult(inst.name, objective, engine, seed, round(wall, 4), layers, round(cpu, 4))


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its waited-for children (``--jobs`` workers)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _cache_path(cache: Path, inst: Instance, objective: str, engine: str, seed: int | None) -> Path:
    return cache / f"{inst.name}__{objective}__{engine}" f"{'' if seed is None else f'__seed{seed}'}.json"


def run_grid(
    instances: list[Instance],
    objectives,
    engines,
    settings: StudySettings,
    cache: Path | None = None,
    log=None,
) -> list[CellResult]:
    """Every (instance, objective, engine[, seed]) cell, the exact engine first in each instance. With a
    ``cache`` folder, a cell already computed with the same settings is read back instead of re-run."""
    order = [e for e in ENGINES if e in engines]
    cells: list[CellResult] = []
    for inst in instances:
        for objective in objectives:
            for engine in order:
                for seed in range(settings.seeds) if engine == "salsa" else [None]:
                    path = _cache_path(cache, inst, objective, engine, seed) if cache else None
                    if path is not None and path.is_file():
                        doc = json.loads(path.read_text())
                        if doc.get("settings") == asdict(settings) and doc["cell"].get("cpu_seconds") is not None:
                            cells.append(CellResult(**doc["cell"]))
                            continue
                    cell = run_cell(inst, objective, engine, seed, settings)
                    if path is not None:
                        write_json_atomic(path, {"settings": asdict(settings), "cell": asdict(cell)})
                    if log:
                        log(
                            f"{inst.name} {objective} {engine}{'' if seed is None else f' seed {seed}'}:"
                            f" {cell.wall_seconds:.1f} s wall, {cell.cpu_seconds:.1f} s CPU"
                        )
                    cells.append(cell)
    return cells


def study_rows(cells: list[CellResult], instances: list[Instance]) -> list[dict]:
    """One row per layer and cell, with the exact engine's value as reference and the ratio to it."""
    by_name = {i.name: i for i in instances}
    refs: dict[tuple[str, str, str], dict] = {}
    for c in cells:
        if c.engine == "exact":
            for lr in c.layers:
                refs[(c.instance, c.objective, lr["layer"])] = lr
    rows = []
    for c in cells:
        inst = by_name[c.instance]
        for lr in c.layers:
            ref = refs.get((c.instance, c.objective, lr["layer"]))
            ref_value = ref["objective_value"] if ref else None
            value = lr["objective_value"]
            rows.append(
                {
                    "network": inst.network,
                    "accelerator": inst.accelerator,
                    "objective": c.objective,
                    "engine": c.engine,
                    "seed": "" if c.seed is None else c.seed,
                    "layer": lr["layer"],
                    "status": lr["status"],
                    "objective_value": value,
                    "energy_pJ": lr["energy_pJ"],
                    "latency_cc": lr["latency_cc"],
                    "seconds": lr["seconds"],
                    "solved_once_as": lr["solved_once_as"],
                    "reference": ref_value,
                    "reference_status": ref["status"] if ref else "",
                    "reference_bound": ref["bound"] if ref else None,
                    "ratio": value / ref_value if value is not None and ref_value else None,
                }
            )
    return rows


RUN_FIELDS = ("network", "accelerator", "objective", "engine", "seed", "layers", "distinct_layers", "wall_seconds", "cpu_seconds")


def run_rows(cells: list[CellResult], instances: list[Instance]) -> list[dict]:
    """One row per engine run (cell): how many layers and distinct layers it mapped, its wall and CPU seconds."""
    by_name = {i.name: i for i in instances}
    return [
        {
            "network": by_name[c.instance].network,
            "accelerator": by_name[c.instance].accelerator,
            "objective": c.objective,
            "engine": c.engine,
            "seed": "" if c.seed is None else c.seed,
            "layers": len(c.layers),
            "distinct_layers": sum(1 for lr in c.layers if not lr["solved_once_as"]),
            "wall_seconds": c.wall_seconds,
            "cpu_seconds": c.cpu_seconds,
        }
        for c in cells
    ]


def runs_to_csv(runs: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(RUN_FIELDS), lineterminator="\n")
    w.writeheader()
    w.writerows({k: r[k] for k in RUN_FIELDS} for r in runs)
    return buf.getvalue()


def runs_from_csv(text: str) -> list[dict]:
    out = []
    for r in csv.DictReader(io.StringIO(text)):
        row: dict = dict(r)
        row["layers"], row["distinct_layers"] = int(r["layers"]), int(r["distinct_layers"])
        row["wall_seconds"], row["cpu_seconds"] = float(r["wall_seconds"]), float(r["cpu_seconds"])
        row["seed"] = int(r["seed"]) if r["seed"] != "" else ""
        out.append(row)
    return out


def engine_cpu(runs: list[dict], engine: str, **where) -> float:
    """CPU seconds of ``engine``'s runs matching ``where`` (SALSA: mean over its seeds of the per-seed total)."""
    rs = [r for r in runs if r["engine"] == engine and all(r[k] == v for k, v in where.items())]
    seeds = {r["seed"] for r in rs}
    return sum(r["cpu_seconds"] for r in rs) / max(len(seeds), 1)


NUMERIC_FIELDS = ("objective_value", "energy_pJ", "latency_cc", "seconds", "reference", "reference_bound", "ratio")


def rows_to_csv(rows: list[dict]) -> str:
    """The study's CSV: numbers as Python's shortest round-trip float text, missing values empty."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(CSV_FIELDS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r[k] is None else repr(float(r[k])) if k in NUMERIC_FIELDS else r[k]) for k in CSV_FIELDS})
    return buf.getvalue()


def rows_from_csv(text: str) -> list[dict]:
    """The inverse of :func:`rows_to_csv` (numbers back to floats, empty cells to None)."""
    out = []
    for r in csv.DictReader(io.StringIO(text)):
        row: dict = dict(r)
        for k in NUMERIC_FIELDS:
            row[k] = float(r[k]) if r[k] != "" else None
        row["seed"] = int(r["seed"]) if r["seed"] != "" else ""
        out.append(row)
    return out


def geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


@dataclass(frozen=True)
class Headline:
    """How one heuristic does on one accelerator and objective, over all layers (and seeds) of the grid."""

    objective: str
    accelerator: str
    engine: str
    layers: int  # layer results compared (x seeds for SALSA)
    at_reference: int
    geomean: float
    worst: float
    worst_layer: str
    cpu_seconds: float  # total engine CPU time (SALSA: mean over seeds of the total per seed)
    reference_proven: int
    reference_layers: int


def headlines(rows: list[dict], runs: list[dict]) -> list[Headline]:
    """The headline table: per objective, accelerator and engine; time = CPU seconds of the engine's runs."""
    out = []
    keys = sorted({(r["objective"], r["accelerator"]) for r in rows}, key=lambda k: (OBJECTIVES.index(k[0]) if k[0] in OBJECTIVES else 9, _acc_index(k[1])))
    for objective, acc in keys:
        mine = [r for r in rows if r["objective"] == objective and r["accelerator"] == acc]
        exact = [r for r in mine if r["engine"] == "exact"]
        proven = sum(1 for r in exact if r["reference_status"] == "optimal")
        for engine in ("exact", *HEURISTICS):
            rs = [r for r in mine if r["engine"] == engine]
            if not rs:
                continue
            ratios = [(r["ratio"], f"{r['network']} {r['layer']}") for r in rs if r["ratio"] is not None]
            seconds = engine_cpu(runs, engine, objective=objective, accelerator=acc)
            worst = max(ratios) if ratios else (float("nan"), "")
            out.append(
                Headline(
                    objective, acc, engine, len(ratios), sum(1 for x, _ in ratios if x <= AT_OPTIMUM), geomean([x for x, _ in ratios]),
                    worst[0], worst[1], seconds, proven, len(exact),
                )
            )
    return out


def _acc_index(acc: str) -> int:
    return ACCELERATORS.index(acc) if acc in ACCELERATORS else len(ACCELERATORS)


def unique_layer_counts(root: Path, networks) -> dict[str, int]:
    """Distinct layer shapes per network (what every engine solves once)."""
    out = {}
    for net in networks:
        layers, _ = load_workload(root / "models" / "networks" / f"{net}.onnx")
        out[net] = len({l.shape_key() for l in layers})
    return out


def estimate_grid_seconds(runs: list[dict], root: Path, networks, accelerators, objectives, engines, seeds: int) -> dict:
    """Estimated CPU seconds of a whole grid (one process) from the measured runs.

    Per engine, the measured CPU seconds per distinct layer of each run (SALSA: per seed) are averaged per
    accelerator and per network kind (convolutional network or transformer GEMMs). A cell of the grid counts its
    measured time when it was run (SALSA: the mean per seed x ``seeds``); else its network's distinct layer count
    x the rate of the same engine, accelerator and kind, else of the same engine and kind on the other measured
    accelerators (counted as ``extrapolated``). Objectives share the rates when one was not run.
    """
    counts = unique_layer_counts(root, networks)

    def kind(net: str) -> str:
        return "gemm" if "gemm" in net else "conv"

    rates: dict[tuple, list[float]] = {}
    for r in runs:
        if r["distinct_layers"]:
            rate = r["cpu_seconds"] / r["distinct_layers"]
            rates.setdefault((r["engine"], r["accelerator"], kind(r["network"])), []).append(rate)
            rates.setdefault((r["engine"], "*", kind(r["network"])), []).append(rate)
    total = 0.0
    per_engine = {e: 0.0 for e in engines}
    extrapolated = missing = 0
    for net in networks:
        for acc in accelerators:
            for obj in objectives:
                for e in engines:
                    n_runs = seeds if e == "salsa" else 1
                    if any((r["network"], r["accelerator"], r["objective"], r["engine"]) == (net, acc, obj, e) for r in runs):
                        sec = engine_cpu(runs, e, network=net, accelerator=acc, objective=obj) * n_runs
                    else:
                        rate = rates.get((e, acc, kind(net))) or rates.get((e, "*", kind(net)))
                        if not rate:
                            missing += 1
                            continue
                        extrapolated += (e, acc, kind(net)) not in rates
                        sec = statistics.mean(rate) * counts[net] * n_runs
                    total += sec
                    per_engine[e] += sec
    return {"seconds": total, "per_engine": per_engine, "extrapolated_cells": extrapolated, "unestimated_cells": missing, "seeds": seeds}


# ----- plots (matplotlib) -------------------------------------------------------------------------------------------
def _excess_percent(ratio: float) -> float:
    """How far above the reference, in percent (negative: below a reference that is not a proven optimum)."""
    return (ratio - 1.0) * 100.0


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _percent_y(ax, values: list[float]) -> None:
    """Symmetric-log percent y axis: 0 (at the reference) stays visible next to misses of 50 %. The limits come
    from every value drawn (axes that share y are set once: autoscaling stops at the first set_ylim)."""
    from matplotlib.ticker import FuncFormatter

    ax.set_yscale("symlog", linthresh=0.1)
    lo, hi = min([*values, 0.0]), max([*values, 1.0])
    ax.set_ylim(-0.05 if lo >= 0 else lo * 1.5, hi * 1.5)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g} %"))


def plot_ratio_distributions(rows: list[dict], objective: str, path: Path) -> None:
    """One panel per accelerator: each heuristic's per-layer excess over the reference (box: quartiles,
    whiskers: min-max, dots: every layer, SALSA every layer x seed)."""
    plt = _pyplot()
    mine = [r for r in rows if r["objective"] == objective and r["engine"] in HEURISTICS and r["ratio"] is not None]
    accs = sorted({r["accelerator"] for r in mine}, key=_acc_index) or ["(none)"]
    fig, axes = plt.subplots(1, len(accs), figsize=(max(2.6 * len(accs) + 1.2, 6.0), 3.8), sharey=True, squeeze=False)
    drawn: list[float] = []
    for ax, acc in zip(axes[0], accs):
        present = [(e, [_excess_percent(r["ratio"]) for r in mine if r["accelerator"] == acc and r["engine"] == e]) for e in HEURISTICS]
        present = [(e, d) for e, d in present if d]
        if present:
            ax.boxplot([d for _, d in present], whis=(0, 100), widths=0.6, showfliers=False)
            for i, (_, d) in enumerate(present, start=1):
                ax.scatter([i] * len(d), d, s=6, alpha=0.35, color="C1", zorder=3)
                drawn += d
            ax.set_xticks(range(1, len(present) + 1), [e.replace("_", " ") for e, _ in present], rotation=20)
        ax.axhline(0.0, color="0.4", lw=0.8, ls="--")
        ax.set_title(acc)
    _percent_y(axes[0][0], drawn)
    axes[0][0].set_ylabel(f"{objective} above the exact engine's")
    fig.suptitle(f"{objective}: per-layer excess over the exact engine")
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def plot_time_vs_quality(rows: list[dict], runs: list[dict], objective: str, path: Path) -> None:
    """Per network x accelerator and engine: CPU seconds (SALSA: per seed) against the geometric-mean excess."""
    plt = _pyplot()
    from matplotlib.ticker import FuncFormatter

    mine = [r for r in rows if r["objective"] == objective]
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    markers = {"exact": "s", "loma_lpf6": "o", "loma_lpf8": "^", "salsa": "D"}
    drawn: list[float] = []
    for k, engine in enumerate(ENGINES):
        xs, ys = [], []
        for net, acc in sorted({(r["network"], r["accelerator"]) for r in mine}):
            rs = [r for r in mine if r["engine"] == engine and r["network"] == net and r["accelerator"] == acc]
            ratios = [r["ratio"] for r in rs if r["ratio"] is not None]
            if not ratios:
                continue
            xs.append(max(engine_cpu(runs, engine, network=net, accelerator=acc, objective=objective), 1e-3))
            ys.append(_excess_percent(geomean(ratios)))
        if xs:
            ax.scatter(xs, ys, marker=markers[engine], color=f"C{k}", label=engine.replace("_", " "), alpha=0.8)
            drawn += ys
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else ""))
    _percent_y(ax, drawn)
    ax.axhline(0.0, color="0.4", lw=0.8, ls="--")
    ax.set_xlabel("CPU seconds per network (SALSA: per seed), one process")
    ax.set_ylabel(f"geomean {objective} above the exact engine's")
    ax.set_title(f"time vs quality, {objective}: one point per network x accelerator")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


# ----- report ---------------------------------------------------------------------------------------------------------
def _fmt_s(s: float) -> str:
    return f"{s:.1f}" if s < 1000 else f"{s:,.0f}"


def render_report(
    rows: list[dict], runs: list[dict], settings: StudySettings, command: str, grid: dict, estimate: dict | None, plots: list[str], note: str = ""
) -> str:
    """docs/study.md: what was run, the headline table, per-network detail, the full-grid estimate, the plots."""
    heads = headlines(rows, runs)
    lines = [
        "# Heuristic vs optimum: LOMA and SALSA against cpmap's exact engine",
        "",
        "Generated by",
        "",
        "```",
        command,
        "```",
        "",
        "(`scripts/study.py`; every number below comes from that run's `study.csv`. Re-running the command regenerates",
        "this page, the CSV and the plots.)",
        "",
        f"* Grid run: networks {', '.join(grid['networks'])}; accelerators {', '.join(grid['accelerators'])};"
        f" objectives {', '.join(grid['objectives'])}; engines {', '.join(grid['engines'])}.",
        f"* Engines: `exact` = `cpsat` (the reference); `loma_lpf6` = LOMA at ZigZag's default LPF limit 6; `loma_lpf8` ="
        f" LOMA at 8; `salsa` = SALSA with ZigZag's defaults ({settings.salsa_iterations} iterations,"
        f" T0 {settings.salsa_start_temperature}), seeds 0..{settings.seeds - 1}, criterion = the objective"
        " (latency: without on/off-loading, as ZigZag's SALSA).",
        f"* Every engine: {settings.nb_spatial_mappings} generated spatial mappings per layer (ZigZag's), the same for all;"
        f" `--jobs {settings.jobs}`; identical layers solved once (copies count 0 s).",
        "* Reference per layer: the exact engine's value, with its status: `optimal` = proven optimum; `feasible` ="
        " the exact engine's best mapping with a proven bound (a `--time-limit` stopped it), so ratios below 1 are"
        " possible there. Energy and latency are both proven (latency with ZigZag's tie rule: energy decides among"
        " latency-optimal mappings). The ratio is value / reference (1 = at the reference).",
        "",
        "## Headline: how often and by how much the heuristics miss the reference",
        "",
        "Per objective and accelerator, over all layers of the networks run (SALSA: all layers x seeds). *at ref* ="
        " layers whose value equals the reference; *geomean*, *worst* = ratio to the reference; *CPU s* = the"
        " engine's CPU seconds over the networks (SALSA: per seed, mean over the seeds; wall times, also per layer,"
        " are in `study_runs.csv` and `study.csv`).",
        "",
        "| objective | accelerator | reference proven | engine | at ref | geomean | worst (layer) | CPU s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for h in heads:
        if h.engine == "exact":  # the reference itself: only its time is news
            share, geo, worst = "-", "-", "-"
        else:
            share, geo = f"{h.at_reference}/{h.layers}", f"{h.geomean:.4f}"
            worst = f"{h.worst:.4f} ({h.worst_layer})" if h.worst > AT_OPTIMUM else f"{h.worst:.4f}"
        lines.append(
            f"| {h.objective} | {h.accelerator} | {h.reference_proven}/{h.reference_layers} | {h.engine} | {share} |"
            f" {geo} | {worst} | {_fmt_s(h.cpu_seconds)} |"
        )
    lines += ["", "## Per network", "", "| objective | network | accelerator | engine | at ref | geomean | worst | CPU s |", "|---|---|---|---|---|---|---|---|"]
    for objective in [o for o in OBJECTIVES if any(r["objective"] == o for r in rows)]:
        present = {r["network"] for r in rows}
        for net in [n for n in NETWORKS if n in present] + sorted(present - set(NETWORKS)):
            for acc in sorted({r["accelerator"] for r in rows if r["network"] == net}, key=_acc_index):
                for engine in HEURISTICS:
                    rs = [r for r in rows if (r["objective"], r["network"], r["accelerator"], r["engine"]) == (objective, net, acc, engine)]
                    ratios = [r["ratio"] for r in rs if r["ratio"] is not None]
                    if not ratios:
                        continue
                    at = sum(1 for x in ratios if x <= AT_OPTIMUM)
                    secs = engine_cpu(runs, engine, objective=objective, network=net, accelerator=acc)
                    lines.append(f"| {objective} | {net} | {acc} | {engine} | {at}/{len(ratios)} | {geomean(ratios):.4f} | {max(ratios):.4f} | {_fmt_s(secs)} |")
    if estimate is not None:
        lines += [
            "",
            "## The full grid",
            "",
            f"The full grid ({len(NETWORKS)} networks x {len(ACCELERATORS)} accelerators x {len(OBJECTIVES)} objectives x"
            f" exact, LOMA lpf 6 and 8, SALSA x {estimate['seeds']} seeds) is estimated at"
            f" **{estimate['seconds'] / 3600:.1f} CPU hours** in one process on this machine"
            f" ({', '.join(f'{e} {s / 3600:.1f} h' for e, s in estimate['per_engine'].items())}): measured cells count their"
            " measured CPU time, the others their network's distinct layer count times the measured CPU seconds per distinct"
            f" layer of the same engine and network kind (convolutions or GEMMs), on the same accelerator where"
            f" measured ({estimate['extrapolated_cells']} cells extrapolated from other accelerators,"
            f" {estimate['unestimated_cells']} without any measurement). Latency cells reuse the energy rates"
            " when latency was not run. Run it with `python scripts/study.py --subset full` (it can be split with"
            " `--networks/--accelerators/--objectives` and `--cache`).",
        ]
    if note:
        lines += ["", note]
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"
