"""Policy levers: what each changes in the yearly cycle, and what it costs. One module per lever.

Each lever is built from its scenario section and the replication's drawn values, and follows
the `Lever` protocol: the model calls every phase method of every lever, in the order of the
yearly cycle, and a lever acts in the phases it overrides. A lever changes firms only through
their columns, which the compiled kernels read without knowing any lever:

* `apply_odds`: odds multiplier of applying for a title this year (the model resets it to 1
  in the select phase; the cultivation pool and the stewards multiply it);
* `growth_boost`, `rd_log_boost`, `debt_added`: log revenue growth, log R&D intensity and
  debt ratio added this year (reset to 0 in the finance phase; a policy loan fills them);
* cash: claimed from the city (`City.claim`) and settled in the awards phase under the award
  rules and budget; a firm spends `rd_share_of_cash` of it on R&D next year (`rd_boost`).

Other spending (stewards, pool services, guarantee-fee subsidies, firms brought in) is booked
with `City.spend`. One exception remains: the award's effect on applying depends on the level
a firm applies for, so `kernels.applicants` takes the awards' amounts per level (`Awards.amount`).

Effect sizes are model parameters (sim/data/parameters.yaml), each with a range and a source
or the label "assumption".
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from sim.levers.awards import Awards
from sim.levers.base import Lever
from sim.levers.bring_in import BringIn, binomial_from_uniform
from sim.levers.cultivation_pool import CultivationPool
from sim.levers.loans import Loans
from sim.levers.matching_subsidy import MatchingSubsidy
from sim.levers.rd_support import RDSupport
from sim.levers.stewards import Stewards

# The registry: each lever's class (its rules, its cost, its words and its scenario section
# `Section`), by name. Its order is the order of building, of the scenario's `levers:`
# sections, of the cost columns and of the cash claims' ties: a new lever is appended.
LEVER_CLASSES: dict[str, type[Lever]] = {
    lever.name: lever
    for lever in (
        Awards, MatchingSubsidy, Loans, RDSupport, BringIn, CultivationPool, Stewards,
    )
}  # fmt: skip
LEVER_NAMES = tuple(LEVER_CLASSES)


def cash_to_rd_shares(p: dict[str, float]) -> np.ndarray:
    """Per lever, in `LEVER_NAMES` order, the share of its cash a firm spends on R&D."""
    return np.array([p[LEVER_CLASSES[name].CASH_TO_RD] for name in LEVER_NAMES])


def build_levers(
    levers_spec, p: dict[str, float], ladder, off: Collection[str] = ()
) -> list[Lever]:
    """The lever objects a scenario switches on, in a fixed order, less those named in `off`."""
    out = []
    for name in LEVER_NAMES:
        spec = getattr(levers_spec, name)
        if spec is not None and name not in off:
            out.append(LEVER_CLASSES[name](spec, p, ladder))
    return out


__all__ = [
    "LEVER_CLASSES", "LEVER_NAMES", "Lever", "Awards", "MatchingSubsidy", "Loans", "RDSupport",
    "BringIn", "CultivationPool", "Stewards", "binomial_from_uniform", "build_levers",
    "cash_to_rd_shares",
]  # fmt: skip
