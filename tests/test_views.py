"""ZigZag's views of a result (``--report``, ``--layers``): the loop nest as ZigZag prints it, per-port stall/slack
and MAC utilisation against ZigZag 3.9.1's own values for the same mappings (fixtures of
``scripts/gen_zigzag_ordering_fixtures.py``), the report files, and the charts (matplotlib, PNG + SVG)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cpmap.api import load_problem
from cpmap.cli import app
from cpmap.cost.model import evaluate
from cpmap.result import LayerResult, RunResult, mapping_from_json
from cpmap.views import energy_parts, latency_parts, layer_views, loop_nest_text, ports_text

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests/fixtures/zigzag391"
CASES = {
    "tpu_like": ("tpu_like", "resnet18.yaml"),
    "gemm_l1": ("gemm_l1", "gemm_layer.yaml"),
    "gemm_l1_l3": ("gemm_l1_l3", "gemm_layer.yaml"),
}


def _views_of_zigzag_mappings(case: str, opt: str):
    """cpmap's views of the mappings ZigZag chose, with ZigZag's records."""
    acc, wl = CASES[case]
    fx = json.loads((FIX / "orderings" / f"{case}__{opt}.json").read_text())
    problem = load_problem(FIX / "workloads" / wl, ROOT / f"models/accelerators/{acc}.yaml", ROOT / f"models/mappings/{acc}.yaml")
    by_name = {layer.name: layer for layer in problem.layers}
    results = []
    for z in fx["layers"]:
        layer = by_name[z["name"] if z["name"] in by_name else str(z["id"])]  # ZigZag names unnamed layers Layer<id>
        assert {d: s for d, s in layer.loop_sizes.items() if s > 1} == {d: s for d, s in z["loop_sizes"].items() if s > 1}
        links = dict(problem.constraints(layer).operand_links)
        m = mapping_from_json(z["mapping"], problem.accelerator, links, layer.operands, "fixture", layer.name)
        cost = evaluate(layer, problem.accelerator, m)
        results.append(LayerResult(layer.name, dict(layer.loop_sizes), "evaluated", m, cost))
    run = RunResult(problem.accelerator.name, wl, opt, "evaluate", results)
    return problem, run, layer_views(problem, run), fx["layers"]


@pytest.mark.parametrize("case,opt", [("tpu_like", "latency"), ("gemm_l1", "latency"), ("gemm_l1_l3", "energy")])
def test_loop_nest_ports_and_utilisation_equal_zigzags(case: str, opt: str):
    _, _, views, records = _views_of_zigzag_mappings(case, opt)
    assert len(views) == len(records)
    for v, z in zip(views, records):
        ours = loop_nest_text(v).rstrip("\n").splitlines()
        theirs = z["print_mapping"].rstrip("\n").splitlines()
        # ZigZag names unnamed YAML layers 'Layer<id>', cpmap '<id>'
        assert ours[0].split("; ", 1)[1] == theirs[0].split("; ", 1)[1], v.layer.name
        assert ours[1:] == theirs[1:], f"{v.layer.name}:\n" + "\n".join(ours) + "\n---\n" + "\n".join(theirs)
        for mem, ports in z["port_stall_slack"].items():
            for port, val in ports.items():
                assert v.cost.port_stall_slack.get(mem, {}).get(port, 0) == val, (v.layer.name, mem, port)
        for k, val in z["mac_utilization"].items():
            assert v.cost.mac_utilization[k] == pytest.approx(val, rel=1e-12), (v.layer.name, k)
        assert max(x for p in v.cost.port_stall_slack.values() for x in p.values()) <= v.cost.stall_slack


def test_breakdowns_add_up():
    _, run, views, _ = _views_of_zigzag_mappings("tpu_like", "latency")
    for v, r in zip(views, run.layers):
        assert sum(energy_parts(v.cost).values()) == pytest.approx(r.cost.energy, rel=1e-12)
        parts = latency_parts(v.cost)
        assert sum(parts.values()) == r.cost.latency and min(parts.values()) >= 0
    text = ports_text(next(v for v in views if v.layer.name == "2"))
    assert "rf_2B.r_port_2" in text and "-106607" in text and "spatial 100.00%" in text


def test_solve_layers_prints_the_loop_nest_and_report_writes_the_views(tmp_path: Path):
    out = tmp_path / "rep"
    res = CliRunner().invoke(
        app,
        ["solve", str(FIX / "workloads/resnet18.yaml"), "-a", str(ROOT / "models/accelerators/tpu_like.yaml"),
         "-m", str(ROOT / "models/mappings/tpu_like.yaml"), "--engine", "loma", "--layers", "example_name_of_layer0,2",
         "--report", str(out), "-q", "-o", str(tmp_path / "r.json")],
    )
    assert res.exit_code == 0, res.output
    assert res.output.count("Loop ordering for ") == 2 and "parfor K in [0, 32):" in res.output
    assert "stall/slack per port" in res.output and "util" in res.output.splitlines()[0]
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "energy_breakdown.png", "energy_breakdown.svg", "latency_breakdown.png", "latency_breakdown.svg",
        "loop_nests.txt", "memory_hierarchy.png", "memory_hierarchy.svg",
    ]
    assert (out / "loop_nests.txt").read_text().count("Loop ordering for ") == 2
    svg = (out / "memory_hierarchy.svg").read_text()
    assert 'id="sram_2MB | 2 MB | I1,O"' in svg and 'id="dram | ' in svg
    svg = (out / "energy_breakdown.svg").read_text()
    assert 'id="network | MAC | ' in svg and 'id="example_name_of_layer0 | MAC | ' in svg
    doc = json.loads((tmp_path / "r.json").read_text())
    layer = doc["layers"][0]
    assert set(layer["utilization"]["mac"]) == {"spatial", "stalls", "stalls_onloading", "stalls_onloading_offloading"}
    assert layer["port_stall_slack"]["rf_2B"] and layer["status"] == "fixed"


def test_report_output_is_deterministic(tmp_path: Path):
    args = ["evaluate", str(ROOT / "models/networks/toy_conv.yaml"), "-a", str(ROOT / "models/accelerators/toy.yaml"),
            "-m", str(ROOT / "models/mappings/toy.yaml")]
    for d in ("a", "b"):
        assert CliRunner().invoke(app, [*args, "--report", str(tmp_path / d)]).exit_code == 0
    for f in (tmp_path / "a").iterdir():
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes(), f.name


def test_pareto_small_multiples(tmp_path: Path):
    """Plain lists in: one panel per layer plus the network front, PNG and SVG out."""
    from cpmap.plot import pareto_fronts_figure, save_figure

    fronts = [("conv1", [(3.0, 10.0), (2.0, 12.0), (1.5, 20.0)]), ("conv2", [(5.0, 5.0)]), ("fc", [])]
    fig = pareto_fronts_figure(fronts, network=[(9.5, 35.0), (8.0, 40.0)], title="test fronts")
    png, svg = save_figure(fig, tmp_path / "pareto")
    text = svg.read_text()
    assert 'id="conv1 | 3 points"' in text and 'id="conv2 | 1 points"' in text and 'id="network | 2 points"' in text
    assert png.read_bytes()[:4] == b"\x89PNG" and len(fig.axes) == 4
