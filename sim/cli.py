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
from pathlib import Path

import click

from .errors import ScenarioErrors, SrdiError

EXIT_INVALID = 2
SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"


def _fail(errors: ScenarioErrors) -> None:
    for e in errors.errors:
        click.echo(f"error: {e.message}", err=True)
    n = len(errors.errors)
    click.echo(f"{n} problem{'s' if n != 1 else ''} found; nothing was run or written.", err=True)
    sys.exit(EXIT_INVALID)


def _load(path: str):
    from .scenario import load

    try:
        return load(path)
    except ScenarioErrors as e:
        _fail(e)


def _write_atomic(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename: never half-written."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="srdi-sim")
def main() -> None:
    """Forecast whether a place's SRDI (专精特新) plan reaches its targets, and at what cost."""


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--runs", "-n", default=1000, show_default=True, help="Monte Carlo replications.")
@click.option("--seed", "-s", default=0, show_default=True, help="Root seed.")
@click.option(
    "--out", "-o", type=click.Path(file_okay=False), help="Write CSV tables and a fan chart here."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option(
    "--workers", "-w", default=None, type=int, help="Worker processes (default: all cores)."
)
@click.option(
    "--no-counterfactual", is_flag=True, help="Skip the run with every lever off (faster)."
)
def forecast(scenario, runs, seed, out, as_json, workers, no_counterfactual) -> None:
    """Probability of reaching each target, expected counts with 90 % bands, and cost.

    Example: srdi forecast scenarios/hebi.yaml --runs 1000 --seed 1 --out results/hebi
    """
    from tqdm import tqdm

    from .ensemble import run_ensemble

    sc = _load(scenario)
    if runs < 1:
        raise click.BadParameter(f"must be at least 1, got {runs}", param_hint="--runs")
    out_dir = Path(out) if out else None
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise click.BadParameter(f"{out_dir} exists and is not a folder", param_hint="--out")
    workers = workers or os.cpu_count() or 1
    with tqdm(
        total=runs, desc=f"{sc.place.id}", unit="run", disable=None, file=sys.stderr, leave=False
    ) as bar:
        result = run_ensemble(
            sc,
            runs=runs,
            seed=seed,
            counterfactual=not no_counterfactual,
            workers=workers,
            progress=lambda k: bar.update(k),
        )
    if out_dir is not None:
        _write_outputs(result, out_dir)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        click.echo(_report(result))
        if out_dir is not None:
            click.echo(f"\nTables and fan chart written to {out_dir}/")


def _write_outputs(result, out_dir: Path) -> None:
    from . import plots

    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "targets.csv": result.targets(),
        "counts.csv": result.counts(),
        "cost.csv": result.cost(),
        "attributable.csv": result.attributable(),
    }
    for name, df in tables.items():
        _write_atomic(out_dir / name, lambda p, df=df: df.to_csv(p, index=False))
    fig = plots.fan_chart(result)
    _write_atomic(out_dir / "fan_chart.png", lambda p: fig.savefig(p, dpi=110, format="png"))
    _write_atomic(
        out_dir / "forecast.json",
        lambda p: p.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=1)),
    )


def _report(result) -> str:
    """The readable forecast: targets, expected stocks, cost, firms due to the levers."""
    sc = result.scenario
    lines = [
        f"{sc.place.name} ({sc.place.name_zh or sc.place.id}) - {sc.document.number or ''} "
        f"{sc.period.start}-{sc.period.end}",
        f"{result.n_runs} replications, seed {result.seed}, {result.elapsed_seconds:.1f} s",
        "",
        "Targets",
        f"  {'target':<30} {'goal':>8} {'P(reach)':>9} {'± mc se':>8} {'expected':>9} "
        f"{'90% band':>13} {'no levers':>9}",
    ]
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
            f"{f'{m:.0f} [{a:.0f}-{b:.0f}]':>18}"
            for m, a, b in zip(row["mean"], row["p05"], row["p95"], strict=True)
        )
        lines.append(f"  {tier:<24}{cells}")
    cost = result.cost()
    tot = result.total_cost()
    lines += ["", f"Cost over {sc.period.start}-{sc.period.end} (million yuan, mean)"]
    if cost.empty:
        lines.append("  no lever spends money in this scenario")
    else:
        by = cost.groupby("lever")["mean_yuan"].sum() / 1e6
        for lever, v in by.items():
            lines.append(f"  {lever:<24}{v:10.2f}")
        lines.append(
            f"  {'total':<24}{tot.mean() / 1e6:10.2f}   90% band "
            f"{_q(tot, 0.05) / 1e6:.2f}-{_q(tot, 0.95) / 1e6:.2f}"
        )
    att = result.attributable()
    if not att.empty:
        lines += [
            "",
            f"Firms attributable to the levers at the end of {result.years[-1]} "
            "(same seeds, levers off)",
        ]
        for _, r in att[att.metric == "at_least"].iterrows():
            cpf = r["cost_per_extra_firm_yuan"]
            cps = f"{cpf / 1e6:8.2f} M yuan per extra firm" if cpf == cpf and cpf else ""
            lines.append(
                f"  {r['tier']:<24}{r['mean']:8.1f} [{r['p05']:.0f}-{r['p95']:.0f}]   {cps}"
            )
    return "\n".join(lines)


def _q(x, q: float) -> float:
    import numpy as np

    return float(np.quantile(x, q))


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(files) -> None:
    """Check scenario files and print every problem in every file.

    Example: srdi validate scenarios/*.yaml
    """
    from .scenario import validate_files

    problems = validate_files(files)
    if problems:
        _fail(ScenarioErrors(problems))
    for f in files:
        click.echo(f"ok: {f}")


@main.command("list")
@click.argument("folder", required=False, type=click.Path(file_okay=False))
def list_scenarios(folder) -> None:
    """The shipped scenarios with place, period and targets.

    Example: srdi list
    """
    from .scenario import load

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
        for t in sc.targets:
            goal = f"{t.value:g}" + (f"-{t.stretch:g}" if t.stretch is not None else "")
            click.echo(f"    {t.year} {t.kind:<10} {t.tier:<26} {goal:>9}   [{t.source[:40]}]")
    if bad:
        sys.exit(EXIT_INVALID)


def run() -> None:
    """Entry point that turns project errors into messages, not tracebacks."""
    try:
        main(standalone_mode=True)
    except SrdiError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    run()
