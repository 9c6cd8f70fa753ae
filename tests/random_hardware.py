"""Small random accelerators for the exactness tests of the exact engines (latency and energy).

Each family stresses one part of ZigZag's latency model (spec cost_model.md section 6):

* ``toy``: the spec's 2-level toy (registers + a shared GB);
* ``narrow_dram``: a third level (DRAM) whose port is 8 bits wide (stalls, one-shot records with surplus);
* ``small_gb``: registers + a 1 kb GB with 8-bit ports + DRAM (partial windows, non-double-buffered GB);
* ``shared_rf``: one register file for W and I (shared double-buffer sums, port sharing) + GB + DRAM;
* ``o_top_gb``: the output's top is a GB that also holds non-top levels of W and I (top members in the
  double-buffer group sums);
* ``split_ports``: a GB whose single read port carries every operand's reads (window unions of several links);
* ``odd_sizes``: registers of 24 and 48 bits (non-power-of-two sizes) and a forced-double-buffering memory.

Sizes and bandwidths are drawn by the caller; :func:`hardware_yaml` writes the YAML a user would write.
"""

from __future__ import annotations

from typing import Any

FAMILIES = ("toy", "narrow_dram", "small_gb", "shared_rf", "o_top_gb", "split_ports", "odd_sizes")


def _port(name: str, kind: str, bw_min: int, bw_max: int, allocation: list[str]) -> dict[str, Any]:
    return {"name": name, "type": kind, "bandwidth_min": bw_min, "bandwidth_max": bw_max, "allocation": allocation}


def _mem(size: int, operands: list[str], read: list[str], write: list[str], bw: int, served: list[str], r_cost: float, w_cost: float, fdb: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {
        "size": size,
        "r_cost": r_cost,
        "w_cost": w_cost,
        "area": 0,
        "latency": 1,
        "operands": operands,
        "ports": [_port("r_port_1", "read", min(8, bw), bw, read), _port("w_port_1", "write", min(8, bw), bw, write)],
        "served_dimensions": served,
    }
    if fdb:
        d["force_double_buffering"] = True
    return d


def _regs(w: int, i: int, o: int, shared_wi: bool = False) -> dict[str, Any]:
    if shared_wi:
        regs = {"wi_reg": _mem(w + i, ["I1", "I2"], ["I1, tl", "I2, tl"], ["I1, fh", "I2, fh"], 16, [], 1.0, 1.0)}
    else:
        regs = {
            "w_reg": _mem(w, ["I2"], ["I2, tl"], ["I2, fh"], 8, [], 1.0, 1.0),
            "i_reg": _mem(i, ["I1"], ["I1, tl"], ["I1, fh"], 8, ["D1"], 1.0, 1.0),
        }
    regs["o_reg"] = _mem(o, ["O"], ["O, tl", "O, th"], ["O, fh", "O, fl"], 16, [], 1.0, 1.0)
    return regs


def _all(ops: list[str]) -> tuple[list[str], list[str]]:
    reads = [f"{op}, tl" for op in ops] + (["O, th"] if "O" in ops else [])
    writes = [f"{op}, fh" for op in ops] + (["O, fl"] if "O" in ops else [])
    return reads, writes


def hardware_yaml(
    family: str, reg: tuple[int, int, int] = (8, 16, 16), gb_size: int = 1024, gb_bw: int = 64, dram_bw: int = 64, array: tuple[int, ...] = (4,)
) -> dict[str, Any]:
    """A ZigZag hardware description of the given family: an array of ``array`` PEs per dim (``D1``, ``D2``...;
    the input register is shared along ``D1``, the memories above the registers serve every dim)."""
    w, i, o = reg
    r3, w3 = _all(["I1", "I2", "O"])
    if family == "toy":
        mems = {**_regs(w, i, o), "gb": _mem(1048576, ["I1", "I2", "O"], r3, w3, gb_bw, ["D1"], 10.0, 12.0)}
    elif family == "narrow_dram":
        mems = {**_regs(w, i, o), "gb": _mem(gb_size * 8, ["I1", "I2", "O"], r3, w3, gb_bw, ["D1"], 5.0, 6.0), "dram": _mem(10**9, ["I1", "I2", "O"], r3, w3, 8, ["D1"], 100.0, 120.0)}
    elif family == "small_gb":
        mems = {**_regs(w, i, o), "gb": _mem(gb_size, ["I1", "I2", "O"], r3, w3, 8, ["D1"], 5.0, 6.0), "dram": _mem(10**9, ["I1", "I2", "O"], r3, w3, dram_bw, ["D1"], 100.0, 120.0)}
    elif family == "shared_rf":
        mems = {**_regs(w, i, o, shared_wi=True), "gb": _mem(gb_size * 4, ["I1", "I2", "O"], r3, w3, gb_bw, ["D1"], 5.0, 6.0), "dram": _mem(10**9, ["I1", "I2", "O"], r3, w3, dram_bw, ["D1"], 100.0, 120.0)}
    elif family == "o_top_gb":
        r2, w2 = _all(["I1", "I2"])
        mems = {**_regs(w, i, o), "gb": _mem(gb_size * 2, ["I1", "I2", "O"], r3, w3, gb_bw, ["D1"], 5.0, 6.0), "dram": _mem(10**9, ["I1", "I2"], r2, w2, dram_bw, ["D1"], 100.0, 120.0)}
    elif family == "split_ports":
        gb = _mem(gb_size * 4, ["I1", "I2", "O"], r3, w3, gb_bw, ["D1"], 5.0, 6.0)
        gb["ports"] = [_port("rw_port_1", "read_write", 8, gb_bw, r3 + w3)]
        mems = {**_regs(w, i, o), "gb": gb, "dram": _mem(10**9, ["I1", "I2", "O"], r3, w3, dram_bw, ["D1"], 100.0, 120.0)}
    elif family == "odd_sizes":
        regs = _regs(24, 48, o)
        regs["w_reg"]["force_double_buffering"] = True
        mems = {**regs, "gb": _mem(gb_size * 3, ["I1", "I2", "O"], r3, w3, gb_bw, ["D1"], 5.0, 6.0), "dram": _mem(10**9, ["I1", "I2", "O"], r3, w3, dram_bw, ["D1"], 100.0, 120.0)}
    else:
        raise ValueError(family)
    dims = [f"D{i + 1}" for i in range(len(array))]
    for mem in mems.values():
        if mem["served_dimensions"] == ["D1"] and any(op in mem["operands"] for op in ("O", "I2")):
            mem["served_dimensions"] = list(dims)  # the shared levels serve the whole array
    return {"name": f"rand_{family}", "memories": mems, "operational_array": {"unit_energy": 0.5, "unit_area": 1, "dimensions": dims, "sizes": list(array)}}
