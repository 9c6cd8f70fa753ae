"""User temporal orderings (the ``temporal_ordering`` of a mapping-file entry), read as ZigZag 3.9.1 reads them.

An ordering lists loops innermost first, each ``[DIM, size]`` or ``[DIM, '*']`` (any size). Facts of ZigZag 3.9.1
that this module reproduces:

* entries whose dim the layer does not have are dropped per layer, before anything else; ``['*', '*']`` entries
  are dropped with them (so the "outer loop" marker of ZigZag's parser never takes effect);
* an ordering is **complete** for a spatial mapping when every entry has a size and, per dim, the sizes multiply
  to the temporal loop size left by that spatial mapping (dims whose product is 1 ignored). A complete ordering
  is the loop nest as given: it is split into memory levels by LOMA's allocator and costed, never searched;
* otherwise entry ``k`` constrains position ``k`` (innermost = 0) of LOMA's loop prime factors: the factor there
  must be of that dim, and of that size when one is given (a sized entry also becomes one loop prime factor of its
  own, see :func:`cpmap.engines.loma.loop_prime_factors`).

LOMA's rule is about its (merged) loop prime factors. Engines that order unmerged prime factors (the exhaustive
engine) use the same rule on *blocks*: an order satisfies the ordering when its prefix splits into consecutive
non-empty blocks, block ``k`` made of loops of entry ``k``'s dim multiplying to its size (any product for
``'*'``). Every order LOMA may take satisfies this rule once its factors are expanded into primes, so the block
space contains LOMA's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from .workload import Layer

Loop = tuple[str, int]
#: one entry: (dim, size) or (dim, None) for '*'
Entry = tuple[str, "int | None"]
#: a state of the block automaton: (index of the entry being filled, product of its block so far or None if empty)
_State = tuple[int, "int | None"]


@dataclass(frozen=True)
class TemporalOrdering:
    """The ordering of one mapping entry as it applies to one layer (entries of dims the layer lacks dropped)."""

    entries: tuple[Entry, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __str__(self) -> str:
        return "[" + ", ".join(f"[{d}, {'*' if s is None else s}]" for d, s in self.entries) + "]"

    @property
    def sized(self) -> tuple[Loop, ...]:
        """The entries with a size, in position order."""
        return tuple((d, s) for d, s in self.entries if s is not None)

    def complete_order(self, temporal_sizes: dict[str, int]) -> tuple[Loop, ...] | None:
        """The loop nest (innermost first, loops of size 1 left out) when the ordering is complete for these
        temporal loop sizes, else ``None``. An empty ordering is never complete here (LOMA searches)."""
        if not self.entries or any(s is None for _, s in self.entries):
            return None
        products: dict[str, int] = {}
        for d, s in self.entries:
            products[d] = products.get(d, 1) * s
        if {d: p for d, p in products.items() if p != 1} != dict(temporal_sizes):
            return None
        return tuple((d, s) for d, s in self.entries if s > 1)

    def positions_ok(self, order: tuple[Loop, ...]) -> bool:
        """LOMA's rule: loop ``k`` of ``order`` has entry ``k``'s dim (and size, when given)."""
        if len(order) < len(self.entries):
            return False
        return all(order[k][0] == d and (s is None or order[k][1] == s) for k, (d, s) in enumerate(self.entries))

    # -- the block rule (unmerged factors) -------------------------------------------------------------------

    def _start(self) -> frozenset[_State]:
        return frozenset({(0, None)})

    def _consume(self, state: _State, loop: Loop) -> set[_State]:
        i, prod = state
        n = len(self.entries)
        if i == n:
            return {(n, None)}
        dim, size = self.entries[i]
        out: set[_State] = set()
        d, p = loop
        if d == dim:
            q = p if prod is None else prod * p
            if size is None or size % q == 0:
                out.add((i, q))
        if self._closes(state):
            out |= self._consume((i + 1, None), loop)
        return out

    def _closes(self, state: _State) -> bool:
        """The block being filled is non-empty and complete, so the next loop may start the next block."""
        i, prod = state
        if i == len(self.entries):
            return True
        size = self.entries[i][1]
        return prod is not None and (size is None or prod == size)

    def _step(self, states: frozenset[_State], loop: Loop) -> frozenset[_State]:
        out: set[_State] = set()
        for st in states:
            out |= self._consume(st, loop)
        return frozenset(out)

    def _accepts_states(self, states: frozenset[_State]) -> bool:
        n = len(self.entries)
        return any(i == n or (i == n - 1 and self._closes((i, prod))) for i, prod in states)

    def accepts(self, order: Iterable[Loop]) -> bool:
        """The block rule (see the module docstring); any order is accepted by an empty ordering."""
        if not self.entries:
            return True
        states = self._start()
        for loop in order:
            states = self._step(states, loop)
            if not states:
                return False
        return self._accepts_states(states)


def block_ends(ordering: TemporalOrdering, order: tuple[Loop, ...]) -> list[int] | None:
    """Positions (number of loops of ``order`` below) where the blocks of the block rule end, one per entry, or
    ``None`` when ``order`` breaks the rule; with several splits (consecutive '*' entries of one dim), the one
    that gives the earlier blocks the fewest loops."""
    entries = ordering.entries

    def rec(k: int, pos: int) -> list[int] | None:
        if k == len(entries):
            return []
        dim, size = entries[k]
        prod = 1
        end = pos
        while end < len(order) and order[end][0] == dim:
            prod *= order[end][1]
            end += 1
            if size is not None and size % prod:
                return None
            if size is None or prod == size:
                rest = rec(k + 1, end)
                if rest is not None:
                    return [end, *rest]
                if size is not None:
                    return None
        return None

    return rec(0, 0)


def ordering_for_layer(raw: Iterable[tuple[str, int | str]], layer: Layer) -> TemporalOrdering:
    """A mapping entry's ``temporal_ordering`` (``'*'`` = any size) as it applies to ``layer``: dim names
    upper-cased, entries whose dim the layer does not have dropped (ZigZag 3.9.1 does both)."""
    entries = []
    for d, s in raw:
        dim = str(d).upper()
        if dim in layer.loop_sizes:
            entries.append((dim, None if s == "*" else int(s)))
    return TemporalOrdering(tuple(entries))


def constrained_orders(factors: list[Loop], ordering: TemporalOrdering) -> Iterator[tuple[Loop, ...]]:
    """Every distinct order of the multiset ``factors`` that the block rule accepts, each once, in the order of
    :func:`cpmap.engines.loma.multiset_permutations` (lexicographic in the first appearance of each factor)."""
    kinds = sorted(set(factors), key=factors.index)
    left = [factors.count(k) for k in kinds]
    total = len(factors)
    prefix: list[Loop] = []

    def rec(states: frozenset[_State]) -> Iterator[tuple[Loop, ...]]:
        if len(prefix) == total:
            if ordering._accepts_states(states):
                yield tuple(prefix)
            return
        for j, kind in enumerate(kinds):
            if not left[j]:
                continue
            nxt = ordering._step(states, kind)
            if not nxt:
                continue
            left[j] -= 1
            prefix.append(kind)
            yield from rec(nxt)
            prefix.pop()
            left[j] += 1

    if not ordering:
        raise ValueError("constrained_orders needs a non-empty ordering (use multiset_permutations)")
    yield from rec(ordering._start())


def count_constrained_orders(factors: list[Loop], ordering: TemporalOrdering) -> int:
    """How many orders :func:`constrained_orders` yields, counted without enumerating them."""
    kinds = sorted(set(factors), key=factors.index)
    memo: dict[tuple, int] = {}

    def rec(left: tuple[int, ...], states: frozenset[_State]) -> int:
        if not any(left):
            return int(ordering._accepts_states(states))
        key = (left, states)
        if key in memo:
            return memo[key]
        n = 0
        for j, kind in enumerate(kinds):
            if left[j]:
                nxt = ordering._step(states, kind)
                if nxt:
                    n += rec(left[:j] + (left[j] - 1,) + left[j + 1 :], nxt)
        memo[key] = n
        return n

    return rec(tuple(factors.count(k) for k in kinds), ordering._start())
