"""Whole-process and in-process speed of a single-layer answer, against the ways people do it otherwise.

Compares, in one run on the same interpreter:
  - bare start-up: ``python -c pass``
  - ``paramcount "Conv2d(256, 512, 3)"`` (the installed console script, plain output to a pipe)
  - the same through a launcher like the one uv writes: pip's launcher imports ``re`` before paramcount
    starts, uv's does not (uv-install-wheel's template: "removed `import re`"); ``python -c "import re"``
    shows that share
  - the PyTorch snippet that counts the same layer (``import torch`` + build on the meta device)
and times ``paramcount.count()`` in-process (a new text each call: the goal's ``Conv2d``, five other single
layers, and a text only the parser reads; the same text again; ``.report()``), with their instruction counts
under ``--instructions``. Prints medians and ratios.

The commands run round-robin (one of each, then again), so a busy moment on the machine slows them all
alike instead of one of them; the ratios are the point. Wall time and CPU time are both shown; with
``--instructions`` (needs valgrind) the processes' instruction counts are added, which no other load on
the machine changes.

Bytecode: a user's install has the package compiled (pip compiles on install; an editable install on first
run). This script compiles it once with ``compileall`` and runs the subprocesses without
``PYTHONDONTWRITEBYTECODE``, so every command is measured as a user would run it, not recompiling sources.

Run: python benchmarks/startup.py [--runs N] [--instructions]
"""

from __future__ import annotations

import argparse
import compileall
import itertools
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

import paramcount

TORCH_SNIPPET = (
    "import torch\n"
    "layer = torch.nn.Conv2d(256, 512, 3, device='meta')\n"
    "print(sum(p.numel() for p in layer.parameters()))\n"
)


UV_LAUNCHER = "import sys\nfrom paramcount.cli import run\nsys.exit(run())"
"""What uv's console-script launcher does (pip's adds ``import re`` and an ``re.sub`` on ``argv[0]``)."""

ENVIRONMENT = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _median_seconds(commands: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float]]:
    """Each command's median wall time and median CPU time (user + system, which a busy machine disturbs
    far less than wall time), the commands taking turns."""
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label in commands}
    for command in commands.values():
        subprocess.run(command, check=True, capture_output=True, env=ENVIRONMENT)  # warm the file cache
    for _ in range(runs):
        for label, command in commands.items():
            cpu, start = _children_cpu(), time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=ENVIRONMENT)
            samples[label].append((time.perf_counter() - start, _children_cpu() - cpu))
    return {
        label: (statistics.median(wall for wall, _ in values), statistics.median(cpu for _, cpu in values))
        for label, values in samples.items()
    }


def _instructions(command: list[str]) -> int:
    """Instructions the process executes (valgrind's callgrind), the same on a busy machine as on an idle one."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        check=True,
        capture_output=True,
        text=True,
        env=ENVIRONMENT,
    )
    collected = done.stderr.split("Collected : ")[1]
    return int(collected.split()[0])


PARSED = "nn.Sequential(nn.Linear(64 * 7 * 7, {next(fresh)}), nn.ReLU())"
"""A text with nested calls and arithmetic: scanned, parsed, checked and evaluated."""

PER_CALL_PROGRAM = """
import itertools, sys, paramcount, paramcount.layers
from paramcount.api import _answered
fresh = itertools.count(1)
paramcount.count("Conv2d(1, 512, 3)")  # imports and first-use tables out of the way
statement = compile(sys.argv[2], "<statement>", "exec")
for _ in range(int(sys.argv[1])):
    _answered.clear()  # every call a cold one, even if a text came back
    exec(statement)
"""


PER_CALL = {
    "count() in-process, new text": "paramcount.count(f'Conv2d({next(fresh)}, 512, 3)')",
    "of which parse() (scan, compile, check, evaluate, build; no totals)": (
        "paramcount.expr.parse(f'Conv2d({next(fresh)}, 512, 3)')"
    ),
    "of which the build (arguments bound, checked, tensors)": (
        "paramcount.layers.build('Conv2d', (next(fresh), 512, 3))"
    ),
    "count() of a text the parser reads, new text": f"paramcount.count(f'{PARSED}')",
    "of which compile() of that text": f"compile(f'({PARSED}\\n)', '<unknown>', 'eval', 1024)",
}


OTHER_LAYERS = {
    f"count() of {label}, new text": f"paramcount.count(f'{text}')"
    for label, text in {
        "nn.Linear": "nn.Linear({next(fresh)}, 128)",
        "nn.LayerNorm": "nn.LayerNorm({next(fresh)})",
        "nn.MultiheadAttention": "nn.MultiheadAttention(768, 12, kdim={next(fresh)})",
        "nn.LSTM, 2 layers both ways": "nn.LSTM({next(fresh)}, 1024, num_layers=2, bidirectional=True)",
        "a TransformerEncoderLayer (7 modules)": "nn.TransformerEncoderLayer(512, 8, dim_feedforward={next(fresh)})",
    }.items()
}
"""Other single layers (a new text each call), for the per-layer cost beyond the Conv2d of the goal."""


def _instructions_per_call(statement: str, calls: int = 500) -> int:
    """Instructions one execution of ``statement`` costs: the program run ``calls`` times minus run once."""
    many = _instructions([sys.executable, "-c", PER_CALL_PROGRAM, str(calls), statement])
    once = _instructions([sys.executable, "-c", PER_CALL_PROGRAM, "1", statement])
    return (many - once) // (calls - 1)


def _in_process_microseconds(statement: str, number: int) -> tuple[float, float]:
    """Best and median of 9 timings of ``number`` executions, per execution (the median shows the load the
    machine was under; the best, what the code costs)."""
    # One counter for all repeats (a setup would restart it, and the texts of later repeats would be cached).
    timer = timeit.Timer(statement, globals={"paramcount": paramcount, "fresh": itertools.count(1)})
    timings = [total / number * 1e6 for total in timer.repeat(repeat=9, number=number)]
    return min(timings), statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--instructions", action="store_true", help="also count instructions (needs valgrind)")
    arguments = parser.parse_args()
    script = shutil.which("paramcount")
    if script is None:
        raise SystemExit("install paramcount first: pip install -e .")
    compileall.compile_dir(str(Path(paramcount.__file__).parent), quiet=1)

    layer = "Conv2d(256, 512, 3)"
    commands = {
        "bare python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import re'": [sys.executable, "-c", "import re"],
        f"paramcount {layer}": [script, layer],
        f"paramcount --json {layer}": [script, "--json", layer],
        f"paramcount {layer}, launcher without re": [sys.executable, "-c", UV_LAUNCHER, layer],
    }
    medians = _median_seconds(commands, arguments.runs)
    torch_runs = max(3, arguments.runs // 4)
    pytorch, pytorch_cpu = _median_seconds({"torch": [sys.executable, "-c", TORCH_SNIPPET]}, torch_runs)["torch"]
    (bare, bare_cpu), (cli, cli_cpu) = medians["bare python -c pass"], medians[f"paramcount {layer}"]
    # A new text each time (cold: parse, validate, build) and the same text again (the parse cache).
    in_process = {
        "count() in-process, new text": _in_process_microseconds(PER_CALL["count() in-process, new text"], 2_000),
        "count() in-process, same text (cached)": _in_process_microseconds(
            "paramcount.count('Conv2d(256, 512, 3)')", 2_000
        ),
        "count() of a text the parser reads, new text": _in_process_microseconds(
            PER_CALL["count() of a text the parser reads, new text"], 1_000
        ),
        **{label: _in_process_microseconds(statement, 1_000) for label, statement in OTHER_LAYERS.items()},
        "count().report() in-process, new text": _in_process_microseconds(
            "paramcount.count(f'Conv2d({next(fresh)}, 512, 3)').report()", 300
        ),
    }

    print(f"python {sys.version.split()[0]}, {arguments.runs} runs each (torch: {torch_runs}), medians")
    print(f"{'':<56}{'wall':>9}  {'ratio':>11}{'CPU':>11}  {'ratio':>11}")
    for label, (wall, cpu) in {**medians, "PyTorch snippet (import torch, meta)": (pytorch, pytorch_cpu)}.items():
        print(
            f"{label:<56}{wall * 1e3:6.1f} ms  {wall / bare:6.2f}× bare{cpu * 1e3:8.1f} ms  {cpu / bare_cpu:6.2f}× bare"
        )
    print(f"{'speed-up of paramcount over PyTorch':<56}{pytorch / cli:8.1f}×{'':14}{pytorch_cpu / cli_cpu:8.1f}×")
    if arguments.instructions:
        counted = {label: _instructions(command) for label, command in commands.items()}
        base = counted["bare python -c pass"]
        for label, instructions in counted.items():
            print(f"{label:<56}{instructions / 1e6:7.1f} M instructions  {instructions / base:5.2f}× bare")
        for label, statement in {**PER_CALL, **OTHER_LAYERS}.items():
            print(f"{label:<56}{_instructions_per_call(statement) / 1e3:7.1f} k instructions")
    for label, (best, median) in in_process.items():
        print(f"{label:<56}{best:9.1f} µs best, {median:.1f} µs median")


if __name__ == "__main__":
    main()
