"""The `srdi` command line: a thin layer over the Python API.

Each verb parses its options, reads and validates the files, calls the public function and
writes the output. Bad input gets one message per problem on stderr and a non-zero exit
(2 for invalid input), before anything is run or written.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import click

from sim.errors import ScenarioErrors, SrdiError
from sim.views.labels import LANGS, WAN
from sim.views.output import (
    for_people,
    write_atomic,
    write_csv,
    write_figure,
    write_json,
    write_xlsx,
)

EXIT_INVALID = 2
# --scheduler of forecast, report and sweep (sim/runs/executor.py)
SCHEDULER_HELP = (
    "A Dask scheduler (tcp://host:8786), or 'local' to start a Dask LocalCluster of --workers "
    "workers; with an address, --workers is not used (the cluster has its own)."
)
SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
STARTED = time.perf_counter()  # the dashboard reports its start-up time from here


def _fail(errors: ScenarioErrors) -> None:
    for e in errors.errors:
        click.echo(f"error: {e.message}", err=True)
    n = len(errors.errors)
    click.echo(f"{n} problem{'s' if n != 1 else ''} found; nothing was run or written.", err=True)
    sys.exit(EXIT_INVALID)


def _load(path: str, verb: str = "forecast"):
    """The scenario of a verb, or the errors and exit 2; a sweep file is named as one (looked
    for only when the file does not load, so a valid scenario is read once)."""
    from sim.scenario import ScenarioError, is_sweep_file, load

    try:
        return load(path)
    except ScenarioErrors as errors:
        problems = errors
    if is_sweep_file(Path(path)):
        problems = ScenarioErrors([ScenarioError(
            path, "", expected=f"a scenario file for `srdi {verb}`",
            found="a sweep file (it has 'scenario' and 'vary', no 'place')",
            kind="wrong_type", fix=f"Run it with `srdi sweep {path} --out DIR`.",
        )])  # fmt: skip
    _fail(problems)


class _Commands(click.Group):
    """The verbs, with every project error (SrdiError) turned into its message and exit 1,
    however the command line is invoked (the `srdi` script, `python -m sim.cli`, a test)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SrdiError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(1)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="srdi-sim")
def main() -> None:
    """Forecast whether a place's SRDI (专精特新) plan reaches its targets, and at what cost."""


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--runs", "-n", default=1000, show_default=True, help="Monte Carlo replications.")
@click.option("--seed", "-s", default=0, show_default=True, help="Root seed.")
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    help="Write CSV tables, forecast.xlsx, a fan chart and forecast.json here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option(
    "--workers", "-w", default=None, type=int, help="Worker processes (default: all cores)."
)
@click.option("--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP)
@click.option(
    "--no-counterfactual", is_flag=True, help="Skip the run with every lever off (faster)."
)
@click.option(
    "--lang",
    type=click.Choice(LANGS),
    default="zh",
    show_default=True,
    help="Language of the fan chart.",
)
@click.option("--set", "settings", multiple=True, metavar="PATH=VALUE",
              help="Fix a quantity of the scenario (a lever or an uncertainty) to VALUE in "
              "every replication, e.g. levers.loans.coverage=0.6. Repeatable.")  # fmt: skip
@click.option("--by-lever", is_flag=True,
              help="Also run each lever switched off alone (one more run per lever): what "
              "each lever costs per extra firm.")  # fmt: skip
def forecast(
    scenario, runs, seed, out, as_json, workers, scheduler, no_counterfactual, lang, settings,
    by_lever,
) -> None:  # fmt: skip
    """Probability of reaching each target, expected counts with 90 % bands, and cost.

    Example: srdi forecast scenarios/hebi.yaml --runs 1000 --seed 1 --out results/hebi

    Example: srdi forecast scenarios/hebi.yaml --set levers.loans.coverage=0.8 --by-lever
    """
    sc = _load(scenario)
    values = _settings(sc, settings)
    out_dir = Path(out) if out else None
    if out_dir is not None and (why := _writable_folder(out_dir)):
        click.echo(f"error: --out: {why}; nothing was run or written.", err=True)
        sys.exit(EXIT_INVALID)
    result = _run(sc, runs, seed, workers, not no_counterfactual, values, by_lever, scheduler)
    if out_dir is not None:
        _write_outputs(result, out_dir, lang)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        click.echo(_report(result))
        if out_dir is not None:
            click.echo(f"\nTables, workbook and fan chart written to {out_dir}/")


# the tables of `--out`: file stem, sheet name of forecast.xlsx, the result's table
TABLES = (
    ("targets", "targets 目标", "targets"),
    ("counts", "counts 企业数", "counts"),
    ("cost", "cost 资金", "cost"),
    ("attributable", "attributable 政策带来", "attributable"),
    ("lever_attribution", "lever_attribution 各措施带来", "lever_attribution"),
)


def _settings(sc, items) -> dict[str, float]:
    """The `--set PATH=VALUE` options checked against the scenario, or the errors and exit 2."""
    from sim.scenario import parse_settings

    try:
        return parse_settings(sc, items, "--set")
    except ScenarioErrors as e:
        _fail(e)


def _run(
    sc,
    runs: int,
    seed: int,
    workers: int | None,
    counterfactual: bool,
    values: dict[str, float] | None = None,
    by_lever: bool = False,
    scheduler: str | None = None,
):
    """The ensemble behind `forecast` and `report`, with a progress bar (ETA), and a warning
    with ways to shorten it first when the run is expected to take over a minute. With a
    scheduler the replications run on Dask (`--workers` sizes a `local` cluster; an address's
    cluster has its own workers); an unreachable one is an error, exit 2, nothing written."""
    from tqdm import tqdm

    from sim.runs.ensemble import estimate_seconds, run_ensemble
    from sim.runs.executor import SchedulerUnreachable

    if runs < 1:
        raise click.BadParameter(f"must be at least 1, got {runs}", param_hint="--runs")
    if scheduler and scheduler != "local" and workers is not None:
        click.echo(
            f"note: --workers {workers} is not used: the cluster at {scheduler} has its own.",
            err=True,
        )
    workers = workers or os.cpu_count() or 1
    _warn_if_long(
        estimate_seconds(sc, runs, counterfactual, workers, by_lever),
        f"{runs} replications{' and their counterfactuals' if counterfactual else ''}"
        f"{', each lever off alone' if by_lever else ''} on {workers} worker(s)",
        "--runs, --no-counterfactual"
        + (", no --by-lever" if by_lever else "")
        + " or more --workers (or --scheduler)",
    )
    with tqdm(
        total=runs, desc=f"{sc.place.id}", unit="run", disable=None, file=sys.stderr, leave=False
    ) as bar:
        try:
            return run_ensemble(
                sc,
                runs=runs,
                seed=seed,
                counterfactual=counterfactual,
                workers=workers,
                values=values or None,
                progress=lambda k: bar.update(k),
                by_lever=by_lever,
                scheduler=scheduler,
            )
        except SchedulerUnreachable as e:
            bar.close()
            click.echo(f"error: {e}", err=True)
            sys.exit(EXIT_INVALID)


def _warn_if_long(seconds: float, what: str, shorter: str) -> None:
    """Before a run expected to take over a minute: the estimate and how to shorten it."""
    if seconds > 60:
        click.echo(
            f"note: this run is expected to take about {seconds / 60:.0f} min ({what}); "
            f"shorten it with {shorter}.",
            err=True,
        )


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False),
              help="Folder to write report.html into.")  # fmt: skip
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True,
              help="Language read first (the other is shown beside it).")  # fmt: skip
@click.option("--runs", "-n", default=1000, show_default=True, help="Monte Carlo replications.")
@click.option("--seed", "-s", default=0, show_default=True, help="Root seed.")
@click.option("--workers", "-w", type=int, default=None,
              help="Worker processes (default: all cores).")  # fmt: skip
@click.option("--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP)
@click.option("--set", "settings", multiple=True, metavar="PATH=VALUE",
              help="Fix a quantity of the scenario to VALUE in every replication (as in "
              "`srdi forecast`). Repeatable.")  # fmt: skip
@click.option("--by-lever", is_flag=True,
              help="Also run each lever switched off alone: a table of each lever's cost per "
              "extra firm.")  # fmt: skip
def report(scenario, out, lang, runs, seed, workers, scheduler, settings, by_lever) -> None:
    """One self-contained HTML page of a forecast: verdicts, charts, cost, provenance.

    The page embeds its chart and styles, opens offline and prints on A4.

    Example: srdi report scenarios/hebi.yaml --out results/hebi --lang zh
    """
    from sim.views import report as page

    sc = _load(scenario, "report")
    values = _settings(sc, settings)
    out_dir = Path(out)
    if why := _writable_folder(out_dir):
        click.echo(f"error: --out: {why}; nothing was run or written.", err=True)
        sys.exit(EXIT_INVALID)
    result = _run(sc, runs, seed, workers, True, values, by_lever, scheduler)
    text = page.build(result, scenario, lang)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))
    click.echo(f"Report written to {path}")


def _write_outputs(result, out_dir: Path, lang: str = "zh") -> None:
    """The tables as CSV and as one workbook (titles in Chinese too, money in 万元), the fan
    chart (words in `lang`) and the JSON (money in yuan), each file written whole or not at
    all."""
    from sim.views import plots

    out_dir.mkdir(parents=True, exist_ok=True)
    tier_zh = {t.id: t.name_zh for t in result.scenario.ladder().tiers}
    tables = {
        (stem, sheet): for_people(getattr(result, method)(), tier_zh)
        for stem, sheet, method in TABLES
    }
    for (stem, _), df in tables.items():  # UTF-8 with a BOM so that Excel shows the Chinese
        write_atomic(out_dir / f"{stem}.csv", lambda p, df=df: write_csv(df, p))
    sheets = {sheet: df for (_, sheet), df in tables.items()}
    write_atomic(out_dir / "forecast.xlsx", lambda p: write_xlsx(sheets, p))
    fig = plots.fan_chart(result, lang)
    write_figure(out_dir / "fan_chart.png", fig)
    write_json(out_dir / "forecast.json", result.to_dict())


def _report(result) -> str:
    """The readable forecast: targets, expected stocks, cost, firms due to the levers."""
    sc = result.scenario
    doc = sc.document
    plan = (doc.number or doc.title) if doc is not None else "no plan document"
    lines = [
        f"{sc.place.name} ({sc.place.name_zh or sc.place.id}) - {plan} "
        f"{sc.period.start}-{sc.period.end}",
        f"{result.n_runs} replications, seed {result.seed}, {result.elapsed_seconds:.1f} s",
    ]
    if result.values:
        from sim.scenario import describe_settings

        lines.append("Changed from the scenario (--set), in every replication:")
        lines += [f"  {line}" for line in describe_settings(sc, result.values)]
    lines += ["", "Targets"]
    if not sc.targets:
        lines.append("  none: the scenario states no targets (a status-quo forecast)")
    else:
        lines.append(
            f"  {'target':<30} {'goal':>8} {'P(reach)':>9} {'± mc se':>8} {'expected':>9} "
            f"{'90% band':>13} {'no levers':>9}"
        )
    for _, r in result.targets().iterrows():
        goal = f"{r['value']:g}" + (
            f"-{r['stretch']:g}"
            if r["stretch"] == r["stretch"] and r["stretch"] is not None
            else ""
        )
        band = f"{r['p05']:.0f}-{r['p95']:.0f}"
        nolev = r.get("probability_without_levers")
        nolev_s = f"{nolev:9.2f}" if nolev is not None and nolev == nolev else f"{'':>9}"
        lines.append(
            f"  {r['id']:<30} {goal:>8} {r['probability']:9.2f} {r['mc_se']:8.3f} "
            f"{r['expected']:9.1f} {band:>13} {nolev_s}"
        )
    lines += ["", "Firms holding at least each title at year end (mean [5%-95%])"]
    counts = result.counts()
    stock = counts[counts.metric == "at_least"]
    header = "  " + f"{'tier':<24}" + "".join(f"{y:>18}" for y in result.years)
    lines.append(header)
    for tier in result.tiers:
        row = stock[stock.tier == tier].sort_values("year")
        cells = "".join(
            f" {f'{m:.0f} [{a:.0f}-{b:.0f}]':>19}"
            for m, a, b in zip(row["mean"], row["p05"], row["p95"], strict=True)
        )
        lines.append(f"  {tier:<24}{cells}")
    cost = result.cost()
    tot = result.total_cost()
    lines += ["", f"Cost over {sc.period.start}-{sc.period.end} (万元 = 10,000 yuan, mean)"]
    if cost.empty:
        lines.append("  no lever spends money in this scenario")
    else:
        by = cost.groupby("lever")["mean_yuan"].sum() / WAN
        for lever, v in by.items():
            lines.append(f"  {lever:<24}{v:12,.1f}")
        lines.append(
            f"  {'total':<24}{tot.mean() / WAN:12,.1f}   90% band "
            f"{_q(tot, 0.05) / WAN:,.1f}-{_q(tot, 0.95) / WAN:,.1f}"
        )
    att = result.attributable()
    if not sc.has_levers:
        lines += ["", "Levers: none (the counterfactual is the forecast itself)"]
    elif not att.empty:
        lines += [
            "",
            f"Firms attributable to the levers at the end of {result.years[-1]} "
            "(same seeds, every lever off)",
            f"  {'tier':<24}{'extra firms [5%-95%]':>22}   whole programme's cost / extra firm",
        ]
        for _, r in att[att.metric == "at_least"].iterrows():
            cpf = r["whole_programme_cost_per_extra_firm_yuan"]
            cps = f"{cpf / WAN:10,.1f} 万元" if cpf == cpf and cpf else ""
            band = f"{r['mean']:.1f} [{r['p05']:.0f}-{r['p95']:.0f}]"
            lines.append(f"  {r['tier']:<24}{band:>22}   {cps}")
        lines.append(
            "  (all levers' money divided by each tier's extra firms in turn: not the price of "
            "a firm of that tier; see --by-lever)"
        )
    lines += _lever_lines(result)
    notes = result.notes()
    if notes:
        lines += ["", "Notes"] + [f"  - {n}" for n in notes]
    return "\n".join(lines)


def _lever_lines(result) -> list[str]:
    """The per-lever table of the text report: each lever off alone, same seeds."""
    table = result.lever_attribution()
    if result.lever_off is None or table.empty:
        return []
    lines = [
        "",
        f"Per lever, each switched off alone (same seeds): firms it adds at the end of "
        f"{result.years[-1]}, and its own cost per extra firm",
        f"  {'lever':<18}{'cost 万元':>10}  {'tier':<24}{'extra firms ± se':>18}"
        f"{'万元 per extra firm':>20}",
    ]
    for lever, rows in table[table.metric == "at_least"].groupby("lever", sort=False):
        first = True
        for r in rows.itertuples():
            cost = f"{r.lever_cost_yuan / WAN:10,.1f}" if first else " " * 10
            name = lever if first else ""
            cpf = r.cost_per_extra_firm_yuan
            cps = f"{cpf / WAN:20,.1f}" if cpf == cpf and cpf is not None else f"{'-':>20}"
            extra = f"{r.extra_firms:.1f} ± {r.mc_se:.1f}" if r.mc_se == r.mc_se else ""
            lines.append(f"  {name:<18}{cost}  {r.tier:<24}{extra:>18}{cps}")
            first = False
    lines.append("  (levers interact: their extra firms need not add up to the whole programme's)")
    return lines


def _q(x, q: float) -> float:
    import numpy as np

    return float(np.quantile(x, q))


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(files) -> None:
    """Check scenario files and print every problem in every file.

    Example: srdi validate scenarios/*.yaml
    """
    from sim.scenario import is_sweep_file, load, validate_files, warnings_for

    problems = validate_files(files)
    if problems:
        _fail(ScenarioErrors(problems))
    for f in files:
        if not is_sweep_file(Path(f)):
            for w in warnings_for(load(f), f):
                click.echo(f"warning: {w}", err=True)
        click.echo(f"ok: {f}")


@main.command("list")
@click.argument("folder", required=False, type=click.Path(file_okay=False))
def list_scenarios(folder) -> None:
    """The shipped scenarios with place, period and targets.

    Example: srdi list
    """
    from sim.scenario import load

    root = (
        Path(folder)
        if folder
        else Path("scenarios")
        if Path("scenarios").is_dir()
        else (SCENARIO_DIR)
    )
    paths = sorted(root.glob("*.yaml"))
    if not paths:
        click.echo(f"error: no scenario files (*.yaml) in {root}", err=True)
        sys.exit(EXIT_INVALID)
    bad = 0
    for p in paths:
        try:
            sc = load(p)
        except ScenarioErrors as e:
            bad += 1
            click.echo(f"{p}: invalid ({len(e.errors)} problems; run `srdi validate {p}`)")
            continue
        click.echo(
            f"{p}  {sc.place.name} ({sc.place.name_zh or ''}, {sc.place.level}) "
            f"{sc.period.start}-{sc.period.end}, base {sc.period.base_year}"
        )
        if not sc.targets:
            click.echo("    no targets (a status-quo forecast)")
        for t in sc.targets:
            goal = f"{t.value:g}" + (f"-{t.stretch:g}" if t.stretch is not None else "")
            click.echo(f"    {t.year} {t.kind:<10} {t.tier:<26} {goal:>9}   [{t.source[:40]}]")
    if bad:
        sys.exit(EXIT_INVALID)


@main.command("sweep")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--vary",
    "-v",
    multiple=True,
    metavar="PATH=SPEC",
    help="A varied quantity: lo:hi:n, a,b,c, or (uncertainties) uniform(lo,hi), "
    "normal(mu,sd[,lo,hi]), triangular(lo,mode,hi). Repeat for more paths.",
)
@click.option("--design", type=click.Choice(["grid", "lhs", "sobol"]), help="Default: grid.")
@click.option("--samples", type=int, help="Policies in an lhs/sobol design (default 16).")
@click.option("--futures", type=int, help="Futures when uncertainties are sampled (default 8).")
@click.option("--runs", "-n", type=int, help="Replications per experiment (default 100).")
@click.option("--seed", "-s", type=int, help="Root seed (default 0, or the sweep file's).")
@click.option(
    "--workers", "-w", type=int, default=None, help="Worker processes (default: all cores)."
)
@click.option("--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP)
@click.option("--chunk-size", type=int, help="Experiments per chunk (default: automatic).")
@click.option("--replications", is_flag=True, help="Also write one row per replication.")
@click.option(
    "--out", "-o", required=True, type=click.Path(file_okay=False), help="Results folder."
)
def sweep_command(
    file, vary, design, samples, futures, runs, seed, workers, scheduler, chunk_size,
    replications, out,
) -> None:  # fmt: skip
    """Run a scenario over a design of lever and uncertainty values (resumable).

    FILE is a scenario (give --vary) or a sweep file. Results go to OUT/sweep.parquet (one row
    per experiment and target), with OUT/manifest.json; run the same command again after an
    interruption and only the missing experiments are computed.

    \b
    Examples:
      srdi sweep scenarios/sweeps/hebi-awards-loans.yaml --seed 5 --out results/sweep
      srdi sweep scenarios/hebi.yaml --vary levers.loans.coverage=0.2:0.8:4 \\
        --vary "approval.national_little_giant=uniform(0.2,0.5)" --futures 4 --out results/loans
    """
    from tqdm import tqdm

    from sim.runs import sweep as sw

    try:
        plan = sw.plan(
            file,
            list(vary),
            design=design,
            samples=samples,
            futures=futures,
            runs=runs,
            seed=seed,
        )
    except ScenarioErrors as e:
        _fail(e)
    except sw.SweepError as e:
        _fail(ScenarioErrors([e]))
    if chunk_size is not None and chunk_size < 1:
        raise click.BadParameter(f"must be at least 1, got {chunk_size}", param_hint="--chunk-size")
    workers = workers or os.cpu_count() or 1
    from sim.runs.ensemble import estimate_seconds

    # each experiment's replications, plus one counterfactual run per future
    runs_in_all = plan.runs * (plan.n_experiments + plan.n_futures)
    _warn_if_long(
        estimate_seconds(plan.scenario, runs_in_all, counterfactual=False, workers=workers),
        f"{plan.n_experiments} experiments of {plan.runs} replications",
        "--runs, --samples, --futures or more --workers (or --scheduler)",
    )
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(
                total=total,
                initial=done,
                desc=plan.scenario.place.id,
                unit="exp",
                disable=None,
                file=sys.stderr,
                leave=False,
            )
        else:
            bar.update(done - bar.n)

    try:
        table = sw.run(
            plan,
            out,
            workers=workers,
            scheduler=scheduler,
            chunk_size=chunk_size,
            replications=replications,
            progress=progress,
        )
    except (sw.ResumeRefused, sw.SchedulerUnreachable) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_INVALID)
    finally:
        if bar is not None:
            bar.close()
    click.echo(_sweep_report(plan, table, Path(out)))


def _sweep_report(plan, table, out: Path) -> str:
    """What ran, where it went, and the range of each target's probability over the design."""
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    last = manifest["last_run"]
    sc = plan.scenario
    lines = [
        f"{sc.place.name}: {plan.n_experiments} experiments ({plan.n_policies} policies x "
        f"{plan.n_futures} futures) x {plan.runs} replications, seed {plan.seed}",
        f"{last['elapsed_seconds']:.1f} s on {last['executor']}"
        + (
            f"; {last['experiments_already_done']} experiments were already done"
            if last["experiments_already_done"]
            else ""
        ),
        "",
        f"  {'target':<24} {'P(reach) over the design':>26}   best policy (mean over futures)",
    ]
    levers = [f.path for f in plan.levers]
    for target, d in table.groupby("target", sort=False):
        lo, hi = d["probability"].min(), d["probability"].max()
        best = ""
        if levers:
            m = d.groupby(levers)["probability"].mean()
            key = m.idxmax()
            key = key if isinstance(key, tuple) else (key,)
            best = (
                "the same for every policy"
                if m.max() - m.min() < 1e-12
                else f"{m.max():.2f} at "
                + ", ".join(
                    f"{_short_path(p)}={_short_number(v)}" for p, v in zip(levers, key, strict=True)
                )
            )
        lines.append(f"  {target:<24} {f'{lo:.2f} - {hi:.2f}':>26}   {best}")
    lines += ["", f"Table: {out / 'sweep.parquet'}   Plot: srdi plot sweep {out}"]
    return "\n".join(lines)


def _short_path(path: str) -> str:
    return path.removeprefix("levers.").replace("by_tier.", "")


def _short_number(v: float) -> str:
    return f"{v / 1e6:.3g}M" if abs(v) >= 1e6 else f"{v / 1e3:.3g}k" if abs(v) >= 1e4 else f"{v:g}"


@main.group()
def plot() -> None:
    """Figures from results written by other verbs (they never run the model)."""


@plot.command("sweep")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@click.option("--x", "x", metavar="PATH", help="Path on the x axis (default: the first lever).")
@click.option("--y", "y", metavar="PATH", help="Path on the y axis (default: the second lever).")
@click.option(
    "--out", "-o", type=click.Path(dir_okay=False), help="PNG file (default: FOLDER/sweep.png)."
)
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True,
              help="Language of the chart's labels.")  # fmt: skip
def plot_sweep(folder, x, y, out, lang) -> None:
    """Probability of reaching each target over one varied path (curve) or two (heatmap).

    Other varied paths are averaged over (e.g. the futures of an uncertainty).

    Example: srdi plot sweep results/sweep
    """
    from sim.runs.sweep import MANIFEST, TABLE, read
    from sim.views import plots
    from sim.views.labels import word

    folder = Path(folder)
    if not (folder / TABLE).is_file() or not (folder / MANIFEST).is_file():
        click.echo(
            f"error: {folder} has no finished sweep ({TABLE} and {MANIFEST}); run "
            "`srdi sweep ... --out` into it first (an interrupted sweep resumes).",
            err=True,
        )
        sys.exit(EXIT_INVALID)
    table, manifest = read(folder)
    paths = manifest["levers"] + manifest["uncertainties"]
    for name, value in (("--x", x), ("--y", y)):
        if value is not None and value not in paths:
            raise click.BadParameter(
                f"'{value}' was not varied in this sweep; varied: {', '.join(paths)}",
                param_hint=name,
            )
    if x is None and y is None:  # the first two levers (then uncertainties) as x and y
        x, y = paths[0], (paths[1] if len(paths) > 1 else None)
    elif x is None:
        x = next(p for p in paths if p != y)
    y = None if y == x else y  # --x alone: a curve over x
    rest = [p for p in paths if p not in (x, y)]
    over = ", ".join(plots._label(p) for p in rest)
    title = f"{manifest['scenario']['place']}: {word('p_reach', lang)}"
    if rest:
        title += f"（{over} 取平均）" if lang == "zh" else f", mean over {over}"
    fig = plots.sweep_chart(table, x, y, title=title, lang=lang)
    target = Path(out) if out else folder / "sweep.png"
    write_figure(target, fig)
    click.echo(f"wrote {target}")


@main.command()
@click.option(
    "--reproduce", is_flag=True, help="Regenerate the figures from the saved fit, and the backtest."
)
@click.option(
    "--holdout-from",
    type=int,
    metavar="YEAR",
    help="Fit only on data before YEAR; forecast YEAR on against naive baselines.",
)
@click.option("--seed", "-s", type=int, default=None, help="Root seed (default: the config's).")
@click.option("--quick", is_flag=True, help="A smoke run of the same code (tests, < 1 minute).")
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of the fit and figures (default calibration/; with --quick, a new temp folder).",
)
@click.option(
    "--workers", "-w", default=None, type=int, help="Worker processes (default: all cores)."
)
@click.option("--lang", type=click.Choice(LANGS), default="en", show_default=True,
              help="Language of the figures' words (the shipped ones are English).")  # fmt: skip
def calibrate(reproduce, holdout_from, seed, quick, out, workers, lang) -> None:
    """Fit the national scenario to the observed series, or regenerate the figures.

    Example: srdi calibrate --reproduce   (figures and tables in calibration/figures/, the
    rolling-origin backtest in calibration/backtest/)

    Example: srdi calibrate --holdout-from 2023
    """
    import shutil

    from sim.calibration import calibrate as cal

    workers = workers or os.cpu_count() or 1
    fit_dir = None  # the fit's folder: `folder` itself, except for the shipped calibration
    if out is not None:
        folder = Path(out)
    elif quick:
        folder = Path(tempfile.mkdtemp(prefix="srdi-calibrate-quick-"))
        if reproduce:  # the saved fit, figures into the temp folder
            for name in ("fit.yaml", "posterior.csv"):
                shutil.copy(cal.FIT_DIR / name, folder / name)
    else:
        folder, fit_dir = cal.CALIBRATION_DIR, cal.FIT_DIR

    def say(msg: str) -> None:  # above the progress bar, not through it
        from tqdm import tqdm

        tqdm.write(msg, file=sys.stderr)

    try:
        if holdout_from is not None:
            table = cal.run_holdout(folder, holdout_from, seed, workers, quick, say, lang, bar=True)
            click.echo(cal.format_holdout(table, holdout_from))
        elif reproduce:
            cal.reproduce(folder, seed, workers, quick, say, fit_dir=fit_dir, lang=lang)
            click.echo(cal.format_fit(pd_read(folder / "figures" / "fit.csv")))
        else:
            cal.run_calibration(
                folder, seed, workers, quick, say, fit_dir=fit_dir, lang=lang, bar=True
            )
            click.echo(cal.format_fit(pd_read(folder / "figures" / "fit.csv")))
    except cal.CalibrationError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"\nOutputs in {folder}/")


def _origins(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        out = [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        out = []
    if not out:
        raise click.BadParameter(
            f"must be years separated by commas (2020,2021,2022), got '{value}'",
            param_hint="--origins",
        )
    return out


def _writable_folder(folder: Path) -> str | None:
    """Why `folder` cannot take output files, or None when a file can be created in it."""
    if folder.exists() and not folder.is_dir():
        return f"{folder} exists and is not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".srdi-probe.")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        return f"cannot write into {folder}: {e.strerror or e}"
    return None


@main.command()
@click.option(
    "--origins", metavar="YEARS", help="Origins, e.g. 2020,2021,2022 (default: backtest.yaml's)."
)
@click.option(
    "--out", "-o", type=click.Path(), help="Write the scores, summary, table and figure here."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--quick", is_flag=True, help="A smoke run of the same code (few, small runs).")
@click.option("--runs", "-n", type=int, default=None, help="Replications per origin.")
@click.option(
    "--workers", "-w", type=int, default=None, help="Worker processes (default: all cores)."
)
@click.option("--lang", type=click.Choice(LANGS), default="en", show_default=True,
              help="Language of the figure's labels.")  # fmt: skip
def backtest(origins, out, as_json, quick, runs, workers, lang) -> None:
    """Judge the model's forecasts on years it was not fitted to, against naive baselines.

    For each origin the model is fitted on data before it and forecasts the origin year and the
    next (calibration/backtest.yaml); repeat-last, last-change and trend forecasts are scored on
    the same observations.

    Example: srdi backtest --origins 2020,2021,2022 --out results/backtest
    """
    from sim.calibration import backtest as bt

    years = _origins(origins)
    if runs is not None and runs < 1:
        raise click.BadParameter(f"must be at least 1, got {runs}", param_hint="--runs")
    out_dir = Path(out) if out else None
    if out_dir is not None and (why := _writable_folder(out_dir)):
        click.echo(f"error: --out: {why}; nothing was run or written.", err=True)
        sys.exit(EXIT_INVALID)
    try:
        bt.load_series()
    except bt.BacktestError as e:
        _fail(ScenarioErrors([e]))
    try:
        from sim.calibration.origin_forecast import forecaster as make_forecaster
    except ModuleNotFoundError as e:
        if e.name != "sim.calibration.origin_forecast":
            raise
        click.echo(
            "error: the model forecaster (sim.calibration.origin_forecast) is not available.",
            err=True,
        )
        sys.exit(1)
    forecaster = make_forecaster(
        quick=quick, runs=runs, workers=workers, progress=sys.stderr.isatty()
    )
    try:
        result = bt.run_backtest(forecaster, origins=years)
    except bt.ForecastOutputError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    if out_dir is not None:
        result.write(out_dir, lang)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        click.echo(result.markdown(), nl=False)
        if out_dir is not None:
            click.echo(f"\nScores, summary, table and figure written to {out_dir}/")


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--runs", "-n", default=150, show_default=True, help="Replications per setting (same seeds)."
)
@click.option("--seed", "-s", default=0, show_default=True, help="Root seed.")
@click.option("--port", "-p", default=8765, show_default=True, help="Port to serve the page on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--no-browser", is_flag=True, help="Print the URL; do not open a browser.")
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True,
              help="Language of the page and its charts.")  # fmt: skip
def dashboard(scenario, runs, seed, port, host, no_browser, lang) -> None:
    """A page in the browser: a slider for each lever, the probability of reaching each target
    under the plan and under the sliders' setting side by side, and fan charts. Every setting
    runs the same seeds as the plan (common random numbers). Ctrl+C stops it.

    Example: srdi dashboard scenarios/hebi.yaml --runs 150 --port 8765
    """
    _load(scenario, "dashboard")  # a scenario with problems is refused before serving
    if runs < 1:
        raise click.BadParameter(f"must be at least 1, got {runs}", param_hint="--runs")
    if not 0 < port < 65536:
        raise click.BadParameter(f"must be from 1 to 65535, got {port}", param_hint="--port")
    try:
        import solara_assets  # noqa: F401  the page's scripts, served from this machine

        from sim.views.dashboard import serve
    except ModuleNotFoundError as e:
        click.echo(
            f"error: `srdi dashboard` needs {e.name}: pip install 'srdi-sim[dashboard]'", err=True
        )
        sys.exit(1)
    serve(scenario, runs, seed, host, port, not no_browser, echo=click.echo, started=STARTED,
          lang=lang)  # fmt: skip


@main.command("compare")
@click.argument("plans", nargs=-1, required=True, type=click.Path(dir_okay=False),
                metavar="A.yaml [B.yaml]")  # fmt: skip
@click.option("--set", "settings", multiple=True, metavar="PATH=VALUE",
              help="Fix a quantity of plan B (the second file, or a copy of A when only one is "
              "given) to VALUE in every replication. Repeatable.")  # fmt: skip
@click.option("--runs", "-n", default=1000, show_default=True, help="Replications of each plan.")
@click.option("--seed", "-s", default=0, show_default=True, help="Root seed (shared by A and B).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--out", "-o", type=click.Path(file_okay=False),
              help="Write compare.png, compare.csv and compare.json here.")  # fmt: skip
@click.option("--workers", "-w", default=None, type=int,
              help="Worker processes (default: all cores).")  # fmt: skip
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True,
              help="Language of the chart.")  # fmt: skip
def compare_command(plans, settings, runs, seed, as_json, out, workers, lang) -> None:
    """Two plans side by side on the same seeds: each target's probability, the expected cost,
    and the differences B - A with their paired Monte Carlo errors.

    Example: srdi compare scenarios/hebi.yaml --set levers.loans.coverage=0.9

    Example: srdi compare plan.yaml alternative.yaml --runs 500 --out results/compare
    """
    from tqdm import tqdm

    from sim.runs.compare import compare
    from sim.runs.ensemble import estimate_seconds

    if len(plans) > 2:
        raise click.BadParameter(
            f"expected one or two scenario files, got {len(plans)}", param_hint="A.yaml [B.yaml]"
        )
    if len(plans) == 1 and not settings:
        raise click.BadParameter(
            "one file compares the plan with itself changed: give --set PATH=VALUE, or a "
            "second file",
            param_hint="--set",
        )
    if runs < 1:
        raise click.BadParameter(f"must be at least 1, got {runs}", param_hint="--runs")
    a = _load(plans[0], "compare")
    b = _load(plans[1], "compare") if len(plans) == 2 else a
    values = _settings(b, settings)
    out_dir = Path(out) if out else None
    if out_dir is not None and (why := _writable_folder(out_dir)):
        click.echo(f"error: --out: {why}; nothing was run or written.", err=True)
        sys.exit(EXIT_INVALID)
    label_a, label_b = plans[0], plans[-1]
    workers = workers or os.cpu_count() or 1
    _warn_if_long(
        estimate_seconds(a, runs, False, workers) + estimate_seconds(b, runs, False, workers),
        f"{runs} replications of each plan on {workers} worker(s)",
        "--runs or more --workers",
    )
    with tqdm(total=runs, desc="compare", unit="run", disable=None, file=sys.stderr,
              leave=False) as bar:  # fmt: skip
        result = compare(a, b, runs, seed, workers, values, label_a, label_b, bar.update)
    if out_dir is not None:
        from sim.views import plots

        out_dir.mkdir(parents=True, exist_ok=True)
        fig = plots.compare_chart(result, lang)
        write_figure(out_dir / "compare.png", fig)
        tier_zh = {t.id: t.name_zh for t in a.ladder().tiers}
        table = for_people(result.targets(), tier_zh)
        write_atomic(out_dir / "compare.csv", lambda p: write_csv(table, p))
        write_json(out_dir / "compare.json", result.to_dict())
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    click.echo(result.text())
    if out_dir is not None:
        click.echo(f"\nChart, table and JSON written to {out_dir}/")


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--runs", "-n", default=1000, show_default=True,
              help="Replications of each run (the plan and each relaxation).")  # fmt: skip
@click.option("--seed", "-s", default=0, show_default=True, help="Root seed, shared by every run.")
@click.option("--out", "-o", type=click.Path(file_okay=False),
              help="Write diagnose.json, funnel.csv, stages.csv and two charts here.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--workers", "-w", default=None, type=int,
              help="Worker processes (default: all cores).")  # fmt: skip
@click.option("--stages", metavar="A,B", default=None,
              help="Stages to relax (default: every one that can act in the scenario): "
              "apply, titles, re_review, closures, budget, bring_in.")  # fmt: skip
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True,
              help="Language of the charts.")  # fmt: skip
def diagnose(scenario, runs, seed, out, as_json, workers, stages, lang) -> None:
    """What binds: each target title's funnel, and P(reach) if one stage alone were relaxed.

    Relaxations (same seeds as the plan): every eligible firm applies, unlimited titles, no
    re-review losses, no closures, no awards budget cap, every planned firm brought in. The
    binding stage raises P(reach) most, by more than 2 Monte Carlo errors.

    Example: srdi diagnose scenarios/hebi.yaml --out results/hebi-diagnose
    """
    from tqdm import tqdm

    from sim.engine.model import RELAXATIONS
    from sim.runs import diagnose as dg
    from sim.runs.ensemble import estimate_seconds

    sc = _load(scenario, "diagnose")
    if runs < 1:
        raise click.BadParameter(f"must be at least 1, got {runs}", param_hint="--runs")
    chosen = None
    if stages is not None:
        chosen = [x.strip() for x in stages.split(",") if x.strip()]
        wrong = [x for x in chosen if x not in RELAXATIONS]
        if wrong or not chosen:
            raise click.BadParameter(
                f"expected stages among {', '.join(RELAXATIONS)} separated by commas, "
                f"found '{stages}'",
                param_hint="--stages",
            )
    out_dir = Path(out) if out else None
    if out_dir is not None and (why := _writable_folder(out_dir)):
        click.echo(f"error: --out: {why}; nothing was run or written.", err=True)
        sys.exit(EXIT_INVALID)
    workers = workers or os.cpu_count() or 1
    n_runs = dg.runs_needed(sc, chosen)
    _warn_if_long(
        n_runs * estimate_seconds(sc, runs, False, workers),
        f"{n_runs} runs of {runs} replications on {workers} worker(s)",
        "--runs, --stages or more --workers",
    )
    with tqdm(total=runs * n_runs, desc=f"{sc.place.id}", unit="run", disable=None,
              file=sys.stderr, leave=False) as bar:  # fmt: skip
        result = dg.diagnose(
            sc, runs=runs, seed=seed, workers=workers, stages=chosen, progress=bar.update
        )
    if out_dir is not None:
        _write_diagnosis(result, out_dir, lang)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        click.echo(dg.report(result))
        if out_dir is not None:
            click.echo(f"\nTables, charts and diagnose.json written to {out_dir}/")


def _write_diagnosis(result, out_dir: Path, lang: str) -> None:
    """The funnel and the stages as CSV (titles in Chinese too), the two charts (words in
    `lang`) and the JSON, each file written whole or not at all."""
    from sim.views import diagnose_plots

    out_dir.mkdir(parents=True, exist_ok=True)
    tier_zh = {t.id: t.name_zh for t in result.scenario.ladder().tiers}
    for stem, df in (("funnel", result.funnel()), ("stages", result.stage_table())):
        table = for_people(df, tier_zh)
        write_atomic(out_dir / f"{stem}.csv", lambda p, t=table: write_csv(t, p))
    for stem, draw in (
        ("funnel", diagnose_plots.funnel_chart),
        ("relaxations", diagnose_plots.relaxation_chart),
    ):
        write_figure(out_dir / f"{stem}.png", draw(result, lang))
    write_json(out_dir / "diagnose.json", result.to_dict())


@main.command()
@click.argument("sweep_dir", type=click.Path())
@click.option("--target", "-t", required=True, metavar="ID", help="A target id of the sweep.")
@click.option("--threshold", type=float, default=0.5, show_default=True,
              help="Experiment cases: missed when P(reach) is below this.")  # fmt: skip
@click.option(
    "--cases",
    type=click.Choice(["auto", "replication", "experiment"]),
    default="auto",
    show_default=True,
    help="One case per replication (auto: when the sweep wrote them) or experiment.",
)
@click.option("--boxes", type=int, default=3, show_default=True, help="Boxes to look for.")
@click.option(
    "--min-density",
    type=float,
    default=None,
    help="Choose the widest box at least this dense (default: nearest to coverage 1, density 1).",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    help="Write discover.csv, discover_trajectory.csv, discover.json, discover.png.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True,
              help="Language of the chart.")  # fmt: skip
def discover(sweep_dir, target, threshold, cases, boxes, min_density, out, as_json, lang) -> None:
    """Where a target is missed: PRIM boxes of inputs over a finished sweep's cases.

    Each box is a range per input in which the target is mostly missed, with its coverage (its
    share of all misses) and density (the share of its cases that miss).

    Example: srdi discover results/hebi-sweep --target little_giant_2025 --out results/why
    """
    from tqdm import tqdm

    from sim.runs import discover as dc

    out_dir = Path(out) if out else None
    bar = tqdm(total=boxes + 1 if boxes > 0 else 1, desc=target, unit="step", disable=None,
               file=sys.stderr, leave=False)  # fmt: skip
    try:
        result = dc.discover(
            sweep_dir, target, threshold, cases, boxes, min_density, progress=bar.update
        )
    except dc.DiscoverError as e:
        click.echo(f"error: {e} Nothing was written.", err=True)
        sys.exit(EXIT_INVALID)
    finally:
        bar.close()
    if out_dir is not None:
        if why := _writable_folder(out_dir):
            click.echo(f"error: --out: {why}; nothing was written.", err=True)
            sys.exit(EXIT_INVALID)
        _write_discovery(result, out_dir, lang)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        click.echo(_discover_report(result))
        if out_dir is not None:
            click.echo(f"\nTable, trajectory, JSON and chart written to {out_dir}/")


def _write_discovery(result, out_dir: Path, lang: str) -> None:
    from sim.views.plots import discover_chart

    write_atomic(out_dir / "discover.csv", lambda p: write_csv(result.table(), p))
    write_atomic(out_dir / "discover_trajectory.csv", lambda p: write_csv(result.trajectories(), p))
    write_json(out_dir / "discover.json", result.to_dict())
    fig = discover_chart(result, lang)
    write_figure(out_dir / "discover.png", fig)


def _discover_report(result) -> str:
    """The boxes as text: each box's statistics and limits per restricted input."""
    share = result.missed / result.cases if result.cases else 0.0
    lines = [
        f"{result.target} ({result.goal['kind']} {result.goal['tier']} >= "
        f"{result.goal['value']:g} in {result.goal['year']}): missed in {result.missed} of "
        f"{result.cases} {result.unit}s ({share:.0%}), {len(result.ranges)} inputs",
    ]
    for k, b in enumerate(result.boxes, start=1):
        lines += [
            "",
            f"box {k}: coverage {b.coverage:.2f}, density {b.density:.2f}, mass {b.mass:.2f} "
            f"({b.missed} of {b.cases} cases missed; step {b.chosen} of the trajectory)",
        ]
        for name, (lo, hi) in b.limits.items():
            vmin, vmax = result.ranges[name]
            lines.append(
                f"    {name:<52} {_short_number(lo):>8} - {_short_number(hi):<8}"
                f"  (range {_short_number(vmin)} - {_short_number(vmax)}; qp {b.qp[name]:.2g})"
            )
    lines += ["", *(f"note: {n}" for n in result.notes)]
    return "\n".join(lines)


@main.command("plan")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--target",
    "-t",
    required=True,
    metavar="ID|all",
    help="A target id of the scenario, or 'all' (a plan for each target).",
)
@click.option(
    "--probability",
    "-p",
    required=True,
    metavar="P",
    type=click.FloatRange(0, 1, min_open=True),
    help="The probability of reaching the target to plan for, e.g. 0.8.",
)
@click.option(
    "--budget",
    type=click.FloatRange(min=0),
    metavar="YUAN",
    help="The most a mix may cost (expected total over the period, yuan).",
)
@click.option(
    "--lever",
    "-l",
    "levers",
    multiple=True,
    metavar="PATH=LOW:HIGH[:STEP]",
    help="A lever to search and its range (repeatable; replaces the scenario's plan: "
    "section; default: every decided lever from 0 to twice its plan value).",
)
@click.option(
    "--runs",
    "-n",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Replications per mix in the search (same seed at every mix).",
)
@click.option("--seed", "-s", default=0, show_default=True, help="Root seed of the search.")
@click.option(
    "--check-runs",
    default=400,
    show_default=True,
    type=click.IntRange(min=1),
    help="Replications of the re-evaluation of each answer on fresh seeds.",
)
@click.option(
    "--check-seed",
    type=int,
    default=None,
    help="Root seed of the re-evaluation (default: seed + 1).",
)
@click.option(
    "--design",
    type=click.IntRange(min=0),
    default=None,
    help="Latin hypercube points of the shared design (default 4 per lever, >= 10).",
)
@click.option(
    "--generations",
    default=2,
    show_default=True,
    type=click.IntRange(min=0),
    help="Differential-evolution generations per target (0: the design only).",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    help="Write plan.json, frontier.csv and plan.png here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option(
    "--workers", "-w", default=None, type=int, help="Worker processes (default: all cores)."
)
@click.option(
    "--lang",
    type=click.Choice(LANGS),
    default="zh",
    show_default=True,
    help="Language of the chart.",
)
def plan_command(
    scenario, target, probability, budget, levers, runs, seed, check_runs, check_seed, design,
    generations, out, as_json, workers, lang,
) -> None:  # fmt: skip
    """What it would take: the cheapest mix of lever values that reaches a target with
    probability P (or each target, --target all), within --budget; the cost-probability
    frontier of the mixes tried; the answer re-run on fresh seeds.

    \b
    Examples:
      srdi plan scenarios/hebi.yaml --target all --probability 0.8 --out results/hebi-plan
      srdi plan scenarios/hebi.yaml -t little_giant_2025 -p 0.5 \\
        --lever levers.bring_in.firms_per_year=0:40:2 --budget 100000000
    """
    from tqdm import tqdm

    from sim.runs import plan as planner
    from sim.runs.ensemble import estimate_seconds

    sc = _load(scenario, "plan")
    try:
        ids = planner.check_target(sc, target)
        ranges, _ = planner.lever_ranges(sc, levers)
    except ScenarioErrors as e:
        _fail(e)
    out_dir = Path(out) if out else None
    if out_dir is not None and (why := _writable_folder(out_dir)):
        click.echo(f"error: --out: {why}; nothing was run or written.", err=True)
        sys.exit(EXIT_INVALID)
    workers = workers or os.cpu_count() or 1
    total = planner.expected_runs(ranges, len(ids), runs, check_runs, design, generations)
    _warn_if_long(
        estimate_seconds(sc, total, counterfactual=False, workers=workers),
        f"at most {total:,} replications on {workers} worker(s)",
        "--runs, --check-runs, --design, --generations, fewer --lever or more --workers",
    )
    with tqdm(total=total, desc=f"{sc.place.id} plan", unit="run", disable=None,
              file=sys.stderr, leave=False) as bar:  # fmt: skip
        result = planner.search(
            sc, target, probability, budget, levers, runs=runs, seed=seed,
            check_runs=check_runs, check_seed=check_seed, design=design,
            generations=generations, workers=workers, progress=lambda k: bar.update(k),
        )  # fmt: skip
    if out_dir is not None:
        _write_plan(result, out_dir, lang)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        click.echo(_plan_report(result))
        if out_dir is not None:
            click.echo(f"\nplan.json, frontier.csv and plan.png written to {out_dir}/")


def _write_plan(result, out_dir: Path, lang: str) -> None:
    """plan.json (yuan), frontier.csv (万元, for people) and the chart, each written whole."""
    from sim.views import plots

    out_dir.mkdir(parents=True, exist_ok=True)
    table = for_people(result.frontier_table(), {})
    write_atomic(out_dir / "frontier.csv", lambda p: write_csv(table, p))
    fig = plots.plan_chart(result, lang)
    write_figure(out_dir / "plan.png", fig)
    write_json(out_dir / "plan.json", result.to_dict())


def _plan_report(result) -> str:
    """Each target's answer, its mix and its frontier, money in 万元."""
    sc = result.scenario
    source = {
        "command line": "--lever",
        "scenario": "the scenario's plan: section",
        "default": "default: 0 to twice the plan's values",
    }[result.ranges_from]
    lines = [
        f"{sc.place.name} ({sc.place.name_zh or sc.place.id}): the cheapest mix reaching "
        f"P >= {result.probability_goal:g}"
        + (f" within {result.budget_yuan / WAN:,.1f} 万元" if result.budget_yuan else ""),
        f"Levers searched ({source}):",
    ]
    for r in result.ranges:
        lines.append(f"  {_short_path(r.path):<34} {r.low:g} to {r.high:g}, step {r.step:g}")
    lines.append(
        f"{len(result.points)} mixes x {result.runs} replications (seed {result.seed}); each "
        f"answer re-run on {result.check_runs} fresh replications (seed {result.check_seed}); "
        f"{result.elapsed_seconds:.0f} s"
    )
    names = [_short_path(r.path) for r in result.ranges]
    for p in result.plans:
        t = next(t for t in sc.targets if t.id == p.target)
        lines += ["", f"{p.target}: {t.value:g} {t.tier} ({t.kind}) in {t.year}"]
        verdict = "reachable" if p.reachable else "NOT reachable within the bounds"
        what = "cheapest mix" if p.reachable else "likeliest mix found"
        lines.append(
            f"  {verdict}; {what}: {p.cost_yuan / WAN:,.1f} 万元, P {p.probability:.2f} "
            f"± {p.mc_se:.3f} on fresh seeds ({p.search_probability:.2f} in the search)"
        )
        lines.append(
            "  mix: "
            + ", ".join(
                f"{n} {_short_number(p.levers[r.path])}"
                for n, r in zip(names, result.ranges, strict=True)
            )  # fmt: skip
        )
        lines.append(f"  frontier ({len(p.frontier)} mixes, search seeds):")
        lines.append(f"    {'万元':>10} {'P':>5}  " + "  ".join(names))
        for f in p.frontier:
            cells = "  ".join(
                f"{_short_number(f.levers[r.path]):>{len(n)}}"
                for n, r in zip(names, result.ranges, strict=True)
            )
            mark = " <" if f.levers == p.levers else ""
            lines.append(
                f"    {f.cost_yuan / WAN:>10,.1f} {f.probability[p.target]:5.2f}  {cells}{mark}"
            )
    return "\n".join(lines)


@main.command("sensitivity")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--method", type=click.Choice(["sobol", "morris"]), default="sobol",
              show_default=True, help="Sobol indices (S1, ST) or Morris screening.")  # fmt: skip
@click.option("--samples", type=int, default=None,
              help="Sobol base samples N, a power of 2 (default 1024), or Morris trajectories "
              "(default 32).")  # fmt: skip
@click.option("--runs", "-n", type=int, default=None,
              help="Replications per design point, same seeds at each (default 1).")  # fmt: skip
@click.option("--seed", "-s", default=0, show_default=True, help="Root seed.")
@click.option("--out", "-o", type=click.Path(file_okay=False),
              help="Write sensitivity.json, indices.csv and a chart per target here.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--workers", "-w", type=int, default=None,
              help="Worker processes (default: all cores).")  # fmt: skip
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True,
              help="Language of the charts.")  # fmt: skip
def sensitivity_command(scenario, method, samples, runs, seed, out, as_json, workers, lang):
    """What matters most: Sobol (or Morris) indices of every target's outcome to every
    uncertain input (the scenario's ranges, the calibrated parameters, the batch sizes of the
    rationed titles), with confidence intervals and a convergence check (N/2 vs N).

    Example: srdi sensitivity scenarios/hebi.yaml --out results/hebi-sensitivity
    """
    from tqdm import tqdm

    from sim.runs import sensitivity as sa
    from sim.runs.ensemble import estimate_seconds

    sc = _load(scenario, "sensitivity")
    samples = samples if samples is not None else sa.DEFAULT_SAMPLES[method]
    runs = runs if runs is not None else sa.DEFAULT_RUNS
    for option, why in sa.option_problems(method, samples, runs):
        raise click.BadParameter(why, param_hint=option)
    try:
        ins = sa.check(sc, scenario)
    except ScenarioErrors as errors:
        _fail(errors)
    out_dir = Path(out) if out else None
    if out_dir is not None and (why := _writable_folder(out_dir)):
        click.echo(f"error: --out: {why}; nothing was run or written.", err=True)
        sys.exit(EXIT_INVALID)
    workers = workers or os.cpu_count() or 1
    screened = None
    if method == "sobol":  # the inert inputs first: the design's size depends on them
        screened = sa.screen(sc, ins, seed, workers)
        ins = screened[0]
    points = samples * sa.points_per_sample(len(ins), method)
    _warn_if_long(
        estimate_seconds(sc, points * runs, counterfactual=False, workers=workers),
        f"{points} design points x {runs} replication(s) on {workers} worker(s)",
        "--samples, --runs, --method morris or more --workers",
    )
    with tqdm(total=points, desc=f"{sc.place.id} {method}", unit="point", disable=None,
              file=sys.stderr, leave=False) as bar:  # fmt: skip
        result = sa.sensitivity(
            sc, method, samples, runs, seed, workers, bar.update, screened=screened
        )
    doc = result.to_dict()
    if out_dir is not None:
        _write_sensitivity(result, doc, out_dir, lang)
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False))
        return
    click.echo(_sensitivity_report(result))
    if out_dir is not None:
        click.echo(f"\nsensitivity.json, indices.csv and a chart per target written to {out_dir}/")


def _write_sensitivity(result, doc: dict, out_dir: Path, lang: str) -> None:
    """sensitivity.json, indices.csv and sensitivity-<target>.png, each written whole."""
    from sim.views.sensitivity_plots import chart

    write_json(out_dir / "sensitivity.json", doc)
    write_atomic(out_dir / "indices.csv", lambda p: write_csv(result.indices, p))
    import matplotlib.pyplot as plt

    for t in result.scenario.targets:
        fig = chart(result, t.id, lang)
        write_figure(out_dir / f"sensitivity-{t.id}.png", fig)
        plt.close(fig)


NOISY = 0.1  # a replication-noise share of the outcome's variance worth a warning


def _sensitivity_report(result, top: int = 5) -> str:
    """The most influential inputs of each target, and whether the indices converged."""
    sobol = result.method == "sobol"
    lines = [
        f"{result.scenario.place.name}: {result.method} sensitivity, N={result.samples}, "
        f"{result.runs} replication(s) per point, {result.design_points} design points, "
        f"{len(result.inputs)} inputs ({result.elapsed_seconds:.0f} s)"
    ]
    for t in result.scenario.targets:
        lines.append(f"\n{t.id} ({t.kind} {t.tier} {t.year} >= {t.value:g}):")
        rows = result.ranking(t.id)
        if rows[result.index].isna().all():
            lines.append("  its outcome does not vary over the design: no index")
            continue
        for r in rows.head(top).itertuples():
            if sobol:
                lines.append(f"  {r.rank:2d}. {r.input:55s} ST {r.ST:5.2f} ± {r.ST_conf:4.2f}"
                             f"   S1 {r.S1:5.2f} ± {r.S1_conf:4.2f}")  # fmt: skip
            else:
                lines.append(f"  {r.rank:2d}. {r.input:55s} mu* {r.mu_star:8.2f} ± "
                             f"{r.mu_star_conf:6.2f}   sigma {r.sigma:8.2f}")  # fmt: skip
    noisy = {t: v for t, v in result.noise.items() if v is not None and v > NOISY}
    if noisy:
        lines.append(
            "\nReplication noise is over a tenth of the outcome's variance for "
            + ", ".join(f"{t} ({v:.0%})" for t, v in noisy.items())
            + ": inputs that change the number of firms pick it up; raise --runs."
        )
    c = result.convergence
    lines.append(
        f"\nConvergence: {c['measure']}: {c['max_change']:.3f} "
        f"({'converged' if c['converged'] else 'not converged'}: threshold {c['threshold']:g})"
    )
    if "max_ST_conf" in c:
        lines.append(
            f"  widest bootstrap 95 % interval of a total index at N: ± {c['max_ST_conf']:.3f}"
        )
    if not c["converged"]:
        lines.append("  Run with more --samples (doubled) or --runs for stable indices.")
    lines.extend(f"note: {n}" for n in result.notes)
    return "\n".join(lines)


def pd_read(path: Path):
    import pandas as pd

    return pd.read_csv(path)


def run() -> None:
    """The `srdi` entry point."""
    # the verbs write figures to files: no window, no display needed (set before matplotlib is
    # imported, in the `srdi` process only; a notebook keeps its inline backend)
    os.environ.setdefault("MPLBACKEND", "Agg")
    main(standalone_mode=True)


if __name__ == "__main__":
    run()
