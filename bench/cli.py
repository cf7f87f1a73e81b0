"""How fast the `qtqueue` command line answers (issue #11, "The CLI starts fast").

    python bench/cli.py [--runs N] [--checkout DIR ...] [--json OUT.json]

Prints figures; it is not a test. Every figure is the median wall time of N runs (default 15)
of a fresh `python -m qtqueue` process, measured here around `subprocess.run`, next to
`python -c pass` in the same run so that the interpreter's own start is visible. The runs are
interleaved across commands and checkouts (run 1 of each, then run 2, ...), so a burst of load
on a shared machine hits all of them rather than one.

- `--help`: the parser only.
- `ls (engine)` and `add command -- true (engine)`: against a real `python -m qtqueue run`
  started by this script on a fresh data directory (the engine's API over its Unix socket).
- `ls (no engine)`: the same data directory once the engine stopped (the store read
  directly); printed, no target.

`--checkout DIR` (repeatable) measures the qtqueue of that source tree (`PYTHONPATH=DIR`), each
with its own engine, side by side in one run: e.g. `--checkout ../main --checkout .` for a
before/after. Without it, the qtqueue that `python -m qtqueue` imports here is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

perf_counter = time.perf_counter

#: Targets of issue #11, in milliseconds of wall time (None: printed only).
TARGETS_MS: dict[str, float | None] = {
    "python -c pass": None,
    "qtqueue --help": 120.0,
    "qtqueue ls (engine)": 120.0,
    "qtqueue add command -- true (engine)": 150.0,
    "qtqueue ls (no engine)": None,
}
ANNOUNCE_TIMEOUT_S = 30.0

Runs = dict[tuple[str, str], list[float]]  # (checkout, command) -> wall times in ms


def _timed(argv: list[str], env: dict[str, str]) -> float:
    """The wall time of one run of `argv`, in ms; the run must succeed."""
    t0 = perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env, check=False)
    elapsed = (perf_counter() - t0) * 1000.0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()}")
    return elapsed


def _start_engine(data_dir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`python -m qtqueue --data-dir DATA_DIR run`, returned once it announces its API."""
    engine = subprocess.Popen(
        [sys.executable, "-m", "qtqueue", "--data-dir", str(data_dir), "run"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + ANNOUNCE_TIMEOUT_S
    while not (data_dir / "engine.json").exists():
        if engine.poll() is not None or time.monotonic() > deadline:
            engine.kill()
            _, err = engine.communicate()
            raise SystemExit(f"the engine did not announce its API: {err.decode()}")
        time.sleep(0.02)  # a bounded poll of an observable file: a benchmark, not a test
    return engine


def _stop_engine(engine: subprocess.Popen[bytes]) -> None:
    engine.send_signal(signal.SIGTERM)
    try:
        engine.wait(timeout=ANNOUNCE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        engine.kill()
        engine.wait()


def _measure(jobs: dict[tuple[str, str], tuple[list[str], dict[str, str]]], runs: int) -> Runs:
    """Each job `runs` times, interleaved, after one warm-up each (bytecode, page cache)."""
    for argv, env in jobs.values():
        _timed(argv, env)
    times: Runs = {key: [] for key in jobs}
    for _ in range(runs):
        for key, (argv, env) in jobs.items():
            times[key].append(_timed(argv, env))
    return times


def _bench(checkouts: list[str | None], runs: int, tmp: Path) -> Runs:
    py = sys.executable
    setups: dict[str, tuple[list[str], dict[str, str]]] = {}
    for n, checkout in enumerate(checkouts):
        label = checkout or "this python"
        env = {**os.environ, "QTQUEUE_DATA_DIR": str(tmp / "not-this-one")}
        if checkout is not None:
            env["PYTHONPATH"] = checkout
        setups[label] = ([py, "-m", "qtqueue", "--data-dir", str(tmp / f"q{n}")], env)
    engines = [_start_engine(Path(qt[-1]), env) for qt, env in setups.values()]
    try:
        with_engine = _measure(
            {
                (label, name): (argv, env)
                for label, (qt, env) in setups.items()
                for name, argv in (
                    ("python -c pass", [py, "-c", "pass"]),
                    ("qtqueue --help", [*qt, "--help"]),
                    ("qtqueue ls (engine)", [*qt, "ls", "--limit", "20"]),
                    ("qtqueue add command -- true (engine)", [*qt, "add", "command", "--", "true"]),
                )
            },
            runs,
        )
    finally:
        for engine in engines:
            _stop_engine(engine)
    no_engine = _measure(
        {
            (label, "qtqueue ls (no engine)"): ([*qt, "ls", "--limit", "20"], env)
            for label, (qt, env) in setups.items()
        },
        runs,
    )
    return {**with_engine, **no_engine}


def main() -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, metavar="N", help="runs per command")
    parser.add_argument(
        "--checkout", action="append", metavar="DIR", help="a source tree to measure (repeatable)"
    )
    parser.add_argument("--json", metavar="OUT", help="also write every run's figures here")
    args = parser.parse_args()
    checkouts: list[str | None] = [str(Path(c).resolve()) for c in args.checkout or []] or [None]
    here = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        os.chdir(tmp)  # `python -m` puts the working directory first on sys.path
        try:
            times = _bench(checkouts, args.runs, Path(tmp))
        finally:
            os.chdir(here)
    labels = list(dict.fromkeys(label for label, _ in times))
    print("| command | " + " | ".join(f"{label}: median ms (min .. max)" for label in labels)
          + " | target |")  # fmt: skip
    print("|---|" + "---:|" * len(labels) + "---:|")
    medians = {key: statistics.median(values) for key, values in times.items()}
    for name, target in TARGETS_MS.items():
        cells = []
        for label in labels:
            values = times[(label, name)]
            verdict = (
                "" if target is None else (" PASS" if medians[label, name] <= target else " FAIL")
            )
            cells.append(
                f"{medians[label, name]:.0f} ({min(values):.0f} .. {max(values):.0f}){verdict}"
            )
        print(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {'-' if target is None else f'{target:.0f}'} |"
        )
    load, python = os.getloadavg()[0], sys.version.split()[0]
    print(f"\n{args.runs} runs each; load average {load:.2f} at the end; python {python}")
    if args.json:
        Path(here, args.json).write_text(
            json.dumps(
                {f"{label} | {name}": {"runs_ms": values, "median_ms": medians[label, name]}
                 for (label, name), values in times.items()},
                indent=2,
            )
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
