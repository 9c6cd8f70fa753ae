"""The heuristic-vs-optimum study (cpmap/study.py, scripts/study.py) on the toy instance and on hand-made rows:
references and ratios, the headline numbers, the CSV round trip, the report and plots, bad input."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import replace
from pathlib import Path

import pytest

from cpmap import study
from cpmap.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = study.StudySettings(seeds=2, nb_spatial_mappings=1)


@pytest.fixture(scope="module")
def toy_rows():
    # without the toy's mapping file: its partial temporal_ordering would leave SALSA out (it does not encode
    # orderings) and constrain the others to the ordered space (1362 pJ)
    inst = replace(study.load_instance(ROOT / "instances" / "toy__toy.yaml", ROOT), mapping=None)
    cells = study.run_grid([inst], ["energy", "latency"], list(study.ENGINES), SETTINGS)
    return inst, cells, study.study_rows(cells, [inst]), study.run_rows(cells, [inst])


def test_toy_grid_references_and_ratios(toy_rows):
    inst, cells, rows, runs = toy_rows
    assert (inst.network, inst.accelerator) == ("toy", "toy")
    # exact, LOMA lpf 6 and 8, SALSA seeds 0 and 1, for two objectives
    assert sorted((c.objective, c.engine, c.seed) for c in cells) == sorted(
        (o, e, s) for o in ("energy", "latency") for e, s in (("exact", None), ("loma_lpf6", None), ("loma_lpf8", None), ("salsa", 0), ("salsa", 1)))
    energy = {(r["engine"], r["seed"]): r for r in rows if r["objective"] == "energy"}
    # the toy's proven optimum is 1300 pJ (tests/test_loma.py, tests/test_exhaustive.py); LOMA reaches it
    assert energy[("exact", "")]["objective_value"] == 1300 and energy[("exact", "")]["reference_status"] == "optimal"
    assert energy[("loma_lpf6", "")]["ratio"] == 1.0
    for r in rows:
        assert r["reference"] is not None
        assert r["ratio"] == r["objective_value"] / r["reference"]
        if r["reference_status"] == "optimal":
            assert r["ratio"] >= 1 - 1e-12
    # latency is proven too: 53 cycles (tests/test_exhaustive.py), which LOMA misses (55)
    latency = {(r["engine"], r["seed"]): r for r in rows if r["objective"] == "latency"}
    assert latency[("exact", "")]["objective_value"] == 53 and latency[("exact", "")]["reference_status"] == "optimal"
    # one run row per cell: one layer, solved (not copied), with its wall and CPU time
    assert len(runs) == len(cells) == 10
    assert all(r["layers"] == r["distinct_layers"] == 1 and r["cpu_seconds"] >= 0 and r["wall_seconds"] > 0 for r in runs)


def test_csv_round_trip_and_report(toy_rows, tmp_path):
    _, _, rows, runs = toy_rows
    assert study.runs_from_csv(study.runs_to_csv(runs)) == runs
    text = study.rows_to_csv(rows)
    back = study.rows_from_csv(text)
    assert len(back) == len(rows)
    for a, b in zip(rows, back):
        assert {k: a[k] for k in study.CSV_FIELDS} == {k: b[k] for k in study.CSV_FIELDS}
    assert study.rows_to_csv(back) == text
    grid = {"networks": ("toy",), "accelerators": ("toy",), "objectives": ("energy", "latency"), "engines": tuple(study.ENGINES)}
    study.plot_ratio_distributions(rows, "energy", tmp_path / "r_energy.png")
    study.plot_time_vs_quality(rows, runs, "latency", tmp_path / "t_latency.png")
    for name in ("r_energy.png", "t_latency.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = study.render_report(rows, runs, SETTINGS, "python scripts/study.py --x", grid, None, ["r_energy.png"])
    assert "python scripts/study.py --x" in md and "![r_energy.png](r_energy.png)" in md
    assert "| energy | toy | 1/1 | loma_lpf6 | 1/1 | 1.0000 | 1.0000 |" in md


def _row(acc, engine, seed, layer, value, ref, status="optimal", seconds=1.0, network="net"):
    return {
        "network": network, "accelerator": acc, "objective": "energy", "engine": engine, "seed": seed, "layer": layer,
        "status": "heuristic", "objective_value": value, "energy_pJ": value, "latency_cc": 1.0, "seconds": seconds,
        "solved_once_as": "", "reference": ref, "reference_status": status, "reference_bound": ref, "ratio": value / ref,
    }


def _run(acc, engine, seed, cpu, network="net", distinct=2):
    return {
        "network": network, "accelerator": acc, "objective": "energy", "engine": engine, "seed": seed, "layers": distinct,
        "distinct_layers": distinct, "wall_seconds": 2 * cpu, "cpu_seconds": cpu,
    }


def test_headline_numbers_by_hand():
    rows = [
        _row("tpu_like", "exact", "", "a", 100.0, 100.0, seconds=5.0),
        _row("tpu_like", "exact", "", "b", 200.0, 200.0, seconds=7.0),
        _row("tpu_like", "loma_lpf6", "", "a", 100.0, 100.0, seconds=1.0),
        _row("tpu_like", "loma_lpf6", "", "b", 250.0, 200.0, seconds=2.0),
        _row("tpu_like", "salsa", 0, "a", 110.0, 100.0, seconds=3.0),
        _row("tpu_like", "salsa", 0, "b", 200.0, 200.0, seconds=3.0),
        _row("tpu_like", "salsa", 1, "a", 100.0, 100.0, seconds=4.0),
        _row("tpu_like", "salsa", 1, "b", 200.0, 200.0, seconds=4.0),
    ]
    runs = [
        _run("tpu_like", "exact", "", 12.0),
        _run("tpu_like", "loma_lpf6", "", 3.0),
        _run("tpu_like", "salsa", 0, 6.0),
        _run("tpu_like", "salsa", 1, 8.0),
    ]
    h = {x.engine: x for x in study.headlines(rows, runs)}
    assert (h["exact"].reference_proven, h["exact"].reference_layers, h["exact"].cpu_seconds) == (2, 2, 12.0)
    lo = h["loma_lpf6"]
    assert (lo.layers, lo.at_reference, lo.worst, lo.worst_layer, lo.cpu_seconds) == (2, 1, 1.25, "net b", 3.0)
    assert lo.geomean == pytest.approx(math.sqrt(1.25))
    sa = h["salsa"]
    # 4 (layer, seed) results, 3 at the optimum; time = mean over the 2 seeds of 6 and 8 CPU seconds
    assert (sa.layers, sa.at_reference, sa.worst, sa.cpu_seconds) == (4, 3, pytest.approx(1.1), 7.0)
    assert sa.geomean == pytest.approx(1.1 ** 0.25)


def test_grid_estimate_uses_measured_rates():
    # measured: LOMA on resnet18/tpu_like, 4 CPU s for 2 distinct layers (rate 2 s per distinct layer); SALSA 2
    # seeds of 1 and 3 CPU s for 2 distinct layers (rate 1 s per layer and seed)
    runs = [_run("tpu_like", "loma_lpf6", "", 4.0, "resnet18"), _run("tpu_like", "salsa", 0, 1.0, "resnet18"), _run("tpu_like", "salsa", 1, 3.0, "resnet18")]
    est = study.estimate_grid_seconds(runs, ROOT, ("resnet18", "resnet50"), ("tpu_like", "ascend_like"), ("energy",), ("loma_lpf6", "salsa"), 10)
    n = study.unique_layer_counts(ROOT, ("resnet18", "resnet50"))
    # LOMA: resnet18/tpu_like measured (4 s); the three other cells: distinct layers x 2 s (the ascend_like ones
    # extrapolated from tpu_like). SALSA: measured mean per seed 2 s x 10 seeds; others distinct layers x 1 s x 10
    loma = 4.0 + 2.0 * n["resnet18"] + 2 * 2.0 * n["resnet50"]
    salsa = 20.0 + 10 * (n["resnet18"] + 2 * n["resnet50"])
    assert est["per_engine"] == pytest.approx({"loma_lpf6": loma, "salsa": salsa})
    assert est["seconds"] == pytest.approx(loma + salsa)
    assert est["extrapolated_cells"] == 4 and est["unestimated_cells"] == 0


def _script_main():
    spec = importlib.util.spec_from_file_location("study_script", ROOT / "scripts" / "study.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_missing_instance_and_bad_flags_exit_2(tmp_path, capsys):
    with pytest.raises(InputError, match="no instance"):
        study.grid_instances(ROOT, ["resnet18"], ["nosuch"])
    main = _script_main()
    for args, field in ((["--networks", "vgg"], "--networks"), (["--seeds", "0"], "--seeds"), (["--from-csv", str(tmp_path / "x.csv")], "x.csv")):
        out = tmp_path / "out"
        code = main(["study.py", *args, "--out", str(out), "--report", str(tmp_path / "s.md")])
        err = capsys.readouterr().err
        assert code == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and field in lines[0] and "Traceback" not in err
        assert not out.exists() and not (tmp_path / "s.md").exists()


def test_study_networks_have_the_published_shapes():
    """MAC counts computed by hand from the architectures (batch 1)."""
    from cpmap.io.workloads import load_workload

    def macs(net):
        layers, _ = load_workload(ROOT / "models" / "networks" / f"{net}.onnx")
        return len(layers), sum(l.total_macs for l in layers)

    # ResNet-50: 53 convolutions + fc, 4.089 GMAC (the usual 4.1 GFLOPs figure counts MACs)
    assert macs("resnet50") == (54, 4_089_184_256)
    # BERT-base layer, 128 tokens: 4 x 128x768x768 + 128x768x3072 x 2 + 2 x 12 heads x 128x128x64
    assert macs("bert_base_gemms") == (8, 4 * 128 * 768 * 768 + 2 * 128 * 768 * 3072 + 2 * 12 * 128 * 128 * 64)
    # Llama-7B layer: q, k, v, o 4096x4096; gate, up, down 4096x11008; 32 heads of 128
    assert macs("llama7b_prefill_gemms") == (9, 512 * (4 * 4096 * 4096 + 3 * 4096 * 11008) + 2 * 32 * 512 * 512 * 128)
    assert macs("llama7b_decode_gemms") == (9, 4 * 4096 * 4096 + 3 * 4096 * 11008 + 2 * 32 * 2048 * 128)


def test_locality_on_layers_reading_network_inputs():
    """Q, K and V all read the layer input: K and V enter like the first layer (ZigZag stops there)."""
    from cpmap.api import load_problem, locality_accelerators

    p = load_problem(ROOT / "models/networks/bert_base_gemms.onnx", ROOT / "models/accelerators/aimc.yaml", ROOT / "models/mappings/default_imc.yaml")
    accs = locality_accelerators(p, None, False)
    q, k, v = (accs[f"/encoder/layer.0/attention/{x}_proj/MatMul"] for x in "qkv")
    assert k == q and v == q
    assert [(m.name, m.operands) for m in q.memories][-2:] == [("sram_256KB", ("I1", "O")), ("dram", ("I1", "I2", "O"))]
