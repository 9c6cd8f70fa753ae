"""Throughput of `cpmap sweep` on Dask, measured in one run: points per minute with a local cluster of 1 and of 2
workers and with a 2-worker `dask scheduler` / `dask worker` cluster on localhost, against the same tasks solved
in this process without Dask; and Dask's per-task overhead.

    python benchmarks/bench_sweep.py [--layers 3] [--keep DIR]

The sweep: tpu_like with 4 array shapes x 5 global-buffer sizes (memory library) x 5 DRAM port widths = 100
hardware variants x ResNet-18 (a few layers, LOMA, energy): 100 (point, workload) tasks. Every mode solves every
task from scratch (a fresh output folder) and must produce the same results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAYERS = ["/fc/Gemm", "/layer4/layer4.0/downsample/downsample.0/Conv", "/layer3/layer3.0/downsample/downsample.0/Conv", "/layer2/layer2.0/downsample/downsample.0/Conv"]


def write_spec(folder: Path, n_layers: int) -> Path:
    spec = {
        "accelerator": str(ROOT / "models/accelerators/tpu_like.yaml"),
        "mapping": str(ROOT / "models/mappings/tpu_like_hints.yaml"),
        "workloads": [str(ROOT / "models/networks/resnet18.onnx")],
        "engines": ["loma"],
        "objectives": ["energy"],
        "options": {"spatial_mappings": 1, "layers": LAYERS[:n_layers]},
        "grid": {
            "operational_array.sizes": [[8, 8], [16, 16], [32, 32], [64, 64]],
            "memories.sram_2MB.size": [2097152, 4194304, 8388608, 16777216, 33554432],
            "memories.dram.ports.rw_port_1.bandwidth_max": [64, 128, 256, 512, 1024],
        },
        "memory_library": str(ROOT / "models/memory_libraries/sram_28nm.yaml"),
    }
    path = folder / "bench_spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def totals(out: Path) -> dict[str, tuple[float, float]]:
    return {p.stem: (d["total"]["energy"], d["total"]["latency"]) for p in (out / "results").glob("*.json") for d in [json.loads(p.read_text())]}


def start_cluster(folder: Path, n_workers: int) -> tuple[str, list[subprocess.Popen]]:
    """`dask scheduler` + n `dask worker` processes on localhost; returns the address and the processes."""
    from distributed import Client

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    sched_file = folder / "scheduler.json"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    ]
    while not sched_file.exists():
        time.sleep(0.05)
    address = json.loads(sched_file.read_text())["address"]
    for _ in range(n_workers):
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", address, "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )
    with Client(address) as client:
        client.wait_for_workers(n_workers)
        # warm the workers as a long-lived cluster would be: cpmap and its solvers imported
        client.run(_warm)
    return address, procs


def _warm() -> None:
    import cpmap.io.onnx_import  # noqa: F401
    import cpmap.solve  # noqa: F401
    import cpmap.sweep.execute  # noqa: F401


def noop_overhead_ms(address: str | None, n: int = 1000) -> float:
    """Wall time per no-op task (submit, schedule, run, gather), on a 1-worker local cluster or ``address``."""
    import logging

    from distributed import Client, LocalCluster

    cluster = None if address else LocalCluster(
        n_workers=1, threads_per_worker=1, host="127.0.0.1", scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"}, silence_logs=logging.ERROR
    )
    with Client(address or cluster) as client:
        client.gather(client.map(abs, range(-10, 0), pure=False))  # warm up
        t = time.perf_counter()
        client.gather([client.submit(abs, -i, pure=False) for i in range(n)])
        wall = time.perf_counter() - t
    if cluster is not None:
        cluster.close()
    return wall / n * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=3, help="ResNet-18 layers per task (1-4)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the output folders here")
    args = ap.parse_args()

    from cpmap.sweep.execute import run_sweep, run_task
    from cpmap.sweep.spec import load_spec, plan_sweep

    work = Path(tempfile.mkdtemp(prefix="bench_sweep_")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()}  (2 cores; other users' load inflates every time)")
    plan = plan_sweep(load_spec(write_spec(work, args.layers)))
    n = len(plan.tasks)
    print(f"{n} (point, workload) tasks: {len(plan.hardware)} hardware variants x ResNet-18 ({args.layers} layers), LOMA, energy")

    t = time.perf_counter()
    serial = {}
    for task in plan.tasks:
        out = run_task(task)
        serial[task.point] = (out.result["total"]["energy"], out.result["total"]["latency"])
    t_serial = time.perf_counter() - t
    print(f"in-process, no Dask:          {t_serial:7.1f} s  {n / t_serial * 60:7.1f} points/min")

    walls = {}
    for label, jobs in (("--jobs 1", 1), ("--jobs 2", 2)):
        out = work / f"jobs{jobs}"
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        run_sweep(plan, out, jobs)
        walls[label] = time.perf_counter() - t
        assert totals(out) == serial, f"{label}: results differ from the in-process run"
        print(f"local cluster {label}:       {walls[label]:7.1f} s  {n / walls[label] * 60:7.1f} points/min  (cluster start included)")

    t = time.perf_counter()
    address, procs = start_cluster(work, 2)
    t_start = time.perf_counter() - t
    try:
        out = work / "scheduler"
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        run_sweep(plan, out, 2, address)
        walls["scheduler"] = time.perf_counter() - t
        assert totals(out) == serial, "scheduler: results differ from the in-process run"
        print(f"dask scheduler + 2 workers:   {walls['scheduler']:7.1f} s  {n / walls['scheduler'] * 60:7.1f} points/min  (cluster up and warm; its start took {t_start:.1f} s)")
        remote_noop = noop_overhead_ms(address)
    finally:
        for p in reversed(procs):  # workers first, then the scheduler
            p.terminate()
            p.wait()
    local_noop = noop_overhead_ms(None)
    print(f"speed-up --jobs 2 / --jobs 1: {walls['--jobs 1'] / walls['--jobs 2']:.2f}x;  scheduler / --jobs 1: {walls['--jobs 1'] / walls['scheduler']:.2f}x")
    print(f"Dask overhead per task: no-op task round trip {local_noop:.2f} ms (local cluster), {remote_noop:.2f} ms (scheduler); "
          f"--jobs 1 sweep vs in-process {(walls['--jobs 1'] - t_serial) / n * 1000:.0f} ms per task (cluster start and worker imports included)")
    print("every mode: the same energy and latency for every point")
    print(f"load average at end: {os.getloadavg()}")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
