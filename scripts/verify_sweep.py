"""Solve every point of a finished sweep again, as `cpmap solve` does, on the materialised hardware YAML the sweep
wrote (DIR/hardware/<id>.yaml), and compare with the sweep's result: totals, per-layer energy, latency, status and
mapping must be equal.

    python scripts/verify_sweep.py SPEC.yaml DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cpmap.api import load_problem  # noqa: E402
from cpmap.result import run_to_json  # noqa: E402
from cpmap.solve import solve_problem  # noqa: E402
from cpmap.sweep.spec import load_spec, plan_sweep  # noqa: E402


def main() -> int:
    spec, out = Path(sys.argv[1]), Path(sys.argv[2])
    plan = plan_sweep(load_spec(spec))
    bad = 0
    for t in plan.tasks:
        swept = json.loads((out / "results" / f"{t.point}.json").read_text())
        problem = load_problem(t.workload, out / "hardware" / f"{t.hardware_id}.yaml", t.mapping)
        solo = run_to_json(solve_problem(problem, t.options, list(t.layers) if t.layers else None), problem.accelerator)
        same = (swept["total"]["energy"], swept["total"]["latency"]) == (solo["total"]["energy"], solo["total"]["latency"])
        for a, b in zip(swept["layers"], solo["layers"]):
            same = same and all(a.get(k) == b.get(k) for k in ("name", "status", "energy", "latency", "mapping"))
        bad += not same
        print(f"{t.point} {plan.hardware_of(t).describe()} {t.workload_name} {t.engine} {t.objective}: "
              f"sweep {swept['total']['energy']!r} pJ {swept['total']['latency']!r} cc, solve {solo['total']['energy']!r} pJ "
              f"{solo['total']['latency']!r} cc: {'equal' if same else 'DIFFERENT'}")
    print(f"{len(plan.tasks) - bad}/{len(plan.tasks)} points equal to cpmap solve on their materialised hardware")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
