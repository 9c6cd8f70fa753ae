"""Benchmark: how fast Ctrl-C stops a real ``cpmap solve``, measured in one run.

    python benchmarks/bench_interrupt.py [--repeat 3] [--settle 1 --settle 4] [--accelerator tpu_like]

Starts ``python -m cpmap.cli solve resnet18.onnx`` (engine cpsat) with ``--jobs 1`` and ``--jobs 2``, waits until
the run has its worker processes and ``settle`` more seconds (CP-SAT is then solving), sends SIGINT to the cpmap
process and measures the time until the process has ended; checks exit code 130, the one stderr line, that no
worker is left running and that no result file was written. For scale, the same command is run once to the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from interrupt_run import ROOT, interrupt_run  # noqa: E402

MAPPINGS = {"meta_prototype": "meta_prototype_like"}


def _command(accelerator: str, jobs: int, out: Path) -> list[str]:
    models = ROOT / "models"
    return [
        "solve", str(models / "networks/resnet18.onnx"),
        "-a", str(models / f"accelerators/{accelerator}.yaml"),
        "-m", str(models / f"mappings/{MAPPINGS.get(accelerator, accelerator)}.yaml"),
        "-q", "-j", str(jobs), "-o", str(out),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accelerator", default="tpu_like")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--settle", type=float, action="append", help="seconds of solving before the SIGINT (repeatable)")
    args = ap.parse_args()
    settles = args.settle or [1.0, 4.0]
    print(f"ResNet-18 on {args.accelerator}, engine cpsat; SIGINT to the cpmap process after its workers started + settle")
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        for jobs in (1, 2):
            out = folder / "full.json"
            t0 = time.perf_counter()
            full = subprocess.run(
                [sys.executable, "-m", "cpmap.cli", *_command(args.accelerator, jobs, out)], cwd=folder, capture_output=True,
                env=dict(os.environ, PYTHONPATH=str(ROOT)),
            )
            whole = time.perf_counter() - t0
            out.unlink(missing_ok=True)
            stops = []
            for settle in settles:
                for _ in range(args.repeat):
                    o = interrupt_run(_command(args.accelerator, jobs, out), folder, settle=settle)
                    ok = (
                        o.exit_code == 130 and o.stderr.splitlines() == ["cpmap: interrupted"] and not o.workers_left
                        and not out.exists()
                    )
                    stops.append(o.stop_seconds)
                    print(
                        f"  --jobs {jobs} settle {settle:4.1f} s: stopped in {o.stop_seconds:6.3f} s, exit {o.exit_code}, "
                        f"{len(o.workers)} worker process(es), {len(o.workers_left)} left, "
                        f"{'ok' if ok else 'NOT OK: ' + o.stderr.strip()[-200:]}"
                    )
            print(
                f"--jobs {jobs}: stop time min {min(stops):.3f} / median {statistics.median(stops):.3f} / max {max(stops):.3f} s "
                f"over {len(stops)} interrupts; the whole run (exit {full.returncode}) took {whole:.1f} s"
            )


if __name__ == "__main__":
    main()
