"""`srdi forecast` and `srdi report`: one ensemble of a scenario, as text, tables, a workbook,
a fan chart and JSON (forecast) or as one HTML page (report)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from sim.cli.common import (
    EXIT_INVALID,
    SCHEDULER_HELP,
    json_option,
    load_scenario,
    out_folder,
    parse_set,
    warn_if_long,
    workers_option,
    writable_folder,
)
from sim.views.labels import LANGS, WAN
from sim.views.output import (
    for_people,
    write_atomic,
    write_csv,
    write_figure,
    write_json,
    write_xlsx,
)


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--runs", "-n", default=1000, show_default=True, help="Monte Carlo replications.")
@click.option("--seed", "-s", default=0, show_default=True, help="Root seed.")
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    help="Write CSV tables, forecast.xlsx, a fan chart and forecast.json here.",
)
@json_option
@workers_option
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
    sc = load_scenario(scenario)
    values = parse_set(sc, settings)
    out_dir = out_folder(out)
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

    from sim.runs.ensemble import estimate_seconds, run_ensemble, runs_counterfactual
    from sim.runs.executor import SchedulerUnreachable

    if runs < 1:
        raise click.BadParameter(f"must be at least 1, got {runs}", param_hint="--runs")
    if scheduler and scheduler != "local" and workers is not None:
        click.echo(
            f"note: --workers {workers} is not used: the cluster at {scheduler} has its own.",
            err=True,
        )
    workers = workers or os.cpu_count() or 1
    twice = runs_counterfactual(sc, counterfactual)
    warn_if_long(
        estimate_seconds(sc, runs, counterfactual, workers, by_lever),
        f"{runs} replications{' and their counterfactuals' if twice else ''}"
        f"{', each lever off alone' if by_lever else ''} on {workers} worker(s)",
        "--runs"
        + (", --no-counterfactual" if twice else "")
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


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False),
              help="Folder to write report.html into.")  # fmt: skip
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True,
              help="Language read first (the other is shown beside it).")  # fmt: skip
@click.option("--runs", "-n", default=1000, show_default=True, help="Monte Carlo replications.")
@click.option("--seed", "-s", default=0, show_default=True, help="Root seed.")
@workers_option
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

    sc = load_scenario(scenario, "report")
    values = parse_set(sc, settings)
    out_dir = Path(out)
    if why := writable_folder(out_dir):
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
