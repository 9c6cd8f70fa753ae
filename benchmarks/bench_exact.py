"""Benchmark: cpmap's exact engine vs ZigZag's LOMA on ResNet-18, measured in one run.

    python benchmarks/bench_exact.py [--accelerator tpu_like ...] [--objective energy|latency|edp]
                                     [--engine cpsat|milp] [--fixtures]

Per accelerator, ZigZag 3.9.1 maps the whole network with LOMA (lpf 6, 3 generated spatial mappings, the
same objective; ``get_hardware_performance_zigzag`` on its own input files) and cpmap proves the optimum over
the same spatial candidates (``solve_problem``, engine cpsat, jobs 1). Printed per layer: status, ZigZag's
and cpmap's value of the objective and their ratio, cpmap's seconds; then the totals: wall times and their
ratio, median seconds per layer, layers proven optimal, layers strictly better than ZigZag and the
geometric mean of the improvement. cpmap's wall time is given twice: as run (identical layers solved once)
and with each layer solved on its own (what ZigZag does).

``--fixtures`` compares with the committed ZigZag results (tests/fixtures/zigzag391) instead of running
ZigZag, for a quick look at all five accelerators (no ZigZag timing then). For EDP the fixtures' reference
is the better EDP of ZigZag's energy- and latency-optimal mappings (ZigZag's mappings re-costed).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_loma import ACCELERATORS, run_zigzag, zo  # noqa: E402

from cpmap.api import load_problem  # noqa: E402
from cpmap.solve import SolveOptions, solve_problem  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _zigzag_inputs(acc: str) -> tuple[Path, Path, Path]:
    import os

    import zigzag

    zz = Path(os.path.dirname(zigzag.__file__)) / "inputs"
    hw, mp = ACCELERATORS[acc]
    return zz / "workload/resnet18.onnx", zz / "hardware" / hw, zz / "mapping" / mp


def _value(objective: str, energy: float, latency: float) -> float:
    return {"energy": energy, "latency": latency, "edp": energy * latency}[objective]


IMC = ("aimc", "dimc")


def _fixture(acc: str, objective: str) -> dict[str, tuple[float, float]]:
    """ZigZag's committed per-layer (energy, latency) for the objective (EDP: the better of its two runs)."""
    folder = ROOT / "tests/fixtures/zigzag391" / ("imc" if acc in IMC else "")

    def load(obj: str) -> dict[str, tuple[float, float]]:
        data = json.loads((folder / f"{acc}__resnet18__{obj}.json").read_text())
        return {e["name"]: (e["results"]["energy_total"], e["results"]["latency_total2"]) for e in data["layers"]}

    if objective != "edp":
        return load(objective)
    runs = [load("energy"), load("latency")]
    return {n: min((r[n] for r in runs), key=lambda el: el[0] * el[1]) for n in runs[0]}


def bench(acc: str, engine: str, use_fixtures: bool, objective: str = "energy") -> dict:
    workload, hw, mp = _zigzag_inputs(acc) if not use_fixtures else (
        ROOT / "models/networks/resnet18.onnx",
        ROOT / f"models/accelerators/{acc}.yaml",
        ROOT / "models/mappings" / ("default_imc.yaml" if acc in IMC else ACCELERATORS[acc][1]),
    )
    if use_fixtures:
        theirs = _fixture(acc, objective)
        zz_wall = None
    else:
        t0 = time.perf_counter()
        theirs = run_zigzag(workload, hw, mp, "EDP" if objective == "edp" else objective)
        zz_wall = time.perf_counter() - t0
    problem = load_problem(workload, zo.cpmap_readable(hw) if not use_fixtures else hw, mp)
    options = SolveOptions(engine=engine, objective=objective, nb_spatial_mappings=3, jobs=1)
    t0 = time.perf_counter()
    run = solve_problem(problem, options)
    shared_wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    alone = [solve_problem(problem, options, [layer.name]).layers[0] for layer in problem.layers]
    alone_wall = time.perf_counter() - t0
    unit = {"energy": "pJ", "latency": "cc", "edp": "pJcc"}[objective]
    print(f"\n== ResNet-18 on {acc}: cpmap {engine} ({objective}, proven) vs ZigZag LOMA (lpf 6), 3 spatial candidates")
    print(f"{'layer':46s} {'status':8s} {'zigzag ' + unit:>14s} {'cpmap ' + unit:>14s} {'ratio':>7s} {'cpmap s':>8s}")
    ratios, optimal = [], 0
    for r, a in zip(run.layers, alone):
        ze = _value(objective, *theirs[r.name])
        ours = _value(objective, r.cost.energy, r.cost.latency) if r.cost else math.nan
        ratio = ours / ze
        ratios.append(ratio)
        optimal += r.status == "optimal"
        print(f"{r.name[:46]:46s} {r.status:8s} {ze:14.6e} {ours:14.6e} {ratio:7.4f} {a.solve_seconds:8.2f}")
    better = [x for x in ratios if x < 1 - 1e-9]
    worse = [x for x in ratios if x > 1 + 1e-9]
    secs = [a.solve_seconds for a in alone]
    geo = math.exp(sum(math.log(x) for x in better) / len(better)) if better else 1.0
    print(f"proven optimal {optimal}/{len(ratios)}; strictly better than ZigZag {len(better)}/{len(ratios)}"
          f" (geomean ratio of those {geo:.4f}); worse {len(worse)}")
    print(f"totals: zigzag {sum(v[0] for v in theirs.values()):.6e} pJ / {sum(v[1] for v in theirs.values()):.0f} cc, "
          f"cpmap {run.total_energy:.6e} pJ / {run.total_latency:.0f} cc")
    line = f"cpmap wall {shared_wall:.1f} s (identical layers once), {alone_wall:.1f} s (each layer alone); median {statistics.median(secs):.2f} s/layer, max {max(secs):.2f} s"
    if zz_wall is not None:
        line += f"; ZigZag LOMA wall {zz_wall:.1f} s; ratio cpmap/ZigZag {alone_wall / zz_wall:.2f} (each layer alone), {shared_wall / zz_wall:.2f} (as run)"
    print(line, flush=True)
    return {"optimal": optimal, "n": len(ratios), "better": len(better), "worse": len(worse)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accelerator", action="append", choices=[*ACCELERATORS, *IMC], help="default: tpu_like (aimc, dimc: with --fixtures, ZigZag's IMC flow)")
    ap.add_argument("--engine", default="cpsat", choices=["cpsat", "milp"])
    ap.add_argument("--objective", default="energy", choices=["energy", "latency", "edp"])
    ap.add_argument("--fixtures", action="store_true", help="compare with the committed ZigZag results instead of running ZigZag")
    args = ap.parse_args()
    bad = 0
    for acc in args.accelerator or ["tpu_like"]:
        if acc in IMC and not args.fixtures:
            ap.error(f"{acc}: compare with ZigZag's IMC flow through --fixtures")
        out = bench(acc, args.engine, args.fixtures, args.objective)
        bad += out["worse"] + (out["n"] - out["optimal"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
