"""`srdi dashboard`: a page in the browser with a slider for each lever quantity of a scenario,
the probability of reaching each target under the plan and under the sliders' setting side by
side, and the fan charts of both.

Every setting runs the same replications (the same root seed: common random numbers), so a
difference from the plan is the levers', not the draws'. The counterfactual (every lever off)
does not depend on the levers' values: it is run once, with the plan. A slider moved sets its
quantity to a point value (`values=` of `run_ensemble`, as a sweep does); the plan draws the
quantities it gives as ranges anew in each replication.

The page is a Solara component (`Page`) served by Solara's Starlette app under uvicorn, in the
`srdi` process; the command hands the scenario, runs, seed and language over in environment
variables. Its words are Chinese or English (`--lang`); its text is set in the figures' CJK
font, embedded in the page as a subset of the characters it can show (`sim.views.fonts.font_face`),
so Chinese shows on a machine without a Chinese font. Money is in 万元.
"""

from __future__ import annotations

import html
import io
import math
import os
import socket
import sys
import threading
import time
import warnings
import webbrowser
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import solara
import solara.util

from sim.errors import SrdiError
from sim.scenario import Scenario, load, value_bounds
from sim.views.labels import WAN, Lang, in_lang, lever_name, target_phrase, tier_names

if TYPE_CHECKING:  # the model's modules load with the plan's run, once the page is served
    from sim.runs.ensemble import EnsembleResult

ENV_SCENARIO = "SRDI_DASHBOARD_SCENARIO"
ENV_RUNS = "SRDI_DASHBOARD_RUNS"
ENV_SEED = "SRDI_DASHBOARD_SEED"
ENV_LANG = "SRDI_DASHBOARD_LANG"
FONT_FAMILY = "SRDI CJK"

# The page's words: key -> (zh, en); {fields} are filled in
WORDS: dict[str, tuple[str, str]] = {
    "heading": ("{name_zh}（{name}），{start}–{end}", "{name} ({name_zh}), {start}-{end}"),
    "draws": (
        "每种设置 {runs} 次模拟，随机种子 {seed}：各设置使用相同的随机抽样，差异即来自政策措施。",
        "{runs} replications per setting, seed {seed}: the same draws for every setting, so a "
        "change is the levers'.",
    ),
    "reset": ("恢复为规划方案", "Reset to the plan"),
    "no_levers": (
        "本情景无政策措施：规划即现状。",
        "The scenario has no levers: the plan is the status quo.",
    ),
    "set_to": ("设为 {value}（规划：{plan}）", "set to {value} (plan: {plan})"),
    "as_planned": ("按规划（规划：{plan}）", "as planned (plan: {plan})"),
    "drawn": ("每次模拟在 {low} 至 {high} 间抽取", "{low} to {high}, drawn in each run"),
    "failed": ("运行失败：{error}", "The run failed: {error}"),
    "running_plan": (
        "正在运行规划方案的 {runs} 次模拟…",
        "Running the plan's {runs} replications...",
    ),
    "running": ("正在运行此设置…", "running this setting..."),
    "took": ("{runs} 次模拟用时 {seconds:.1f} 秒", "{runs} replications in {seconds:.1f} s"),
    "no_targets": (
        "无目标：图中为现状预测。",
        "No targets: the charts show the status-quo counts.",
    ),
    "this_setting": ("此设置（虚线：关闭全部措施）", "This setting (dashed: every lever off)"),
    "the_plan": ("规划方案", "The plan"),
    "col_target": ("目标", "target"),
    "col_p_plan": ("规划方案达成概率", "P, the plan"),
    "col_p_setting": ("此设置达成概率", "P, this setting"),
    "col_change": ("变化", "change"),
    "col_p_off": ("无政策措施时", "P, levers off"),
    "cost": ("期间预计总投入（万元）", "expected cost over the period (10,000 yuan, 万元)"),
    "is_plan": ("此设置即规划方案", "this setting is the plan"),
    "moved": ("滑块已偏离规划方案", "sliders moved from the plan"),
}


def say(key: str, lang: Lang, **fields) -> str:
    """A word of the page in `lang`, its fields filled in."""
    return in_lang(WORDS[key], lang).format(**fields)


DEBOUNCE_SECONDS = 0.3  # a slider dragged sends many values: run only the one it rests on
CACHE_SIZE = 32  # settings kept, so that going back to one is instant


class CannotServe(SrdiError):
    """The dashboard's address is taken (another server, a dashboard already running) or unknown."""


@dataclass(frozen=True)
class Lever:
    """One slider: a lever quantity of the scenario, its plan value and the slider's range."""

    path: str  # levers.loans.coverage
    plan: float  # the plan's central value: where the slider starts
    low: float  # the plan's range (low == high for a point value)
    high: float
    top: float  # the slider's maximum (its minimum is 0)
    step: float
    integer: bool

    @property
    def section(self) -> str:
        return self.path.split(".")[1]

    @property
    def name(self) -> str:
        return ".".join(self.path.split(".")[2:])

    def plan_text(self, lang: Lang) -> str:
        """What the plan says: a point value, or the range it is drawn from in each run."""
        if self.low == self.high:
            return _number(self.plan)
        return say("drawn", lang, low=_number(self.low), high=_number(self.high))


def _nice(x: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least x (x > 0)."""
    k = math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * 10**k >= x * (1 - 1e-12):
            return float(m * 10**k)
    return float(10 ** (k + 1))


def _number(v: float) -> str:
    """A value as people read it: 0.25, 10, 2,000,000."""
    if v == int(v) and abs(v) >= 1:
        return f"{int(v):,}"
    return f"{v:.4g}"


def levers(scenario: Scenario) -> list[Lever]:
    """A slider for each lever quantity of the scenario, from 0 to twice the plan's high end
    (rounded up to 1, 2 or 5 times a power of ten; shares and rates stop at 1)."""
    out = []
    for path, spec in scenario.specs().items():
        if not path.startswith("levers."):
            continue
        limits = value_bounds(path) or (0.0, math.inf)
        top = _nice(2 * spec.high) if spec.high > 0 else 1.0
        if spec.integer:
            top = max(top, 10.0)
        top = min(top, limits[1])
        step = 1.0 if spec.integer else _nice(top / 100)
        out.append(Lever(path, spec.value, spec.low, spec.high, top, step, spec.integer))
    return out


class Engine:
    """The ensembles of one scenario: the plan's once, each setting's on demand (the last few
    kept), all on the same seeds. Safe to call from several threads (browser sessions)."""

    def __init__(self, scenario: Scenario, runs: int, seed: int, lang: Lang = "zh") -> None:
        self.scenario = scenario
        self.runs = runs
        self.seed = seed
        self.lang = lang
        self.levers = levers(scenario)
        self._font_css: str | None = None
        self._plan: EnsembleResult | None = None
        self._plan_chart: bytes | None = None
        self._plan_lock = threading.Lock()
        self._cache: OrderedDict[tuple, EnsembleResult] = OrderedDict()
        self._cache_lock = threading.Lock()
        # the replications' set-ups, kept by the plan's run and read by every setting's (the
        # sliders move levers only, which act after the set-up); None if too big to keep
        self._set_ups: dict | None = None

    def font_css(self) -> str:
        """CSS that sets the page in the CJK font, cut to every character the page can show
        (its words, the scenario's names and targets, ASCII); made once."""
        if self._font_css is None:
            from sim.views.fonts import font_face

            sc = self.scenario
            doc = sc.document
            text = [w for pair in WORDS.values() for w in pair]
            text += [sc.place.name, sc.place.name_zh or "", "".join(map(chr, range(32, 127)))]
            if doc is not None:
                text += [doc.title, doc.number or ""]
            for lang in ("zh", "en"):
                names = tier_names(sc.ladder(), lang)
                text += [target_phrase(t, names[t.tier], lang) for t in sc.targets]
                text += [lever_name(lv.section, lang) for lv in self.levers]
            self._font_css = font_face("".join(text), FONT_FAMILY) + (
                f'.v-application, .v-application * {{ font-family: "{FONT_FAMILY}", Roboto, '
                "sans-serif !important; }"
            )
        return self._font_css

    def plan(self) -> EnsembleResult:
        """The plan as written, with its counterfactual (run on first use)."""
        from sim.runs.ensemble import run_ensemble, set_up_store

        with self._plan_lock:
            if self._plan is None:
                self._set_ups = set_up_store(
                    self.scenario, self.runs, [lever.path for lever in self.levers]
                )
                self._plan = run_ensemble(self.scenario, runs=self.runs, seed=self.seed,
                                          workers=1, set_ups=self._set_ups)  # fmt: skip
            return self._plan

    def plan_chart(self) -> bytes:
        """The plan's fan chart as PNG bytes (drawn on first use)."""
        plan = self.plan()
        with self._plan_lock:
            if self._plan_chart is None:
                self._plan_chart = chart_png(plan, self.lang)
            return self._plan_chart

    def result(
        self, values: dict[str, float], cancel: threading.Event | None = None
    ) -> EnsembleResult:
        """The ensemble with the levers set to `values` (path -> value; empty: the plan),
        sharing the plan's counterfactual. Raises solara.util.CancelledError when `cancel` is
        set while it runs (a newer setting replaced it)."""
        plan = self.plan()
        if not values:
            return plan
        key = tuple(sorted(values.items()))
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]

        from sim.runs.ensemble import run_ensemble

        def progress(_: float) -> None:
            if cancel is not None and cancel.is_set():
                raise solara.util.CancelledError()

        r = run_ensemble(
            self.scenario,
            runs=self.runs,
            seed=self.seed,
            counterfactual=False,
            workers=1,
            values=values,
            progress=progress,
            set_ups=self._set_ups,  # complete once the plan has run: only read here
        )
        r = replace(r, counterfactual=plan.counterfactual)
        with self._cache_lock:
            self._cache[key] = r
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return r


_PLOT_LOCK = threading.Lock()  # pyplot keeps global state: one figure at a time


def chart_png(result: EnsembleResult, lang: Lang = "zh") -> bytes:
    """The fan chart of a result as PNG bytes (`sim.views.plots.fan_chart`), its words in `lang`."""
    import matplotlib

    matplotlib.use("Agg")  # no window: the page shows the picture
    import matplotlib.pyplot as plt

    from sim.views.fonts import cjk
    from sim.views.plots import fan_chart

    with _PLOT_LOCK, cjk():
        fig = fan_chart(result, lang)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=72)
        plt.close(fig)
    return buf.getvalue()


def comparison_html(
    plan: EnsembleResult, setting: EnsembleResult, changed: bool, lang: Lang = "zh"
) -> str:
    """The targets as an HTML table: probability under the plan, under the setting, the
    change, and with every lever off; then the expected total cost in 万元."""
    p = plan.targets()
    s = setting.targets()
    sc = plan.scenario
    names = tier_names(sc.ladder(), lang)
    targets = {t.id: t for t in sc.targets}
    cols = ("col_target", "col_p_plan", "col_p_setting", "col_change", "col_p_off")
    head = "<tr>" + "".join(f"<th>{html.escape(say(c, lang))}</th>" for c in cols) + "</tr>"
    rows = [head]
    for (_, a), (_, b) in zip(p.iterrows(), s.iterrows(), strict=True):
        d = b["probability"] - a["probability"]
        colour = "#2e7d32" if d > 0 else "#c62828" if d < 0 else "inherit"
        tid = html.escape(str(a["id"]))
        t = targets[a["id"]]
        phrase = html.escape(target_phrase(t, names[t.tier], lang))
        rows.append(
            f'<tr data-target="{tid}"><td title="{tid}">{phrase}</td>'
            f'<td class="p-plan">{a["probability"]:.2f}</td>'
            f'<td class="p-setting"><b>{b["probability"]:.2f}</b></td>'
            f'<td class="p-change" style="color:{colour}">{d:+.2f}</td>'
            f'<td class="p-off">{a["probability_without_levers"]:.2f}</td></tr>'
        )
    cost_plan = plan.total_cost().mean() / WAN
    cost_setting = setting.total_cost().mean() / WAN
    rows.append(
        f"<tr><td>{html.escape(say('cost', lang))}</td>"
        f'<td class="cost-plan">{cost_plan:,.1f}</td>'
        f'<td class="cost-setting"><b>{cost_setting:,.1f}</b></td>'
        f"<td>{cost_setting - cost_plan:+,.1f}</td><td>0.0</td></tr>"
    )
    caption = say("moved" if changed else "is_plan", lang)
    return (
        '<table class="srdi-targets" style="border-collapse:collapse;font-size:14px">'
        f"<caption style='text-align:left'>{caption}</caption>"
        + "".join(rows)
        .replace("<td", "<td style='padding:2px 8px'")
        .replace("<th>", "<th style='padding:2px 8px'>")
        + "</table>"
    )


_ENGINE: Engine | None = None
_ENGINE_LOCK = threading.Lock()


def engine() -> Engine:
    """The page's engine, made from the environment the command set (once per process)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = Engine(
                load(os.environ[ENV_SCENARIO]),
                runs=int(os.environ.get(ENV_RUNS, "150")),
                seed=int(os.environ.get(ENV_SEED, "0")),
                lang=os.environ.get(ENV_LANG, "zh"),  # type: ignore[arg-type]
            )
        return _ENGINE


@dataclass
class View:
    """What the page shows for one setting."""

    table: str
    chart: bytes
    seconds: float


def _html(tag: str, text: str) -> None:
    """Plain text in an HTML element (Solara's Markdown would fetch KaTeX from a CDN)."""
    solara.HTML(tag=tag, unsafe_innerHTML=html.escape(text))


@solara.component
def LeverSlider(lever: Lever, value: float, on_value, is_set: bool, lang: Lang) -> None:
    """One lever quantity: its slider and what the plan says."""
    label = lever.name
    if lever.integer:
        solara.SliderInt(
            label, value=int(value), min=0, max=int(lever.top), step=1, on_value=on_value
        )
    else:
        solara.SliderFloat(
            label, value=value, min=0.0, max=lever.top, step=lever.step, on_value=on_value
        )
    plan = lever.plan_text(lang)
    now = (
        say("set_to", lang, value=_number(value), plan=plan)
        if is_set
        else say("as_planned", lang, plan=plan)
    )
    solara.Text(
        now,
        style={"font-size": "12px", "color": "#1565c0" if is_set else "#555"},
    )


@solara.component
def Page() -> None:
    """The dashboard: sliders on the left, the comparison table and the fan charts beside."""
    eng = engine()
    sc = eng.scenario
    lang = eng.lang
    values, set_values = solara.use_state(dict[str, float]())
    key = tuple(sorted(values.items()))
    last = solara.use_ref(None)  # the last finished view, shown while a newer one runs

    def work(cancel: threading.Event) -> View:
        if values and cancel.wait(DEBOUNCE_SECONDS):
            raise solara.util.CancelledError()
        start = time.perf_counter()
        plan = eng.plan()
        r = eng.result(values, cancel)
        table = comparison_html(plan, r, bool(values), lang)
        chart = chart_png(r, lang) if values else eng.plan_chart()
        return View(table, chart, time.perf_counter() - start)

    view = solara.use_thread(work, dependencies=[key], intrusive_cancel=False)
    if view.value is not None:
        last.current = view.value
    plan_png = solara.use_thread(eng.plan_chart, dependencies=[])

    def setter(lever: Lever):
        def set_value(v: float) -> None:
            v = float(round(v)) if lever.integer else round(round(v / lever.step) * lever.step, 12)
            new = dict(values)
            if lever.low == lever.high == v:
                new.pop(lever.path, None)  # the plan's own point value: the plan
            else:
                new[lever.path] = v
            set_values(new)

        return set_value

    solara.Title(f"srdi dashboard: {sc.place.name}")
    solara.Style(eng.font_css())
    doc = sc.document
    place = sc.place
    with solara.Column(style={"padding": "12px"}):
        _html(
            "h2",
            say("heading", lang, name=place.name, name_zh=place.name_zh or place.id,
                start=sc.period.start, end=sc.period.end),
        )  # fmt: skip
        if doc is not None:
            _html("div", f"{doc.title} {doc.number or ''}")
        _html("p", say("draws", lang, runs=eng.runs, seed=eng.seed))
        with solara.Columns([1, 3]):
            with solara.Column():
                solara.Button(
                    say("reset", lang),
                    on_click=lambda: set_values({}),
                    disabled=not values,
                    color="primary",
                )
                if not eng.levers:
                    solara.Text(say("no_levers", lang))
                section = None
                for lever in eng.levers:
                    if lever.section != section:
                        section = lever.section
                        _html("b", lever_name(section, lang))
                    LeverSlider(
                        lever,
                        values.get(lever.path, lever.plan),
                        setter(lever),
                        lever.path in values,
                        lang,
                    ).key(lever.path)
            with solara.Column():
                busy = view.state in (
                    solara.ResultState.STARTING,
                    solara.ResultState.WAITING,
                    solara.ResultState.RUNNING,
                )
                solara.ProgressLinear(busy)
                shown: View | None = last.current
                if view.state == solara.ResultState.ERROR:
                    solara.Error(say("failed", lang, error=view.error))
                if shown is None:
                    solara.Text(say("running_plan", lang, runs=eng.runs))
                else:
                    status = (
                        say("running", lang)
                        if busy
                        else say("took", lang, runs=eng.runs, seconds=shown.seconds)
                    )
                    solara.Text(status, classes=["srdi-status"])
                    if sc.targets:
                        solara.HTML(tag="div", unsafe_innerHTML=shown.table)
                    else:
                        solara.Text(say("no_targets", lang))
                    if sc.has_levers:
                        _html("b", say("this_setting", lang))
                    solara.Image(shown.chart, format="png", width="100%")
                    if values and plan_png.value is not None:
                        _html("b", say("the_plan", lang))
                        solara.Image(plan_png.value, format="png", width="100%")


def _has_display() -> bool:
    """Whether a graphical browser can open here: without a display on Linux, Python's
    webbrowser would start a text browser (w3m, lynx) in the terminal instead."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise CannotServe(
                f"cannot serve on {host}:{port} ({e.strerror}); choose another --port or --host"
            ) from None


def serve(
    scenario: str | Path,
    runs: int,
    seed: int,
    host: str,
    port: int,
    open_browser: bool,
    echo=print,
    started: float | None = None,
    lang: Lang = "zh",
) -> None:
    """Serve the dashboard of a scenario until interrupted; print its URL once it serves and
    open it in the browser if asked, with the seconds since `started` (time.perf_counter(),
    by default now). The plan's ensemble starts as soon as the page is served."""
    start = time.perf_counter() if started is None else started
    _check_port(host, port)
    os.environ[ENV_SCENARIO] = str(Path(scenario).resolve())
    os.environ[ENV_RUNS] = str(runs)
    os.environ[ENV_SEED] = str(seed)
    os.environ[ENV_LANG] = lang
    os.environ["SOLARA_APP"] = "sim.views.dashboard:Page"
    import uvicorn
    from solara.server import settings

    settings.telemetry.mixpanel_enable = False  # no calls home from a planner's machine
    settings.theme.show_banner = False  # Solara's badge would cover the charts' corner
    # the page is served over http on this machine: Solara's advice on cookies for https does
    # not apply
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    import solara.server.starlette  # reads SOLARA_APP when imported

    config = uvicorn.Config(
        solara.server.starlette.app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

    def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        echo(f"srdi dashboard: serving on {url} ({time.perf_counter() - start:.1f} s)")
        echo("Press Ctrl+C to stop.")
        if open_browser and _has_display():
            webbrowser.open(url)
        elif open_browser:
            echo("No display here: open the URL in a browser (e.g. through an SSH tunnel).")
        engine().font_css()
        engine().plan()  # started once serving: before, its imports would slow the server's

    threading.Thread(target=announce, daemon=True).start()
    server.run()
