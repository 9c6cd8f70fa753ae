"""SALSA: simulated annealing over loop orders, split into memory levels by LOMA's greedy allocator.

The algorithm is the one zigzag-dse 3.9.1 runs for ``temporal_mapping_search_engine="salsa"`` (one
spatial mapping at a time, one chain per spatial mapping):

* **state**: an order of *all* the prime factors of the temporal loop sizes (no LPF merging: ZigZag's
  ``loma_lpf_limit`` is read by its SALSA engine but never used to merge), allocated to the memories by
  LOMA's greedy allocator and costed;
* **start**: the factors (per layer dim in layer order, primes ascending) in a uniformly random order;
* **move**: two positions ``i`` and ``j`` drawn independently and uniformly (``i == j`` is allowed and
  leaves the order unchanged) are swapped;
* **acceptance**: with ``c`` and ``c'`` the criterion of the current and the proposed state and ``x``
  uniform in [0, 1), the move is accepted when ``x < exp((c / c' - 1) / T)``, so an improvement is always
  accepted and a worse state with a probability that falls with the relative loss;
* **temperature**: ``T_k = T_0 * 0.995**k`` at iteration ``k`` (``T_0`` = 0.05);
* **iterations**: 1000, every one costs a proposed state;
* **criterion**: ``energy`` (ZigZag's default, and the only one its API uses) or ``latency`` (ZigZag's
  SALSA then minimises the latency without on/off-loading, ``latency_total0``);
* **result**: the best state met (strictly lower criterion replaces it).

Where ZigZag stops with an exception, SALSA here goes on (spelled out in ``docs/zigzag-differences.md``):
an order that does not fit the memories is a state of infinite cost (a move to it is rejected; from it any
move is accepted), and a layer without temporal loops is costed with LOMA's single dummy order.

The random stream is a numpy ``Generator`` seeded from the user's seed and the layer's shape and spatial
mapping, so the result of a layer depends on nothing else (not on ``--jobs``, not on the other layers).
Costs are memoised per order: the chain often proposes an order it has seen (``i == j``, swaps of equal
factors), and the same order always has the same cost.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from ..cost.model import CostResult, LayerContext, evaluate_temporal
from ..factors import prime_factors
from ..mapping import TemporalMapping
from ..status import Status
from .allocator import AllocationError, allocate
from .base import EngineOptions, EngineResult, objective_value

#: the per-iteration cooling factor of ZigZag's schedule T_k = T_0 * COOLING**k
COOLING = 0.995
CRITERIA = ("energy", "latency")

Order = tuple[tuple[str, int], ...]


def salsa_factors(temporal_sizes: dict[str, int]) -> list[tuple[str, int]]:
    """Every prime factor of every temporal loop, per dim in the given order, primes ascending (SALSA's
    loop prime factors: never merged)."""
    return [(d, p) for d, s in temporal_sizes.items() if s > 1 for p in prime_factors(s)]


def chain_seed(seed: int, ctx: LayerContext) -> np.random.SeedSequence:
    """The seed of one chain: the user's seed and what the chain searches (layer shape, spatial mapping,
    operand links), hashed with SHA-256 so it is the same in every process and on every run."""
    what = repr((ctx.layer.shape_key(), ctx.spatial.unrollings, sorted(ctx.links.items())))
    digest = hashlib.sha256(what.encode()).digest()
    words = [int.from_bytes(digest[k : k + 4], "little") for k in range(0, 32, 4)]
    return np.random.SeedSequence([seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF, *words])


def criterion_value(criterion: str, cost: CostResult) -> float:
    """What SALSA minimises: the energy, or the latency without on/off-loading (ZigZag's ``latency_total0``)."""
    if criterion == "energy":
        return cost.energy
    if criterion == "latency":
        return cost.latency_total0
    raise ValueError(f"unknown SALSA criterion {criterion!r}")


def accept(current: float, proposed: float, temperature: float, x: float) -> bool:
    """ZigZag's acceptance rule ``x < exp((current / proposed - 1) / T)``, with infeasible states at +inf.

    An improvement or a tie is always accepted (the probability is at least 1 > x), which also avoids
    overflowing the exponential; a move to an infeasible state is rejected; any move away from an
    infeasible state is accepted.
    """
    if math.isinf(proposed):
        return math.isinf(current)
    if proposed <= current:
        return True
    return x < math.exp((current / proposed - 1.0) / temperature)


def salsa_search(
    ctx: LayerContext,
    iterations: int = 1000,
    start_temperature: float = 0.05,
    criterion: str = "energy",
    seed: int = 0,
) -> tuple[TemporalMapping | None, CostResult | None, dict]:
    """One annealing chain on one spatial mapping: the best temporal mapping met, its cost and statistics."""
    if criterion not in CRITERIA:
        raise ValueError(f"unknown SALSA criterion {criterion!r}")
    rng = np.random.default_rng(chain_seed(seed, ctx))
    factors = salsa_factors(ctx.temporal_sizes)
    if not factors:
        factors = [(ctx.layer.loop_dims[0], 1)]  # LOMA's dummy loop when nothing is temporal
    memo: dict[Order, tuple[float, TemporalMapping | None]] = {}

    def state(order: Order) -> float:
        if order not in memo:
            try:
                tm = allocate(ctx, order)
            except AllocationError:
                memo[order] = (math.inf, None)
            else:
                memo[order] = (criterion_value(criterion, evaluate_temporal(ctx, tm, detail=False)), tm)
        return memo[order][0]

    current = tuple(factors[k] for k in rng.permutation(len(factors)))
    cur_value = state(current)
    best, best_value = current, cur_value
    n = len(factors)
    accepted = 0
    runs = iterations if n > 1 else 0  # a single loop has a single order
    for k in range(runs):
        temperature = start_temperature * COOLING**k
        i = int(rng.integers(0, n))
        j = int(rng.integers(0, n))
        proposal = list(current)
        proposal[i], proposal[j] = proposal[j], proposal[i]
        proposed = tuple(proposal)
        value = state(proposed)
        x = float(rng.random())
        if accept(cur_value, value, temperature, x):
            current, cur_value = proposed, value
            accepted += 1
            if cur_value < best_value:
                best, best_value = current, cur_value
    stats = {
        "iterations": runs,
        "accepted_moves": accepted,
        "distinct_orders": len(memo),
        "infeasible_orders": sum(1 for v, _ in memo.values() if math.isinf(v)),
        "loop_prime_factors": n,
    }
    tm = memo[best][1]
    if tm is None:
        return None, None, stats
    return tm, evaluate_temporal(ctx, tm), stats


def salsa(ctx: LayerContext, options: EngineOptions) -> EngineResult:
    """SALSA as an engine: the chain's best mapping, status ``heuristic`` (no bound)."""
    tm, cost, stats = salsa_search(
        ctx, options.salsa_iterations, options.salsa_start_temperature, options.salsa_criterion, options.seed
    )
    if cost is None:
        # the chain saw a sample of the orders: that none of them fits proves nothing about the others
        return EngineResult(
            Status.UNKNOWN, message=f"none of the {stats['distinct_orders']} loop orders met fits the memories", stats=stats
        )
    return EngineResult(Status.HEURISTIC, tm, cost, objective_value(options.objective, cost), None, stats=stats)
