"""The national forecast against its one-minute target: `python benchmarks/national.py`.

The speed target for the country: a national forecast, over 1,000,000 firms, 2019-2025,
100 replications, in under a minute on 2 cores. This script measures it and what bounds it,
in one run:

- national_forecast_seconds: wall-clock seconds of
  `srdi forecast scenarios/national.yaml --runs 100 --no-counterfactual --json`, the command a
  planner runs, as a subprocess (with --quick: the time of 10 replications plus 90 times the
  time per replication, from the difference between 10 and 2 replications);
- firm_years_per_replication: alive firms times years, the mean over a few replications run
  in this process (the scenario draws its candidate pool, 1.5-3 million, in each replication);
- cpu_ns_per_firm_year: CPU time of those replications (set-up and `step()`) per firm-year;
- budget_ns_per_firm_year: what a firm-year may cost, all in, for 100 replications to fit in
  60 s on 2 cores (120 CPU seconds, even with perfect parallel efficiency);
- compiled_draw_ns_per_firm_year: the engine's own compiled draw functions (sim/engine/streams.py,
  sim/engine/kernels.py) drawing only the random variates a firm-year consumes (the engine counts
  them: about 2 uniforms, 4 normals and 2 Poisson counts at the firms' own IP rates), nothing
  else: what drawing the model's variates costs in the engine's scalar compiled code (each
  kind timed into an array, as `benchmarks/run.py` times it for its floor).

It writes benchmarks/national.md with the figures, the machine and the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from run import KINDS, alive_entering, cpu_name, floor_per_firm_year  # noqa: E402

from sim.engine.model import GrowthModel  # noqa: E402
from sim.scenario import load  # noqa: E402

SCENARIO = ROOT / "scenarios" / "national.yaml"
RESULTS = HERE / "national.md"
TARGET_SECONDS = 60.0
TARGET_RUNS = 100
CORES = 2

clock = time.process_time

# the phases of `GrowthModel.step()`, in order
PHASES = (
    "entry",
    "select",
    "finance",
    "grow_and_invest",
    "invest",
    "recognise",
    "re_review",
    "pay_awards",
    "exit",
    "collect",
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def replication_costs(runs: int) -> dict[bool, dict[str, float]]:
    """CPU seconds (set-up, step) and firm-years of `runs` national replications, in process,
    with lazy candidates (as `srdi forecast` runs them: key True) and with the pass over every
    firm (False). Each seed runs both ways in turn, so that a change in the machine's speed
    during the run falls on both alike.

    Seeds are those of `srdi forecast --seed 0`: child r of `SeedSequence(0).spawn(...)`.
    """
    scenario = load(SCENARIO)
    for lazy in (True, False):  # warm-up, not timed
        GrowthModel(scenario, seed=np.random.SeedSequence(1), lazy=lazy).run_model()
    seeds = np.random.SeedSequence(0).spawn(runs)
    cost = {
        lazy: {"setup": 0.0, "step": 0.0, "firm_years": 0, "phases": dict.fromkeys(PHASES, 0.0)}
        for lazy in (True, False)
    }
    last: dict[bool, tuple[GrowthModel, int]] = {}
    for seed in seeds:
        for lazy in (True, False):
            c = cost[lazy]
            gc.collect()
            t0 = clock()
            model = GrowthModel(scenario, seed=seed, lazy=lazy)
            c["setup"] += clock() - t0
            before = c["firm_years"]
            _time_phases(model, c["phases"])
            while model.year < model.period.end:
                alive = int(np.count_nonzero(model.firms.alive))
                t0 = clock()
                model.step()
                c["step"] += clock() - t0
                c["firm_years"] += alive + alive_entering(model)
            last[lazy] = (model, c["firm_years"] - before)
            del model
    out = {}
    for lazy, c in cost.items():
        model, years = last[lazy]
        rate = model.ip_rate
        ip_rates = np.concatenate(
            [model.p["ip.class1_rate"] * rate, model.p["ip.class2_rate"] * rate]
        )
        out[lazy] = {
            "setup": c["setup"] / runs,
            "step": c["step"] / runs,
            "firm_years": c["firm_years"] / runs,
            "per_firm_year": {k: v / years for k, v in model.random_numbers.items()},
            "ip_rates": ip_rates.astype(np.float64),
            "phases": {name: t / runs for name, t in c["phases"].items()},
        }
    return out


def _time_phases(model: GrowthModel, seconds: dict[str, float]) -> None:
    """Add the CPU time of each phase of `model.step()` to `seconds`, by phase name."""

    def timed(name, method):
        def run(*args, **kwargs):
            t0 = clock()
            out = method(*args, **kwargs)
            seconds[name] += clock() - t0
            return out

        return run

    for name in PHASES:
        setattr(model, name, timed(name, getattr(model, name)))


def compiled_draw_floor(per_firm_year: dict[str, float], ip_rates: np.ndarray) -> float:
    """Seconds per firm-year for the engine's compiled functions to draw its variates: the
    engine's way of `run.floor_per_firm_year` (each kind drawn into an array), times how many
    of each kind a firm-year consumes."""
    engine = floor_per_firm_year(per_firm_year, ip_rates)["ways"]["engine"]
    return sum(per_firm_year[kind] * engine[kind] for kind in KINDS)


def forecast_seconds(runs: int) -> float:
    """Wall-clock seconds of the planner's command, in a subprocess on every core."""
    cmd = [
        sys.executable,
        "-c",
        "from sim.cli import run; run()",
        "forecast",
        str(SCENARIO),
        "--runs",
        str(runs),
        "--no-counterfactual",
        "--json",
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 and 2 replications, projected to 100")
    ap.add_argument("--no-write", action="store_true", help="do not write benchmarks/national.md")
    args = ap.parse_args(argv)
    runs = 10 if args.quick else TARGET_RUNS
    load_before = os.getloadavg()
    started = time.perf_counter()

    log(f"srdi forecast {SCENARIO.relative_to(ROOT)} --runs {runs} --no-counterfactual")
    wall = forecast_seconds(runs)
    if runs != TARGET_RUNS:  # the start-up once, plus the replications' rate times 100
        log(f"srdi forecast {SCENARIO.relative_to(ROOT)} --runs 2 --no-counterfactual")
        per_run = (wall - forecast_seconds(2)) / (runs - 2)
        wall += (TARGET_RUNS - runs) * per_run
    log("cost per replication, in this process: each seed lazy, then with the full pass")
    both = replication_costs(2 if args.quick else 4)
    cost, full = both[True], both[False]
    cpu_per_fy = (cost["setup"] + cost["step"]) / cost["firm_years"]
    full_per_fy = (full["setup"] + full["step"]) / full["firm_years"]
    budget = CORES * TARGET_SECONDS / (TARGET_RUNS * cost["firm_years"])
    log("compiled draw floor")
    floor = compiled_draw_floor(full["per_firm_year"], full["ip_rates"])

    figures = {
        "national_forecast_seconds": wall,
        "firm_years_per_replication": cost["firm_years"],
        "cpu_ns_per_firm_year": cpu_per_fy * 1e9,
        "cpu_ns_per_firm_year_full_pass": full_per_fy * 1e9,
        "budget_ns_per_firm_year": budget * 1e9,
        "compiled_draw_ns_per_firm_year": floor * 1e9,
    }
    for name, value in figures.items():
        print(f"{name}: {value:.4g}" if abs(value) < 1e4 else f"{name}: {value:.0f}", flush=True)
    elapsed = time.perf_counter() - started
    if not args.no_write:
        write_results(
            args.quick, runs, figures, cost, full, (load_before, os.getloadavg()), elapsed
        )
    return 0


def write_results(quick, runs, figures, cost, full, load, elapsed) -> None:
    f = figures
    per = full["per_firm_year"]
    lazy_per = cost["per_firm_year"]
    met = "met" if f["national_forecast_seconds"] < TARGET_SECONDS else "MISSED"
    scaled = (
        f" (projected from {runs} and 2 replications: the time of {runs} plus"
        f" {TARGET_RUNS - runs} times the difference per replication)"
        if runs != TARGET_RUNS
        else ""
    )
    command = "python benchmarks/national.py" + (" --quick" if quick else "")
    rows = [
        ("national_forecast_seconds", f"{f['national_forecast_seconds']:.0f}",
         f"target < {TARGET_SECONDS:.0f}: {met}{scaled}"),
        ("firm_years_per_replication", f"{f['firm_years_per_replication']:,.0f}",
         "mean of the replications timed in this process"),
        ("cpu_ns_per_firm_year", f"{f['cpu_ns_per_firm_year']:.0f}",
         f"as the forecast runs: lazy candidates; set-up {cost['setup']:.2f} s and `step()`"
         f" {cost['step']:.2f} s per replication; {lazy_per['normal']:.2f} normals and"
         f" {lazy_per['poisson']:.2f} Poisson counts drawn per firm-year"),
        ("cpu_ns_per_firm_year_full_pass", f"{f['cpu_ns_per_firm_year_full_pass']:.0f}",
         f"every firm every year (`lazy=False`): set-up {full['setup']:.2f} s and `step()`"
         f" {full['step']:.2f} s per replication"),
        ("budget_ns_per_firm_year", f"{f['budget_ns_per_firm_year']:.0f}",
         f"{CORES} cores x {TARGET_SECONDS:.0f} s over {TARGET_RUNS} replications"),
        ("compiled_draw_ns_per_firm_year", f"{f['compiled_draw_ns_per_firm_year']:.0f}",
         f"{per['uniform']:.2f} uniforms, {per['normal']:.2f} normals and {per['poisson']:.2f}"
         " Poisson counts per firm-year, each kind drawn into an array"),
    ]  # fmt: skip
    table = "\n".join(f"| `{name}` | {value} | {how} |" for name, value, how in rows)
    fy = cost["firm_years"]
    parts = {"set-up (`GrowthModel(...)`)": cost["setup"], **cost["phases"]}
    # what `step()` does outside the phases listed in PHASES (a phase added to it shows here)
    parts["rest of `step()`"] = cost["step"] - sum(cost["phases"].values())
    phase_rows = "\n".join(
        f"| {name} | {t:.3f} | {t / fy * 1e9:.1f} |" for name, t in parts.items()
    )
    text = f"""# The national forecast

`{command}`, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; whole run {elapsed:.0f} s.

- CPU: {cpu_name()}; cores: {os.cpu_count()}
- Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}
- Load average before the run: {", ".join(f"{x:.2f}" for x in load[0])}; after:
  {", ".join(f"{x:.2f}" for x in load[1])}.

| figure | value | how |
|---|---|---|
{table}

CPU time per replication with lazy candidates, by part (the mean of the replications timed
in this process; a candidate's set-up and growth are computed in `recognise`, when it
applies):

| part | seconds | ns per firm-year |
|---|---|---|
{phase_rows}

The forecast is `srdi forecast scenarios/national.yaml --runs {runs} --no-counterfactual
--json`, wall-clock, on every core. Its replications bring a candidate's state up to date
only when it applies (`GrowthModel(lazy=True)`, identical results):
`cpu_ns_per_firm_year_full_pass` is the same replications computing every firm every year.
`compiled_draw_ns_per_firm_year` is the engine's own compiled (scalar) functions drawing a
firm-year's random variates (as the full pass draws them) and doing nothing else. While
`budget_ns_per_firm_year` is below it, drawing what the model specifies for every firm
every year already costs more than the target allows: meeting the target then needs fewer
firm-years computed (the lazy candidates skip some; about 40 % of the candidates apply each
year, and each of those must be computed) or the draws and their exponentials in SIMD (numba
cannot vectorise `exp` and `log` here: its llvmlite has no SVML).
"""
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
