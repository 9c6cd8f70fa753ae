"""Results of a run and the result JSON (schema ``cpmap.result/1``, spec interfaces.md section 3)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .cost.model import CostResult
from .errors import InputError
from .hardware import Accelerator
from .mapping import Mapping, SpatialMapping, TemporalMapping
from .status import Status

SCHEMA = "cpmap.result/1"


@dataclass
class LayerResult:
    """The outcome for one layer: status, certificate, the mapping and its cost."""

    name: str
    loop_sizes: dict[str, int]
    status: Status  # see cpmap.status: what each status proves (fixed: a complete user ordering, costed)
    mapping: Mapping | None = None
    cost: CostResult | None = None
    objective_value: float | None = None
    bound: float | None = None
    gap: float | None = None
    solve_seconds: float = 0.0
    message: str = ""
    notes: list[str] = field(default_factory=list)
    #: what the certificate covers: {"kind": "all" | "candidates", "size", "solved", "pruned_by_bound", "equivalent"}
    spatial_space: dict | None = None

    @property
    def energy(self) -> float | None:
        return self.cost.energy if self.cost else None

    @property
    def latency(self) -> float | None:
        return self.cost.latency if self.cost else None


@dataclass
class RunResult:
    """All layers of one run (solve or evaluate)."""

    accelerator: str
    workload: str
    objective: str
    engine: str
    layers: list[LayerResult]
    #: ONNX nodes the workload has but no layer costs (:class:`cpmap.io.onnx_import.SkippedNode`)
    skipped_nodes: tuple = ()

    @property
    def total_energy(self) -> float:
        return sum(r.cost.energy for r in self.layers if r.cost)

    @property
    def total_latency(self) -> float:
        return sum(r.cost.latency for r in self.layers if r.cost)

    @property
    def total_seconds(self) -> float:
        return sum(r.solve_seconds for r in self.layers)


# ----------------------------------------------------------------------------------------------------------
# mapping <-> JSON
# ----------------------------------------------------------------------------------------------------------


def mapping_to_json(mapping: Mapping, accelerator: Accelerator) -> dict[str, Any]:
    """The ``mapping`` object of the result JSON: spatial dict and temporal loops innermost first."""
    chains = {op: accelerator.chain(mop) for op, mop in mapping.operand_links.items()}
    temporal = []
    for k, (dim, size) in enumerate(mapping.temporal.loops):
        levels = {op: mapping.temporal.level_of_loop(op, k) for op in mapping.temporal.cuts}
        temporal.append(
            {
                "dim": dim,
                "size": size,
                "level": levels,
                "memory": {op: chains[op][lv].name for op, lv in levels.items() if op in chains},
            }
        )
    return {"spatial": mapping.spatial.as_dict(), "temporal": temporal}


def mapping_from_json(
    data: Any, accelerator: Accelerator, links: dict[str, str], operands: tuple[str, ...], path: str | Path, where: str
) -> Mapping:
    """Rebuild a :class:`Mapping` from a result-JSON ``mapping`` object; bad data raises :class:`InputError`."""
    if not isinstance(data, dict):
        raise InputError(path, where, "expected an object with 'spatial' and 'temporal'")
    spatial = data.get("spatial")
    if not isinstance(spatial, dict) or not all(isinstance(v, dict) for v in spatial.values()):
        raise InputError(path, f"{where}.spatial", "expected {array dim: {layer dim: factor}}")
    sizes = accelerator.array.size_of
    for ad, dims in spatial.items():
        if ad not in sizes:
            have = ", ".join(accelerator.array.dimensions)
            raise InputError(path, f"{where}.spatial.{ad}", f"accelerator {accelerator.name} has no array dimension {ad} (it has {have})")
        product = 1
        for ld, f in dims.items():
            if not isinstance(f, int) or isinstance(f, bool) or f < 1:
                raise InputError(path, f"{where}.spatial.{ad}.{ld}", f"unroll factor must be a positive integer, got {f!r}")
            product *= f
        # the same rule as a spatial mapping of a mapping YAML (solve refuses it there too)
        if product > sizes[ad]:
            raise InputError(path, f"{where}.spatial.{ad}", f"unroll factors multiply to {product}, more than the size {sizes[ad]} of {ad}")
    temporal = data.get("temporal")
    if not isinstance(temporal, list):
        raise InputError(path, f"{where}.temporal", "expected a list of loops, innermost first")
    loops: list[tuple[str, int]] = []
    levels: dict[str, list[int]] = {op: [] for op in operands}
    for k, item in enumerate(temporal):
        w = f"{where}.temporal[{k}]"
        if not isinstance(item, dict):
            raise InputError(path, w, "expected an object with dim, size, level")
        dim, size, lv = item.get("dim"), item.get("size"), item.get("level")
        if not isinstance(dim, str):
            raise InputError(path, f"{w}.dim", "missing or not a string")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise InputError(path, f"{w}.size", f"must be a positive integer, got {size!r}")
        if not isinstance(lv, dict):
            raise InputError(path, f"{w}.level", "expected {operand: level index}")
        memory = item.get("memory", {})
        if not isinstance(memory, dict):
            raise InputError(path, f"{w}.memory", "expected {operand: memory name}")
        loops.append((dim, size))
        for op in operands:
            v = lv.get(op)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise InputError(path, f"{w}.level.{op}", f"missing or not a level index: {v!r}")
            levels[op].append(v)
            # the memory names are redundant with the levels: when given, they must say the same
            chain = accelerator.chain(links.get(op, ""))
            if op in memory and v < len(chain) and memory[op] != chain[v].name:
                raise InputError(
                    path, f"{w}.memory.{op}", f"{memory[op]!r} is not level {v} of operand {op} (that is {chain[v].name})"
                )
    cuts: dict[str, tuple[int, ...]] = {}
    for op in operands:
        n_levels = len(accelerator.chain(links.get(op, "")))
        seq = levels[op]
        if any(b < a for a, b in zip(seq, seq[1:])):
            raise InputError(path, f"{where}.temporal", f"levels of operand {op} decrease from inner to outer loops")
        if seq and seq[-1] >= n_levels:
            raise InputError(path, f"{where}.temporal", f"operand {op} has {n_levels} memory levels, a loop sits at level {seq[-1]}")
        cuts[op] = tuple(sum(1 for v in seq if v <= m) for m in range(n_levels - 1)) + (len(seq),)
    return Mapping(SpatialMapping.from_dict(spatial), TemporalMapping(tuple(loops), cuts), dict(links))


# ----------------------------------------------------------------------------------------------------------
# run result <-> JSON
# ----------------------------------------------------------------------------------------------------------


def _cost_json(cost: CostResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "energy_breakdown": {
            "mac": cost.mac_energy,
            "memory": cost.energy_breakdown,
        },
        "latency_breakdown": {
            "ideal_cycle": cost.ideal_cycle,
            "ideal_temporal_cycle": cost.ideal_temporal_cycle,
            "stall_slack": cost.stall_slack,
            "onloading": cost.onloading,
            "offloading": cost.offloading,
            "systolic_drain": cost.systolic_drain,
            "latency_total0": cost.latency_total0,
            "latency_total1": cost.latency_total1,
        },
        "word_accesses": cost.word_accesses,
        "utilization": {"mac": cost.mac_utilization},
    }
    if cost.port_stall_slack:  # memory -> port -> combined stall (> 0) or slack (< 0), cycles
        out["port_stall_slack"] = cost.port_stall_slack
    if cost.tclk_ns is not None:  # IMC arrays: latency is in clock cycles of the macro's own clock
        out["imc"] = {
            "tclk_ns": cost.tclk_ns,
            "latency_ns": cost.latency * cost.tclk_ns,
            "array_energy_breakdown": cost.mac_energy_breakdown,
        }
    return out


def run_to_json(run: RunResult, accelerator: Accelerator) -> dict[str, Any]:
    """Serialise a run as the result JSON."""
    layers = []
    for r in run.layers:
        entry: dict[str, Any] = {
            "name": r.name,
            "loop_sizes": r.loop_sizes,
            "status": r.status,
            "objective_value": r.objective_value,
            "bound": r.bound,
            "gap": r.gap,
            "energy": r.energy,
            "latency": r.latency,
            "solve_seconds": round(r.solve_seconds, 6),
        }
        if r.mapping is not None:
            entry["mapping"] = mapping_to_json(r.mapping, accelerator)
        if r.cost is not None:
            entry.update(_cost_json(r.cost))
            if r.cost.zigzag_failures:
                entry["zigzag_would_fail"] = r.cost.zigzag_failures
        if r.message:
            entry["message"] = r.message
        if r.notes:
            entry["notes"] = r.notes
        if r.spatial_space is not None:
            entry["spatial_space"] = r.spatial_space
        layers.append(entry)
    return {
        "schema": SCHEMA,
        "cpmap_version": __version__,
        "accelerator": run.accelerator,
        "workload": run.workload,
        "objective": run.objective,
        "engine": run.engine,
        "layers": layers,
        "skipped_nodes": [s.to_json() for s in run.skipped_nodes],
        "total": {"energy": run.total_energy, "latency": run.total_latency, "solve_seconds": round(run.total_seconds, 6)},
    }


def check_output_file(path: str | Path, option: str) -> None:
    """Raise :class:`InputError` now when ``path`` could not be written at the end of the run (a folder, under a
    file, in a folder that is not writable), so that no work is lost. Missing folders are fine: they are made."""
    p = Path(path)
    if p.is_dir():
        raise InputError(p, option, "is a folder; give a file name")
    _check_can_create_in(p.parent, p, option)


def check_output_dir(path: str | Path, option: str, names: list[str] | tuple[str, ...]) -> None:
    """:func:`check_output_file` for a folder that will receive the files ``names``."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(p, option, "is a file, not a folder")
    _check_can_create_in(p, p, option)
    for name in names:
        if (p / name).is_dir():
            raise InputError(p / name, option, "is a folder; cannot write the file of that name")


def _check_can_create_in(folder: Path, shown: Path, option: str) -> None:
    # the nearest existing folder must be writable: the missing ones below it are made when writing
    existing = Path(os.path.abspath(folder))
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(shown, option, f"{existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(shown, option, f"folder {existing} is not writable")


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so a failure never leaves a half-written file.

    The file gets the usual permissions (0666 minus the umask), not the private ones of a temporary file.
    """
    write_bytes_atomic(path, text.encode())


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`write_text_atomic`)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON to ``path`` atomically (see :func:`write_text_atomic`); NaN or infinity is a bug, never written
    (it is not JSON)."""
    write_text_atomic(path, json.dumps(data, indent=1, allow_nan=False) + "\n")


def read_result_json(path: str | Path) -> dict[str, Any]:
    """Read a result JSON (or a bare mapping object); errors become :class:`InputError`."""
    p = Path(path)
    if not p.is_file():
        raise InputError(p, None, "file not found")
    try:
        data = json.loads(p.read_text(), parse_constant=_reject_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(p, None, f"malformed JSON: {exc}") from None
    except RecursionError:
        raise InputError(p, None, "malformed JSON: nested too deeply") from None
    except OSError as exc:
        raise InputError(p, None, f"cannot read file: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise InputError(p, None, "expected a JSON object")
    return data


def _reject_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which are not JSON and mean nothing in a mapping
    raise ValueError(f"{name} is not a JSON number")
