"""cpmap sweep: parameters, the cost-following rule, area, outputs, Dask execution (local cluster, a real
scheduler with two workers), kill and resume; every point equal to `cpmap solve` on its materialised hardware."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cpmap.area import accelerator_area
from cpmap.cli import app
from cpmap.errors import InputError
from cpmap.io.hardware_yaml import load_accelerator
from cpmap.sweep.spec import load_memory_library, load_spec, plan_sweep

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
LIBRARY = MODELS / "memory_libraries/sram_28nm.yaml"
LAYERS = ["/fc/Gemm", "/layer4/layer4.0/downsample/downsample.0/Conv"]
SIZES = [8388608, 16777216, 33554432]  # 1, 2, 4 MB


def write_spec(folder: Path, **overrides) -> Path:
    """A spec in ``folder``: tpu_like, 2 array shapes x 3 global-buffer sizes (memory library), two small
    ResNet-18 layers, the exact engine and LOMA (energy)."""
    spec = {
        "accelerator": str(MODELS / "accelerators/tpu_like.yaml"),
        "mapping": str(MODELS / "mappings/tpu_like_hints.yaml"),
        "workloads": [str(MODELS / "networks/resnet18.onnx")],
        "engines": ["cpsat", "loma"],
        "objectives": ["energy"],
        "options": {"spatial_mappings": 2, "layers": LAYERS},
        "grid": {"operational_array.sizes": [[16, 16], [32, 32]], "memories.sram_2MB.size": SIZES},
        "memory_library": str(LIBRARY),
    }
    spec.update(overrides)
    spec = {k: v for k, v in spec.items() if v is not None}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def env_with_cpmap() -> dict[str, str]:
    """Child processes import this checkout's cpmap."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def results_of(out: Path) -> dict[str, dict]:
    """Point id -> what a result says, without the machine-dependent solve times."""
    docs = {}
    for p in sorted((out / "results").glob("*.json")):
        doc = json.loads(p.read_text())
        for layer in doc["layers"]:
            layer.pop("solve_seconds")
        doc["total"].pop("solve_seconds")
        docs[p.stem] = doc
    return docs


def rows_of(path: Path) -> list[dict]:
    return list(csv.DictReader(path.open()))


def without_seconds(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


# ----------------------------------------------------------------------------------------------------------
# spec checks (no solving)
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "grid, expect",
    [
        ({"memories.sram_9MB.r_cost": [1.0]}, "no memory 'sram_9MB'"),
        ({"memories.sram_2MB.rcost": [1.0]}, "'rcost' is not a memory field"),
        ({"operational_array.size": [[8, 8]]}, "expected operational_array."),
        ({"memory.sram_2MB.size": [1]}, "'memory' is not a hardware YAML key"),
        ({"memories.sram_2MB.ports.r_port_9.bandwidth_max": [512]}, "has no port 'r_port_9'"),
        ({"operational_array.sizes.2": [8]}, "'sizes' has no element '2'"),
    ],
)
def test_unknown_parameter_path_is_exit_2_naming_it(tmp_path: Path, grid: dict, expect: str):
    spec = write_spec(tmp_path, grid=grid, memory_library=None)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["sweep", str(spec), "-o", str(out), "-q"])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cpmap: error: {spec}: grid.{next(iter(grid))}:"), lines
    assert expect in lines[0]
    assert not out.exists()


def test_known_paths_set_the_hardware_document(tmp_path: Path):
    grid = {
        "memories.sram_2MB.ports.r_port_1.bandwidth_max": [1024],
        "memories.sram_2MB.ports.1.bandwidth_max": [1024],
        "operational_array.sizes.0": [8],
        "memories.rf_128B.force_double_buffering": [True],  # absent from the base, a field the loader reads
    }
    plan = plan_sweep(load_spec(write_spec(tmp_path, grid=grid, memory_library=None, mapping=None)))
    (hw,) = plan.hardware
    sram = hw.accelerator.memory_by_name["sram_2MB"]
    assert [p.bw_max for p in sram.ports] == [1024, 1024]
    assert hw.accelerator.array.sizes == (8, 32)
    assert hw.accelerator.memory_by_name["rf_128B"].force_double_buffering
    assert dict(hw.values) == {k: v[0] for k, v in grid.items()}


def test_a_variant_the_loader_rejects_is_exit_2_naming_the_point(tmp_path: Path):
    spec = write_spec(tmp_path, grid={"memories.sram_2MB.ports.r_port_1.bandwidth_max": [32]}, memory_library=None)
    res = CliRunner().invoke(app, ["sweep", str(spec), "-o", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 2
    assert "point tpu_like.yaml [memories.sram_2MB.ports.r_port_1.bandwidth_max=32]" in res.output
    assert "bandwidth_min 64 exceeds bandwidth_max 32" in res.output
    assert not (tmp_path / "out").exists()


def test_a_variant_the_mapping_does_not_fit_is_exit_2_before_any_work(tmp_path: Path):
    """tpu_like.yaml fixes K 32 on D1: a 16x16 array cannot hold it (cpmap solve: exit 2 as well)."""
    spec = write_spec(tmp_path, mapping=str(MODELS / "mappings/tpu_like.yaml"))
    res = CliRunner().invoke(app, ["sweep", str(spec), "-o", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 2
    assert "unroll factor 32 of K exceeds the size 16 of D1" in res.output and "operational_array.sizes=[16, 16]" in res.output
    assert not (tmp_path / "out").exists()


def test_size_sweep_without_a_cost_source_is_refused(tmp_path: Path):
    spec = write_spec(tmp_path, memory_library=None)
    res = CliRunner().invoke(app, ["sweep", str(spec), "-o", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 2
    assert f"{spec}: grid.memories.sram_2MB.size: sweeping the size of memory sram_2MB would keep" in res.output
    assert "memory_library, or keep_costs: true" in res.output
    assert not (tmp_path / "out").exists()
    # costs zipped with the size but the size crossed in the grid: the costs would not follow the size either
    zipped = {"memories.sram_2MB.r_cost": [1.0, 2.0, 3.0], "memories.sram_2MB.w_cost": [1.0, 2.0, 3.0], "memories.sram_2MB.area": [1.0, 2.0, 3.0]}
    with pytest.raises(InputError, match="grid.memories.sram_2MB.size: sweeping the size"):
        load_spec(write_spec(tmp_path, memory_library=None, zip=zipped))
    # a library and a swept cost of the same memory contradict each other
    with pytest.raises(InputError, match="memories.sram_2MB.r_cost: memory sram_2MB takes its costs from the memory_library"):
        load_spec(write_spec(tmp_path, grid={"memories.sram_2MB.size": SIZES, "memories.sram_2MB.r_cost": [1.0]}))


def test_costs_follow_sizes_from_zip_library_or_keep_costs(tmp_path: Path):
    base = load_accelerator(MODELS / "accelerators/tpu_like.yaml").memory_by_name["sram_2MB"].instance
    grid = {"operational_array.sizes": [[32, 32]]}
    # zip: every size with its own costs
    zipped = {
        "memories.sram_2MB.size": [1000000, 2000000],
        "memories.sram_2MB.r_cost": [10.0, 20.0],
        "memories.sram_2MB.w_cost": [11.0, 21.0],
        "memories.sram_2MB.area": [1.5, 2.5],
    }
    plan = plan_sweep(load_spec(write_spec(tmp_path / "z", grid=grid, zip=zipped, memory_library=None)))
    got = [h.accelerator.memory_by_name["sram_2MB"].instance for h in plan.hardware]
    assert [(m.size, m.r_cost, m.w_cost, m.area) for m in got] == [(1000000, 10.0, 11.0, 1.5), (2000000, 20.0, 21.0, 2.5)]
    # library: the smallest 2048-bit macro of at least the requested size, its size and costs
    lib = {m.name: m for m in load_memory_library(LIBRARY)}
    grid_lib = {"memories.sram_2MB.size": [8388608, 9000000, 16777216]}
    plan = plan_sweep(load_spec(write_spec(tmp_path / "l", grid=grid_lib)))
    assert plan.duplicates == 1  # 9000000 bits -> the 2 MB macro, the same hardware as 16777216
    got = [(h.accelerator.memory_by_name["sram_2MB"].instance, dict(h.macros)["sram_2MB"]) for h in plan.hardware]
    assert [name for _, name in got] == ["sram_1MB_w2048", "sram_2MB_w2048"]
    for inst, name in got:
        m = lib[name]
        assert (inst.size, inst.r_cost, inst.w_cost, inst.area) == (m.size, m.r_cost, m.w_cost, m.area)
    assert (got[1][0].r_cost, got[1][0].w_cost) == (base.r_cost, base.w_cost)  # 2 MB: tpu_like's own numbers
    assert [dict(h.values)["memories.sram_2MB.size"] for h in plan.hardware] == [8388608, 16777216]
    # no macro large enough: exit 2 naming the library
    with pytest.raises(InputError, match="memory_library: no macro of word width 2048 bits with at least 100000000000 bits"):
        plan_sweep(load_spec(write_spec(tmp_path / "x", grid={"memories.sram_2MB.size": [10**11]})))
    # keep_costs: the original costs, on purpose
    plan = plan_sweep(load_spec(write_spec(tmp_path / "k", grid={"memories.sram_2MB.size": [4194304]}, memory_library=None, keep_costs=True)))
    inst = plan.hardware[0].accelerator.memory_by_name["sram_2MB"].instance
    assert (inst.size, inst.r_cost, inst.w_cost, inst.area) == (4194304, base.r_cost, base.w_cost, base.area)


def test_memory_library_reproduces_the_shipped_srams_at_its_anchors():
    """The library's law goes through the shipped SRAMs of depth 1024 and 8192 words (its header says which)."""
    lib = {(m.size, m.bandwidth): m for m in load_memory_library(LIBRARY)}
    checked = 0
    for acc, mem in [
        ("tpu_like", "sram_2MB"), ("edge_tpu_like", "sram_2MB"), ("meta_prototype", "sram_64KB"), ("meta_prototype", "sram_32KB"),
        ("meta_prototype", "sram_1MB_A"), ("meta_prototype", "sram_1MB_W"), ("tesla_npu_like", "sram_1MB_A"), ("tesla_npu_like", "sram_1MB_W"),
    ]:
        level = load_accelerator(MODELS / f"accelerators/{acc}.yaml").memory_by_name[mem]
        m = lib[(level.size, level.ports[0].bw_max)]
        assert (m.r_cost, m.w_cost) == (level.instance.r_cost, level.instance.w_cost), (acc, mem)
        checked += 1
    assert checked == 8


def test_area_counts_memory_instances_mac_units_and_the_imc_macro(tmp_path: Path):
    doc = yaml.safe_load((MODELS / "accelerators/tpu_like.yaml").read_text())
    doc["memories"]["rf_128B"]["area"] = 0.002  # served_dimensions []: one per MAC of the 32x32 array
    doc["memories"]["sram_2MB"]["area"] = 4.0  # serves D1 and D2: one instance
    doc["operational_array"]["unit_area"] = 0.0005
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(doc))
    area = accelerator_area(load_accelerator(path))
    assert dict(area.memories) == {"rf_128B": 0.002 * 1024, "rf_2B": 0.0, "sram_2MB": 4.0, "dram": 0.0}
    assert area.mac_array == 0.0005 * 1024 and area.imc_macro == 0.0
    assert area.total == pytest.approx(2.048 + 4.0 + 0.512, rel=1e-15)
    # IMC: the macro model's area (cpmap imc: 2.28781 mm2 for aimc.yaml), the cells memory inside it, not again
    aimc = doc = yaml.safe_load((MODELS / "accelerators/aimc.yaml").read_text())
    aimc["memories"]["cells"]["area"] = 1e-6
    aimc["memories"]["sram_256KB"]["area"] = 0.5
    path.write_text(yaml.safe_dump(aimc))
    area = accelerator_area(load_accelerator(path))
    assert "cells" not in dict(area.memories) and dict(area.memories)["sram_256KB"] == 0.5
    assert area.imc_macro == pytest.approx(2.2878123152749223 + 128 * 128 * 1e-6, rel=1e-12)


# ----------------------------------------------------------------------------------------------------------
# running sweeps
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Swept:
    """A sweep killed after its first result, then resumed: what was there before the rerun, and its output."""

    out: Path
    before: dict[str, tuple[int, int]]
    rerun_output: str


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Swept:
    """The spec's 12 points (6 hardware variants x cpsat, loma): a local cluster of 1 worker, killed (SIGKILL to the
    client and its cluster) as soon as the first result is written; then the same command with 2 workers."""
    folder = tmp_path_factory.mktemp("sweep")
    spec = write_spec(folder)
    out = folder / "out"
    cmd = [sys.executable, "-m", "cpmap.cli", "sweep", str(spec), "-o", str(out), "-j", "1", "-q"]
    proc = subprocess.Popen(cmd, env=env_with_cpmap(), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None and not list((out / "results").glob("*.json")):
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "results").glob("*.json")}
    res = CliRunner().invoke(app, ["sweep", str(spec), "-o", str(out), "-j", "2"])
    assert res.exit_code == 0, res.output
    return Swept(out, before, res.output)


def test_killed_sweep_leaves_complete_points_and_resumes(swept: Swept):
    assert 1 <= len(swept.before) < 12
    assert f"{len(swept.before)} of 12 points already done" in swept.rerun_output
    assert f"{12 - len(swept.before)} solved now, 0 failed" in swept.rerun_output
    for name, stamp in swept.before.items():  # complete when killed, never rewritten
        p = swept.out / "results" / name
        assert json.loads(p.read_text())["schema"] == "cpmap.result/1"
        assert (p.stat().st_ino, p.stat().st_mtime_ns) == stamp
    assert len(list((swept.out / "results").glob("*.json"))) == 12


def test_every_point_equals_cpmap_solve_on_its_materialised_hardware(swept: Swept, tmp_path: Path):
    rows = rows_of(swept.out / "points.csv")
    assert len(rows) == 12 and {r["engine"] for r in rows} == {"cpsat", "loma"}
    assert list(rows[0]) == [
        "point", "hardware", "accelerator", "workload", "engine", "objective", "operational_array.sizes",
        "memories.sram_2MB.size", "area", "energy_pJ", "latency_cycles", "edp", "layers", "layers_optimal", "seconds", "status",
    ]
    for r in rows:
        hw_yaml = swept.out / "hardware" / f"{r['hardware']}.yaml"
        acc = load_accelerator(hw_yaml)
        assert float(r["area"]) == accelerator_area(acc).total
        assert acc.memory_by_name["sram_2MB"].size == int(r["memories.sram_2MB.size"])
        out = tmp_path / f"{r['point']}.json"
        res = CliRunner().invoke(
            app,
            [
                "solve", str(MODELS / "networks/resnet18.onnx"), "-a", str(hw_yaml), "-m", str(MODELS / "mappings/tpu_like_hints.yaml"),
                "--engine", r["engine"], "--spatial-mappings", "2", "--layers", ",".join(LAYERS), "-q", "-o", str(out),
            ],
        )
        assert res.exit_code == 0, res.output
        solo = json.loads(out.read_text())
        doc = json.loads((swept.out / "results" / f"{r['point']}.json").read_text())
        assert float(r["energy_pJ"]) == solo["total"]["energy"] == doc["total"]["energy"]
        assert float(r["latency_cycles"]) == solo["total"]["latency"] == doc["total"]["latency"]
        assert float(r["edp"]) == solo["total"]["energy"] * solo["total"]["latency"]
        assert [x["mapping"] for x in doc["layers"]] == [x["mapping"] for x in solo["layers"]]
        assert r["status"] == ("optimal" if r["engine"] == "cpsat" else "heuristic")
        assert int(r["layers"]) == 2 and int(r["layers_optimal"]) == (2 if r["engine"] == "cpsat" else 0)
    # a bigger global buffer costs more energy per access (the library) and more area, all else equal
    cps = {(r["operational_array.sizes"], int(r["memories.sram_2MB.size"])): r for r in rows if r["engine"] == "cpsat"}
    for shape in ("[16, 16]", "[32, 32]"):
        energies = [float(cps[(shape, s)]["energy_pJ"]) for s in SIZES]
        areas = [float(cps[(shape, s)]["area"]) for s in SIZES]
        assert energies == sorted(energies) and len(set(energies)) == 3 and areas == sorted(areas)


def test_pareto_csv_is_the_non_dominated_set(swept: Swept):
    rows = rows_of(swept.out / "points.csv")
    front = rows_of(swept.out / "pareto.csv")
    keys = ("area", "energy_pJ", "latency_cycles")

    def dominated(r, group):
        v = [float(r[k]) for k in keys]
        return any(all(float(o[k]) <= x for k, x in zip(keys, v)) and any(float(o[k]) < x for k, x in zip(keys, v)) for o in group)

    expect = [r["point"] for r in rows if not dominated(r, [o for o in rows if o["engine"] == r["engine"]])]
    assert [r["point"] for r in front] == expect
    assert 0 < len(front) < len(rows)


def test_comparison_table_and_plots(swept: Swept):
    comp = rows_of(swept.out / "comparison.csv")
    assert len(comp) == 12
    for r in comp:
        assert int(r["layers_proven_reference"]) == 2  # cpsat proves every layer
        if r["engine"] == "cpsat":
            assert float(r["geomean_ratio"]) == 1.0 and int(r["at_reference"]) == 2
        else:
            assert float(r["worst_ratio"]) >= 1.0
    for name in ("pareto.png", "sensitivity.png", "ratio.png", "time.png"):
        assert (swept.out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_a_second_run_solves_nothing_and_rewrites_no_result(swept: Swept):
    spec = swept.out.parent / "spec.yaml"
    before = {p.name: p.stat().st_mtime_ns for p in (swept.out / "results").iterdir()}
    res = CliRunner().invoke(app, ["sweep", str(spec), "-o", str(swept.out)])
    assert res.exit_code == 0, res.output
    assert "12 of 12 points already done" in res.output and "0 solved now" in res.output
    assert {p.name: p.stat().st_mtime_ns for p in (swept.out / "results").iterdir()} == before


def test_sweep_on_a_dask_scheduler_with_two_workers(swept: Swept, tmp_path: Path):
    """A real `dask scheduler` and two `dask worker` processes on localhost: the same results as on the local
    cluster (LOMA points only, to keep the test short)."""
    from distributed import Client

    sched_file = tmp_path / "scheduler.json"
    dask_cli = [sys.executable, "-m", "dask"]  # the `dask` command of this interpreter
    env = env_with_cpmap()
    procs = []
    try:
        procs.append(
            subprocess.Popen(
                [*dask_cli, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        for i in range(2):
            procs.append(
                subprocess.Popen(
                    [*dask_cli, "worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{i}", "--host", "127.0.0.1"],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
            )
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            assert len(client.scheduler_info()["workers"]) == 2
        out = tmp_path / "out"
        spec = write_spec(tmp_path, engines=["loma"])  # the LOMA half of the sweep: the same point ids
        res = CliRunner().invoke(app, ["sweep", str(spec), "-o", str(out), "--scheduler", address])
        assert res.exit_code == 0, res.output
        assert "0 of 6 points already done" in res.output
        local = results_of(swept.out)
        assert results_of(out) == {k: local[k] for k in results_of(out)} and len(results_of(out)) == 6
        local_rows = [r for r in rows_of(swept.out / "points.csv") if r["engine"] == "loma"]
        assert without_seconds(rows_of(out / "points.csv")) == without_seconds(local_rows)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_unreachable_scheduler_is_exit_2(tmp_path: Path):
    import dask

    spec = write_spec(tmp_path)
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        res = CliRunner().invoke(app, ["sweep", str(spec), "-o", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:1", "-q"])
    assert res.exit_code == 2
    assert res.output.startswith("cpmap: error: --scheduler: cannot connect to tcp://127.0.0.1:1")
    assert not (tmp_path / "out").exists()



def test_imc_parameters_sweep_and_change_the_macro_area(tmp_path: Path):
    spec = write_spec(
        tmp_path,
        accelerator=str(MODELS / "accelerators/aimc.yaml"),
        mapping=str(MODELS / "mappings/default_imc.yaml"),
        grid={"operational_array.adc_resolution": [4, 8]},
        memory_library=None,
    )
    plan = plan_sweep(load_spec(spec))
    areas = [h.area.total for h in plan.hardware]
    assert areas[1] == pytest.approx(2.28781, abs=5e-6)  # `cpmap imc models/accelerators/aimc.yaml`: 2.28781 mm2
    assert areas[0] < areas[1]  # a 4-bit ADC is smaller
    assert [h.accelerator.array.imc.adc_resolution for h in plan.hardware] == [4, 8]
