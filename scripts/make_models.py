"""Regenerate cpmap's bundled accelerator and mapping models.

The numbers and structure follow zigzag-dse 3.9.1's example inputs of the same name; the files are
re-emitted from the parsed data (no text or comments are carried over).  Run:

    python scripts/make_models.py [path/to/zigzag/inputs]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

ACCELERATORS = {
    "tpu_like": "a TPU-v1-like accelerator: 32x32 weight-stationary systolic MAC array",
    "edge_tpu_like": "an Edge-TPU-like accelerator: 8x8x4x4 MAC array",
    "meta_prototype": "a Meta-prototype-like accelerator: 32x2x4x4 MAC array",
    "ascend_like": "an Ascend-like accelerator: 16x16x2x2 MAC array",
    "tesla_npu_like": "a Tesla-NPU-like accelerator: 32x32x4 MAC array",
    "gemm_l1": "a GEMM core with a single L1 scratchpad: 8x8x8 MAC array",
    "gemm_l1_l3": "a GEMM core with L1 and L3 memories: 8x8x8 MAC array",
    "aimc": "an analog in-memory-computing macro: 128x128 cell array",
    "dimc": "a digital in-memory-computing macro: 128x128 cell array",
}

MAPPINGS = {
    "tpu_like": "tpu_like",
    "tpu_like_mixed": "tpu_like",
    "edge_tpu_like": "edge_tpu_like",
    "edge_tpu_like_mixed": "edge_tpu_like",
    "meta_prototype_like": "meta_prototype",
    "meta_prototype_like_mixed": "meta_prototype",
    "ascend_like": "ascend_like",
    "ascend_like_mixed": "ascend_like",
    "tesla_npu_like": "tesla_npu_like",
    "tesla_npu_like_mixed": "tesla_npu_like",
    "gemm_l1": "gemm_l1",
    "gemm_l1_l3": "gemm_l1_l3",
    "default": "any digital accelerator",
    "default_imc": "the IMC accelerators (aimc, dimc)",
}

MEMORY_KEYS = (
    "size", "r_cost", "w_cost", "area", "latency", "auto_cost_extraction",
    "operands", "ports", "served_dimensions", "force_double_buffering",
)
ARRAY_KEYS = (
    "is_imc", "imc_type", "input_precision", "bit_serial_precision", "adc_resolution",
    "unit_energy", "unit_area", "dimensions", "sizes", "systolic_dimensions",
)
PORT_KEYS = ("name", "type", "bandwidth_min", "bandwidth_max", "allocation")
ENTRY_KEYS = ("name", "spatial_mapping", "spatial_mapping_hint", "temporal_ordering", "memory_operand_links")

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def scalar(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        s = repr(v)
        if "e" in s and "." not in s:  # PyYAML needs a dot to read exponent floats
            m, e = s.split("e")
            s = f"{m}.0e{e}"
        return s
    if v is None:
        return "null"
    s = str(v)
    if _PLAIN.match(s) and s.lower() not in ("true", "false", "yes", "no", "on", "off", "null", "y", "n"):
        return s
    return json.dumps(s)


def flow(values: list) -> str:
    return "[" + ", ".join(scalar(x) for x in values) + "]"


def emit_accelerator(d: dict, header: str) -> str:
    out = [header, f"name: {scalar(d['name'])}", "", "memories:"]
    for mname, m in d["memories"].items():
        unknown = set(m) - set(MEMORY_KEYS)
        assert not unknown, (mname, unknown)
        out.append(f"  {mname}:")
        for k in MEMORY_KEYS:
            if k not in m:
                continue
            v = m[k]
            if k == "ports":
                out.append("    ports:")
                for p in v:
                    assert set(p) <= set(PORT_KEYS), p
                    first = True
                    for pk in PORT_KEYS:
                        if pk == "allocation":
                            out.append("        allocation:")
                            out.extend(f"          - {scalar(a)}" for a in p[pk])
                        else:
                            out.append(f"      {'- ' if first else '  '}{pk}: {scalar(p[pk])}")
                            first = False
            elif isinstance(v, list):
                out.append(f"    {k}: {flow(v)}")
            else:
                out.append(f"    {k}: {scalar(v)}")
        out.append("")
    out.append("operational_array:")
    arr = d["operational_array"]
    assert set(arr) <= set(ARRAY_KEYS), set(arr) - set(ARRAY_KEYS)
    for k in ARRAY_KEYS:
        if k in arr:
            v = arr[k]
            out.append(f"  {k}: {flow(v) if isinstance(v, list) else scalar(v)}")
    return "\n".join(out) + "\n"


def emit_mapping(entries: list, header: str) -> str:
    out = [header.rstrip("\n")]
    for e in entries:
        assert set(e) <= set(ENTRY_KEYS), set(e) - set(ENTRY_KEYS)
        out.append("")
        out.append(f"- name: {scalar(e['name'])}")
        for k in ENTRY_KEYS[1:]:
            if k not in e:
                continue
            v = e[k]
            out.append(f"  {k}:")
            if k == "temporal_ordering":
                out.extend(f"    - {flow(pair)}" for pair in v)
            elif k == "spatial_mapping":
                for ad, lst in v.items():
                    out.append(f"    {ad}:")
                    out.extend(f"      - {scalar(x)}" for x in lst)
            elif k == "spatial_mapping_hint":
                out.extend(f"    {ad}: {flow(lst)}" for ad, lst in v.items())
            else:
                out.extend(f"    {a}: {scalar(b)}" for a, b in v.items())
    return "\n".join(out) + "\n"


def zigzag_inputs() -> Path:
    import zigzag

    return Path(zigzag.__file__).parent / "inputs"


def main(argv: list[str]) -> None:
    src = Path(argv[1]) if len(argv) > 1 else zigzag_inputs()
    acc_dir, map_dir = ROOT / "models" / "accelerators", ROOT / "models" / "mappings"
    for name, what in ACCELERATORS.items():
        data = yaml.safe_load((src / "hardware" / f"{name}.yaml").read_text())
        header = (
            f"# cpmap accelerator model '{name}': {what}.\n"
            f"# Numbers follow zigzag-dse 3.9.1's example accelerator of the same name (ZigZag 3.x format).\n"
        )
        text = emit_accelerator(data, header)
        assert yaml.safe_load(text) == data, name
        (acc_dir / f"{name}.yaml").write_text(text)
    for name, target in MAPPINGS.items():
        data = yaml.safe_load((src / "mapping" / f"{name}.yaml").read_text())
        header = (
            f"# cpmap mapping constraints '{name}' for {target}.\n"
            f"# Entries follow zigzag-dse 3.9.1's example mapping of the same name (ZigZag 3.x format).\n"
        )
        text = emit_mapping(data, header)
        assert yaml.safe_load(text) == data, name
        (map_dir / f"{name}.yaml").write_text(text)
    print(f"wrote {len(ACCELERATORS)} accelerators and {len(MAPPINGS)} mappings")


if __name__ == "__main__":
    main(sys.argv)
