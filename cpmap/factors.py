"""Integer factorisation helpers shared by the engines and the formulation layer."""

from __future__ import annotations

import math


def prime_factors(n: int) -> list[int]:
    """Prime factors of ``n`` in ascending order, with multiplicity."""
    out, d = [], 2
    while d * d <= n:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
    if n > 1:
        out.append(n)
    return out


def divisors(n: int) -> list[int]:
    """All divisors of ``n``, ascending."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))
