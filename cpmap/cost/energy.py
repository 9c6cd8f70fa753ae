"""Energy of the transfers (spec cost_model.md section 5): word accesses per direction and their cost."""

from __future__ import annotations

import math

from .context import OperandContext
from .movement import Transfer


def word_count(amount: int, precision: int, bw_min: int, bw_max: int, periods: int, instances: int) -> int:
    """Word accesses of one direction (spec 5.2): chunks of ``bw_min`` bits per period and instance, each
    costing ``bw_min/bw_max`` of a word, truncated once over the product (ZigZag's float order)."""
    return int(math.ceil((amount * precision) / bw_min) * (bw_min / bw_max) * periods * instances)


def transfer_words(o: OperandContext, level: int, direction: int, transfer: Transfer) -> int | None:
    """Word accesses of one direction of one level of ``o`` (every instance of the level); 0 for an absent
    direction, ``None`` when the direction moves data but no port carries it (bad hardware input)."""
    _, n, amount, prec = transfer
    if amount == 0 or prec == 0:
        return 0
    bw = o.ports[level][direction]
    if bw is None:
        return None
    return word_count(amount, prec, bw[0], bw[1], n, o.spatial_frac.instances[level + 1])
