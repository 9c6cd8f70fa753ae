#!/usr/bin/env python
"""The heuristic-vs-optimum study (cpmap/study.py): run the grid, write the CSV, the plots and docs/study.md.

    python scripts/study.py                      # the full grid (hours: see docs/study.md for the estimate)
    python scripts/study.py --subset small       # energy; ResNet-18 and Llama-7B prefill GEMMs on 3 accelerators
    python scripts/study.py --networks resnet18 --accelerators tpu_like --objectives energy,latency --seeds 3
    python scripts/study.py --from-csv docs/study/study.csv   # only redo the plots and the report (reads study_runs.csv too)

Filters (--networks, --accelerators, --objectives, --engines) narrow the chosen --subset. --cache DIR keeps one
JSON per (instance, objective, engine, seed) cell and reuses cells computed with the same settings, so a long
grid can be run in pieces. Times are one process per engine run (--jobs 1, the default, for fair times).
Bad input: one line on stderr, exit code 2, nothing written.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cpmap.errors import CpmapError, InputError  # noqa: E402
from cpmap.result import write_text_atomic  # noqa: E402
from cpmap import study  # noqa: E402


def _names(text: str | None, allowed, flag: str, default) -> tuple[str, ...]:
    if text is None:
        return tuple(default)
    names = tuple(x.strip() for x in text.split(",") if x.strip())
    bad = [x for x in names if x not in allowed]
    if bad or not names:
        raise InputError(None, flag, f"unknown {bad[0]!r} (choose from {', '.join(allowed)})" if bad else "empty list")
    return names


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subset", default="full", choices=list(study.SUBSETS))
    ap.add_argument("--networks", help=f"comma-separated, from {', '.join(study.NETWORKS)}")
    ap.add_argument("--accelerators", help=f"comma-separated, from {', '.join(study.ACCELERATORS)}")
    ap.add_argument("--objectives", help="comma-separated, from energy, latency")
    ap.add_argument("--engines", help=f"comma-separated, from {', '.join(study.ENGINES)} (default: all)")
    ap.add_argument("--seeds", type=int, default=10, help="SALSA seeds 0..N-1 (default 10)")
    ap.add_argument("--jobs", type=int, default=1, help="processes per engine run (default 1: fair times)")
    ap.add_argument("--time-limit", type=float, default=None, help="exact engine: seconds per spatial mapping")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "study", help="folder for study.csv and the plots")
    ap.add_argument("--report", type=Path, default=ROOT / "docs" / "study.md", help="the generated report")
    ap.add_argument("--cache", type=Path, default=None, help="reuse/keep per-cell results in this folder")
    ap.add_argument("--from-csv", type=Path, default=None, help="skip the runs: report on this study.csv")
    ap.add_argument("--no-estimate", action="store_true", help="leave out the full-grid time estimate")
    args = ap.parse_args(argv[1:])
    command = shlex.join(["python", "scripts/study.py", *argv[1:]])
    load_start = os.getloadavg()[0]
    try:
        sub = study.SUBSETS[args.subset]
        networks = _names(args.networks, study.NETWORKS, "--networks", sub["networks"])
        accelerators = _names(args.accelerators, study.ACCELERATORS, "--accelerators", sub["accelerators"])
        objectives = _names(args.objectives, study.OBJECTIVES, "--objectives", sub["objectives"])
        engines = _names(args.engines, tuple(study.ENGINES), "--engines", study.ENGINES)
        if args.seeds < 1:
            raise InputError(None, "--seeds", "must be at least 1")
        if args.jobs < 1:
            raise InputError(None, "--jobs", "must be at least 1")
        settings = study.StudySettings(seeds=args.seeds, jobs=args.jobs, time_limit=args.time_limit)
        if args.from_csv is not None:
            if not args.from_csv.is_file():
                raise InputError(args.from_csv, None, "file not found")
            runs_csv = args.from_csv.with_name("study_runs.csv")
            if not runs_csv.is_file():
                raise InputError(runs_csv, None, "file not found (written next to study.csv)")
            rows = study.rows_from_csv(args.from_csv.read_text())
            runs = study.runs_from_csv(runs_csv.read_text())
            networks = tuple(n for n in study.NETWORKS if any(r["network"] == n for r in rows))
            accelerators = tuple(a for a in study.ACCELERATORS if any(r["accelerator"] == a for r in rows))
            objectives = tuple(o for o in study.OBJECTIVES if any(r["objective"] == o for r in rows))
            engines = tuple(e for e in study.ENGINES if any(r["engine"] == e for r in rows))
            seeds = {r["seed"] for r in rows if r["engine"] == "salsa"}
            settings = study.StudySettings(seeds=max(len(seeds), 1), jobs=args.jobs, time_limit=args.time_limit)
        else:
            instances = study.grid_instances(ROOT, networks, accelerators)
            cells = study.run_grid(instances, objectives, engines, settings, args.cache, log=lambda m: print(m, file=sys.stderr, flush=True))
            rows = study.study_rows(cells, instances)
            runs = study.run_rows(cells, instances)
        csv_text, runs_text = study.rows_to_csv(rows), study.runs_to_csv(runs)
        estimate = None
        if not args.no_estimate:
            estimate = study.estimate_grid_seconds(
                runs, ROOT, study.NETWORKS, study.ACCELERATORS, study.OBJECTIVES, tuple(study.ENGINES), study.FULL_GRID_SEEDS
            )
    except CpmapError as exc:
        print(f"study: error: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    if args.from_csv is None or args.from_csv.resolve() != (args.out / "study.csv").resolve():
        write_text_atomic(args.out / "study.csv", csv_text)
        write_text_atomic(args.out / "study_runs.csv", runs_text)
    plots = []
    rel = Path(args.out.resolve()).relative_to(args.report.resolve().parent) if args.out.resolve().is_relative_to(args.report.resolve().parent) else args.out.resolve()
    for objective in objectives:
        for name, draw in (("ratios", study.plot_ratio_distributions), ("time_vs_quality", study.plot_time_vs_quality)):
            path = args.out / f"{name}_{objective}.png"
            if name == "ratios":
                draw(rows, objective, path)
            else:
                draw(rows, runs, objective, path)
            plots.append(str(rel / path.name))
    grid = {"networks": networks, "accelerators": accelerators, "objectives": objectives, "engines": engines}
    note = ""
    if args.from_csv is None:
        note = (
            f"Machine: {os.cpu_count()} cores; load average {load_start:.1f} when the run started and"
            f" {os.getloadavg()[0]:.1f} when it ended (other jobs share the machine: wall times are inflated, CPU times"
            " much less)."
        )
    write_text_atomic(args.report, study.render_report(rows, runs, settings, command, grid, estimate, plots, note))
    for h in study.headlines(rows, runs):
        print(
            f"{h.objective:8s} {h.accelerator:15s} {h.engine:10s} at ref {h.at_reference:4d}/{h.layers:<4d}"
            f" geomean {h.geomean:.4f} worst {h.worst:.4f} {h.cpu_seconds:9.1f} CPU s"
        )
    if estimate is not None:
        print(f"full grid estimate: {estimate['seconds'] / 3600:.1f} CPU hours in one process")
    print(f"wrote {args.out / 'study.csv'}, {args.out / 'study_runs.csv'}, {len(plots)} plots, {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
