"""Benchmark: cpmap's SALSA vs zigzag-dse 3.9.1's SALSA on ResNet-18, measured in one run (statistical parity).

    python benchmarks/bench_salsa.py [--accelerator tpu_like --accelerator ascend_like] [--seeds 10] [--csv FILE]

Per accelerator, cpmap's exact engine (cpsat, energy) first proves every layer's optimum E* over ZigZag's
3 generated spatial candidates. Then, for seeds 0..N-1, both tools run SALSA with the same parameters, ZigZag's
defaults (1000 iterations per spatial mapping, start temperature 0.05, energy criterion; 3 generated spatial
mappings; energy objective across them):

* ZigZag: ``get_hardware_performance_zigzag(temporal_mapping_search_engine="salsa")`` on its own input files,
  with Python's ``random`` and numpy's global generator seeded with the seed in this process. ZigZag runs each
  SALSA chain in a forked process: numpy's state is inherited (so every chain of one run draws the same moves
  and acceptance numbers), Python's ``random`` is reseeded from the OS at fork (CPython does so), so the random
  start order of every chain is unseeded: ZigZag's runs cannot be reproduced, whatever the seed.
* cpmap: ``solve_problem`` with engine ``salsa`` and ``seed`` (one process, identical layers solved once).

Both tools map the *distinct* layers only (ResNet-18: 12 of 21 shapes): ZigZag gets the network with every
repeated layer (same ``Layer.shape_key`` as an earlier one) turned into an ``Identity`` node, which its parser
skips while the stored tensor shapes keep every other layer as it was (``--no-dedup``: the whole network, about
1.8x the time; repeated layers then count as extra samples of their shape). Statistics are over (distinct
layer, seed): the distribution of E_tool / E* (median, 90th percentile, worst, share at the optimum, geometric
mean), a two-sided Mann-Whitney U test of the two tools' samples (a p-value well above 0.05: no evidence the
distributions differ) and, per distinct layer, the same test on its seeds; also the wall and CPU seconds per
run (ZigZag's CPU includes its SALSA child processes). Raw rows (accelerator, tool, seed, layer, energy,
latency, ratio) go to ``--csv`` as the runs finish. Needs the test extra (zigzag-dse, six); scipy comes with zigzag-dse.
Expect about 3-10 min per ZigZag run on this machine (20 runs for the defaults).
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_loma import ACCELERATORS, zo  # noqa: E402

from cpmap.api import load_problem  # noqa: E402
from cpmap.solve import SolveOptions, solve_problem  # noqa: E402
from cpmap.study import cpu_seconds  # noqa: E402

NB_SPATIAL = 3
ITERATIONS = 1000  # ZigZag's salsa_iteration_number default
START_TEMPERATURE = 0.05  # ZigZag's salsa_start_temperature default


def _zigzag_inputs(acc: str) -> tuple[Path, Path, Path]:
    import zigzag

    zz = Path(os.path.dirname(zigzag.__file__)) / "inputs"
    hw, mp = ACCELERATORS[acc]
    return zz / "workload/resnet18.onnx", zz / "hardware" / hw, zz / "mapping" / mp


def distinct_layers_model(workload: Path, layers) -> tuple[object, dict[str, str]]:
    """The ONNX model with every repeated costed layer turned into an ``Identity`` node (skipped by ZigZag's
    parser), and each layer's name -> the name of its first occurrence."""
    import onnx

    model = onnx.load(str(workload), load_external_data=False)
    first: dict[tuple, str] = {}
    rep = {}
    for layer in layers:
        rep[layer.name] = first.setdefault(layer.shape_key(), layer.name)
    for node in model.graph.node:
        if node.name in rep and rep[node.name] != node.name:
            node.op_type = "Identity"
            del node.attribute[:]
    return model, rep


def run_zigzag_salsa(workload, hw: Path, mp: Path, seed: int) -> tuple[dict[str, tuple[float, float]], float, float]:
    """ZigZag's SALSA flow (energy) with seeded global generators: per layer (energy, latency), wall s, CPU s.
    ``workload`` is a path or an ONNX model."""
    from zigzag.api import get_hardware_performance_zigzag

    logging.disable(logging.WARNING)
    random.seed(seed)
    np.random.seed(seed)
    w0, c0 = time.perf_counter(), cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="zz_salsa_") as dump:
        _, _, cmes = get_hardware_performance_zigzag(
            workload if not isinstance(workload, (str, Path)) else str(workload),
            str(hw),
            str(mp),
            temporal_mapping_search_engine="salsa",
            opt="energy",
            nb_spatial_mappings_generated=NB_SPATIAL,
            loma_show_progress_bar=False,
            dump_folder=dump,
        )
    wall, cpu = time.perf_counter() - w0, cpu_seconds() - c0
    return {cme.layer.name: (float(cme.energy_total), float(cme.latency_total2)) for cme, _ in cmes[0][1]}, wall, cpu


def run_cpmap(problem, engine: str, seed: int = 0, share: bool = True) -> tuple[dict[str, tuple[float, float, str]], float, float]:
    """cpmap in this process (jobs 1): per layer (energy, latency, status), wall s, CPU s."""
    options = SolveOptions(
        engine=engine,
        objective="energy",
        nb_spatial_mappings=NB_SPATIAL,
        jobs=1,
        seed=seed,
        salsa_iterations=ITERATIONS,
        salsa_start_temperature=START_TEMPERATURE,
        salsa_criterion="energy",
    )
    w0, c0 = time.perf_counter(), time.process_time()
    if share:
        layers = solve_problem(problem, options).layers
    else:  # every layer on its own, as ZigZag does
        layers = [solve_problem(problem, options, [layer.name]).layers[0] for layer in problem.layers]
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return {r.name: (r.cost.energy, r.cost.latency, r.status) for r in layers if r.cost is not None}, wall, cpu


def describe(ratios: list[float]) -> str:
    """Median, 90th percentile, worst, share at the optimum and geometric mean of ratios >= 1."""
    q = statistics.quantiles(ratios, n=10, method="inclusive")
    at = sum(1 for r in ratios if r <= 1 + 1e-9) / len(ratios)
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    return f"median {statistics.median(ratios):.6f}  p90 {q[8]:.6f}  worst {max(ratios):.6f}  at optimum {at:6.1%}  geomean {geo:.6f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accelerator", action="append", choices=list(ACCELERATORS), help="default: tpu_like and ascend_like")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--csv", type=Path, default=None, help="raw rows (one per accelerator, tool, seed, layer)")
    ap.add_argument("--no-dedup", action="store_true", help="give ZigZag the whole network (same numbers, slower)")
    args = ap.parse_args()
    accs = args.accelerator or ["tpu_like", "ascend_like"]
    writer = None
    if args.csv is not None:
        fh = args.csv.open("w", newline="")
        writer = csv.writer(fh)
        writer.writerow(["accelerator", "tool", "seed", "layer", "energy_pJ", "latency_cc", "ratio_to_optimum"])
    print(
        f"ResNet-18, SALSA {ITERATIONS} iterations, T0 {START_TEMPERATURE}, energy; {NB_SPATIAL} spatial mappings;"
        f" seeds 0..{args.seeds - 1}; ratios to cpmap's proven optimum (cpsat)",
        flush=True,
    )
    for acc in accs:
        workload, hw, mp = _zigzag_inputs(acc)
        problem = load_problem(workload, zo.cpmap_readable(hw), mp)  # ZigZag's tpu_like.yaml repeats a key
        model, rep = distinct_layers_model(workload, problem.layers)
        zz_model = workload if args.no_dedup else model
        samples = sorted(rep) if args.no_dedup else sorted(set(rep.values()))  # the layers counted
        exact, ex_wall, _ = run_cpmap(problem, "cpsat")
        proven = sum(1 for v in exact.values() if v[2] == "optimal")
        print(f"\n== {acc}: cpsat proves {proven}/{len(exact)} layers optimal in {ex_wall:.1f} s", flush=True)
        ratios: dict[str, list[float]] = {"zigzag": [], "cpmap": []}
        totals: dict[str, list[float]] = {"zigzag": [], "cpmap": []}
        times: dict[str, list[tuple[float, float]]] = {"zigzag": [], "cpmap": [], "cpmap_unshared": []}
        per_layer: dict[str, dict[str, list[float]]] = {"zigzag": {}, "cpmap": {}}
        for seed in range(args.seeds):
            zz, zw, zc = run_zigzag_salsa(zz_model, hw, mp, seed)
            ours, cw, cc = run_cpmap(problem, "salsa", seed)
            times["zigzag"].append((zw, zc))
            times["cpmap"].append((cw, cc))
            if args.no_dedup:  # ZigZag mapped every layer: time cpmap doing the same
                _, uw, uc = run_cpmap(problem, "salsa", seed, share=False)
                times["cpmap_unshared"].append((uw, uc))
            for tool, res in (("zigzag", zz), ("cpmap", ours)):
                for name in samples:
                    v = res[name]
                    r = v[0] / exact[name][0]
                    ratios[tool].append(r)
                    per_layer[tool].setdefault(name, []).append(r)
                    if writer is not None:
                        writer.writerow([acc, tool, seed, name, repr(v[0]), repr(v[1]), repr(r)])
                totals[tool].append(sum(res[n][0] for n in samples) / sum(exact[n][0] for n in samples))
            if writer is not None:
                fh.flush()
            print(
                f"  seed {seed}: zigzag {zw:7.1f} s wall {zc:7.1f} s cpu, total/E* {totals['zigzag'][-1]:.6f} |"
                f" cpmap {cw:5.1f} s wall {cc:5.1f} s cpu, total/E* {totals['cpmap'][-1]:.6f}",
                flush=True,
            )
        print(f"  per ({'layer' if args.no_dedup else 'distinct layer'}, seed), {len(ratios['zigzag'])} values each:")
        for tool in ("zigzag", "cpmap"):
            print(f"    {tool:7s} {describe(ratios[tool])}")
        for tool in ("zigzag", "cpmap"):
            t = totals[tool]
            print(f"    {tool:7s} total of the layers / E*: median {statistics.median(t):.6f}  worst {max(t):.6f}")
        zw = statistics.mean(w for w, _ in times["zigzag"])
        zc = statistics.mean(c for _, c in times["zigzag"])
        for label in ("cpmap", "cpmap_unshared") if args.no_dedup else ("cpmap",):
            w = statistics.mean(x for x, _ in times[label])
            c = statistics.mean(x for _, x in times[label])
            print(f"    mean per run: zigzag {zw:.1f} s wall / {zc:.1f} s cpu, {label} {w:.1f} / {c:.1f} s: cpu ratio {zc / c:.1f}x")
        worse = [
            n
            for n in per_layer["zigzag"]
            if abs(statistics.median(per_layer["zigzag"][n]) - statistics.median(per_layer["cpmap"][n])) > 0.01
        ]
        print(f"    layers whose median ratio differs by more than 1 % between the tools: {len(worse)} {worse}")
        try:
            from scipy.stats import mannwhitneyu
        except ImportError:  # pragma: no cover - scipy ships with zigzag-dse
            continue
        # cpmap copies repeated layers (one chain per shape): test on distinct layers only
        distinct = sorted(set(rep.values()))
        pooled = {t: [r for n in distinct for r in per_layer[t][n]] for t in ("zigzag", "cpmap")}
        p = mannwhitneyu(pooled["zigzag"], pooled["cpmap"], alternative="two-sided").pvalue
        print(f"    Mann-Whitney U (two-sided), {len(distinct)} distinct layers x {args.seeds} seeds per tool: p = {p:.3f}")
        differ = []
        for n in distinct:
            a, b = per_layer["zigzag"][n], per_layer["cpmap"][n]
            if len(set(a) | set(b)) > 1 and mannwhitneyu(a, b, alternative="two-sided").pvalue < 0.05:
                differ.append(n)
        print(f"    distinct layers whose {args.seeds} + {args.seeds} ratios differ at p < 0.05 (Mann-Whitney): {len(differ)}/{len(distinct)} {differ}")
    if writer is not None:
        fh.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
