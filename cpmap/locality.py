"""Inter-layer data locality: how low each layer's activations, outputs and weights may live, and the per-layer
accelerator without the memories above those levels (spec cost_model.md section 8.5, ZigZag 3.9.1's
``SearchInterLayerDataLocalityStage`` + ``ExploitInterLayerDataLocalityStage``).

ZigZag costs a network layer by layer, each layer loading its inputs from and storing its outputs to the top
memory. With data locality on (always for IMC, and with mixed spatial mappings) it first decides, per layer, the
lowest memory level that can keep the layer's output for the next layer (it must store the next layer's input and
this layer's output operands and hold both tensors), and the lowest level that can keep *all* weights of the
network (it must also serve every array dim). Layers at a branch start or end, and the first layer's input, keep
the top levels. The layer is then costed on a hierarchy without the memories above those levels, so the chosen
level becomes the top memory: its own loading and the removed levels' traffic cost nothing.

The decisions follow ZigZag's graph walk exactly, including its graph: every ONNX node is a graph node, a costed
layer links to its non-constant operand sources, any other node to its first two producers; the other nodes are
then bypassed (their producers linked to their consumers, in graph order) and removed. Branch tests count the
edges of that bypassed graph, so a layer whose output flows through a chain of element-wise nodes may see more
successors than it feeds directly.

Everything here is a pure function of its inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .hardware import Accelerator, MemoryLevel
from .imc.layer_cost import activation_operand, constant_operands, weight_operand
from .workload import Layer


# --------------------------------------------------------------------------------------------------------------
# workload graph
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkloadGraph:
    """The costed layers (by layer id) and ZigZag's edges between them, in ZigZag's insertion orders.

    The orders matter: ZigZag takes the *first* predecessor of a layer as the producer of its input and the first
    successor as the consumer of its output, and the first/last layer of its topological order as the network's
    input and output layer.
    """

    nodes: tuple[int, ...]
    successors: dict[int, tuple[int, ...]]
    predecessors: dict[int, tuple[int, ...]]

    def topological_order(self) -> list[int]:
        """Kahn's algorithm by generations over the node order (networkx's ``topological_sort``, which ZigZag uses)."""
        indeg = {n: len(self.predecessors[n]) for n in self.nodes}
        pending = {n: d for n, d in indeg.items() if d > 0}
        generation = [n for n in self.nodes if indeg[n] == 0]
        out: list[int] = []
        while generation:
            nxt: list[int] = []
            for n in generation:
                for child in self.successors[n]:
                    pending[child] -= 1
                    if pending[child] == 0:
                        nxt.append(child)
                        del pending[child]
            out.extend(generation)
            generation = nxt
        if pending:
            raise ValueError("the workload graph has a cycle")
        return out


def build_graph(nodes: Sequence[tuple[int, bool, Sequence[int]]]) -> WorkloadGraph:
    """ZigZag's dummy-free workload graph from ``(node id, is a costed layer, source node ids)`` in graph order.

    Edges are inserted source by source as the nodes are added; each non-layer node is then bypassed in node order
    (every predecessor linked to every successor, existing edges keeping their place) and removed, as ZigZag's
    ``get_copy_no_dummy`` does on its networkx graph.
    """
    succ: dict[int, dict[int, None]] = {}
    pred: dict[int, dict[int, None]] = {}
    for nid, _, sources in nodes:
        succ.setdefault(nid, {})
        pred.setdefault(nid, {})
        for s in sources:
            succ.setdefault(s, {})
            pred.setdefault(s, {})
            succ[s][nid] = None
            pred[nid][s] = None
    dummies = [nid for nid, is_layer, _ in nodes if not is_layer]
    for d in dummies:
        for s in list(succ[d]):
            for p in list(pred[d]):
                succ[p][s] = None
                pred[s][p] = None
    for d in dummies:
        for s in succ.pop(d):
            pred[s].pop(d, None)
        for p in pred.pop(d):
            succ[p].pop(d, None)
    order = tuple(n for n in succ)
    return WorkloadGraph(order, {n: tuple(succ[n]) for n in order}, {n: tuple(pred[n]) for n in order})


def _layer_sources(layer: Layer) -> list[int]:
    """A costed layer's edges come from its non-constant operand sources, in operand-source order."""
    return [src for src in layer.operand_source.values() if src != layer.layer_id]


def onnx_graph(path: str | Path, layers: Sequence[Layer]) -> WorkloadGraph:
    """The graph of an ONNX model whose costed layers are ``layers`` (from :func:`cpmap.io.onnx_import.load_onnx`)."""
    from .io.onnx_import import _predecessors, _read_model

    model = _read_model(path)
    by_id = {layer.layer_id: layer for layer in layers}
    producers: dict[str, list[int]] = {}
    nodes: list[tuple[int, bool, list[int]]] = []
    for node_id, node in enumerate(model.graph.node):
        for out in node.output:
            if out:
                producers.setdefault(out, []).append(node_id)
        if node_id in by_id:
            nodes.append((node_id, True, _layer_sources(by_id[node_id])))
        else:
            # ZigZag's placeholder nodes keep at most two producers (as operands I and W)
            nodes.append((node_id, False, _predecessors(node, producers)[:2]))
    return build_graph(nodes)


def layers_graph(layers: Sequence[Layer]) -> WorkloadGraph:
    """The graph of a workload of costed layers only (workload YAML): edges from the operand sources."""
    known = {layer.layer_id for layer in layers}
    return build_graph([(layer.layer_id, True, [s for s in _layer_sources(layer) if s in known]) for layer in layers])


def workload_graph(path: str | Path, layers: Sequence[Layer]) -> WorkloadGraph:
    """:func:`onnx_graph` for ``.onnx`` files, else :func:`layers_graph`."""
    if Path(path).suffix.lower() == ".onnx":
        return onnx_graph(path, layers)
    return layers_graph(layers)


# --------------------------------------------------------------------------------------------------------------
# the lowest allowed top memory per layer
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalityPlan:
    """Per layer id, per memory operand (its activation's and its output's), the index in
    ``accelerator.memories`` of the lowest memory that may act as its top memory; ``weight_level`` the same for
    the weights of every layer (one level for the whole network, as the weights must all fit)."""

    levels: dict[int, dict[str, int]]
    weight_level: int


def _bits(layer: Layer, operand: str) -> int:
    """ZigZag's ``operand_size_bit``: elements x the operand's precision (partial-sum precision for ``O``)."""
    return int(layer.operand_size(operand) * layer.precision[operand])


def plan_locality(
    layers: Sequence[Layer],
    graph: WorkloadGraph,
    accelerator: Accelerator,
    links_of: Callable[[Layer], dict[str, str]],
) -> LocalityPlan:
    """Decide the lowest allowed top memory of every layer's activation/output, and of all weights (spec 8.5).

    ``links_of(layer)`` gives the layer-operand -> memory-operand links. Walks the layers in ZigZag's topological
    order; a layer's activation level is its (first) producer's output level.

    ZigZag assumes one input layer (the first) and one output layer (the last) and crashes on any other layer
    without producer or consumer (e.g. the key and query projections of an attention block, or independent
    convolutions). Such a layer is treated here as the first layer (its activation may stay at the level its
    data fits, like the network input) or the last one (its output fits next to its own activation).
    """
    by_id = {layer.layer_id: layer for layer in layers}
    order = [n for n in graph.topological_order() if n in by_id]
    mems = accelerator.memories

    def top_level(mem_op: str) -> int:
        return max((i for i, m in enumerate(mems) if mem_op in m.operands), default=-1)

    def roles(layer: Layer) -> tuple[str, str, str]:
        links = links_of(layer)
        return links[activation_operand(layer)], links[weight_operand(layer)], links[layer.operands[0]]

    # the top levels come from the first layer in graph order (ZigZag's node_list[0])
    act0, w0, out0 = roles(by_id[next(n for n in graph.nodes if n in by_id)])
    top_act, top_w, top_out = top_level(act0), top_level(w0), top_level(out0)
    weight_level = top_w

    io_bits: dict[int, dict[str, int]] = {}
    weight_bits = 0
    levels: dict[int, dict[str, int]] = {}
    for n in order:
        layer = by_id[n]
        act, _, out = roles(layer)
        levels[n] = {act: -1, out: -1}
        if not constant_operands(layer):  # e.g. an element-wise add: both inputs are activations
            io_bits[n] = {act: sum(_bits(layer, op) for op in layer.input_operands), out: _bits(layer, layer.operands[0])}
        else:
            io_bits[n] = {act: _bits(layer, activation_operand(layer)), out: _bits(layer, layer.operands[0])}
            weight_bits += _bits(layer, weight_operand(layer))

    def lower(n: int, mem_op: str, target: int) -> None:
        cur = levels[n]
        if mem_op in cur and (cur[mem_op] == -1 or cur[mem_op] > target):
            cur[mem_op] = target

    for pos, n in enumerate(order):
        layer = by_id[n]
        is_first, is_final = pos == 0, pos == len(order) - 1
        act, w, out = roles(layer)
        succ = graph.successors[n]
        takes_network_input = is_first or not graph.predecessors[n]
        branch_start = len(succ) > 1
        branch_end = len(succ) == 1 and len(graph.predecessors[succ[0]]) > 1
        if not takes_network_input:
            prev = by_id[graph.predecessors[n][0]]
            lower(n, act, levels[prev.layer_id][roles(prev)[2]])
        if branch_start or branch_end:
            if takes_network_input:
                lower(n, act, top_act)
            lower(n, out, top_out)
            continue
        for i in reversed(range(len(mems))):
            mem = mems[i]
            served = list(mem.operands)
            if not is_final and succ:
                nxt = by_id[succ[0]]
                serves_next_act = links_of(nxt)[activation_operand(nxt)] in served
            else:
                serves_next_act = act in served
            io_both = serves_next_act and out in served
            serves_w = w in served
            if not constant_operands(layer) and io_both:
                served = [out, act]
            if not (io_both or serves_w):
                continue
            # ZigZag sums the I/O tensors of every operand the memory stores (a missing one would crash it)
            need = sum(io_bits[n].get(op, 0) for op in served if op != w)
            need += weight_bits if w in served else 0
            if need > mem.size * accelerator.instances(mem):
                continue
            if io_both:
                if takes_network_input:
                    lower(n, act, i)
                lower(n, out, i)
            if i < weight_level and serves_w and len(mem.served_dimensions) == len(accelerator.array.dimensions):
                weight_level = i
    for n, lv in levels.items():
        if any(v < 0 for v in lv.values()):
            raise ValueError(f"layer {by_id[n].name}: no memory level found for its activations or outputs")
    return LocalityPlan(levels, weight_level)


# --------------------------------------------------------------------------------------------------------------
# the per-layer accelerator
# --------------------------------------------------------------------------------------------------------------


def reduced_accelerator(accelerator: Accelerator, layer: Layer, links: dict[str, str], plan: LocalityPlan) -> Accelerator:
    """The accelerator this layer is costed on: each memory keeps an operand only up to that operand's planned top
    level, memories left with no operand disappear (ZigZag's ``generate_accelerator_with_removing_unused_memory``).

    A kept memory lists its operands as ZigZag rebuilds them (activation, weight, output) and its ports carry only
    those operands; levels are renumbered bottom-up.
    """
    act, w, out = links[activation_operand(layer)], links[weight_operand(layer)], links[layer.operands[0]]
    lv = plan.levels[layer.layer_id]
    target = {act: lv[act], out: lv[out], w: plan.weight_level if constant_operands(layer) else lv[act]}
    memories: list[MemoryLevel] = []
    for i, mem in enumerate(accelerator.memories):
        keep = [op for op in dict.fromkeys((act, w, out)) if op in mem.operands and i <= target[op]]
        if not keep:
            continue
        ports = tuple(replace(p, allocation=tuple((op, d) for op, d in p.allocation if op in keep)) for p in mem.ports)
        memories.append(replace(mem, operands=tuple(keep), ports=ports, index=len(memories)))
    if [(m.name, m.operands) for m in memories] == [(m.name, m.operands) for m in accelerator.memories]:
        return accelerator
    return Accelerator(accelerator.name, accelerator.array, tuple(memories))


def layer_accelerators(
    layers: Sequence[Layer],
    graph: WorkloadGraph,
    accelerator: Accelerator,
    links_of: Callable[[Layer], dict[str, str]],
) -> dict[str, Accelerator]:
    """Per layer name, the accelerator it is costed on with data locality (the given one when nothing is pruned)."""
    plan = plan_locality(layers, graph, accelerator, links_of)
    return {layer.name: reduced_accelerator(accelerator, layer, links_of(layer), plan) for layer in layers}
