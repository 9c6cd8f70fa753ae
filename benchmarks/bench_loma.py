"""Benchmark: the whole LOMA flow on ResNet-18, cpmap vs zigzag-dse 3.9.1, measured in one run.

    python benchmarks/bench_loma.py [--accelerator tpu_like] [--objective energy --objective latency]

Both sides read the same files (ZigZag's own ``inputs/``: resnet18.onnx, the hardware and mapping YAML) and
use ZigZag's regression-test settings: LOMA, ``lpf_limit=6``, 3 generated spatial mappings per layer, no
mixed spatial mappings. cpmap runs ``solve_problem`` in this process (``jobs=1``); ZigZag runs
``get_hardware_performance_zigzag`` (as ``scripts/gen_zigzag_fixtures.py`` calls it). Times are wall and CPU
seconds of each call, parsing included; the ratios are ZigZag CPU time over cpmap CPU time.

cpmap solves identical layers once (ResNet-18 has 21 costed layers, fewer distinct shapes); ZigZag maps
every layer. So a second cpmap figure solves each layer on its own (no sharing), the like-for-like ratio.
Needs the test extra (zigzag-dse, six).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import zigzag_oracle as zo  # noqa: E402

from cpmap.api import load_problem  # noqa: E402
from cpmap.solve import SolveOptions, solve_problem  # noqa: E402

ACCELERATORS = {
    "tpu_like": ("tpu_like.yaml", "tpu_like.yaml"),
    "edge_tpu_like": ("edge_tpu_like.yaml", "edge_tpu_like.yaml"),
    "meta_prototype": ("meta_prototype.yaml", "meta_prototype_like.yaml"),
    "ascend_like": ("ascend_like.yaml", "ascend_like.yaml"),
    "tesla_npu_like": ("tesla_npu_like.yaml", "tesla_npu_like.yaml"),
}
LPF_LIMIT = 6
NB_SPATIAL = 3


def _timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def run_zigzag(workload: Path, hw: Path, mp: Path, objective: str) -> dict[str, tuple[float, float]]:
    """ZigZag's API, per layer name (energy, latency)."""
    from zigzag.api import get_hardware_performance_zigzag

    logging.disable(logging.WARNING)  # ZigZag logs every layer at INFO level
    with tempfile.TemporaryDirectory(prefix="zz_bench_") as dump:
        _, _, cmes = get_hardware_performance_zigzag(
            str(workload),
            str(hw),
            str(mp),
            opt=objective,
            lpf_limit=LPF_LIMIT,
            nb_spatial_mappings_generated=NB_SPATIAL,
            loma_show_progress_bar=False,
            dump_folder=dump,
        )
    return {cme.layer.name: (float(cme.energy_total), float(cme.latency_total2)) for cme, _ in cmes[0][1]}


def run_cpmap(workload: Path, hw: Path, mp: Path, objective: str, share: bool = True) -> dict[str, tuple[float, float]]:
    """cpmap's LOMA flow in this process, per layer name (energy, latency)."""
    problem = load_problem(workload, zo.cpmap_readable(hw), mp)
    options = SolveOptions(engine="loma", objective=objective, lpf_limit=LPF_LIMIT, nb_spatial_mappings=NB_SPATIAL, jobs=1)
    if share:
        layers = solve_problem(problem, options).layers
    else:  # every layer on its own, as ZigZag does
        layers = [solve_problem(problem, options, [layer.name]).layers[0] for layer in problem.layers]
    return {r.name: (r.cost.energy, r.cost.latency) for r in layers if r.cost is not None}


def _agreement(ours: dict, theirs: dict) -> tuple[int, int, float]:
    same, worst = 0, 0.0
    for name, (ze, zl) in theirs.items():
        e, l = ours.get(name, (float("nan"), float("nan")))
        d = max(abs(e - ze) / ze, abs(l - zl) / zl)
        worst = max(worst, d)
        same += d <= 1e-9
    return same, len(theirs), worst


def main() -> int:
    import zigzag

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accelerator", default="tpu_like", choices=list(ACCELERATORS))
    ap.add_argument("--objective", action="append", choices=["energy", "latency"], help="default: energy and latency")
    args = ap.parse_args()
    zz = Path(os.path.dirname(zigzag.__file__)) / "inputs"
    hw_name, mp_name = ACCELERATORS[args.accelerator]
    workload, hw, mp = zz / "workload/resnet18.onnx", zz / "hardware" / hw_name, zz / "mapping" / mp_name
    print(f"ResNet-18 on {args.accelerator}, LOMA lpf {LPF_LIMIT}, {NB_SPATIAL} spatial mappings, one process")
    print(
        f"{'objective':9s} {'zigzag wall/cpu s':>18s} {'cpmap wall/cpu s':>17s} {'cpu x':>6s}"
        f" {'cpmap unshared s':>17s} {'cpu x':>6s}  layers equal (E and L)"
    )
    for objective in args.objective or ["energy", "latency"]:
        theirs, zw, zc = _timed(lambda: run_zigzag(workload, hw, mp, objective))
        ours, cw, cc = _timed(lambda: run_cpmap(workload, hw, mp, objective))
        ours_u, uw, uc = _timed(lambda: run_cpmap(workload, hw, mp, objective, share=False))
        same, n, worst = _agreement(ours, theirs)
        same_u, _, _ = _agreement(ours_u, theirs)
        print(
            f"{objective:9s} {zw:8.2f} / {zc:7.2f} {cw:7.2f} / {cc:7.2f} {zc / cc:5.1f}x"
            f" {uw:7.2f} / {uc:7.2f} {zc / uc:5.1f}x  {same}/{n} (unshared {same_u}/{n}), max rel diff {worst:.1e}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
