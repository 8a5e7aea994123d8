"""How long the planners' questions take on Hebi, and what they answer.

    python benchmarks/planner_verbs.py            # every verb, writes benchmarks/planner_verbs.md
    python benchmarks/planner_verbs.py --only plan,diagnose --no-write

Each verb runs as a user would run it (`srdi ... --json`, a fresh process, the default workers),
timed by the wall clock; the answer's headline is read from its JSON. The bar (2 cores): a
converged Sobol analysis, `srdi plan --target all` and `srdi diagnose` each within 10 minutes.
The load average is recorded beside the times: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEBI = "scenarios/hebi.yaml"
SWEEP = "scenarios/sweeps/hebi-awards-loans.yaml"
LIMIT_SECONDS = 600


def _srdi(*args: str) -> tuple[float, dict]:
    """Run `srdi ARGS --json` from the project root; (wall seconds, the JSON printed)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", *args, "--json"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"srdi {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return seconds, json.loads(done.stdout)


def sensitivity() -> tuple[str, float, str]:
    command = ["sensitivity", HEBI, "--method", "sobol"]
    seconds, out = _srdi(*command)
    top = {}
    for row in out["indices"]:
        best = top.get(row["target"])
        if best is None or row["ST"] > best["ST"]:
            top[row["target"]] = row
    conv = out["convergence"]
    said = "; ".join(f"{t}: {r['input']} (ST {r['ST']:.2f})" for t, r in top.items())
    n_half, n = conv["compared"]
    verdict = "converged" if conv["converged"] else "NOT converged"
    return (
        "srdi " + " ".join(command),
        seconds,
        f"N={out['samples']}, {out['runs']} replication(s) a point, "
        f"{len(out['inputs'])} inputs after the screen; most important input per target: "
        f"{said}; {verdict}: max change of an ST from N={n_half} to {n} "
        f"{conv['max_change']:.3f} (threshold {conv['threshold']}), widest bootstrap 95 % "
        f"interval of an ST ± {conv['max_ST_conf']:.3f}",
    )


def plan() -> tuple[str, float, str]:
    command = ["plan", HEBI, "--target", "all", "--probability", "0.8"]
    seconds, out = _srdi(*command)
    parts = []
    for p in out["plans"]:
        if p.get("reachable"):
            parts.append(f"{p['target']}: {p['cost_yuan'] / 1e4:,.0f} 万元 -> "
                         f"{p['probability']:.2f} ± {p['mc_se']:.2f}")  # fmt: skip
        else:
            parts.append(f"{p['target']}: out of reach (best {p['probability']:.2f})")
    return "srdi " + " ".join(command), seconds, "; ".join(parts)


def diagnose() -> tuple[str, float, str]:
    command = ["diagnose", HEBI]
    seconds, out = _srdi(*command)
    said = "; ".join(f"{t['target']}: {t['binding'] or 'none binds'}" for t in out["targets"])
    return "srdi " + " ".join(command), seconds, f"binding stage: {said}"


def discover() -> tuple[str, float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = str(Path(tmp) / "sweep")
        sweep_cmd = ["sweep", SWEEP, "--runs", "100", "--replications", "--out", folder]
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sim.cli", *sweep_cmd], cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        sweep_seconds = time.perf_counter() - start
        command = ["discover", folder, "--target", "little_giant_2025"]
        seconds, out = _srdi(*command)
    boxes = (
        "; ".join(
            f"box {k}: coverage {b['coverage']:.2f}, density {b['density']:.2f}, "
            f"{', '.join(b['limits'])}"
            for k, b in enumerate(out["boxes"], start=1)
        )
        or "no box"
    )
    return (f"srdi {' '.join(sweep_cmd[:4])} ... && srdi {' '.join(command[:1])} ... "
            f"(sweep {sweep_seconds:.0f} s)", seconds, boxes)  # fmt: skip


VERBS = {"sensitivity": sensitivity, "plan": plan, "diagnose": diagnose, "discover": discover}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help=f"comma-separated verbs (default: {','.join(VERBS)})")
    ap.add_argument("--no-write", action="store_true", help="leave planner_verbs.md alone")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(VERBS)
    rows = []
    for name in names:
        print(f"{name}...", file=sys.stderr, flush=True)
        load = os.getloadavg()[0]
        command, seconds, answer = VERBS[name]()
        ok = "yes" if seconds <= LIMIT_SECONDS else "NO"
        rows.append((name, command, seconds, load, ok, answer))
        print(f"{name}: {seconds:.0f} s (load {load:.1f}, within 10 min: {ok})\n  {answer}")
    if args.no_write:
        return
    lines = [
        "# The planners' verbs on Hebi: time and answer",
        "",
        f"`python benchmarks/planner_verbs.py` on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}. Wall-clock seconds of each "
        "command as a user runs it; the load average at its start says how shared the machine "
        "was. Bar: 600 s on 2 cores.",
        "",
        "| verb | command | seconds | load | within 10 min | answer |",
        "|---|---|---:|---:|---|---|",
    ]
    table = {
        name: f"| {name} | `{command}` | {seconds:.0f} | {load:.1f} | {ok} | {answer} |"
        for name, command, seconds, load, ok, answer in rows
    }
    path = ROOT / "benchmarks" / "planner_verbs.md"
    notes: list[str] = []  # the paragraphs below the table stay as they were
    if path.exists():  # so do the rows of verbs not run this time
        old = path.read_text().splitlines()
        last_row = max((i for i, line in enumerate(old) if line.startswith("|")), default=-1)
        notes = old[last_row + 1 :] if last_row >= 0 else []
        for line in old:
            name = line.split("|")[1].strip() if line.startswith("| ") else ""
            if name in VERBS and name not in table:
                table[name] = line
    lines += [table[name] for name in VERBS if name in table] + notes
    path.write_text("\n".join(lines).rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
