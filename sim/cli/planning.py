"""`srdi plan`, `srdi diagnose`, `srdi compare` and `srdi dashboard`: questions about a plan:
what it would take to reach a target, what binds, how an alternative fares on the same seeds,
and the levers as sliders in a browser."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from sim.cli.common import (
    STARTED,
    fail,
    json_option,
    load_scenario,
    out_folder,
    parse_set,
    short_number,
    short_path,
    warn_if_long,
    workers_option,
)
from sim.errors import ScenarioErrors
from sim.views.labels import LANGS, WAN
from sim.views.output import for_people, write_atomic, write_csv, write_figure, write_json


@click.command()
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
    load_scenario(scenario, "dashboard")  # a scenario with problems is refused before serving
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


@click.command("compare")
@click.argument("plans", nargs=-1, required=True, type=click.Path(dir_okay=False),
                metavar="A.yaml [B.yaml]")  # fmt: skip
@click.option("--set", "settings", multiple=True, metavar="PATH=VALUE",
              help="Fix a quantity of plan B (the second file, or a copy of A when only one is "
              "given) to VALUE in every replication. Repeatable.")  # fmt: skip
@click.option("--runs", "-n", default=1000, show_default=True, help="Replications of each plan.")
@click.option("--seed", "-s", default=0, show_default=True, help="Root seed (shared by A and B).")
@json_option
@click.option("--out", "-o", type=click.Path(file_okay=False),
              help="Write compare.png, compare.csv and compare.json here.")  # fmt: skip
@workers_option
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
    a = load_scenario(plans[0], "compare")
    b = load_scenario(plans[1], "compare") if len(plans) == 2 else a
    values = parse_set(b, settings)
    out_dir = out_folder(out)
    label_a, label_b = plans[0], plans[-1]
    workers = workers or os.cpu_count() or 1
    warn_if_long(
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


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--runs", "-n", default=1000, show_default=True,
              help="Replications of each run (the plan and each relaxation).")  # fmt: skip
@click.option("--seed", "-s", default=0, show_default=True, help="Root seed, shared by every run.")
@click.option("--out", "-o", type=click.Path(file_okay=False),
              help="Write diagnose.json, funnel.csv, stages.csv and two charts here.")  # fmt: skip
@json_option
@workers_option
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

    sc = load_scenario(scenario, "diagnose")
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
    out_dir = out_folder(out)
    workers = workers or os.cpu_count() or 1
    n_runs = dg.runs_needed(sc, chosen)
    warn_if_long(
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


@click.command("plan")
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
@json_option
@workers_option
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

    sc = load_scenario(scenario, "plan")
    try:
        ids = planner.check_target(sc, target)
        ranges, _ = planner.lever_ranges(sc, levers)
    except ScenarioErrors as e:
        fail(e)
    out_dir = out_folder(out)
    workers = workers or os.cpu_count() or 1
    total = planner.expected_runs(ranges, len(ids), runs, check_runs, design, generations)
    warn_if_long(
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
        lines.append(f"  {short_path(r.path):<34} {r.low:g} to {r.high:g}, step {r.step:g}")
    lines.append(
        f"{len(result.points)} mixes x {result.runs} replications (seed {result.seed}); each "
        f"answer re-run on {result.check_runs} fresh replications (seed {result.check_seed}); "
        f"{result.elapsed_seconds:.0f} s"
    )
    names = [short_path(r.path) for r in result.ranges]
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
                f"{n} {short_number(p.levers[r.path])}"
                for n, r in zip(names, result.ranges, strict=True)
            )  # fmt: skip
        )
        lines.append(f"  frontier ({len(p.frontier)} mixes, search seeds):")
        lines.append(f"    {'万元':>10} {'P':>5}  " + "  ".join(names))
        for f in p.frontier:
            cells = "  ".join(
                f"{short_number(f.levers[r.path]):>{len(n)}}"
                for n, r in zip(names, result.ranges, strict=True)
            )
            mark = " <" if f.levers == p.levers else ""
            lines.append(
                f"    {f.cost_yuan / WAN:>10,.1f} {f.probability[p.target]:5.2f}  {cells}{mark}"
            )
    return "\n".join(lines)
