"""Speed and scale of the engine, measured in one run: `python benchmarks/run.py [--quick]`.

Prints one line per figure, `name: value`, and writes benchmarks/results.md with the figures,
the machine and the date. Progress goes to stderr.

The population is benchmarks/national_like.yaml (every lever on) rescaled to a number of
firms at the base year, with every drawn quantity fixed at the centre of its range. A
firm-year (firm step) is one alive firm going through one year of the cycle; the engine's
rows for candidates not yet born or already closed are not counted, though the engine
processes them.

Figures:
- firm_steps_per_second: engine firm-years per second of `step()` over the whole period
  (the fastest of a few runs, as the floor is the fastest of a few draws).
- speedup_vs_plain_mesa: plain-Mesa seconds per firm-year over the engine's, both on the same
  population and the same first year(s) (the plain model is too slow to run every year); the
  two are run in turn and each keeps its fastest run.
- ratio_to_floor: engine step time over the floor: the time it takes to draw the random
  variates a firm-year consumes and to copy every firm column once (read and write), times
  the firm-years. The engine counts what it draws (`GrowthModel.random_numbers`): uniforms
  (decisions), standard normals (shocks) and Poisson counts (IP arrivals, at the firms' own
  rates). Each kind is drawn into a preallocated array two ways, and the faster counts:
  numpy's bulk `Generator` (uniforms and normals as float32, Poisson counts at the rates of
  the engine's last year) and the engine's own compiled draws (`uniform_at`, the table-driven
  `normal_from_uniform`, `poisson_search` with the exact inverse for what it leaves), one
  counter in, one value out. Measured on this machine in this run.
- scaling_exponent: least-squares slope of log(time of one replication, set-up included)
  against log(firms at the base year).
- bytes_per_firm: peak traced memory (tracemalloc: numpy buffers included) of one
  `sim.runs.ensemble.run_replication` divided by the firms the replication holds (base-year
  firms, candidates born during the period, firms brought in).
- parallel_efficiency: replications per second of `sim.runs.ensemble.run_ensemble` with 2 worker
  processes over twice the rate with 1.
- dask_parallel_efficiency: the same on Dask (`--scheduler`): replications per second of the
  national forecast (scenarios/national.yaml, no counterfactual; --quick: the parallel figure's
  population) sent to a `distributed.LocalCluster` of 2 single-threaded workers, over twice the
  rate on one of 1. Both clusters are started, and the package loaded in their workers, before
  the timing: this is how the distributed runs scale; what starting a cluster adds to one
  command is in the README (`--scheduler local`).
- hebi_1000_runs_seconds: wall-clock seconds of `srdi forecast scenarios/hebi.yaml --runs 1000
  --json` (the counterfactual included, all cores), as a planner runs it: start-up included.
- hebi_1_run_seconds: the same command with `--runs 1` (fastest of 3): what the command costs
  before its replications count (the interpreter, the libraries, the scenario's files, the
  compiled kernels loaded, one replication and its counterfactual, the output).
- mesa_import_seconds: wall-clock seconds of `python -c "import mesa"` (fastest of 3). The
  engine is a Mesa model, so every command that runs it pays this first; Mesa imports
  pandas and scipy with it.
- national_forecast_seconds: the same for `srdi forecast scenarios/national.yaml --runs 100
  --json` (the country at its `simulation.scale`, 1/20); full run only.

Single-process times are the CPU time of this process (`time.process_time`): on an idle
machine the same as wall-clock time, and on a shared one the engine's own cost rather than
the other programs'. The parallel and forecast figures are wall-clock time, as they must be;
results.md records the load average so a busy machine shows. `--record` writes results.md;
without it the tracked file is left as it is.
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
import tracemalloc
from pathlib import Path

import numba
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from plain_mesa import PlainModel  # noqa: E402

from sim.engine.firms import COLUMNS  # noqa: E402
from sim.engine.kernels import poisson_exact, poisson_search  # noqa: E402
from sim.engine.model import GrowthModel  # noqa: E402
from sim.engine.streams import normal_from_uniform, uniform_at, uniforms  # noqa: E402
from sim.runs.ensemble import run_ensemble, run_replication  # noqa: E402
from sim.scenario import Scenario, load  # noqa: E402
from sim.scenario.parameters import central  # noqa: E402

SCENARIO = HERE / "national_like.yaml"
NATIONAL = HERE.parent / "scenarios" / "national.yaml"
RESULTS = HERE / "results.md"

TARGETS = {  # figure: (comparison, target)
    "firm_steps_per_second": (None, None),
    "speedup_vs_plain_mesa": (">=", 300.0),
    "ratio_to_floor": ("<=", 3.0),
    "scaling_exponent": ("<=", 1.1),
    "bytes_per_firm": ("<=", 200.0),
    "parallel_efficiency": (">=", 0.8),
    "dask_parallel_efficiency": (">=", 0.8),
    "hebi_1000_runs_seconds": ("<=", 2.0),
    "hebi_1_run_seconds": (None, None),
    "mesa_import_seconds": (None, None),
    "national_forecast_seconds": ("<=", 60.0),
}
SRDI = Path(sys.executable).parent / "srdi"  # the console script of this environment
FORECASTS = {  # figure: the command a planner runs (arguments after `srdi`)
    "hebi_1000_runs_seconds": ["forecast", "scenarios/hebi.yaml", "--runs", "1000", "--json"],
    "hebi_1_run_seconds": ["forecast", "scenarios/hebi.yaml", "--runs", "1", "--json"],
    "national_forecast_seconds": ["forecast", "scenarios/national.yaml", "--runs", "100", "--json"],
}
FASTEST_OF = {"hebi_1_run_seconds": 3}  # a fixed cost: the fastest of a few runs

# what --quick and the full run measure
SETTINGS = {
    "quick": {
        "firms": 200_000,  # population of the throughput, floor and memory figures
        "plain_years": 1,  # years of the plain model (on the same population)
        "plain_repeats": 2,  # the plain model's timing keeps the faster of these runs
        "engine_repeats": 3,  # engine timings keep the fastest of these runs
        "scaling": [10_000, 100_000, 1_000_000],
        "parallel_firms": 100_000,
        "parallel_runs": 8,
        "dask_national_runs": 0,  # 0: the parallel figure's population instead of the country
        "forecasts": ["hebi_1000_runs_seconds", "hebi_1_run_seconds"],
    },
    "full": {
        "firms": 1_000_000,
        "plain_years": 2,
        "plain_repeats": 2,
        "engine_repeats": 3,
        "scaling": [10_000, 31_623, 100_000, 316_228, 1_000_000],
        "parallel_firms": 200_000,
        "parallel_runs": 16,
        "dask_national_runs": 100,  # the national forecast's own count (0.4-0.5 s each at 1/20)
        "forecasts": ["hebi_1000_runs_seconds", "hebi_1_run_seconds", "national_forecast_seconds"],
    },
}


clock = time.process_time  # CPU seconds of this process (see the module docstring)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def population(scenario: Scenario, firms: int) -> dict[str, float]:
    """Central values with the population rescaled to `firms` at the base year.

    The counts, the inflow of candidates, the pool size, the firms brought in, the award
    budget and the batches of the rationed titles (`competition.quota_scale`; at most 1, the
    country's own batches) all scale with the population, so that every size has the same
    shape.
    """
    v = central(scenario.specs())
    base = v["baseline.candidates"] + max(
        v[f"baseline.counts.{t}"] for t in scenario.baseline.counts
    )
    f = firms / base
    for key in list(v):
        if key.startswith("baseline.") or key in (
            "levers.cultivation_pool.size",
            "levers.bring_in.firms_per_year",
            "levers.awards.budget_yuan_per_year",
        ):
            v[key] = float(round(v[key] * f))
    v["competition.quota_scale"] = min(f, 1.0)
    return v


def alive_entering(model: GrowthModel) -> int:
    """Firms alive during the year just stepped: alive at its start plus those who entered."""
    rec = model.history[-1]
    born = model.birth_blocks.get(model.year)
    return int((0 if born is None else born.size) + rec.brought_in.sum())


def time_engine(scenario: Scenario, firms: int, years: int | None = None, seed: int = 1):
    """Set-up and step seconds of one engine replication, and its firm-years."""
    values = population(scenario, firms)
    gc.collect()
    t0 = clock()
    model = GrowthModel(scenario, seed=seed, values=values)
    setup = clock() - t0
    step, firm_years, k = 0.0, 0, 0
    while model.year < model.period.end and (years is None or k < years):
        alive = int(np.count_nonzero(model.firms.alive))
        t0 = clock()
        model.step()
        step += clock() - t0
        firm_years += alive + alive_entering(model)
        k += 1
    rate = model.ip_rate
    ip_rates = np.concatenate([model.p["ip.class1_rate"] * rate, model.p["ip.class2_rate"] * rate])
    return {
        "setup": setup,
        "step": step,
        "firm_years": firm_years,
        "rows": model.firms.n,
        "per_firm_year": {k: v / firm_years for k, v in model.random_numbers.items()},
        "ip_rates": ip_rates,
    }


def time_plain(scenario: Scenario, firms: int, years: int, seed: int = 1):
    values = population(scenario, firms)
    gc.collect()
    t0 = clock()
    model = PlainModel(scenario, seed=seed, values=values)
    setup = clock() - t0
    t0 = clock()
    for _ in range(years):
        model.step()
    step = clock() - t0
    out = {"setup": setup, "step": step, "firm_years": model.firm_years}
    del model
    gc.collect()
    return out


@numba.njit(cache=True)
def _engine_uniforms(key, out):
    for i in range(out.size):
        out[i] = uniform_at(key, i)


@numba.njit(cache=True)
def _engine_normals(key, out):
    for i in range(out.size):
        out[i] = normal_from_uniform(uniform_at(key, i))


@numba.njit(cache=True)
def _engine_poisson_search(key, lam, out):
    for i in range(out.size):
        out[i] = poisson_search(lam[i], uniform_at(key, i))


def engine_draws(key: np.uint64, lam: np.ndarray, u: np.ndarray, z: np.ndarray, k: np.ndarray):
    """The engine's own draws of `u.size` uniforms, normals and Poisson counts (at rates `lam`)
    into `u`, `z` and `k`, as its kernels draw them; returns the seconds of each kind."""
    seconds = {}
    t0 = clock()
    _engine_uniforms(key, u)
    seconds["uniform"] = clock() - t0
    t0 = clock()
    _engine_normals(key, z)
    seconds["normal"] = clock() - t0
    t0 = clock()
    _engine_poisson_search(key, lam, k)
    left = np.flatnonzero(k < 0)  # the few the search leaves to the exact inverse
    if left.size:
        k[left] = poisson_exact(lam[left], uniforms(key, left))
    seconds["poisson"] = clock() - t0
    return seconds


def numpy_draws(rng: np.random.Generator, lam: np.ndarray, u: np.ndarray, z: np.ndarray):
    """numpy's bulk draws of the same variates; returns the seconds of each kind."""
    seconds = {}
    t0 = clock()
    rng.random(out=u, dtype=np.float32)
    seconds["uniform"] = clock() - t0
    t0 = clock()
    rng.standard_normal(out=z, dtype=np.float32)
    seconds["normal"] = clock() - t0
    t0 = clock()
    rng.poisson(lam)
    seconds["poisson"] = clock() - t0
    return seconds


KINDS = ("uniform", "normal", "poisson")


def floor_per_firm_year(
    per_firm_year: dict[str, float], ip_rates: np.ndarray, n: int = 1_000_000, repeats: int = 5
) -> dict:
    """Seconds per firm-year: draw its random variates, copy its state once.

    `per_firm_year` gives the uniforms, normals and Poisson counts one firm-year consumes in
    the engine; `ip_rates` the rates of the Poisson counts (cycled to `n` draws). Each kind
    costs the faster of numpy's bulk generators and the engine's compiled draws, the fastest
    of `repeats` runs of each.
    """
    rng = np.random.default_rng(0)
    u = np.empty(n, dtype=np.float32)
    z = np.empty(n, dtype=np.float32)
    k = np.empty(n, dtype=np.int64)
    lam = np.resize(ip_rates, n)
    engine_draws(np.uint64(1), lam[:1000], u[:1000], z[:1000], k[:1000])  # compiled, loaded
    src = [np.ones(n, dtype=dtype) for dtype, _ in COLUMNS.values()]
    dst = [np.empty_like(a) for a in src]
    times = {way: {kind: [] for kind in KINDS} for way in ("numpy", "engine")}
    stream = []
    for r in range(repeats):
        for way, seconds in (
            ("numpy", numpy_draws(rng, lam, u, z)),
            ("engine", engine_draws(np.uint64(r + 2), lam, u, z, k)),
        ):
            for kind in KINDS:
                times[way][kind].append(seconds[kind])
        t0 = clock()
        for a, b in zip(src, dst, strict=True):
            np.copyto(b, a)
        stream.append(clock() - t0)
    # seconds per variate (per firm), each way, and the faster
    ways = {way: {kind: min(t) / n for kind, t in by.items()} for way, by in times.items()}
    each = {kind: min(ways["numpy"][kind], ways["engine"][kind]) for kind in KINDS}
    draw = sum(per_firm_year[kind] * each[kind] for kind in KINDS)
    return {
        "draw": draw,
        "stream": min(stream) / n,
        "total": draw + min(stream) / n,
        "state_bytes": sum(a.itemsize for a in src),
        "per_firm_year": per_firm_year,
        "each": each,
        "ways": ways,
        "mean_ip_rate": float(ip_rates.mean()),
    }


def peak_bytes(scenario: Scenario, firms: int) -> dict[str, float]:
    """Peak traced memory of one replication (what `run_ensemble` runs per seed)."""
    values = population(scenario, firms)
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    t0 = clock()
    run_replication(scenario, np.random.SeedSequence(3), True, values)
    elapsed = clock() - t0
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    model = GrowthModel(scenario, seed=np.random.SeedSequence(3), values=values)
    model.run_model()
    held = model.firms.n
    return {"peak": peak, "firms_held": held, "base_firms": model.n_base, "seconds": elapsed}


def parallel(scenario: Scenario, firms: int, runs: int, repeats: int = 3) -> dict[str, float]:
    """Replications per second of `run_ensemble` on 1 and 2 workers (worker start included).

    The two are measured in turn, `repeats` times, and each keeps its fastest: on a shared
    machine a slow spell then hits neither more than the other.
    """
    values = population(scenario, firms)
    rate = {1: 0.0, 2: 0.0}
    for _ in range(repeats):
        for workers in (1, 2):
            gc.collect()
            t0 = time.perf_counter()
            run_ensemble(
                scenario, runs=runs, seed=5, counterfactual=False, workers=workers, values=values
            )
            rate[workers] = max(rate[workers], runs / (time.perf_counter() - t0))
    return {"rate1": rate[1], "rate2": rate[2], "efficiency": rate[2] / (2 * rate[1])}


def dask_parallel(
    scenario: Scenario, runs: int, values: dict[str, float] | None, repeats: int = 2
) -> dict[str, float]:
    """Replications per second of `run_ensemble` on a Dask LocalCluster of 1 and of 2
    single-threaded worker processes, started (and the package loaded in their workers) before
    the timing; measured in turn, `repeats` times, each keeping its fastest."""
    import contextlib
    import importlib
    import logging

    import distributed

    rate = {1: 0.0, 2: 0.0}
    with contextlib.ExitStack() as stack:
        address = {}
        for workers in rate:
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.ERROR,
                )
            )  # fmt: skip
            with distributed.Client(cluster) as client:
                client.run(importlib.import_module, "sim.runs.ensemble")
            address[workers] = cluster.scheduler_address
        for _ in range(repeats):
            for workers in rate:
                gc.collect()
                t0 = time.perf_counter()
                run_ensemble(
                    scenario, runs=runs, seed=7, counterfactual=False, values=values,
                    scheduler=address[workers],
                )  # fmt: skip
                rate[workers] = max(rate[workers], runs / (time.perf_counter() - t0))
    return {"rate1": rate[1], "rate2": rate[2], "efficiency": rate[2] / (2 * rate[1])}


def forecast_seconds(name: str) -> float:
    """Wall-clock seconds of one forecast command as a user runs it (start-up included)."""
    command = [str(SRDI), *FORECASTS[name]]
    t0 = time.perf_counter()
    done = subprocess.run(command, cwd=HERE.parent, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds


def import_seconds(module: str) -> float:
    """Wall-clock seconds of a fresh interpreter importing `module` (and exiting)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - t0


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def met(name: str, value: float) -> str:
    op, target = TARGETS[name]
    if op is None:
        return "-"
    ok = value >= target if op == ">=" else value <= target
    return f"{op} {target:g}: {'met' if ok else 'MISSED'}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs (about two minutes)")
    ap.add_argument("--record", action="store_true", help="write benchmarks/results.md")
    args = ap.parse_args(argv)
    mode = "quick" if args.quick else "full"
    cfg = SETTINGS[mode]
    scenario = load(SCENARIO)
    started = time.perf_counter()
    load_before = os.getloadavg()
    n = cfg["firms"]

    log(f"[{mode}] warm-up")
    time_engine(scenario, 10_000)

    reps = cfg["engine_repeats"]
    log(f"engine on {n:,} firms, every year of {scenario.period.start}-{scenario.period.end}")
    eng = min((time_engine(scenario, n) for _ in range(reps)), key=lambda r: r["step"])
    firm_steps = eng["firm_years"] / eng["step"]

    k = cfg["plain_years"]
    log(f"plain Mesa on {n:,} firms, first {k} year(s)")
    # in turn, each keeping its fastest run: a slow spell of a shared machine hits neither more
    plain, eng_k = None, None
    for _ in range(cfg["plain_repeats"]):
        p_run = time_plain(scenario, n, k)
        plain = p_run if plain is None or p_run["step"] < plain["step"] else plain
        for _ in range(reps):
            e_run = time_engine(scenario, n, years=k)
            eng_k = e_run if eng_k is None or e_run["step"] < eng_k["step"] else eng_k
    speedup = (plain["step"] / plain["firm_years"]) / (eng_k["step"] / eng_k["firm_years"])

    log("floor: random numbers and one pass over the state")
    floor = floor_per_firm_year(eng["per_firm_year"], eng["ip_rates"])
    ratio = eng["step"] / (eng["firm_years"] * floor["total"])

    log("scaling: " + ", ".join(f"{s:,}" for s in cfg["scaling"]) + " firms")
    scaling = []
    for size in cfg["scaling"]:
        runs = [
            time_engine(scenario, size, seed=10 + i) for i in range(3 if size <= 100_000 else 1)
        ]
        best = min(r["setup"] + r["step"] for r in runs)
        scaling.append((size, best))
        log(f"  {size:>9,} firms: {best:.3f} s")
    sizes, times = np.log([s for s, _ in scaling]), np.log([t for _, t in scaling])
    exponent = float(np.polyfit(sizes, times, 1)[0])

    log(f"memory of one replication on {n:,} firms")
    mem = peak_bytes(scenario, n)
    bytes_per_firm = mem["peak"] / mem["firms_held"]

    runs = cfg["parallel_runs"]
    log(f"parallel: {runs} replications of {cfg['parallel_firms']:,} firms, 1 then 2 workers")
    par = parallel(scenario, cfg["parallel_firms"], runs)

    if cfg["dask_national_runs"]:
        dask_runs, dask_scenario, dask_values = cfg["dask_national_runs"], load(NATIONAL), None
        dask_what = f"{dask_runs} replications of scenarios/national.yaml"
    else:
        dask_runs, dask_scenario = runs, scenario
        dask_values = population(scenario, cfg["parallel_firms"])
        dask_what = f"{runs} replications of {cfg['parallel_firms']:,} firms"
    log(f"Dask: {dask_what}, LocalCluster of 1 then 2 workers")
    dask = dask_parallel(dask_scenario, dask_runs, dask_values)
    dask["what"] = dask_what

    forecasts = {}
    for name in cfg["forecasts"]:
        log(f"{name}: srdi {' '.join(FORECASTS[name])}")
        forecasts[name] = min(forecast_seconds(name) for _ in range(FASTEST_OF.get(name, 1)))
        log(f"  {forecasts[name]:.1f} s")
    log("mesa_import_seconds: python -c 'import mesa'")
    forecasts["mesa_import_seconds"] = min(import_seconds("mesa") for _ in range(3))

    figures = {
        "firm_steps_per_second": firm_steps,
        "speedup_vs_plain_mesa": speedup,
        "ratio_to_floor": ratio,
        "scaling_exponent": exponent,
        "bytes_per_firm": bytes_per_firm,
        "parallel_efficiency": par["efficiency"],
        "dask_parallel_efficiency": dask["efficiency"],
        **forecasts,
    }
    for name, value in figures.items():
        print(f"{name}: {value:.4g}" if abs(value) < 1e4 else f"{name}: {value:.0f}")
    elapsed = time.perf_counter() - started
    log(f"done in {elapsed:.0f} s")
    machine = {"load": (load_before, os.getloadavg()), "elapsed": elapsed}
    if args.record:
        write_results(
            mode,
            scenario,
            figures,
            eng,
            plain,
            eng_k,
            floor,
            scaling,
            mem,
            par,
            dask,
            cfg,
            machine,
        )
    return 0


def write_results(
    mode, scenario, figures, eng, plain, eng_k, floor, scaling, mem, par, dask, cfg, machine
):
    n = cfg["firms"]
    load = ", ".join(f"{x:.2f}" for x in machine["load"][0])
    load_after = ", ".join(f"{x:.2f}" for x in machine["load"][1])
    k = cfg["plain_years"]
    years = f"{scenario.period.start}-{scenario.period.end}"
    rows = "\n".join(
        f"| `{name}` | {value:,.4g} | {met(name, value)} |" for name, value in figures.items()
    )
    scale_rows = "\n".join(f"| {s:,} | {t:.3f} |" for s, t in scaling)
    per = eng["step"] / eng["firm_years"]
    details = "\n".join(
        f"| `{name}` | {text} |"
        for name, text in [
            (
                "firm_steps_per_second",
                f"{n:,} firms at the base year ({eng['rows']:,} rows with the candidates born"
                f" later and the firms brought in): `step()` over {years} took"
                f" {eng['step']:.2f} s for {eng['firm_years']:,} firm-years"
                f" ({per * 1e9:.0f} ns each; set-up {eng['setup']:.2f} s, not counted)",
            ),
            (
                "speedup_vs_plain_mesa",
                f"benchmarks/plain_mesa.py on the same {n:,} firms, first {k} year(s), fastest"
                f" of {cfg['plain_repeats']} runs:"
                f" {plain['step']:.1f} s for {plain['firm_years']:,} firm-years"
                f" ({plain['step'] / plain['firm_years'] * 1e6:.2f} µs each; set-up"
                f" {plain['setup']:.1f} s); the engine on the same years: {eng_k['step']:.3f} s"
                f" for {eng_k['firm_years']:,} firm-years"
                f" ({eng_k['step'] / eng_k['firm_years'] * 1e9:.0f} ns each)",
            ),
            (
                "ratio_to_floor",
                "floor per firm-year: drawing what it consumes, each kind the faster of"
                " numpy's bulk generators and the engine's compiled draws, "
                + ", ".join(
                    f"{floor['per_firm_year'][k]:.2f} {k} ({floor['each'][k] * 1e9:.1f} ns each;"
                    f" numpy {floor['ways']['numpy'][k] * 1e9:.1f}, engine"
                    f" {floor['ways']['engine'][k] * 1e9:.1f})"
                    for k in KINDS
                )
                + f" (Poisson at the engine's IP rates, mean {floor['mean_ip_rate']:.2f}),"
                f" {floor['draw'] * 1e9:.1f} ns, and copying its {floor['state_bytes']} bytes"
                f" of state once ({floor['stream'] * 1e9:.1f} ns), {floor['total'] * 1e9:.1f}"
                f" ns in all; the engine: {per * 1e9:.0f} ns per firm-year",
            ),
            ("scaling_exponent", "least-squares slope of the table below, in logs"),
            (
                "bytes_per_firm",
                f"peak traced memory {mem['peak'] / 2**20:.0f} MiB for one replication of"
                f" {mem['base_firms']:,} base-year firms holding {mem['firms_held']:,} firms by"
                f" the end ({mem['peak'] / mem['base_firms']:.0f} bytes per base-year firm)",
            ),
            (
                "parallel_efficiency",
                f"{cfg['parallel_runs']} replications of {cfg['parallel_firms']:,} firms (no"
                f" counterfactual): {par['rate1']:.2f} replications/s with 1 worker,"
                f" {par['rate2']:.2f} with 2",
            ),
            (
                "dask_parallel_efficiency",
                f"{dask['what']} (no counterfactual) on a Dask LocalCluster started beforehand:"
                f" {dask['rate1']:.3f} replications/s with 1 worker, {dask['rate2']:.3f} with 2",
            ),
        ]
        + [
            (
                name,
                f"wall-clock seconds of `srdi {' '.join(FORECASTS[name])}` on all cores"
                + (f", fastest of {FASTEST_OF[name]}" if name in FASTEST_OF else ""),
            )
            for name in FORECASTS
            if name in figures
        ]
        + [
            (
                "mesa_import_seconds",
                'wall-clock seconds of `python -c "import mesa"`, fastest of 3: paid by every'
                " command that runs the model (a Mesa model), before anything of this project",
            )
        ]
    )
    command = "python benchmarks/run.py" + (" --quick" if mode == "quick" else "")
    when = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    text = f"""# Benchmark results

`{command}` ({mode} run), {when}.

- CPU: {cpu_name()}; cores: {os.cpu_count()}
- Python {platform.python_version()}, numpy {np.__version__}
- Load average (1, 5, 15 min) before the run: {load}; after: {load_after}.
- Single-process times are CPU seconds of the benchmark process; the parallel figure is
  wall-clock time. Whole run: {machine["elapsed"]:.0f} s.
- Population: benchmarks/national_like.yaml rescaled (every lever on, drawn quantities at
  the centre of their ranges), period {years}.

| figure | value | target |
|---|---|---|
{rows}

## How each figure was obtained

| figure | measurement |
|---|---|
{details}

Replication time by population (set-up included; best of 3 up to 100,000 firms), for
`scaling_exponent`:

| firms at the base year | seconds |
|---|---|
{scale_rows}

## The national forecast

Measured, not estimated, by `python benchmarks/national.py`: see `benchmarks/national.md`.
"""
    RESULTS.write_text(text, encoding="utf-8")
    log(f"wrote {RESULTS}")


if __name__ == "__main__":
    raise SystemExit(main())
