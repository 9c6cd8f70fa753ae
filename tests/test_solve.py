"""`cpmap solve` / :func:`cpmap.solve.solve_problem`: the whole flow (spatial candidates -> engine -> best).

* Full-flow parity: LOMA with ZigZag's settings (lpf 6, 3 generated spatial mappings) finds, layer by layer,
  the energy and latency ZigZag 3.9.1 found on ResNet-18 (fixtures of ``scripts/gen_zigzag_fixtures.py``).
* The CLI: table, result JSON (interfaces.md section 3), round trip through ``cpmap evaluate``, exit codes.
* Identical layers solved once; results independent of ``--jobs``; bad input, infeasible and refused layers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cpmap.solve as solve_mod
from cpmap.api import load_problem
from cpmap.cli import app
from cpmap.engines.base import objective_value
from cpmap.solve import SolveOptions, exit_code, solve_problem

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
TOY_WL = MODELS / "networks/toy_conv.yaml"
TOY_HW = MODELS / "accelerators/toy.yaml"
TOY_MAP = MODELS / "mappings/toy.yaml"
RESNET = MODELS / "networks/resnet18.onnx"
FIXTURES = sorted((ROOT / "tests/fixtures/zigzag391").glob("*__resnet18__*.json"))
MAPPING_FILE = {"meta_prototype": "meta_prototype_like"}  # accelerator -> mapping file (as ZigZag pairs them)
REL = 1e-9
runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _problem(acc: str, workload: Path = RESNET):
    return load_problem(workload, MODELS / f"accelerators/{acc}.yaml", MODELS / f"mappings/{MAPPING_FILE.get(acc, acc)}.yaml")


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= REL * abs(b)


def _key(objective: str, energy: float, latency: float) -> tuple[float, float]:
    """ZigZag's criteria: energy then latency, or latency then energy."""
    return (energy, latency) if objective == "energy" else (latency, energy)


# ----------------------------------------------------------------------------------------------------------
# full-flow parity with ZigZag 3.9.1 (LOMA, lpf 6, 3 spatial mappings)
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_loma_full_flow_parity_with_zigzag(path: Path) -> None:
    fx = json.loads(path.read_text())
    acc, objective = fx["accelerator"], fx["opt"]
    assert fx["settings"]["lpf_limit"] == 6 and fx["settings"]["nb_spatial_mappings_generated"] == 3
    assert not fx["settings"]["enable_mix_spatial_mapping"]
    run = solve_problem(
        _problem(acc), SolveOptions(engine="loma", objective=objective, lpf_limit=6, nb_spatial_mappings=3, jobs=2)
    )
    ours = {r.name: r for r in run.layers}
    same = same_spatial = 0
    differ = []
    for ref in fx["layers"]:
        r = ours[ref["name"]]
        assert r.status == "heuristic", (ref["name"], r.status, r.message)
        e, l = r.cost.energy, r.cost.latency
        ze, zl = ref["results"]["energy_total"], ref["results"]["latency_total2"]
        if _close(e, ze) and _close(l, zl):
            same += 1
        else:
            differ.append((ref["name"], e, ze, l, zl))
            # never worse than ZigZag on its own criteria
            assert _key(objective, e, l) <= _key(objective, ze, zl), (ref["name"], e, ze, l, zl)
        same_spatial += r.mapping.spatial.as_dict() == ref["mapping"]["spatial"]
    n = len(fx["layers"])
    print(f"\n{path.stem}: {same}/{n} layers with ZigZag's energy and latency, {same_spatial}/{n} with its spatial mapping")
    for d in differ:
        print("  differs:", d)
    assert same >= 0.95 * n, differ
    # the totals then agree too (ZigZag's API sums the layers in order)
    if same == n:
        assert _close(run.total_energy, fx["totals"]["energy"]) and _close(run.total_latency, fx["totals"]["latency"])


# ----------------------------------------------------------------------------------------------------------
# the CLI
# ----------------------------------------------------------------------------------------------------------

RESULT_FIELDS = ("status", "objective_value", "bound", "gap", "energy", "latency", "solve_seconds", "mapping")


@pytest.mark.parametrize("engine", ["loma", "exhaustive"])
def test_cli_solve_toy_table_json_round_trip(tmp_path: Path, engine: str) -> None:
    out = tmp_path / "r.json"
    res = _run("solve", TOY_WL, "--accelerator", TOY_HW, "--engine", engine, "--output", out, "--quiet")
    assert res.exit_code == 0, res.output
    assert "toy_conv" in res.output and "TOTAL" in res.output and "latency_cc" in res.output
    doc = json.loads(out.read_text())
    assert doc["schema"] == "cpmap.result/1" and doc["engine"] == engine and doc["objective"] == "energy"
    (layer,) = doc["layers"]
    for f in RESULT_FIELDS:
        assert f in layer, f
    assert layer["name"] == "toy_conv" and layer["loop_sizes"] == {"K": 4, "C": 4, "OX": 4, "FX": 3}
    # LOMA's best of the toy's 30 orderings is 1300 pJ (tests/test_loma.py); enumeration proves it optimal
    assert layer["energy"] == layer["objective_value"] == 1300
    if engine == "loma":
        assert (layer["status"], layer["bound"], layer["gap"]) == ("heuristic", None, None)
    else:
        assert (layer["status"], layer["bound"], layer["gap"]) == ("optimal", 1300, 0.0)
    assert layer["mapping"]["spatial"] == {"D1": {"K": 4}}
    assert doc["total"]["energy"] == layer["energy"] and doc["total"]["latency"] == layer["latency"]
    # the table shows the same numbers
    row = next(ln for ln in res.output.splitlines() if ln.startswith("toy_conv"))
    assert row.split()[1] == layer["status"] and str(layer["latency"]) in row.split()
    # round trip: evaluating the written mapping gives the same cost
    out2 = tmp_path / "e.json"
    res2 = _run("evaluate", TOY_WL, "--accelerator", TOY_HW, "--mapping-file", out, "--output", out2)
    assert res2.exit_code == 0, res2.output
    (again,) = json.loads(out2.read_text())["layers"]
    assert (again["energy"], again["latency"]) == (layer["energy"], layer["latency"])
    assert again["mapping"] == layer["mapping"]


def test_cli_solve_resnet_layers_round_trip(tmp_path: Path) -> None:
    """A mapping file, a layer selection and two objectives' worth of layers: evaluate reproduces the costs."""
    hw, mp = MODELS / "accelerators/tpu_like.yaml", MODELS / "mappings/tpu_like.yaml"
    names = "/conv1/Conv,/layer2/layer2.0/downsample/downsample.0/Conv,/fc/Gemm"
    out = tmp_path / "r.json"
    res = _run("solve", RESNET, "-a", hw, "-m", mp, "--engine", "loma", "--objective", "latency", "--layers", names, "-o", out, "-q")
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert [x["name"] for x in doc["layers"]] == names.split(",")
    out2 = tmp_path / "e.json"
    res2 = _run("evaluate", RESNET, "-a", hw, "-m", mp, "--mapping-file", out, "--layers", names, "-o", out2)
    assert res2.exit_code == 0, res2.output
    for a, b in zip(doc["layers"], json.loads(out2.read_text())["layers"]):
        assert (a["energy"], a["latency"]) == (b["energy"], b["latency"]), a["name"]
        assert a["objective_value"] == a["latency"]


# ----------------------------------------------------------------------------------------------------------
# identical layers, determinism
# ----------------------------------------------------------------------------------------------------------

_TOY_LAYER = """\
- id: {id}
  name: {name}
  operator_type: Conv
  equation: O[k][ox]+=W[k][c][fx]*I[c][ix]
  dimension_relations: [ix=1*ox+1*fx]
  loop_dims: [K, C, OX, FX]
  loop_sizes: [{k}, {c}, {ox}, 3]
  operand_precision: {{W: 8, I: 8, O: 16, O_final: 8}}
  operand_source: {{I: {src}, W: {id}}}
"""


def _toy_workload(tmp_path: Path, layers: list[tuple[str, int, int, int]]) -> Path:
    """A workload YAML of toy-like conv layers ``(name, K, C, OX)``, each fed by the previous one."""
    text = "".join(
        _TOY_LAYER.format(id=i, name=name, k=k, c=c, ox=ox, src=max(i - 1, 0)) for i, (name, k, c, ox) in enumerate(layers)
    )
    p = tmp_path / "net.yaml"
    p.write_text(text)
    return p


def _fingerprint(r):
    m = r.mapping
    return (
        r.status,
        m.spatial.as_dict(),
        m.temporal.loops,
        dict(m.temporal.cuts),
        r.cost.energy,
        r.cost.latency,
        r.objective_value,
        r.bound,
    )


def test_identical_layers_solved_once(tmp_path: Path, monkeypatch) -> None:
    wl = _toy_workload(tmp_path, [("a", 4, 4, 4), ("b", 4, 4, 4), ("c", 8, 4, 4), ("d", 4, 4, 4)])
    problem = load_problem(wl, TOY_HW)
    seen: list[str] = []
    real = solve_mod.get_engine

    def counting(name):
        engine = real(name)

        def wrapped(ctx, options):
            seen.append(ctx.layer.name)
            return engine(ctx, options)

        return wrapped

    monkeypatch.setattr(solve_mod, "get_engine", counting)
    run = solve_problem(problem, SolveOptions(engine="loma", jobs=1))
    assert set(seen) == {"a", "c"}  # b and d have a's shape
    by = {r.name: r for r in run.layers}
    assert [r.name for r in run.layers] == ["a", "b", "c", "d"]
    for copy in ("b", "d"):
        assert _fingerprint(by[copy]) == _fingerprint(by["a"])
        assert any("same shape as a: solved once" in n for n in by[copy].notes), by[copy].notes
        assert by[copy].solve_seconds == 0.0
    assert not any("solved once" in n for n in by["a"].notes + by["c"].notes)
    # the copy is what solving that layer alone gives
    alone = solve_problem(problem, SolveOptions(engine="loma"), ["b"]).layers[0]
    assert _fingerprint(alone) == _fingerprint(by["a"])
    # and it shows in the result JSON
    out = tmp_path / "r.json"
    res = _run("solve", wl, "--accelerator", TOY_HW, "--engine", "loma", "-o", out, "-q")
    assert res.exit_code == 0, res.output
    layers = json.loads(out.read_text())["layers"]
    assert any("solved once" in n for n in layers[1]["notes"])
    assert layers[1]["mapping"] == layers[0]["mapping"] and layers[1]["energy"] == layers[0]["energy"]


def test_jobs_do_not_change_results() -> None:
    problem = _problem("edge_tpu_like")
    names = ["/conv1/Conv", "/layer3/layer3.0/conv1/Conv", "/fc/Gemm"]
    for objective in ("energy", "latency"):
        one = solve_problem(problem, SolveOptions(engine="loma", objective=objective, jobs=1), names)
        two = solve_problem(problem, SolveOptions(engine="loma", objective=objective, jobs=2), names)
        assert [r.name for r in one.layers] == [r.name for r in two.layers] == names
        for a, b in zip(one.layers, two.layers):
            assert _fingerprint(a) == _fingerprint(b), a.name
            assert a.objective_value == objective_value(objective, a.cost)


# ----------------------------------------------------------------------------------------------------------
# bad input (exit 2), infeasible layers and refused layers (exit 1)
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case, expect",
    [
        ("engine", ["--engine", "unknown engine 'gurobi'"]),
        ("objective", ["--objective", "unknown objective 'power'"]),
        ("array_dim", ["map.yaml", "default.spatial_mapping.D3", "no array dimension D3"]),
        ("too_large", ["map.yaml", "default.spatial_mapping.D1", "exceeds the size 4 of D1"]),
        ("layer_dim", ["map.yaml", "default.spatial_mapping.D1", "unknown layer dimension 'Q'"]),
        ("layers", ["--layers", "unknown layer 'nope'"]),
        ("jobs", ["--jobs", "at least 1"]),
    ],
)
def test_bad_input_exit_2_one_line_nothing_written(tmp_path: Path, case: str, expect: list[str]) -> None:
    out = tmp_path / "r.json"
    mp = tmp_path / "map.yaml"
    text = TOY_MAP.read_text()
    extra: list[str] = ["--engine", "loma"]
    if case == "engine":
        extra = ["--engine", "gurobi"]
    elif case == "objective":
        extra += ["--objective", "power"]
    elif case == "array_dim":
        text = text.replace("    D1:\n", "    D3:\n")
    elif case == "too_large":
        text = text.replace("- K, 4", "- K, 8")
    elif case == "layer_dim":
        text = text.replace("- K, 4", "- Q, 2")
    elif case == "layers":
        extra += ["--layers", "nope"]
    elif case == "jobs":
        extra += ["--jobs", "0"]
    mp.write_text(text)
    res = _run("solve", TOY_WL, "--accelerator", TOY_HW, "--mapping", mp, "--output", out, *extra)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    for word in expect:
        assert word in lines[0], lines[0]
    assert not out.exists()


def test_layer_fitting_no_memory_is_infeasible_others_solved(tmp_path: Path) -> None:
    """A global buffer of 4 kbit holds the toy layer's tensors but not the weights of a 64x64x3 layer."""
    hw = tmp_path / "tiny.yaml"
    hw.write_text(TOY_HW.read_text().replace("size: 1048576", "size: 4096"))
    wl = _toy_workload(tmp_path, [("small", 4, 4, 4), ("big", 64, 64, 8)])
    out = tmp_path / "r.json"
    res = _run("solve", wl, "--accelerator", hw, "--engine", "loma", "--output", out, "--quiet")
    assert res.exit_code == 1, res.output
    doc = json.loads(out.read_text())
    small, big = doc["layers"]
    assert small["status"] == "heuristic" and small["energy"] == 1300
    assert big["status"] == "infeasible" and big["energy"] is None and "mapping" not in big
    assert "fits the memories" in big["message"]
    assert "big: infeasible:" in res.output
    assert doc["total"]["energy"] == small["energy"]
    # same through the API
    run = solve_problem(load_problem(wl, hw), SolveOptions(engine="loma"))
    assert [r.status for r in run.layers] == ["heuristic", "infeasible"] and exit_code(run) == 1


def test_exhaustive_refuses_big_layer_skipped(tmp_path: Path) -> None:
    wl = _toy_workload(tmp_path, [("small", 4, 4, 4), ("big", 64, 64, 64)])
    out = tmp_path / "r.json"
    res = _run("solve", wl, "--accelerator", TOY_HW, "--engine", "exhaustive", "--max-space", "1000000", "-o", out, "-q")
    assert res.exit_code == 1, res.output
    small, big = json.loads(out.read_text())["layers"]
    assert small["status"] == "optimal" and small["energy"] == 1300
    assert big["status"] == "skipped" and big["energy"] is None
    assert "exhaustive search space" in big["message"] and "1,000,000" in big["message"]
    assert "big: skipped:" in res.output
