"""Loader of ZigZag 3.x hardware (accelerator) YAML files, unchanged format."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..hardware import (
    MEMORY_OPERANDS,
    Accelerator,
    ImcParameters,
    MemoryInstance,
    MemoryLevel,
    OperationalArray,
    Port,
)
from .common import field, read_yaml

_DIM_RE = re.compile(r"^D\d+$")
_PORT_NAME_RE = re.compile(r"^r?w?_port_\d+$")
_ALLOC_RE = re.compile(r"^(I1|I2|O),\s*(fh|tl|fl|th)$")
_IMC_KEYS = ("is_imc", "imc_type", "input_precision", "bit_serial_precision", "adc_resolution")


#: The keys of a hardware YAML that cpmap reads, per level of the document (the loader ignores others);
#: ``cpmap sweep`` refuses a parameter path outside them.
TOP_KEYS = ("name", "memories", "operational_array")
MEMORY_KEYS = (
    "size", "r_cost", "w_cost", "area", "latency", "operands", "ports", "served_dimensions",
    "force_double_buffering", "auto_cost_extraction",
)
PORT_KEYS = ("name", "type", "bandwidth_min", "bandwidth_max", "allocation")
ARRAY_KEYS = ("unit_energy", "unit_area", "dimensions", "sizes", "systolic_dimensions", *_IMC_KEYS)


def load_accelerator(path: str | Path) -> Accelerator:
    """Parse a ZigZag hardware YAML into an :class:`Accelerator`; bad input raises :class:`InputError`."""
    return accelerator_from_data(read_yaml(path), path)


def accelerator_from_data(data: Any, path: str | Path) -> Accelerator:
    """Build an :class:`Accelerator` from a parsed hardware YAML document, with every check of
    :func:`load_accelerator`; ``path`` names the document in error messages."""
    if not isinstance(data, dict):
        raise InputError(path, None, "expected a mapping with 'name', 'memories' and 'operational_array'")
    name = str(field(data, "name", (str, int), path, ""))
    array = _operational_array(field(data, "operational_array", dict, path, ""), path)
    mems = field(data, "memories", dict, path, "")
    if not mems:
        raise InputError(path, "memories", "no memory declared")
    levels = tuple(_memory(mname, mdata, i, array, path) for i, (mname, mdata) in enumerate(mems.items()))
    if array.imc is not None:
        _check_imc_cells(array.imc, levels, path)
    return Accelerator(name=name, array=array, memories=levels)


def _operational_array(d: dict[str, Any], path: str | Path) -> OperationalArray:
    w = "operational_array"
    dims = field(d, "dimensions", list, path, w)
    sizes = field(d, "sizes", list, path, w)
    for i, dim in enumerate(dims):
        if not isinstance(dim, str) or not _DIM_RE.match(dim):
            raise InputError(path, f"{w}.dimensions[{i}]", f"array dimension must be named D<n>, got {dim!r}")
    if len(set(dims)) != len(dims):
        raise InputError(path, f"{w}.dimensions", "duplicate array dimension")
    if len(dims) != len(sizes):
        raise InputError(path, f"{w}.sizes", f"{len(sizes)} sizes for {len(dims)} dimensions")
    for i, s in enumerate(sizes):
        if not isinstance(s, int) or isinstance(s, bool) or s < 1:
            raise InputError(path, f"{w}.sizes[{i}]", f"must be a positive integer, got {s!r}")
    systolic = field(d, "systolic_dimensions", list, path, w, default=[])
    for s in systolic:
        if s not in dims:
            raise InputError(path, f"{w}.systolic_dimensions", f"{s!r} is not an array dimension")
    is_imc = field(d, "is_imc", bool, path, w, default=False)
    imc = None
    if is_imc:
        imc = _imc_parameters(d, dims, sizes, path)
    else:
        for k in ("imc_type", "bit_serial_precision"):
            if d.get(k) is not None:
                raise InputError(path, f"{w}.{k}", "only allowed for IMC arrays (is_imc: true)")
        if d.get("adc_resolution") not in (None, 0):
            raise InputError(path, f"{w}.adc_resolution", "only allowed for IMC arrays (is_imc: true)")
    unit_energy = field(d, "unit_energy", float, path, w, default=None if is_imc else _required(path, w, "unit_energy", d), minimum=0)
    unit_area = field(d, "unit_area", float, path, w, default=0.0, minimum=0)
    return OperationalArray(
        unit_energy=unit_energy if unit_energy is not None else 0.0,
        unit_area=unit_area,
        dimensions=tuple(dims),
        sizes=tuple(sizes),
        systolic_dimensions=tuple(systolic),
        imc=imc,
    )


def _imc_parameters(d: dict[str, Any], dims: list[str], sizes: list[int], path: str | Path) -> ImcParameters:
    """The IMC keys of ``operational_array`` (imc_model.md section 2.1), checked; array geometry checked too."""
    w = "operational_array"
    imc_type = field(d, "imc_type", str, path, w)
    prec = field(d, "input_precision", list, path, w)
    if len(prec) != 2:
        raise InputError(path, f"{w}.input_precision", f"must be [activation bits, weight bits], got {prec!r}")
    for i, b in enumerate(prec):
        if not isinstance(b, int) or isinstance(b, bool):
            raise InputError(path, f"{w}.input_precision[{i}]", f"expected an integer, got {b!r}")
    bsp = field(d, "bit_serial_precision", (int, float), path, w)
    if isinstance(bsp, float) and bsp.is_integer():
        bsp = int(bsp)
    adc = field(d, "adc_resolution", (int, float), path, w, default=0)
    try:
        imc = ImcParameters(imc_type=imc_type, input_precision=(prec[0], prec[1]), bit_serial_precision=bsp, adc_resolution=adc)
    except InputError as exc:
        raise InputError(path, exc.field, exc.problem) from None
    if len(dims) < 2:
        raise InputError(path, f"{w}.dimensions", "an IMC array needs at least 2 dimensions (wordline D1, bitline D2)")
    bitline = sorted(dims)[1]  # ZigZag: first sorted dim = wordline, second = bitline, the rest = macros
    n_r = sizes[dims.index(bitline)]
    if imc_type == "digital" and n_r & (n_r - 1):
        raise InputError(
            path,
            f"{w}.sizes[{dims.index(bitline)}]",
            f"the bitline dimension {bitline} of a digital IMC array feeds an adder tree: its size must be a power of 2, got {n_r}",
        )
    return imc


def _check_imc_cells(imc: ImcParameters, levels: tuple[MemoryLevel, ...], path: str | Path) -> None:
    """The mandatory ``cells`` memory of an IMC array (imc_model.md section 2.2): weights only, one per PE."""
    cells = next((m for m in levels if m.name == "cells"), None)
    if cells is None:
        raise InputError(path, "memories.cells", "an IMC accelerator needs a memory named 'cells' holding the weights (operands [I2])")
    if cells.operands != ("I2",):
        raise InputError(path, "memories.cells.operands", f"IMC cells store the weights only: must be [I2], got {list(cells.operands)}")
    if cells.served_dimensions:
        raise InputError(path, "memories.cells.served_dimensions", f"IMC cells are one per cell group: must be [], got {list(cells.served_dimensions)}")
    b_w = imc.weight_precision
    if cells.size < 1 or cells.size % b_w:
        raise InputError(path, "memories.cells.size", f"must be a positive multiple of the weight precision {b_w} bits, got {cells.size}")
    if cells.instance.area < 0:
        raise InputError(path, "memories.cells.area", f"area per cell group must be >= 0, got {cells.instance.area}")


def _required(path: str | Path, where: str, key: str, d: dict[str, Any]) -> Any:
    if key not in d or d[key] is None:
        raise InputError(path, f"{where}.{key}", "missing required field")
    return d[key]


def _memory(name: str, d: Any, index: int, array: OperationalArray, path: str | Path) -> MemoryLevel:
    w = f"memories.{name}"
    if not isinstance(d, dict):
        raise InputError(path, w, "expected a mapping")
    size = field(d, "size", int, path, w)
    if size < 0:
        raise InputError(path, f"{w}.size", f"must be >= 0, got {size}")
    auto = field(d, "auto_cost_extraction", bool, path, w, default=False)
    if auto:
        raise InputError(path, f"{w}.auto_cost_extraction", "CACTI cost extraction is not supported; give r_cost, w_cost and area")
    # a negative cost would make the solvers prefer more accesses: no meaning, and no longer a minimum
    r_cost = field(d, "r_cost", float, path, w, minimum=0)
    w_cost = field(d, "w_cost", float, path, w, minimum=0)
    area = field(d, "area", float, path, w, minimum=0)
    latency = field(d, "latency", int, path, w, minimum=0)
    operands = field(d, "operands", list, path, w)
    if not operands:
        raise InputError(path, f"{w}.operands", "a memory must store at least one operand")
    for i, op in enumerate(operands):
        if op not in MEMORY_OPERANDS:
            raise InputError(path, f"{w}.operands[{i}]", f"unknown memory operand {op!r} (expected I1, I2 or O)")
    if len(set(operands)) != len(operands):
        raise InputError(path, f"{w}.operands", "duplicate operand")
    served = field(d, "served_dimensions", list, path, w)
    for s in served:
        if s not in array.dimensions:
            raise InputError(path, f"{w}.served_dimensions", f"{s!r} is not an array dimension {list(array.dimensions)}")
    ports = tuple(_port(p, f"{w}.ports[{i}]", path) for i, p in enumerate(field(d, "ports", list, path, w)))
    for p_i, p in enumerate(ports):
        for op, _ in p.allocation:
            if op not in operands:
                raise InputError(path, f"{w}.ports[{p_i}].allocation", f"operand {op} is not stored in this memory")
    fdb = field(d, "force_double_buffering", bool, path, w, default=False)
    inst = MemoryInstance(name=name, size=size, r_cost=r_cost, w_cost=w_cost, area=area, latency=latency)
    return MemoryLevel(
        instance=inst,
        operands=tuple(operands),
        ports=ports,
        served_dimensions=tuple(served),
        force_double_buffering=fdb,
        index=index,
    )


def _port(d: Any, w: str, path: str | Path) -> Port:
    name = field(d, "name", str, path, w)
    if not _PORT_NAME_RE.match(name):
        raise InputError(path, f"{w}.name", f"port name must look like r_port_1, w_port_1 or rw_port_1, got {name!r}")
    ptype = field(d, "type", str, path, w)
    if ptype not in ("read", "write", "read_write"):
        raise InputError(path, f"{w}.type", f"must be read, write or read_write, got {ptype!r}")
    bw_min = field(d, "bandwidth_min", int, path, w)
    bw_max = field(d, "bandwidth_max", int, path, w)
    if bw_min < 1 or bw_max < 1:
        raise InputError(path, f"{w}.bandwidth_min", "bandwidths must be positive")
    if bw_min > bw_max:
        raise InputError(path, f"{w}.bandwidth_min", f"bandwidth_min {bw_min} exceeds bandwidth_max {bw_max}")
    alloc = []
    for i, a in enumerate(field(d, "allocation", list, path, w)):
        m = _ALLOC_RE.match(a) if isinstance(a, str) else None
        if not m:
            raise InputError(path, f"{w}.allocation[{i}]", f"expected '<I1|I2|O>, <fh|tl|fl|th>', got {a!r}")
        op, direction = m.groups()
        if direction in ("fh", "fl") and ptype == "read":
            raise InputError(path, f"{w}.allocation[{i}]", f"read port cannot carry write direction {direction}")
        if direction in ("th", "tl") and ptype == "write":
            raise InputError(path, f"{w}.allocation[{i}]", f"write port cannot carry read direction {direction}")
        alloc.append((op, direction))
    return Port(name=name, type=ptype, bw_min=bw_min, bw_max=bw_max, allocation=tuple(alloc))
