#!/usr/bin/env python
"""Generate the ZigZag 3.9.1 IMC reference fixtures in ``tests/fixtures/zigzag391/imc/``.

(A sub-folder: the digital parity tests take every ``*.json`` of ``zigzag391/`` as a digital fixture.)

Runs ZigZag's IMC flow (``get_hardware_performance_zigzag_imc``: LOMA, ``lpf_limit=6``, 3 generated mixed spatial
mappings, inter-layer data locality with per-layer pruning of unused top memories) on ResNet-18 (ONNX) with the
example ``aimc.yaml`` / ``dimc.yaml`` and ``default_imc.yaml``, exactly as ZigZag's ``tests/main/test_imc`` do, and
stores per costed layer the chosen mapping (cpmap's format), the memory hierarchy the layer was costed on (after
pruning) and the cost-model results, in the same layout as ``gen_zigzag_fixtures.py`` plus IMC fields (MAC energy
breakdown, clock period, area).

ZigZag (``zigzag-dse==3.9.1`` + ``six``) is the oracle only; nothing here is imported by cpmap.

Usage::

    python scripts/gen_zigzag_imc_fixtures.py                  # aimc and dimc, opt=latency (~300 s each)
    python scripts/gen_zigzag_imc_fixtures.py --acc aimc --opt latency energy
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_zigzag_fixtures import DEFAULT_OUT as DIGITAL_OUT, WORKLOAD, _num, layer_record, zigzag_dir  # noqa: E402

DEFAULT_OUT = os.path.join(DIGITAL_OUT, "imc")

ACCELERATORS: dict[str, tuple[str, str]] = {
    "aimc": ("hardware/aimc.yaml", "mapping/default_imc.yaml"),
    "dimc": ("hardware/dimc.yaml", "mapping/default_imc.yaml"),
}
OPTS = ("latency", "energy")

# ZigZag's regression-test expectations (tests/main/test_imc, ONNX workload, opt="latency").
EXPECTED_LATENCY_OPT: dict[str, tuple[float, float]] = {
    "aimc": (4695729577.211851, 5050846.0),
    "dimc": (4726170712.825855, 5681000.0),
}

SETTINGS: dict[str, Any] = {
    "temporal_mapping_search_engine": "loma",
    "temporal_mapping_type": "uneven",
    "lpf_limit": 6,
    "nb_spatial_mappings_generated": 3,
    "in_memory_compute": True,
    "exploit_data_locality": True,  # implied by in_memory_compute
    "enable_mix_spatial_mapping": True,  # implied by in_memory_compute
    "access_same_data_considered_as_no_access": True,
}


def _memory_levels(accelerator: Any) -> list[dict[str, Any]]:
    """The hierarchy a layer was costed on, bottom-up: name and the memory operands it still stores."""
    return [
        {"name": lvl.name, "operands": [str(o) for o in lvl.operands]}
        for lvl in accelerator.memory_hierarchy.mem_level_list
    ]


def imc_record(cme: Any) -> dict[str, Any]:
    """:func:`layer_record` plus the IMC-specific results and the pruned hierarchy."""
    rec = layer_record(cme)
    rec["memory_levels"] = _memory_levels(cme.accelerator)
    rec["results"].update(
        {
            "mac_energy_breakdown": {k: _num(v) for k, v in cme.mac_energy_breakdown.items()},
            "tclk": _num(cme.tclk),
            "area_total": _num(cme.area_total),
            "imc_area": _num(cme.imc_area),
        }
    )
    return rec


def run_one(acc: str, opt: str, out_dir: str) -> dict[str, Any]:
    """Run ZigZag's IMC flow for one (accelerator, criterion) and write its fixture; returns a short summary."""
    from zigzag.api import get_hardware_performance_zigzag
    from zigzag.stages.parser.accelerator_parser import AcceleratorParserStage

    import zigzag

    zz = zigzag_dir()
    hw_rel, map_rel = ACCELERATORS[acc]
    hw, mp, wl = (os.path.join(zz, "inputs", p) for p in (hw_rel, map_rel, WORKLOAD))
    logging.disable(logging.WARNING)
    t0, c0 = time.time(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="zz_imc_fix_") as dump:
        energy, latency, tclk, area, cmes = get_hardware_performance_zigzag(
            wl,
            hw,
            mp,
            opt=opt,
            lpf_limit=SETTINGS["lpf_limit"],
            nb_spatial_mappings_generated=SETTINGS["nb_spatial_mappings_generated"],
            in_memory_compute=True,
            loma_show_progress_bar=False,
            dump_folder=dump,
        )
    wall, cpu = time.time() - t0, time.process_time() - c0
    total_cme, per_layer = cmes[0]
    layers = [imc_record(cme) for cme, _ in per_layer]
    e_sum = l_sum = 0.0
    for cme, _ in per_layer:
        e_sum += cme.energy_total
        l_sum += cme.latency_total2
    assert e_sum == energy, (acc, opt, e_sum, energy)
    assert l_sum == latency, (acc, opt, l_sum, latency)

    full = AcceleratorParserStage.parse_accelerator(hw)
    expected = EXPECTED_LATENCY_OPT.get(acc) if opt == "latency" else None
    fixture: dict[str, Any] = {
        "schema": "cpmap.zigzag_fixture/1",
        "zigzag_version": zigzag.__version__,
        "accelerator": acc,
        "hardware_yaml": f"zigzag/inputs/{hw_rel}",
        "mapping_yaml": f"zigzag/inputs/{map_rel}",
        "workload": f"zigzag/inputs/{WORKLOAD}",
        "opt": opt,
        "settings": dict(SETTINGS, opt=opt),
        "totals": {
            "energy": _num(energy),
            "latency": _num(latency),
            "tclk": _num(tclk),
            "area": _num(area),
            "mac_energy": _num(total_cme.mac_energy),
            "mem_energy": _num(total_cme.mem_energy),
            "nb_layers": len(layers),
        },
        "expected_from_zigzag_tests": None if expected is None else {"energy": expected[0], "latency": expected[1]},
        "memory_hierarchy": {"memories_in_file": _memory_levels(full)},
        "generation": {"wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1)},
        "layers": layers,
    }
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{acc}__resnet18__{opt}.json")
    with open(path, "w") as fh:
        json.dump(fixture, fh, indent=1)
        fh.write("\n")
    return {
        "acc": acc,
        "opt": opt,
        "energy": energy,
        "latency": latency,
        "expected": expected,
        "match": None if expected is None else (energy == expected[0] and latency == expected[1]),
        "wall": wall,
        "path": path,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--acc", nargs="*", default=list(ACCELERATORS), choices=list(ACCELERATORS))
    ap.add_argument("--opt", nargs="*", default=["latency"], choices=list(OPTS))
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    ok = True
    for acc in args.acc:
        for opt in args.opt:
            s = run_one(acc, opt, args.out)
            exp = s["expected"]
            status = "" if exp is None else (" MATCH" if s["match"] else f" MISMATCH (expected {exp[0]!r} / {exp[1]!r})")
            print(f"{s['acc']:6s} {s['opt']:8s} E={s['energy']!r} L={s['latency']!r}{status} wall={s['wall']:.1f}s", flush=True)
            ok = ok and s["match"] is not False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
