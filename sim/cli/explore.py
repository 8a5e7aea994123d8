"""`srdi sweep`, `srdi plot sweep`, `srdi discover` and `srdi sensitivity`: a scenario over a
design of inputs, and what the design shows (each target's probability over it, the ranges of
inputs where a target is missed, the inputs that matter most)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from sim.cli.common import (
    EXIT_INVALID,
    SCHEDULER_HELP,
    fail,
    json_option,
    load_scenario,
    out_folder,
    short_number,
    short_path,
    warn_if_long,
    workers_option,
    writable_folder,
)
from sim.errors import ScenarioErrors
from sim.views.labels import LANGS
from sim.views.output import write_atomic, write_csv, write_figure, write_json


@click.command("sweep")
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
@workers_option
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
        fail(e)
    except sw.SweepError as e:
        fail(ScenarioErrors([e]))
    if chunk_size is not None and chunk_size < 1:
        raise click.BadParameter(f"must be at least 1, got {chunk_size}", param_hint="--chunk-size")
    workers = workers or os.cpu_count() or 1
    from sim.runs.ensemble import estimate_seconds

    # each experiment's replications, plus one counterfactual run per future
    runs_in_all = plan.runs * (plan.n_experiments + plan.n_futures)
    warn_if_long(
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
                    f"{short_path(p)}={short_number(v)}" for p, v in zip(levers, key, strict=True)
                )
            )
        lines.append(f"  {target:<24} {f'{lo:.2f} - {hi:.2f}':>26}   {best}")
    lines += ["", f"Table: {out / 'sweep.parquet'}   Plot: srdi plot sweep {out}"]
    return "\n".join(lines)


@click.group()
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


@click.command()
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
@json_option
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
        if why := writable_folder(out_dir):
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
                f"    {name:<52} {short_number(lo):>8} - {short_number(hi):<8}"
                f"  (range {short_number(vmin)} - {short_number(vmax)}; qp {b.qp[name]:.2g})"
            )
    lines += ["", *(f"note: {n}" for n in result.notes)]
    return "\n".join(lines)


@click.command("sensitivity")
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
@json_option
@workers_option
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

    sc = load_scenario(scenario, "sensitivity")
    samples = samples if samples is not None else sa.DEFAULT_SAMPLES[method]
    runs = runs if runs is not None else sa.DEFAULT_RUNS
    for option, why in sa.option_problems(method, samples, runs):
        raise click.BadParameter(why, param_hint=option)
    try:
        ins = sa.check(sc, scenario)
    except ScenarioErrors as errors:
        fail(errors)
    out_dir = out_folder(out)
    workers = workers or os.cpu_count() or 1
    screened = None
    if method == "sobol":  # the inert inputs first: the design's size depends on them
        screened = sa.screen(sc, ins, seed, workers)
        ins = screened[0]
    points = samples * sa.points_per_sample(len(ins), method)
    warn_if_long(
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
