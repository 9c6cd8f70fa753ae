"""Benchmark: evaluations per second of cpmap's cost model vs zigzag-dse 3.9.1's, on the same mappings,
measured in one run (CPU time, single process).

    python benchmarks/bench_cost_model.py [--mappings 300] [--accelerator tpu_like]

Both sides get a prepared per-layer context (parsed hardware, converted spatial mapping), then cost the same
temporal mappings: cpmap's ``evaluate_temporal`` against ZigZag's TemporalMapping + CostModelEvaluation
(what LOMA does per loop order). Needs the test extra (zigzag-dse, six).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import zigzag_oracle as zo  # noqa: E402

from cpmap.api import load_problem  # noqa: E402
from cpmap.mapping import SpatialMapping  # noqa: E402
from cpmap.cost.model import evaluate_temporal, prepare  # noqa: E402
from cpmap.engines.allocator import AllocationError, allocate  # noqa: E402
from cpmap.engines.loma import prime_factors  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "zigzag391"
ACCELERATORS = {
    "tpu_like": ("tpu_like.yaml", "tpu_like.yaml"),
    "edge_tpu_like": ("edge_tpu_like.yaml", "edge_tpu_like.yaml"),
    "meta_prototype": ("meta_prototype.yaml", "meta_prototype_like.yaml"),
    "ascend_like": ("ascend_like.yaml", "ascend_like.yaml"),
    "tesla_npu_like": ("tesla_npu_like.yaml", "tesla_npu_like.yaml"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mappings", type=int, default=300, help="mappings per accelerator")
    ap.add_argument("--accelerator", action="append", help="default: all five digital examples")
    args = ap.parse_args()
    zz = Path(zo.zigzag_dir()) / "inputs"
    rng = random.Random(0)
    print(f"{'accelerator':16s} {'mappings':>8s} {'cpmap eval/s':>13s} {'zigzag eval/s':>14s} {'ratio':>7s}")
    for name in args.accelerator or list(ACCELERATORS):
        hw, mp = ACCELERATORS[name]
        problem = load_problem(zz / "workload" / "resnet18.onnx", zo.cpmap_readable(zz / "hardware" / hw), zz / "mapping" / mp)
        zz_layers = zo.zigzag_layers_from_onnx(str(zz / "workload" / "resnet18.onnx"), str(zz / "mapping" / mp))
        # ZigZag's own spatial choices for the layers (the fixtures of the parity tests)
        fixture = json.loads((FIXTURES / f"{name}__resnet18__latency.json").read_text())
        spatial = {e["name"]: e["mapping"]["spatial"] for e in fixture["layers"]}
        work = []
        while len(work) < args.mappings:
            layer = rng.choice(problem.layers)
            c = problem.constraints(layer)
            sm = SpatialMapping.from_dict(spatial[layer.name])
            ctx = prepare(layer, problem.accelerator, sm, c.operand_links)
            lpfs = [(d, p) for d, s in ctx.temporal_sizes.items() for p in prime_factors(s)]
            rng.shuffle(lpfs)
            try:
                tm = allocate(ctx, tuple(lpfs))
            except AllocationError:
                continue
            zctx = zo.ZigzagLayerContext(str(zz / "hardware" / hw), zz_layers[layer.name], sm.as_dict(), c.operand_links)
            levels = {o: [tm.level_of_loop(o, k) for k in range(len(tm.loops))] for o in tm.cuts}
            work.append((ctx, tm, zctx, list(tm.loops), levels))
        t0 = time.process_time()
        ours = [evaluate_temporal(ctx, tm).energy for ctx, tm, *_ in work]
        t_ours = time.process_time() - t0
        t0 = time.process_time()
        theirs = [zctx.evaluate(loops, levels)["energy_total"] for _, _, zctx, loops, levels in work]
        t_zz = time.process_time() - t0
        worst = max(abs(a - b) / b for a, b in zip(ours, theirs))
        rate_ours, rate_zz = len(work) / t_ours, len(work) / t_zz
        print(f"{name:16s} {len(work):8d} {rate_ours:13.0f} {rate_zz:14.0f} {rate_ours / rate_zz:6.1f}x  (max rel energy diff {worst:.1e})")


if __name__ == "__main__":
    main()
