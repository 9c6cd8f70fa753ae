"""IMC layer cost and inter-layer data locality against zigzag-dse 3.9.1.

* ResNet-18 on ``aimc.yaml`` / ``dimc.yaml`` (fixtures of scripts/gen_zigzag_imc_fixtures.py, ZigZag's IMC flow):
  the per-layer hierarchy after data-locality pruning, and cpmap's cost of ZigZag's chosen mapping (energy, its
  array-energy breakdown, latency) to a relative 1e-9; totals equal ZigZag's own regression values.
* The worked examples of imc_model.md 12.3/12.4 with their exact numbers.
* Data-locality decisions equal ZigZag's stages on three networks and seven accelerators.
* Random IMC mappings (mixed and diagonal unrollings, random loop orders) costed by cpmap and by ZigZag's
  ``CostModelEvaluationForIMC``.
* ``solve --engine loma`` reproduces ZigZag's IMC flow layer by layer.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from cpmap.api import evaluate_problem, load_problem, locality_accelerators
from cpmap.cost.model import evaluate, evaluate_temporal, prepare
from cpmap.engines.allocator import AllocationError, allocate
from cpmap.cost.capacity import capacity_violations
from cpmap.engines.loma import prime_factors
from cpmap.imc.layer_cost import mapped_array, precharge_interval
from cpmap.locality import build_graph, layers_graph, plan_locality, workload_graph
from cpmap.mapping import SpatialMapping
from cpmap.result import mapping_from_json
from cpmap.solve import SolveOptions, solve_problem

import zigzag  # noqa: F401 (the test extra installs it)
import zigzag_oracle as zo  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ZZ = Path(zo.zigzag_dir()) / "inputs"
FIXTURES = sorted((Path(__file__).parent / "fixtures" / "zigzag391" / "imc").glob("*__resnet18__*.json"))
EXAMPLES = Path(__file__).resolve().parent / "fixtures/spec_examples/imc"
ACC = {name: ROOT / "models" / "accelerators" / f"{name}.yaml" for name in ("aimc", "dimc")}
IMC_MAPPING = ROOT / "models" / "mappings" / "default_imc.yaml"
RESNET = ZZ / "workload" / "resnet18.onnx"
# imc_model.md 12.4 (ZigZag's tests/main/test_imc, ONNX workload): energy (pJ), latency (cycles)
REGRESSION = {"aimc": (4695729577.211851, 5050846.0), "dimc": (4726170712.825855, 5681000.0)}
_cache: dict = {}


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def _problem(acc: str):
    if acc not in _cache:
        p = load_problem(RESNET, ACC[acc], IMC_MAPPING)
        _cache[acc] = (p, locality_accelerators(p, None))
    return _cache[acc]


# --------------------------------------------------------------------------------------------------------------
# ZigZag's chosen mappings on ResNet-18
# --------------------------------------------------------------------------------------------------------------


def test_imc_fixtures_present():
    assert {p.name.split("__")[0] for p in FIXTURES} >= {"aimc", "dimc"}


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_resnet18_imc_layers_match_zigzag(path: Path):
    fixture = json.loads(path.read_text())
    acc = fixture["accelerator"]
    problem, accs = _problem(acc)
    layers = {layer.name: layer for layer in problem.layers}
    assert len(fixture["layers"]) == 21
    total_e = total_l = 0.0
    for i, entry in enumerate(fixture["layers"]):
        layer = layers[entry["name"]]
        hw = accs[layer.name]
        assert [(m.name, list(m.operands)) for m in hw.memories] == [(m["name"], m["operands"]) for m in entry["memory_levels"]]
        mapping = mapping_from_json(entry["mapping"], hw, entry["operand_links"], layer.operands, path, f"layers[{i}]")
        cost = evaluate(layer, hw, mapping)
        ref = entry["results"]
        assert _rel(cost.energy, ref["energy_total"]) <= 1e-9, (entry["name"], cost.energy, ref["energy_total"])
        assert _rel(cost.latency, ref["latency_total2"]) <= 1e-9, (entry["name"], cost.latency, ref["latency_total2"])
        assert _rel(cost.mac_energy, ref["mac_energy"]) <= 1e-9
        assert cost.ideal_cycle == ref["ideal_cycle"]
        assert not cost.zigzag_failures
        ctx = prepare(layer, hw, mapping.spatial, mapping.operand_links)
        for k, v in ref["mac_energy_breakdown"].items():
            assert _rel(ctx.imc.breakdown[k], v) <= 1e-9 or ctx.imc.breakdown[k] == v == 0, (entry["name"], k)
        assert ctx.imc.tclk_ns == ref["tclk"]
        total_e += cost.energy
        total_l += cost.latency
    assert _rel(total_e, fixture["totals"]["energy"]) <= 1e-9
    assert _rel(total_l, fixture["totals"]["latency"]) <= 1e-9
    if fixture["opt"] == "latency":
        assert _rel(total_e, REGRESSION[acc][0]) <= 1e-9 and total_l == REGRESSION[acc][1]


def test_evaluate_without_locality_costs_the_full_hierarchy():
    """Locality is on by default for IMC; switching it off keeps the fc layer's outputs going to DRAM."""
    path = next(p for p in FIXTURES if p.name.startswith("aimc__") and "latency" in p.name)
    problem, _ = _problem("aimc")
    on = evaluate_problem(problem, path, ["/fc/Gemm"])
    off = evaluate_problem(problem, path, ["/fc/Gemm"], data_locality=False)
    assert on.layers[0].cost.latency == 63493.0
    assert off.layers[0].cost.energy > on.layers[0].cost.energy
    assert off.layers[0].cost.latency > on.layers[0].cost.latency


# --------------------------------------------------------------------------------------------------------------
# worked examples (imc_model.md 12.3)
# --------------------------------------------------------------------------------------------------------------

# ZigZag's chosen temporal mapping of the pointwise layer on both arrays: OY, OX at the cells level (weights
# written once), the inputs in the SRAM, the outputs in rf_2B for the innermost OY only.
_PW_TEMPORAL = [
    {"dim": d, "size": 2, "level": {"O": 0 if k == 0 else 1, "W": 0, "I": 1}}
    for k, d in enumerate(["OY", "OY", "OY", "OX", "OX", "OX"])
]

# (array, workload) -> MAC energy, memory energy, total energy (pJ), ideal, onloading, offloading, latency (cycles)
_PW_EXPECTED = {
    ("aimc", "wl_pw_c128.yaml"): (217949.97141504003, 1537462.272, 1755412.2434150402, 256, 1792, 4, 2052),
    ("dimc", "wl_pw_c128.yaml"): (279992.40192, 1537462.272, 1817454.67392, 512, 1536, 4, 2052),
    ("aimc", "wl_pw_c64.yaml"): (211866.52667904002, 793077.76, 1004944.2866790401, 128, 768, 4, 1028),
    ("dimc", "wl_pw_c64.yaml"): (153354.829824, 793077.76, 946432.589824, 256, 512, 4, 1028),
}


@pytest.mark.parametrize("acc,workload", list(_PW_EXPECTED), ids=[f"{a}-{w}" for a, w in _PW_EXPECTED])
def test_pointwise_worked_example(acc: str, workload: str):
    problem = load_problem(EXAMPLES / workload, ACC[acc], IMC_MAPPING)
    (layer,) = problem.layers
    hw = locality_accelerators(problem, None)[layer.name]
    # the layer's inputs and outputs fit the SRAM: DRAM keeps only the weights
    assert [(m.name, m.operands) for m in hw.memories][-2:] == [("sram_256KB", ("I1", "O")), ("dram", ("I2",))]
    c = layer.loop_sizes["C"]
    mapping = mapping_from_json(
        {"spatial": {"D1": {"K": 128}, "D2": {"C": c}}, "temporal": _PW_TEMPORAL}, hw, {"O": "O", "W": "I2", "I": "I1"}, layer.operands, "x", "y"
    )
    cost = evaluate(layer, hw, mapping)
    mac, mem, total, ideal, onload, offload, latency = _PW_EXPECTED[(acc, workload)]
    assert cost.mac_energy == pytest.approx(mac, rel=1e-12)
    assert cost.mem_energy == pytest.approx(mem, rel=1e-12)
    assert cost.energy == pytest.approx(total, rel=1e-12)
    assert (cost.ideal_cycle, cost.onloading, cost.offloading, cost.latency) == (ideal, onload, offload, latency)
    assert cost.stall_slack == 0
    # weights: 16384 (8192) cell writes x 0.095 pJ + 2048 (1024) DRAM word reads x 700 pJ
    n_w = 128 * c
    assert cost.energy_breakdown["W"]["cells"] == pytest.approx(n_w * 0.095, rel=1e-12)
    assert cost.energy_breakdown["W"]["dram"] == pytest.approx(n_w * 8 / 64 * 700, rel=1e-12)


def test_pointwise_mac_energy_terms():
    """imc_model.md 12.3 MAC-energy table, term by term (pJ), incl. the under-utilised C = 64 variant."""
    expected = {
        ("aimc", 128): {"dacs": 2654.208, "adcs": 183785.006, "mults": 9512.681, "analog_bl_addition": 9512.681,
                        "adders_pv": 8472.232, "accumulators": 4013.162},
        ("dimc", 128): {"mults": 19025.363, "adders_regular": 253275.144, "accumulators": 7691.895},
        ("aimc", 64): {"dacs": 1327.104, "mults": 4756.341, "adcs": 183785.006, "analog_bl_addition": 9512.681},
        ("dimc", 64): {"mults": 19025.363, "adders_regular": 126637.572},
    }
    for (acc, c), terms in expected.items():
        problem = load_problem(EXAMPLES / f"wl_pw_c{c}.yaml", ACC[acc], IMC_MAPPING)
        (layer,) = problem.layers
        sm = SpatialMapping.from_dict({"D1": {"K": 128}, "D2": {"C": c}})
        ctx = prepare(layer, problem.accelerator, sm, {"O": "O", "W": "I2", "I": "I1"})
        assert (ctx.imc.mapped.rows, ctx.imc.mapped.cols, ctx.imc.mapped.activations) == (c, 128, 64)
        for k, v in terms.items():
            assert round(ctx.imc.breakdown[k], 3) == v, (acc, c, k)
        assert ctx.cycles_per_op == (4.0 if acc == "aimc" else 8.0)
        assert ctx.imc.tclk_ns == (14.07244 if acc == "aimc" else 3.75708)


def test_mapped_rows_with_diagonal_mapping():
    """imc_model.md 7.3: C=Cu, FX=FXu on the bitline and OX=OXu on the wordline -> R_m = Cu (OXu+FXu-1), R_add = Cu FXu.

    ZigZag iterates the bitline dims as a set (hash order: FX before C) but their factors in mapping order, so
    ``{C: 8, FX: 3}`` gives FX the factor 8 and C the factor 3: (8 + 4 - 1) * 3 = 33 rows. cpmap reproduces it.
    """
    problem, _ = _problem("aimc")
    layer = next(l for l in problem.layers if l.loop_sizes.get("FX") == 3 and l.loop_sizes["C"] == 64)
    zo._quiet_zigzag()
    zz_layer = zo.zigzag_layers_from_onnx(str(RESNET), str(ZZ / "mapping" / "default_imc.yaml"))[layer.name]
    for d2, rows in (({"FX": 3, "C": 8}, 8 * (4 + 3 - 1)), ({"C": 8, "FX": 3}, (8 + 4 - 1) * 3)):
        spatial = {"D1": {"K": 16, "OX": 4}, "D2": d2}
        m = mapped_array(layer, problem.accelerator, SpatialMapping.from_dict(spatial))
        assert (m.rows, m.rows_for_adder, m.cols) == (rows, 24, 64)
        assert m.activations == layer.total_macs / (64 * 24)
        assert not m.zigzag_failures
        zctx = zo.ZigzagLayerContext(str(ZZ / "hardware" / "aimc.yaml"), zz_layer, spatial)
        arr = zctx.accelerator.operational_array
        assert arr.get_mapped_oa_dim(zctx.layer, arr.wl_dim, arr.bl_dim) == (m.rows, m.rows_for_adder, m.cols, m.activations)
    single = mapped_array(layer, problem.accelerator, SpatialMapping.from_dict({"D1": {"K": 16, "OX": 4}, "D2": {"FX": 3}}))
    assert single.rows == 3 + 4 - 1 and any("IndexError" in f for f in single.zigzag_failures)
    plain = mapped_array(layer, problem.accelerator, SpatialMapping.from_dict({"D1": {"K": 64}}))
    assert (plain.rows, plain.cols) == (1, 64)


def test_precharge_with_two_weights_per_cell_group():
    """imc_model.md 7.8 (``dimc_m2.yaml``, 16-bit cell groups): the precharge term is ``E_pc x rd_out_to_low /
    interval`` with ``E_pc = (C_wl V^2 + C_bl V^2 M) B_w``; ZigZag 3.9.1 crashes on this path, cpmap says so."""
    problem = load_problem(EXAMPLES / "wl_pw_c128.yaml", EXAMPLES / "dimc_m2.yaml", IMC_MAPPING)
    (layer,) = problem.layers
    hw = locality_accelerators(problem, None)[layer.name]
    mapping = mapping_from_json(
        {"spatial": {"D1": {"K": 128}, "D2": {"C": 128}}, "temporal": _PW_TEMPORAL}, hw, {"O": "O", "W": "I2", "I": "I1"}, layer.operands, "x", "y"
    )
    cost = evaluate(layer, hw, mapping)
    e_pc = (0.35e-3 * 0.81 + 0.35e-3 * 0.81 * 2) * 8
    # weights stationary over all 64 (weight-irrelevant) cycles: one read-out per cell group, interval 64
    assert cost.mac_energy_breakdown["local_bl_precharging"] == pytest.approx(e_pc / 64, rel=1e-12)
    assert cost.mac_energy == pytest.approx(279992.40192 + e_pc / 64, rel=1e-12)
    assert any("AttributeError" in f for f in cost.zigzag_failures)
    run = solve_problem(problem, SolveOptions(engine="loma", objective="latency"))
    assert run.layers[0].cost.mac_energy > run.layers[0].cost.mac_energy_breakdown.get("adders_regular", 0)


def test_imc_result_json_has_clock_and_array_energy(tmp_path: Path):
    from typer.testing import CliRunner

    from cpmap.cli import app

    path = next(p for p in FIXTURES if p.name == "dimc__resnet18__latency.json")
    out = tmp_path / "r.json"
    res = CliRunner().invoke(
        app, ["evaluate", str(RESNET), "-a", str(ACC["dimc"]), "-m", str(IMC_MAPPING), "-f", str(path), "--layers", "/fc/Gemm", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    (entry,) = json.loads(out.read_text())["layers"]
    ref = next(e for e in json.loads(path.read_text())["layers"] if e["name"] == "/fc/Gemm")["results"]
    assert entry["latency"] == ref["latency_total2"] and entry["imc"]["tclk_ns"] == 3.75708
    assert entry["imc"]["latency_ns"] == pytest.approx(ref["latency_total2"] * 3.75708, rel=1e-12)
    assert entry["imc"]["array_energy_breakdown"] == pytest.approx(ref["mac_energy_breakdown"], rel=1e-12)


def test_precharge_interval_counts_inner_weight_irrelevant_loops():
    problem, _ = _problem("dimc")
    layer = problem.layers[1]
    assert precharge_interval(layer, "W", [("OX", 7), ("OY", 2), ("K", 2), ("OX", 4)]) == 14
    assert precharge_interval(layer, "W", [("C", 2), ("OX", 7)]) == 1


# --------------------------------------------------------------------------------------------------------------
# data locality decisions = ZigZag's stages
# --------------------------------------------------------------------------------------------------------------

_LOCALITY_CASES = [
    ("aimc", "default_imc"), ("dimc", "default_imc"), ("tpu_like", "tpu_like"), ("edge_tpu_like", "edge_tpu_like"),
    ("meta_prototype", "meta_prototype_like"), ("ascend_like", "ascend_like"), ("tesla_npu_like", "tesla_npu_like"),
]


@pytest.mark.parametrize("network", ["resnet18.onnx", "mobilenetv2.onnx", "alexnet.onnx"])
def test_locality_plan_matches_zigzag(network: str):
    from zigzag.parser.onnx.onnx_model_parser import ONNXModelParser
    from zigzag.stages.exploit_data_locality_stages import (
        ExploitInterLayerDataLocalityStage,
        SearchInterLayerDataLocalityStage,
    )

    zo._quiet_zigzag()
    pruned = 0
    for hw, mp in _LOCALITY_CASES:
        hw_path, mp_path, wl_path = ZZ / "hardware" / f"{hw}.yaml", ZZ / "mapping" / f"{mp}.yaml", ZZ / "workload" / network
        zacc = zo.load_accelerator(str(hw_path))
        search = SearchInterLayerDataLocalityStage([None], accelerator=zacc, workload=ONNXModelParser(str(wl_path), str(mp_path)).run())
        search.update_top_mem_level()
        problem = load_problem(wl_path, zo.cpmap_readable(hw_path), mp_path)
        links = lambda l: dict(problem.constraints(l).operand_links)  # noqa: E731
        plan = plan_locality(problem.layers, workload_graph(wl_path, problem.layers), problem.accelerator, links)
        assert plan.weight_level == search.mem_update_weight, hw
        accs = locality_accelerators(problem, True)
        nodes = {n.id: n for n in search.workload_no_dummy.node_list}
        for layer in problem.layers:
            assert plan.levels[layer.layer_id] == {str(k): v for k, v in search.mem_update_list[layer.layer_id].items()}, (hw, layer.name)
            stage = ExploitInterLayerDataLocalityStage(
                [None], accelerator=zacc, layer=nodes[layer.layer_id],
                mem_update_list=search.mem_update_list, mem_update_weight=search.mem_update_weight,
            )
            ref = stage.generate_accelerator_with_removing_unused_memory()
            ours = accs[layer.name]
            assert [(m.name, list(m.operands)) for m in ours.memories] == [
                (m.name, [str(o) for o in m.operands]) for m in ref.memory_hierarchy.mem_level_list
            ], (hw, layer.name)
            pruned += ours is not problem.accelerator
    assert pruned > 0


def test_graph_bypasses_placeholder_nodes_like_zigzag():
    """A chain a -> relu -> add <- b: the placeholders vanish, their producers feed their consumers."""
    g = build_graph([(0, True, []), (1, False, [0]), (2, True, [1]), (3, False, [2, 1]), (4, True, [3])])
    assert g.nodes == (0, 2, 4)
    assert g.successors[0] == (2, 4) and g.predecessors[4] == (2, 0)
    assert g.topological_order() == [0, 2, 4]


def test_yaml_workload_graph_and_default_off_for_digital():
    problem = load_problem(ROOT / "models" / "networks" / "toy_conv.yaml", ROOT / "models" / "accelerators" / "toy.yaml")
    assert layers_graph(problem.layers).nodes == tuple(l.layer_id for l in problem.layers)
    assert locality_accelerators(problem, None) is None


def test_locality_without_a_fitting_memory():
    """gemm_l1.yaml: ZigZag's planning asserts (no level for some layer); cpmap runs without locality in automatic
    mode and refuses an explicit request."""
    from cpmap.errors import InputError

    problem = load_problem(RESNET, ZZ / "hardware" / "gemm_l1.yaml", ZZ / "mapping" / "gemm_l1.yaml")
    assert locality_accelerators(problem, None, mixed_spatial=True) is None
    with pytest.raises(InputError, match="no memory level"):
        locality_accelerators(problem, True)


# --------------------------------------------------------------------------------------------------------------
# random IMC mappings vs ZigZag's CostModelEvaluationForIMC
# --------------------------------------------------------------------------------------------------------------


def _random_spatial(rng: random.Random, layer, diagonal: bool) -> dict[str, dict[str, int]]:
    s = layer.loop_sizes

    def factor(d: str, room: int) -> int:
        """Half the time a divisor of the layer dim, else any factor (non-divisors exercise the greedy mapping)."""
        top = min(s[d], room)
        if rng.random() < 0.5:
            return rng.choice([f for f in range(1, top + 1) if s[d] % f == 0])
        return rng.randint(1, top)

    d1: dict[str, int] = {"K": factor("K", 128)}
    d2: dict[str, int] = {}
    room = 128
    for d in rng.sample(["C", "FX", "FY"], 3):
        if s.get(d, 1) > 1 and room > 1:
            f = factor(d, room)
            d2[d] = f
            room //= f
    if diagonal and s.get("OX", 1) > 1 and s.get("FX", 1) > 1:
        # OX beside K on the wordline: diagonal weight layout, which ZigZag handles with two or more bitline loops
        d1 = {"K": max(1, d1["K"] // 4), "OX": rng.randint(2, min(4, s["OX"]))}
        d2 = {"C": factor("C", 32), "FX": rng.randint(1, s["FX"])}
        if rng.random() < 0.5:
            d2["FY"] = rng.randint(1, s["FY"])
        d2 = dict(rng.sample(list(d2.items()), len(d2)))  # any order: ZigZag pairs dims and factors by hash order
    return {"D1": d1, "D2": d2} if d2 else {"D1": d1}


def test_random_imc_mappings_match_zigzag():
    from zigzag.stages.exploit_data_locality_stages import ExploitInterLayerDataLocalityStage, SearchInterLayerDataLocalityStage
    from zigzag.parser.onnx.onnx_model_parser import ONNXModelParser

    zo._quiet_zigzag()
    rng = random.Random(20250605)
    compared = diagonal_cases = fractional = 0
    worst_e = worst_l = 0.0
    zz_layers = zo.zigzag_layers_from_onnx(str(RESNET), str(ZZ / "mapping" / "default_imc.yaml"))
    for acc in ("aimc", "dimc"):
        problem, accs = _problem(acc)
        zacc = zo.load_accelerator(str(ZZ / "hardware" / f"{acc}.yaml"))
        search = SearchInterLayerDataLocalityStage(
            [None], accelerator=zacc, workload=ONNXModelParser(str(RESNET), str(ZZ / "mapping" / "default_imc.yaml")).run()
        )
        search.update_top_mem_level()
        tries = 0
        while compared < (55 if acc == "aimc" else 110) and tries < 400:
            tries += 1
            layer = rng.choice(problem.layers)
            hw = accs[layer.name]
            spatial = _random_spatial(rng, layer, diagonal=rng.random() < 0.5)
            sm = SpatialMapping.from_dict(spatial)
            links = dict(problem.constraints(layer).operand_links)
            ctx = prepare(layer, hw, sm, links)
            lpfs = [(d, p) for d, n in ctx.temporal_sizes.items() for p in prime_factors(n)]
            rng.shuffle(lpfs)
            try:
                tm = allocate(ctx, tuple(lpfs))
            except AllocationError:
                continue
            if capacity_violations(ctx, tm):
                continue
            ours = evaluate_temporal(ctx, tm)
            key = ("zz", acc, layer.name)
            if key not in _cache:
                stage = ExploitInterLayerDataLocalityStage(
                    [None], accelerator=zacc, layer=zz_layers[layer.name],
                    mem_update_list=search.mem_update_list, mem_update_weight=search.mem_update_weight,
                )
                _cache[key] = stage.generate_accelerator_with_removing_unused_memory()
            zctx = zo.ZigzagLayerContext(_cache[key], zz_layers[layer.name], spatial, links)
            levels = {o: [tm.level_of_loop(o, k) for k in range(len(tm.loops))] for o in tm.cuts}
            cme = zctx.cme(list(tm.loops), levels)
            compared += 1
            diagonal_cases += "OX" in spatial["D1"]  # rare: OX on the wordline rarely fits the 1-byte input register
            fractional += not ctx.same_spatial_variants
            worst_e = max(worst_e, _rel(ours.energy, cme.energy_total), _rel(ours.mac_energy, cme.mac_energy))
            worst_l = max(worst_l, _rel(ours.latency, cme.latency_total2))
            assert _rel(ours.mac_energy, cme.mac_energy) <= 1e-9, (layer.name, spatial, ours.mac_energy, cme.mac_energy)
            assert _rel(ours.energy, cme.energy_total) <= 1e-9, (layer.name, spatial, tm, ours.energy, cme.energy_total)
            assert _rel(ours.latency, cme.latency_total2) <= 1e-9, (layer.name, spatial, tm, ours.latency, cme.latency_total2)
    print(f"IMC differential: {compared} mappings, {diagonal_cases} diagonal, {fractional} fractional, "
          f"max rel diff energy {worst_e:.2e} latency {worst_l:.2e}")
    assert compared >= 100 and 0 < fractional < compared


def test_random_spatial_mappings_array_energy_matches_zigzag():
    """The spatial part alone (no temporal mapping needed): R_m, R_add, C_m, A and the array-energy breakdown of
    random mixed and diagonal mappings against ZigZag's ``get_mapped_oa_dim`` / ``get_energy_for_a_layer``,
    including the crash of its single-bitline-loop diagonal branch."""
    zo._quiet_zigzag()
    rng = random.Random(7)
    zz_layers = zo.zigzag_layers_from_onnx(str(RESNET), str(ZZ / "mapping" / "default_imc.yaml"))
    counts = {"diagonal": 0, "crash": 0, "plain": 0}
    for acc in ("aimc", "dimc"):
        problem, _ = _problem(acc)
        for _ in range(100):
            layer = rng.choice(problem.layers)
            spatial = _random_spatial(rng, layer, diagonal=rng.random() < 0.6)
            if rng.random() < 0.15 and "OX" in spatial["D1"]:
                spatial["D2"] = dict(list(spatial["D2"].items())[:1])  # single bitline loop: ZigZag's IndexError
            m = mapped_array(layer, problem.accelerator, SpatialMapping.from_dict(spatial))
            zctx = zo.ZigzagLayerContext(str(ZZ / "hardware" / f"{acc}.yaml"), zz_layers[layer.name], spatial)
            arr = zctx.accelerator.operational_array
            try:
                ref = arr.get_mapped_oa_dim(zctx.layer, arr.wl_dim, arr.bl_dim)
            except IndexError:
                assert any("IndexError" in f for f in m.zigzag_failures), spatial
                counts["crash"] += 1
                continue
            assert not m.zigzag_failures, spatial
            assert (m.rows, m.rows_for_adder, m.cols, m.activations) == ref, (layer.name, spatial)
            counts["diagonal" if m.rows != m.rows_for_adder else "plain"] += 1
            ctx = prepare(layer, problem.accelerator, SpatialMapping.from_dict(spatial), dict(problem.constraints(layer).operand_links))
            for k, v in arr.get_energy_for_a_layer(zctx.layer, None).items():
                assert _rel(ctx.imc.breakdown[k], v) <= 1e-12 or ctx.imc.breakdown[k] == v == 0, (layer.name, spatial, k)
    print("IMC spatial differential:", counts)
    assert counts["diagonal"] >= 20 and counts["crash"] > 0 and counts["plain"] >= 20, counts


def _resnet18_workload_yaml(path: Path) -> Path:
    """ResNet-18 as a workload YAML in the layout of the ``resnet18.yaml`` of ZigZag's IMC regression tests (not in the
    3.9.1 wheel): 21 convolutions (3x3 stride-2 downsample convolutions, the classifier as a 1x1 convolution), two
    pooling layers and eight additions, with the ids and operand sources that define its graph."""
    import yaml

    layers: list[dict] = []
    prec = {"W": 8, "I": 8, "O": 16, "O_final": 8}

    def conv(i, k, c, o, f, s, src, typ="Conv"):
        layers.append({
            "id": i, "name": f"layer{i}", "operator_type": typ, "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
            "dimension_relations": [f"ix={s}*ox+1*fx", f"iy={s}*oy+1*fy"], "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
            "loop_sizes": [1, k, c, o, o, f, f], "operand_precision": prec, "operand_source": {"I": src, "W": i},
        })

    def pool(i, g, o, f, s, src):
        layers.append({
            "id": i, "name": f"layer{i}", "operator_type": "Pooling", "equation": "O[b][g][oy][ox]+=W[fx][fy]*I[b][g][iy][ix]",
            "dimension_relations": [f"ix={s}*ox+1*fx", f"iy={s}*oy+1*fy"], "loop_dims": ["B", "G", "OY", "OX", "FX", "FY"],
            "loop_sizes": [1, g, o, o, f, f], "operand_precision": dict(prec, W=0), "operand_source": {"I": src, "W": i},
        })

    def add(i, g, o, w, src):
        layers.append({
            "id": i, "name": f"layer{i}", "operator_type": "Add", "equation": "O[b][g][oy][ox]=W[b][g][oy][ox]+I[b][g][oy][ox]",
            "loop_dims": ["B", "G", "OY", "OX"], "loop_sizes": [1, g, o, o], "operand_precision": prec,
            "operand_source": {"W": w, "I": src},
        })

    conv(0, 64, 3, 112, 7, 2, 0)
    pool(1, 64, 56, 3, 2, 0)
    conv(2, 64, 64, 56, 3, 1, 1), conv(3, 64, 64, 56, 3, 1, 2), add(4, 64, 56, 1, 3)
    conv(5, 64, 64, 56, 3, 1, 4), conv(6, 64, 64, 56, 3, 1, 5), add(7, 64, 56, 4, 6)
    i = 8
    for k, o, res in ((128, 28, 7), (256, 14, 14), (512, 7, 21)):
        conv(i, k, k // 2, o, 3, 2, res), conv(i + 1, k, k, o, 3, 1, i), conv(i + 2, k, k // 2, o, 3, 2, res, "Conv_downsample")
        add(i + 3, k, o, i + 2, i + 1)
        conv(i + 4, k, k, o, 3, 1, i + 3), conv(i + 5, k, k, o, 3, 1, i + 4), add(i + 6, k, o, i + 3, i + 5)
        i += 7
    pool(29, 512, 1, 7, 1, 28)
    conv(30, 1000, 512, 1, 1, 1, 29)
    path.write_text(yaml.safe_dump(layers, sort_keys=False))
    return path


@pytest.mark.parametrize("acc,expected", [("aimc", (4264976904.6396008, 4371385.0)), ("dimc", (4268285089.3547516, 5114707.0))])
def test_loma_reproduces_zigzag_imc_regression_on_yaml_workload(tmp_path: Path, acc: str, expected: tuple[float, float]):
    """imc_model.md 12.4, YAML workload: pooling and additions are left uncosted on IMC but shape the data-locality
    graph (additions are the branch ends); the 21 convolutions reproduce ZigZag's totals."""
    problem = load_problem(_resnet18_workload_yaml(tmp_path / "resnet18.yaml"), ACC[acc], IMC_MAPPING)
    assert len(problem.layers) == 31
    run = solve_problem(problem, SolveOptions(engine="loma", objective="latency"))
    assert len(run.layers) == 21 and all(r.name != "layer1" and r.name != "layer4" for r in run.layers)
    assert _rel(run.total_energy, expected[0]) <= 1e-9 and run.total_latency == expected[1]


# --------------------------------------------------------------------------------------------------------------
# LOMA on IMC: ZigZag's whole IMC flow
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_loma_reproduces_zigzag_imc_flow(path: Path):
    fixture = json.loads(path.read_text())
    acc = fixture["accelerator"]
    problem, _ = _problem(acc)
    run = solve_problem(problem, SolveOptions(engine="loma", objective=fixture["opt"]))
    ref = {e["name"]: e["results"] for e in fixture["layers"]}
    same = sum(
        _rel(r.cost.energy, ref[r.name]["energy_total"]) <= 1e-9 and _rel(r.cost.latency, ref[r.name]["latency_total2"]) <= 1e-9
        for r in run.layers
    )
    assert same == len(run.layers) == 21
    assert _rel(run.total_energy, fixture["totals"]["energy"]) <= 1e-9 and run.total_latency == fixture["totals"]["latency"]


# ZigZag 3.9.1, get_hardware_performance_zigzag(resnet18.onnx, hw, *_mixed.yaml, enable_mix_spatial_mapping=True):
# mixed spatial mappings switch ZigZag's data locality on for digital arrays too (17 of 21 layers pruned here)
_MIXED_DIGITAL = {
    "tpu_like": ("tpu_like_mixed", 1759424218.3160002, 4277223.0),
    "edge_tpu_like": ("edge_tpu_like_mixed", 1735517943.8700001, 3839472.0),
}


@pytest.mark.parametrize("hw", list(_MIXED_DIGITAL))
def test_loma_with_mixed_spatial_applies_locality_like_zigzag(hw: str):
    mp, energy, latency = _MIXED_DIGITAL[hw]
    problem = load_problem(RESNET, zo.cpmap_readable(ZZ / "hardware" / f"{hw}.yaml"), ZZ / "mapping" / f"{mp}.yaml")
    run = solve_problem(problem, SolveOptions(engine="loma", objective="latency", mixed_spatial=True))
    assert _rel(run.total_energy, energy) <= 1e-9 and run.total_latency == latency
    off = solve_problem(problem, SolveOptions(engine="loma", objective="latency", mixed_spatial=True, data_locality=False), ["/fc/Gemm"])
    assert off.layers[0].cost.energy > next(r for r in run.layers if r.name == "/fc/Gemm").cost.energy
