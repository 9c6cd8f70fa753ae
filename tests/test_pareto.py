"""``cpmap pareto``: exact per-layer fronts, their ends equal to the lexicographic solves, the network front, the
JSON schema, and points that ``cpmap evaluate`` costs back to the same numbers."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cpmap.api import load_problem
from cpmap.cli import app
from cpmap.pareto import FrontPoint, network_front, non_dominated, pareto_problem
from cpmap.solve import SolveOptions, solve_problem
from cpmap.status import Status

ROOT = Path(__file__).resolve().parents[1]
NET = ROOT / "models/networks/resnet18.onnx"
HW = ROOT / "models/accelerators/tpu_like.yaml"
MAP = ROOT / "models/mappings/tpu_like.yaml"
LAYERS = ["/layer2/layer2.0/conv1/Conv", "/layer3/layer3.0/conv1/Conv", "/fc/Gemm"]


def test_front_ends_are_the_lexicographic_optima():
    problem = load_problem(NET, HW, MAP)
    fronts, network = pareto_problem(problem, SolveOptions(engine="cpsat"), LAYERS)
    energy = solve_problem(problem, SolveOptions(engine="cpsat", objective="energy"), LAYERS).layers
    latency = solve_problem(problem, SolveOptions(engine="cpsat", objective="latency"), LAYERS).layers
    for front, e, lat in zip(fronts, energy, latency):
        assert front.status == Status.OPTIMAL and len(front.points) >= 2
        assert (front.points[0].energy, front.points[0].latency) == (e.cost.energy, e.cost.latency)
        assert (front.points[-1].energy, front.points[-1].latency) == (lat.cost.energy, lat.cost.latency)
        es = [p.energy for p in front.points]
        ls = [p.latency for p in front.points]
        assert es == sorted(es) and ls == sorted(ls, reverse=True) and len(set(ls)) == len(ls)
    # layer2.0/conv1: the energy optimum takes 81,600 cycles, the latency optimum 57,103 (9 points between)
    assert [len(f.points) for f in fronts] == [9, 2, 2]
    assert network == network_front([f.points for f in fronts])
    assert network[0].energy == sum(f.points[0].energy for f in fronts)
    assert network[-1].latency == sum(f.points[-1].latency for f in fronts)


def test_network_front_is_the_exact_sum_front():
    a = [FrontPoint(1.0, 10.0), FrontPoint(2.0, 5.0)]
    b = [FrontPoint(1.0, 4.0), FrontPoint(3.0, 1.0)]
    # all four sums: (2,14) (4,11) (3,9) (5,6); non-dominated: (2,14) (3,9) (5,6)
    assert [(p.energy, p.latency) for p in network_front([a, b])] == [(2.0, 14.0), (3.0, 9.0), (5.0, 6.0)]
    assert [(p.energy, p.latency) for p in non_dominated([FrontPoint(1, 2), FrontPoint(1, 3), FrontPoint(2, 2)])] == [(1, 2)]


def test_cli_writes_the_schema_and_points_evaluate_back(tmp_path: Path):
    out, plot = tmp_path / "front.json", tmp_path / "front.png"
    res = CliRunner().invoke(app, ["pareto", str(NET), "-a", str(HW), "-m", str(MAP), "--layers", "/fc/Gemm", "-o", str(out), "--plot", str(plot), "-q"])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["schema"] == "cpmap.pareto/1" and doc["accelerator"] == "tpu_like" and doc["workload"] == "resnet18.onnx"
    (layer,) = doc["layers"]
    assert layer["name"] == "/fc/Gemm" and layer["status"] == "optimal"
    assert [p["energy"] for p in layer["points"]] == sorted(p["energy"] for p in layer["points"])
    assert doc["network"]["points"] == [{"energy": p["energy"], "latency": p["latency"]} for p in layer["points"]]
    assert plot.stat().st_size > 10_000
    for point in layer["points"]:  # each point is a cpmap.result/1 mapping: evaluate gives its numbers back
        result = tmp_path / "point.json"
        result.write_text(json.dumps({"layers": [{"name": "/fc/Gemm", "mapping": point["mapping"]}]}))
        res = CliRunner().invoke(app, ["evaluate", str(NET), "-a", str(HW), "-m", str(MAP), "-f", str(result), "--layers", "/fc/Gemm", "-o", str(tmp_path / "again.json")])
        assert res.exit_code == 0, res.output
        again = json.loads((tmp_path / "again.json").read_text())["layers"][0]
        assert (again["energy"], again["latency"]) == (point["energy"], point["latency"])
