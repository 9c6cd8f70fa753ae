#!/usr/bin/env python
"""Generate the ZigZag 3.9.1 reference fixtures in ``tests/fixtures/zigzag391/``.

For every (accelerator, criterion) pair this runs ZigZag's own API on ResNet-18 (ONNX) exactly as ZigZag's
regression tests do (LOMA, ``lpf_limit=6``, 3 generated spatial mappings, uneven mapping) and stores, per costed
layer, the mapping ZigZag chose in cpmap's format together with the cost-model results of that mapping.  The
fixtures are the ground truth of cpmap's differential tests; ``tests/zigzag_oracle.py`` re-evaluates them.

ZigZag (``zigzag-dse==3.9.1`` + ``six``) is the oracle only: it is imported here, never from ``cpmap``.

Usage::

    python scripts/gen_zigzag_fixtures.py                       # all 5 accelerators x (latency, energy)
    python scripts/gen_zigzag_fixtures.py --acc tpu_like --opt latency --jobs 1

Each (accelerator, criterion) run takes about a minute; runs are spread over ``--jobs`` processes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "tests", "fixtures", "zigzag391")

# accelerator key -> (hardware yaml, mapping yaml), both relative to zigzag/inputs/.  The non-mixed mapping
# files are the ones ZigZag's regression tests use with these hardware files.
ACCELERATORS: dict[str, tuple[str, str]] = {
    "tpu_like": ("hardware/tpu_like.yaml", "mapping/tpu_like.yaml"),
    "edge_tpu_like": ("hardware/edge_tpu_like.yaml", "mapping/edge_tpu_like.yaml"),
    "meta_prototype": ("hardware/meta_prototype.yaml", "mapping/meta_prototype_like.yaml"),
    "ascend_like": ("hardware/ascend_like.yaml", "mapping/ascend_like.yaml"),
    "tesla_npu_like": ("hardware/tesla_npu_like.yaml", "mapping/tesla_npu_like.yaml"),
}
WORKLOAD = "workload/resnet18.onnx"
OPTS = ("latency", "energy")

# ZigZag's regression-test expectations (zigzag_391_test_values.md), opt="latency" only.
EXPECTED_LATENCY_OPT: dict[str, tuple[float, float]] = {
    "tpu_like": (1871436380.6559997, 3865041),
    "edge_tpu_like": (1903229377.5499992, 3051339),
    "meta_prototype": (1824433670.7199998, 2723036),
    "ascend_like": (1828398711.2800004, 3017759),
    "tesla_npu_like": (1834852275.688, 2712475),
}

SETTINGS: dict[str, Any] = {
    "temporal_mapping_search_engine": "loma",
    "temporal_mapping_type": "uneven",
    "lpf_limit": 6,
    "nb_spatial_mappings_generated": 3,
    "in_memory_compute": False,
    "exploit_data_locality": False,
    "enable_mix_spatial_mapping": False,
    "access_same_data_considered_as_no_access": True,
}


def zigzag_dir() -> str:
    import zigzag

    return os.path.dirname(zigzag.__file__)


def _num(x: Any) -> int | float:
    """JSON-friendly number; Python's json writes floats with repr, so values round-trip exactly."""
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, int):
        return x
    f = float(x)
    return f


def _user_spatial(sm: Any) -> dict[str, dict[str, int | float]]:
    """A zigzag user-format SpatialMapping -> {"D1": {"K": 32}, ...} (array dims and layer dims in zigzag order)."""
    return {str(oa): {str(ld): _num(f) for ld, f in m.items()} for oa, m in sm.items()}


def _internal_spatial(smi: Any) -> dict[str, list[list[list[Any]]]]:
    """SpatialMappingInternal.mapping_dict_origin -> {op: [[[dim, factor], ...] per architectural level]}."""
    return {str(op): [[[str(d), _num(f)] for d, f in lv] for lv in lvls] for op, lvls in smi.mapping_dict_origin.items()}


def _four_way(fw: Any) -> dict[str, float]:
    from zigzag.hardware.architecture.memory_port import DataDirection

    return {d.value: _num(fw.get(d)) for d in DataDirection}


def _memory_chains(accelerator: Any, links: Any) -> dict[str, list[str]]:
    """Per layer operand, the names of the memories of its chain, innermost first."""
    mh = accelerator.memory_hierarchy
    return {
        str(lo): [lvl.name for lvl in mh.get_memory_levels(mo)] for lo, mo in links.layer_and_mem_ops()
    }


def _check_spatial_conversion(cme: Any) -> tuple[bool, list[str]]:
    """Re-convert the user-format spatial mapping stored on ``cme.layer`` and compare with what the cost model used.

    Returns (identical, non-divisor dims).  Confirms that ``cme.layer.spatial_mapping`` is the user-format mapping
    behind ``cme.spatial_mapping`` (exact match of both the fractional and the integer conversion), and, when every
    unrolling divides its layer dim, that the per-dim totals of the conversion equal the user factors.
    """
    import copy

    from zigzag.stages.mapping.spatial_mapping_conversion import SpatialMappingConversionStage

    layer = copy.copy(cme.layer)
    conv = SpatialMappingConversionStage([None], accelerator=cme.accelerator, layer=layer)  # type: ignore[list-item]
    sm, smi = conv.convert_user_spatial_mapping(layer.spatial_mapping)
    same = (
        sm.mapping_dict_origin == cme.spatial_mapping.mapping_dict_origin
        and smi.mapping_dict_origin == cme.spatial_mapping_int.mapping_dict_origin
    )
    user = _user_spatial(cme.layer.spatial_mapping)
    sizes = {str(d): int(s) for d, s in cme.layer.layer_dim_sizes.data.items()}
    totals: dict[str, float] = {}
    for dims in user.values():
        for ld, f in dims.items():
            if ld in sizes:
                totals[ld] = totals.get(ld, 1) * f
    non_div = sorted(ld for ld, t in totals.items() if sizes[ld] % t != 0)
    if not non_div:
        # Divisor case: the converted (fractional) per-level lists of any operand multiply to the user totals.
        op0 = next(iter(cme.spatial_mapping.mapping_dict_origin))
        conv_tot: dict[str, float] = {}
        for lv in cme.spatial_mapping.mapping_dict_origin[op0]:
            for d, f in lv:
                conv_tot[str(d)] = conv_tot.get(str(d), 1) * f
        same = same and all(conv_tot.get(ld, 1) == t for ld, t in totals.items())
    return same, non_div


def layer_record(cme: Any) -> dict[str, Any]:
    """Everything a fixture keeps about one costed layer."""
    layer = cme.layer
    tm = cme.temporal_mapping
    origin = tm.mapping_dic_origin
    ops = [str(op) for op in origin]

    # The allocator splits ONE global loop order per operand; all operands must concatenate to the same order.
    flat = {str(op): [(str(d), int(s)) for lv in lvls for d, s in lv] for op, lvls in origin.items()}
    order = flat[ops[0]]
    assert all(f == order for f in flat.values()), f"operands disagree on the loop order: {flat}"
    level_of: dict[str, list[int]] = {}
    for op, lvls in origin.items():
        level_of[str(op)] = [m for m, lv in enumerate(lvls) for _ in lv]
    temporal = [
        {"dim": d, "size": s, "level": {op: level_of[op][i] for op in ops}} for i, (d, s) in enumerate(order)
    ]

    same, non_div = _check_spatial_conversion(cme)
    links = layer.memory_operand_links
    rec: dict[str, Any] = {
        "name": layer.name,
        "id": layer.id,
        "type": layer.type,
        "loop_sizes": {str(d): int(s) for d, s in layer.layer_dim_sizes.data.items()},
        "operand_precision": {str(o): int(p) for o, p in layer.operand_precision.data.items()},
        "operand_links": {str(lo): str(mo) for lo, mo in links.layer_and_mem_ops()},
        "memory_chains": _memory_chains(cme.accelerator, links),
        "mapping": {
            "spatial": _user_spatial(layer.spatial_mapping),
            "temporal": temporal,
        },
        "temporal_levels": {str(op): [[[str(d), int(s)] for d, s in lv] for lv in lvls] for op, lvls in origin.items()},
        "temporal_levels_stationary": {
            str(op): [[[str(d), _num(s)] for d, s in lv] for lv in lvls] for op, lvls in tm.mapping_dic_stationary.items()
        },
        "spatial_converted": _internal_spatial(cme.spatial_mapping),
        "spatial_converted_int": _internal_spatial(cme.spatial_mapping_int),
        "spatial_conversion_reproduced": same,
        "spatial_non_divisor_dims": non_div,
        "results": {
            "energy_total": _num(cme.energy_total),
            "mac_energy": _num(cme.mac_energy),
            "mem_energy": _num(cme.mem_energy),
            "latency_total0": _num(cme.latency_total0),
            "latency_total1": _num(cme.latency_total1),
            "latency_total2": _num(cme.latency_total2),
            "ideal_cycle": _num(cme.ideal_cycle),
            "ideal_temporal_cycle": _num(cme.ideal_temporal_cycle),
            "data_onloading_cycle": _num(cme.data_onloading_cycle),
            "data_offloading_cycle": _num(cme.data_offloading_cycle),
            "systolic_drain_cycle": _num(getattr(cme, "systolic_drain_cycle", 0)),
            "stall_slack_comb": _num(cme.stall_slack_comb),
            "mac_spatial_utilization": _num(cme.mac_spatial_utilization),
            "mem_energy_breakdown": {str(op): [_num(e) for e in lst] for op, lst in cme.mem_energy_breakdown.items()},
            "mem_energy_breakdown_further": {
                str(op): [_four_way(e) for e in lst] for op, lst in cme.mem_energy_breakdown_further.items()
            },
            "memory_word_access": {str(op): [_four_way(a) for a in lst] for op, lst in cme.memory_word_access.items()},
            "double_buffer_true": {str(op): [bool(b) for b in lst] for op, lst in cme.double_buffer_true.items()},
        },
    }
    return rec


def run_one(acc: str, opt: str, out_dir: str) -> dict[str, Any]:
    """Run ZigZag for one (accelerator, criterion) and write its fixture; returns a short summary."""
    from zigzag.api import get_hardware_performance_zigzag
    from zigzag.stages.parser.accelerator_parser import AcceleratorParserStage

    import zigzag

    zz = zigzag_dir()
    hw_rel, map_rel = ACCELERATORS[acc]
    hw, mp, wl = (os.path.join(zz, "inputs", p) for p in (hw_rel, map_rel, WORKLOAD))
    logging.disable(logging.WARNING)  # ZigZag logs every layer at INFO level
    t0, c0 = time.time(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="zz_fix_") as dump:
        energy, latency, cmes = get_hardware_performance_zigzag(
            wl,
            hw,
            mp,
            opt=opt,
            lpf_limit=SETTINGS["lpf_limit"],
            nb_spatial_mappings_generated=SETTINGS["nb_spatial_mappings_generated"],
            loma_show_progress_bar=False,
            dump_folder=dump,
        )
    wall, cpu = time.time() - t0, time.process_time() - c0

    total_cme, per_layer = cmes[0]
    layers = [layer_record(cme) for cme, _ in per_layer]

    # Sanity: the API total is the in-order sum of the per-layer CMEs.
    e_sum = 0.0
    l_sum = 0.0
    for cme, _ in per_layer:
        e_sum += cme.energy_total
        l_sum += cme.latency_total2
    assert e_sum == energy, (acc, opt, e_sum, energy)
    assert l_sum == latency, (acc, opt, l_sum, latency)

    # Which memories did the cost model see?  Without IMC / data locality / mixed mappings ZigZag never prunes the
    # hierarchy, so every layer should see exactly the memories of the parsed hardware file.
    full = AcceleratorParserStage.parse_accelerator(hw)
    full_names = [lvl.name for lvl in full.memory_hierarchy.mem_level_list]
    used_names = sorted({lvl.name for cme, _ in per_layer for lvl in cme.accelerator.memory_hierarchy.mem_level_list})
    full_hierarchy_used = all(
        [lvl.name for lvl in cme.accelerator.memory_hierarchy.mem_level_list] == full_names for cme, _ in per_layer
    ) and all(
        rec["memory_chains"] == _memory_chains(full, cme.layer.memory_operand_links)
        for rec, (cme, _) in zip(layers, per_layer)
    )

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
            "mac_energy": _num(total_cme.mac_energy),
            "mem_energy": _num(total_cme.mem_energy),
            "ideal_cycle": _num(total_cme.ideal_cycle),
            "latency_total0": _num(total_cme.latency_total0),
            "latency_total1": _num(total_cme.latency_total1),
            "nb_layers": len(layers),
        },
        "expected_from_zigzag_tests": None if expected is None else {"energy": expected[0], "latency": expected[1]},
        "memory_hierarchy": {
            "memories_in_file": full_names,
            "memories_used": used_names,
            "full_hierarchy_used_by_every_layer": full_hierarchy_used,
        },
        "generation": {"wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1)},
        "layers": layers,
    }
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{acc}__resnet18__{opt}.json")
    with open(path, "w") as fh:
        json.dump(fixture, fh, indent=1)
        fh.write("\n")

    summary = {
        "acc": acc,
        "opt": opt,
        "energy": energy,
        "latency": latency,
        "expected": expected,
        "match": None if expected is None else (energy == expected[0] and latency == expected[1]),
        "wall": wall,
        "full_hierarchy": full_hierarchy_used,
        "spatial_conversion_reproduced": all(r["spatial_conversion_reproduced"] for r in layers),
        "non_divisor_layers": [
            (r["name"], r["mapping"]["spatial"], r["spatial_non_divisor_dims"]) for r in layers if r["spatial_non_divisor_dims"]
        ],
        "path": path,
    }
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--acc", nargs="*", default=list(ACCELERATORS), choices=list(ACCELERATORS))
    ap.add_argument("--opt", nargs="*", default=list(OPTS), choices=list(OPTS))
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    args = ap.parse_args(argv)

    jobs = [(a, o) for a in args.acc for o in args.opt]
    ok = True
    # Separate processes: ZigZag keeps global state (loggers, id counters) and is single-threaded.
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        futs = {ex.submit(run_one, a, o, args.out): (a, o) for a, o in jobs}
        for fut in as_completed(futs):
            s = fut.result()
            exp = s["expected"]
            status = "" if exp is None else (" MATCH" if s["match"] else f" MISMATCH (expected {exp[0]!r} / {exp[1]!r})")
            print(
                f"{s['acc']:15s} {s['opt']:8s} E={s['energy']!r} L={s['latency']!r}{status} "
                f"wall={s['wall']:.1f}s full_hierarchy={s['full_hierarchy']} "
                f"sm_conv_ok={s['spatial_conversion_reproduced']}",
                flush=True,
            )
            for name, sp, nd in s["non_divisor_layers"]:
                print(f"    non-divisor spatial: {name} {sp} dims {nd}", flush=True)
            ok = ok and s["match"] is not False and s["spatial_conversion_reproduced"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
