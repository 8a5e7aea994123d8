"""The mutants of the model's rules that tests/README.md scores, from `mutmut results`.

Reads `mutmut results --all true` on stdin. Without arguments, prints the sample to run: every
third mutant (by function and number) of the functions in scope. With `--score`, prints how
many of that sample were killed and lists the others.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

# the rules: ladder criteria, every lever, recognition and re-review, target scoring
SCOPE = (
    "sim.engine.ladder.xǁCriterionǁevaluate",
    "sim.engine.ladder.xǁCriterionǁ_band_minimum",
    "sim.engine.ladder.xǁCriterionǁscore",
    "sim.engine.ladder.xǁCriterionǁ_direct_pass",
    "sim.engine.ladder.xǁCriterionǁattributes",
    "sim.engine.ladder.xǁLadderǁmeets",
    "sim.engine.ladder.x__indicator_points",
    "sim.engine.ladder.x__ascending_table",
    "sim.engine.ladder.x__integral",
    "sim.engine.ladder.x__table",
    "sim.engine.model.xǁGrowthModelǁrecognise",
    "sim.engine.model.xǁGrowthModelǁre_review",
    "sim.engine.model.xǁGrowthModelǁgranted",
    "sim.engine.model.xǁGrowthModelǁstep_below",
    "sim.engine.agents.xǁEvaluatorǁ__init__",
    "sim.engine.agents.xǁEvaluatorǁapprove",
    "sim.runs.ensemble.xǁEnsembleResultǁoutcome",
    "sim.runs.ensemble.xǁEnsembleResultǁtargets",
)
EVERY = 3


def _function(name: str) -> str:
    return re.sub(r"__mutmut_\d+$", "", name)


def in_scope(name: str) -> bool:
    return name.startswith("sim.levers.") or _function(name) in SCOPE


def sample(results: dict[str, str]) -> list[str]:
    """Every EVERY-th in-scope mutant, ordered by function then mutant number."""
    names = sorted(
        (n for n in results if in_scope(n)),
        key=lambda n: (_function(n), int(n.rsplit("_", 1)[1])),
    )
    return names[::EVERY]


def read(lines) -> dict[str, str]:
    """Mutant name -> status ('killed', 'survived', 'no tests', 'not checked', ...)."""
    out = {}
    for line in lines:
        name, sep, status = line.strip().partition(":")
        if sep and "__mutmut_" in name:
            out[name.strip()] = status.strip()
    return out


def main(argv: list[str]) -> None:
    results = read(sys.stdin)
    chosen = sample(results)
    if "--score" not in argv:
        print("\n".join(chosen))
        return
    status = Counter(results[n] for n in chosen)
    print(f"killed {status['killed']} of {len(chosen)}: {dict(status)}")
    for n in chosen:
        if results[n] != "killed":
            print(f"  {results[n]}: {n}")


if __name__ == "__main__":
    main(sys.argv[1:])
