#!/usr/bin/env python
"""ZigZag 3.9.1 on its own example mapping files that hold a ``temporal_ordering``: fixtures for cpmap's tests.

ZigZag 3.9.1 ships three such files: ``mapping/tpu_like.yaml`` (a complete ordering for the layer named
``example_name_of_layer0``), ``mapping/gemm_l1.yaml`` and ``mapping/gemm_l1_l3.yaml`` (the partial ordering
``[[D1, '*'], [D2, '*'], [D0, '*']]``). Its regression tests run them on two workload YAMLs that the 3.9.1 wheel does
not ship (``resnet18.yaml``, ``gemm_layer.yaml``); this script first writes them to
``tests/fixtures/zigzag391/workloads/``:

* ``resnet18.yaml``: the layers of ``zigzag/inputs/workload/resnet18.yaml`` of ZigZag's repository (layer 0 named
  ``example_name_of_layer0``; 21 convolutions, 2 poolings, 8 additions);
* ``gemm_layer.yaml``: one GEMM ``O[d0][d1] += I[d0][d2] * W[d2][d1]``, D0 = D1 = D2 = 128, precisions 8/8/32/8.
  The file of the commit the regression values come from is not in the wheel; this layer reproduces both regression
  values to the last digit (gemm_l1, lpf 3: 511349.76000000007 pJ / 8191 cycles; gemm_l1_l3: 19860090.879999995 /
  8704), which the script checks.

Then, for each case and criterion (latency = the regression tests' setting, and energy), it runs ZigZag's API with the
regression tests' settings (LOMA, lpf 6 - 3 for gemm_l1 -, 3 generated spatial mappings) and stores per costed layer
the chosen mapping, the cost-model results, the per-port stall/slack, the MAC utilisations and ZigZag's own loop-nest
print (``print_mapping``), in ``tests/fixtures/zigzag391/orderings/<case>__<opt>.json``.

Usage: ``python scripts/gen_zigzag_ordering_fixtures.py [--case tpu_like gemm_l1 ...] [--opt latency energy]``
(ResNet-18 takes ZigZag 2-3 CPU minutes per criterion, the GEMMs seconds; ZigZag is the oracle only).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import tempfile
import time
from typing import Any

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "tests", "fixtures", "zigzag391")
WORKLOADS = os.path.join(FIXTURES, "workloads")
OUT = os.path.join(FIXTURES, "orderings")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gen_zigzag_fixtures import _num, layer_record, zigzag_dir  # noqa: E402

# case -> (hardware, mapping, workload file, lpf limit), as ZigZag's regression tests run them
CASES: dict[str, tuple[str, str, str, int]] = {
    "tpu_like": ("hardware/tpu_like.yaml", "mapping/tpu_like.yaml", "resnet18.yaml", 6),
    "gemm_l1": ("hardware/gemm_l1.yaml", "mapping/gemm_l1.yaml", "gemm_layer.yaml", 3),
    "gemm_l1_l3": ("hardware/gemm_l1_l3.yaml", "mapping/gemm_l1_l3.yaml", "gemm_layer.yaml", 6),
}
# ZigZag 3.9.1's regression expectations (opt="latency")
EXPECTED = {
    "tpu_like": (2615172831.3759995, 5817949),
    "gemm_l1": (511349.76000000007, 8191),
    "gemm_l1_l3": (19860090.879999995, 8704),
}


def resnet18_layers() -> list[dict[str, Any]]:
    """ZigZag's resnet18.yaml (repository copy), layer by layer."""
    prec = {"W": 8, "I": 8, "O": 16, "O_final": 8}
    layers: list[dict[str, Any]] = []

    def conv(i: int, k: int, c: int, o: int, f: int, s: int, src: int, typ: str = "Conv", name: str | None = None) -> None:
        d: dict[str, Any] = {"id": i}
        if name:
            d["name"] = name
        d.update({
            "operator_type": typ, "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
            "dimension_relations": [f"ix={s}*ox+1*fx", f"iy={s}*oy+1*fy"], "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
            "loop_sizes": [1, k, c, o, o, f, f], "operand_precision": dict(prec), "operand_source": {"I": src, "W": i},
        })
        layers.append(d)

    def pool(i: int, g: int, o: int, f: int, s: int, src: int) -> None:
        layers.append({
            "id": i, "operator_type": "Pooling", "equation": "O[b][g][oy][ox]+=W[fx][fy]*I[b][g][iy][ix]",
            "dimension_relations": [f"ix={s}*ox+1*fx", f"iy={s}*oy+1*fy"], "loop_dims": ["B", "G", "OY", "OX", "FX", "FY"],
            "loop_sizes": [1, g, o, o, f, f], "operand_precision": {"I": 8, "W": 0, "O": 16, "O_final": 8},
            "operand_source": {"I": src, "W": i},
        })

    def add(i: int, g: int, o: int, w: int, src: int) -> None:
        layers.append({
            "id": i, "operator_type": "Add", "equation": "O[b][g][oy][ox]=W[b][g][oy][ox]+I[b][g][oy][ox]",
            "loop_dims": ["B", "G", "OY", "OX"], "loop_sizes": [1, g, o, o], "operand_precision": dict(prec),
            "operand_source": {"W": w, "I": src},
        })

    conv(0, 64, 3, 112, 7, 2, 0, name="example_name_of_layer0")
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
    return layers


GEMM_LAYER = [{
    "id": 0, "operator_type": "Gemm", "equation": "O[d0][d1]+=I[d0][d2]*W[d2][d1]", "dimension_relations": [],
    "loop_dims": ["D0", "D1", "D2"], "loop_sizes": [128, 128, 128],
    "operand_precision": {"W": 8, "I": 8, "O": 32, "O_final": 8}, "operand_source": {"I": 0, "W": 0},
}]


def write_workloads() -> None:
    os.makedirs(WORKLOADS, exist_ok=True)
    head = "# Written by scripts/gen_zigzag_ordering_fixtures.py: {}\n"
    with open(os.path.join(WORKLOADS, "resnet18.yaml"), "w") as fh:
        fh.write(head.format("the layers of ZigZag's zigzag/inputs/workload/resnet18.yaml (not in the 3.9.1 wheel)."))
        fh.write(yaml.safe_dump(resnet18_layers(), sort_keys=False))
    with open(os.path.join(WORKLOADS, "gemm_layer.yaml"), "w") as fh:
        fh.write(head.format("the GEMM layer of ZigZag's gemm_l1 / gemm_l1_l3 regression tests (reproduces both values)."))
        fh.write(yaml.safe_dump(GEMM_LAYER, sort_keys=False))


def _extra(cme: Any) -> dict[str, Any]:
    """What the views of cpmap are checked against: ZigZag's loop-nest print, per-port stall/slack, utilisations."""
    from zigzag.visualization.results.print_mapping import print_mapping

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        print_mapping(cme)
    ports = {
        lvl.name: {str(p): _num(v) for p, v in ss.items()}
        for lvl, ss in zip(cme.mem_level_list, cme.stall_slack_comb_collect)
    }
    return {
        "print_mapping": buf.getvalue(),
        "port_stall_slack": ports,
        "mac_utilization": {
            "spatial": _num(cme.mac_spatial_utilization),
            "stalls": _num(cme.mac_utilization0),
            "stalls_onloading": _num(cme.mac_utilization1),
            "stalls_onloading_offloading": _num(cme.mac_utilization2),
        },
    }


def run_case(case: str, opt: str) -> dict[str, Any]:
    from zigzag.api import get_hardware_performance_zigzag

    import zigzag

    hw_rel, map_rel, wl_name, lpf = CASES[case]
    zz = zigzag_dir()
    hw, mp = (os.path.join(zz, "inputs", p) for p in (hw_rel, map_rel))
    logging.disable(logging.WARNING)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="zz_ord_") as dump:
        energy, latency, cmes = get_hardware_performance_zigzag(
            os.path.join(WORKLOADS, wl_name), hw, mp, opt=opt, lpf_limit=lpf, nb_spatial_mappings_generated=3,
            loma_show_progress_bar=False, dump_folder=dump,
        )
    per_layer = cmes[0][1]
    layers = [dict(layer_record(cme), **_extra(cme)) for cme, _ in per_layer]
    expected = EXPECTED[case] if opt == "latency" else None
    if expected is not None:
        assert (energy, latency) == expected, (case, energy, latency, expected)
    return {
        "schema": "cpmap.zigzag_ordering_fixture/1",
        "zigzag_version": zigzag.__version__,
        "case": case,
        "hardware_yaml": f"zigzag/inputs/{hw_rel}",
        "mapping_yaml": f"zigzag/inputs/{map_rel}",
        "workload": f"tests/fixtures/zigzag391/workloads/{wl_name}",
        "opt": opt,
        "lpf_limit": lpf,
        "totals": {"energy": _num(energy), "latency": _num(latency), "nb_layers": len(layers)},
        "expected_from_zigzag_tests": None if expected is None else {"energy": expected[0], "latency": expected[1]},
        "generation": {"wall_seconds": round(time.time() - t0, 1)},
        "layers": layers,
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", nargs="*", default=list(CASES), choices=list(CASES))
    ap.add_argument("--opt", nargs="*", default=["latency", "energy"], choices=["latency", "energy"])
    args = ap.parse_args(argv)
    write_workloads()
    os.makedirs(OUT, exist_ok=True)
    for case in args.case:
        for opt in args.opt:
            doc = run_case(case, opt)
            path = os.path.join(OUT, f"{case}__{opt}.json")
            with open(path, "w") as fh:
                json.dump(doc, fh, indent=1)
                fh.write("\n")
            t = doc["totals"]
            print(f"{case:11s} {opt:8s} E={t['energy']!r} L={t['latency']!r} layers={t['nb_layers']} "
                  f"({doc['generation']['wall_seconds']} s) -> {os.path.relpath(path, REPO)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
