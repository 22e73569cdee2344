"""The ``paramcount`` command: parse arguments, call the library, pick a renderer, write. No arithmetic.

stdout carries only the answer; errors go to stderr as ``paramcount: error: <message>`` with exit
status 2 (the input was rejected) — an unexpected exception alone prints a traceback (exit 1). When the
answer is JSON (``--json``, ``--batch``), a rejected input is JSON on stdout too:
``{"query": …, "error": {"type": …, "message": …, "column": …}}``, the web API's error object.
"""

from __future__ import annotations

import gc
import os
import sys

from paramcount import __version__
from paramcount._record import Record, replace
from paramcount.errors import ArgumentError, LimitError, ParamcountError, QueryError
from paramcount.limits import MAX_BATCH_LINES

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any, NoReturn, TextIO

    from paramcount.analysis.planner import PlanOptions
    from paramcount.report import Report

__all__ = ["main"]

EXAMPLES = """\
examples:
  paramcount "Conv2d(256, 512, 3)"
  paramcount "nn.LSTM(512, 1024, num_layers=2, bidirectional=True)"
  paramcount --json "nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))"
  paramcount --markdown "MultiheadAttention(768, 12)"
  paramcount resnet50
  paramcount meta-llama/Llama-3.1-8B
  paramcount path/to/config.json --architecture LlamaModel
  paramcount model.safetensors
  paramcount model.gguf --gpu RTX-4090
  printf 'Linear(10, 20)\\nConv2d(3, 64, 7)\\n' | paramcount --batch - --dtype bfloat16
  paramcount models/unet.py:UNet --args '{"channels": 64}' --input 1,3,256,256

your own model (needs torch): paramcount FILE.py:CLASS imports FILE.py and builds CLASS(--args) on the meta
device, so this RUNS YOUR OWN CODE, on your machine, as python FILE.py would; the web never offers it.

the web app (needs the web extra: pip install 'paramcount[web]', or pip install -e '.[web]' in a checkout):
  paramcount serve                      # http://127.0.0.1:8000 (paramcount serve --help)
  paramcount site build public          # the answer pages as a static site (paramcount site build --help)
"""


MIN_WIDTH = 40
"""Narrowest text accepted for ``--width``: the tables' labels and the paragraphs' words need about that."""


class _Flag(Record):
    """One command-line option. The table below is the single definition: ``_parser()`` builds argparse's
    parser from it (help, errors, abbreviations), and ``_quick_arguments()`` reads plain invocations with it
    without importing argparse at all (argparse, with the gettext, locale and shutil it pulls in, cost more
    than the rest of a start-up)."""

    name: str
    help: str
    takes: type[int] | type[str] | None = None
    """None for a switch (``store_true``); else the type of the value that follows."""
    choices: tuple[str, ...] | tuple[int, ...] = ()
    metavar: str | None = None
    group: str = ""
    """``output`` (mutually exclusive), ``plan`` (the memory plan's group) or the top level."""

    @property
    def dest(self) -> str:
        return self.name[2:].replace("-", "_")


FLAGS = (
    _Flag("--json", "print one JSON object (the schema is in the README)", group="output"),
    _Flag("--markdown", "print the answer as Markdown", group="output"),
    _Flag(
        "--batch",
        "read one query per line from FILE ('-' for stdin), each answered with the other options; writes one "
        "JSON object per line",
        str,
        metavar="FILE",
    ),
    _Flag("--no-color", "plain text even on a terminal (also: NO_COLOR)"),
    _Flag("--width", f"wrap paragraphs at this many columns, at least {MIN_WIDTH} (default 100)", int),
    _Flag(
        "--architecture",
        "for a config: the class to count instead of the one it names (e.g. LlamaModel for the base model)",
        str,
        metavar="CLASS",
    ),
    _Flag(
        "--via-transformers",
        "count a config with transformers itself on the meta device (needs torch and transformers)",
    ),
    _Flag("--offline", "read hub ids from the local Hugging Face cache only, never the network (also: HF_HUB_OFFLINE)"),
    _Flag(
        "--dtype",
        "storage dtype: float32, bfloat16, float16, float8_e4m3fn … (default: the tensors' or the config's, "
        "else float32)",
        str,
        group="plan",
    ),
    _Flag(
        "--quantization",
        "weights in a deployed format: nf4, int8, llm.int8, gptq-4bit-g128, awq-4bit, Q4_K_M … (--list quantizations)",
        str,
        metavar="FORMAT",
        group="plan",
    ),
    _Flag(
        "--optimizer",
        "train with this optimizer: adamw, sgd, sgd-momentum, adafactor, lion, adamw-8bit …",
        str,
        group="plan",
    ),
    _Flag(
        "--mixed-precision",
        "16-bit weights and gradients, float32 master copy",
        str,
        choices=("bf16", "fp16"),
        group="plan",
    ),
    _Flag("--lora-rank", "train LoRA adapters of rank R (base weights frozen)", int, metavar="R", group="plan"),
    _Flag(
        "--lora-targets",
        "comma-separated module names, or all-linear (default: peft's for the model type, e.g. q_proj,v_proj; "
        "all-linear where peft has none)",
        str,
        metavar="NAMES",
        group="plan",
    ),
    _Flag("--gradient-checkpointing", "recompute activations in the backward pass", group="plan"),
    _Flag(
        "--attention",
        "attention implementation the activations follow (default sdpa, transformers' default)",
        str,
        choices=("eager", "sdpa", "flash"),
        group="plan",
    ),
    _Flag("--seq-len", "tokens per sequence (activations, KV cache)", int, metavar="N", group="plan"),
    _Flag(
        "--batch-size",
        "sequences per batch (default 1; --batch reads a file of queries)",
        int,
        metavar="N",
        group="plan",
    ),
    _Flag("--zero", "ZeRO stage for data parallelism (3 = FSDP)", int, choices=(0, 1, 2, 3), group="plan"),
    _Flag("--tp", "tensor-parallel degree", int, metavar="N", group="plan"),
    _Flag(
        "--sequence-parallel",
        "Megatron sequence parallelism with --tp (splits norm and dropout activations)",
        group="plan",
    ),
    _Flag("--pp", "pipeline-parallel degree", int, metavar="N", group="plan"),
    _Flag("--gpus", "devices in all (data parallel = gpus / (tp·pp))", int, metavar="N", group="plan"),
    _Flag(
        "--gpu",
        "check the fit on this accelerator: H100-80GB, A100-40GB, RTX-4090 … (--list gpus)",
        str,
        metavar="NAME",
        group="plan",
    ),
    _Flag(
        "--kv-dtype",
        "KV cache dtype for inference: fp8 (e4m3), fp8_e5m2, int8, bf16, fp16, fp32 (default: the model's dtype)",
        str,
        metavar="DTYPE",
        group="plan",
    ),
    _Flag(
        "--input",
        "propagate an input shape (batch first: 1,3,224,224 for an image, 1,2048 tokens for a language model): "
        "output shapes, MACs/FLOPs per layer, training FLOPs",
        str,
        metavar="SHAPE",
    ),
    _Flag("--depth", "levels of the module table below the root, 0 for the root alone (default 3)", int),
    _Flag(
        "--args",
        "for FILE.py:CLASS: the constructor's arguments, a JSON list or object, or Python call arguments "
        "(64, depth=2) read as literals, never evaluated",
        str,
        metavar="ARGS",
    ),
    _Flag(
        "--list",
        "list what paramcount knows and exit",
        str,
        choices=("layers", "models", "configs", "quantizations", "gpus"),
    ),
)
_BY_NAME = {flag.name: flag for flag in FLAGS}
DEFAULT_DEPTH = 3


def _parser() -> argparse.ArgumentParser:
    import argparse

    class Parser(argparse.ArgumentParser):
        """argparse's parser whose refusals are paramcount's one line (``QueryError``), not its usage block."""

        def error(self, message: str) -> NoReturn:
            raise QueryError(f"{message}; paramcount --help lists the options")

    parser = Parser(
        prog="paramcount",
        description="Count the parameters of a torch.nn layer or module exactly, and show the arithmetic.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "expression",
        nargs="*",
        help="a layer or module as you would type it in PyTorch, a zoo model (resnet50), a shipped hub id "
        "(meta-llama/Llama-3.1-8B), a path to a Hugging Face config.json (or its folder), a checkpoint file or "
        "folder (.safetensors, .gguf, .onnx, .pt), read header-only, or FILE.py:CLASS (your own nn.Module, built "
        "on the meta device: this runs your code)",
    )
    groups: dict[str, argparse.ArgumentParser | argparse._ActionsContainer] = {
        "": parser,
        "output": parser.add_mutually_exclusive_group(),
        "plan": parser.add_argument_group(
            "memory plan", "how much memory to store, train or serve it (any of these adds a memory plan)"
        ),
    }
    for flag in FLAGS:
        target = groups[flag.group]
        if flag.takes is None:
            target.add_argument(flag.name, action="store_true", help=flag.help)
        else:
            target.add_argument(
                flag.name,
                type=flag.takes,
                choices=flag.choices or None,
                metavar=flag.metavar,
                help=flag.help,
            )
    parser.add_argument("--version", action="version", version=f"paramcount {__version__}")
    return parser


class _Arguments:
    """What ``_quick_arguments`` read: the attributes argparse's ``Namespace`` would have."""

    def __init__(self, values: dict[str, object]) -> None:
        self.__dict__.update(values)

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any: ...  # as typeshed types argparse.Namespace


def _quick_arguments(words: list[str]) -> _Arguments | None:
    """The arguments of a plain invocation — exact option names, values that parse, the expression words in
    one run — or None for anything else (help, abbreviations, repeats, errors), which argparse then reads and
    reports. A test checks that whatever this reads, argparse reads the same."""
    values: dict[str, object] = {flag.dest: False if flag.takes is None else None for flag in FLAGS}
    expression: list[str] = []
    seen: set[str] = set()
    in_expression = False  # the previous word was an expression word
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("-"):
            if expression and not in_expression:
                return None  # expression words on both sides of an option: argparse refuses the second run
            expression.append(word)
            in_expression = True
            continue
        in_expression = False
        name, has_value, value = word.partition("=")
        flag = _BY_NAME.get(name)
        if flag is None or flag.dest in seen:
            return None
        seen.add(flag.dest)
        if flag.takes is None:
            if has_value:
                return None
            values[flag.dest] = True
            continue
        if not has_value:
            if index == len(words) or words[index].startswith("-"):
                return None
            value = words[index]
            index += 1
        try:
            converted = flag.takes(value)
        except ValueError:
            return None
        if flag.choices and converted not in flag.choices:
            return None
        values[flag.dest] = converted
    if values["json"] and values["markdown"]:
        return None
    values["expression"] = expression
    return _Arguments(values)


def _use_rich(stream: TextIO, no_color: bool) -> bool:
    if no_color or os.environ.get("NO_COLOR") or not stream.isatty():
        return False
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def _batch_lines(source: str) -> Iterator[str]:
    """Each query line without its line ending, unstripped: the length cap applies to the line as written,
    as it does to a query anywhere else. Blank lines and ``#`` comments are skipped. Bytes that are not UTF-8
    become U+FFFD, which fails their own line as the character it is, never the whole batch."""
    if source != "-":
        stream: TextIO = open(source, encoding="utf-8", errors="replace")  # noqa: SIM115
    else:
        import io

        buffer = getattr(sys.stdin, "buffer", None)  # none when stdin was replaced by a text stream
        stream = sys.stdin if buffer is None else io.TextIOWrapper(buffer, encoding="utf-8", errors="replace")
    with stream:
        for number, line in enumerate(stream, start=1):
            if number > MAX_BATCH_LINES:
                raise LimitError("the batch", MAX_BATCH_LINES, unit="lines")
            text = line.removesuffix("\n")
            if text.strip() and not text.lstrip().startswith("#"):
                yield text


def _run_batch(source: str, answer: Callable[[str], Report], out: TextIO) -> int:
    """One JSON object per query line: its report, or ``{"query": …, "error": {…}}``; exit 2 if any failed."""
    from paramcount.render.json import render_json

    failures = 0
    for text in _batch_lines(source):
        try:
            line = render_json(answer(text), indent=None)
        except ParamcountError as error:
            failures += 1
            line = _error_json(text, error, indent=None)
        out.write(line + "\n")
    return 2 if failures else 0


def _error_json(query: str | None, error: ParamcountError, indent: int | None) -> str:
    import json

    return json.dumps({"query": query, "error": error.to_dict(_flags())}, indent=indent, ensure_ascii=False)


def _flags() -> dict[str, str]:
    """Each flag by the keyword argument of ``paramcount.count`` it gives: how an error names its remedy here
    (``--via-transformers``, not ``via_transformers=True``)."""
    return {flag.dest: flag.name for flag in FLAGS}


def _plan_options(arguments: argparse.Namespace | _Arguments) -> PlanOptions | None:
    """One ``PlanOptions`` field per flag of the plan group; None when none of them was given."""
    values = ((flag.dest, getattr(arguments, flag.dest)) for flag in FLAGS if flag.group == "plan")
    given = {name: value for name, value in values if _given(value)}
    if "batch_size" in given:
        given["batch"] = given.pop("batch_size")
    if not given:
        return None
    from paramcount.analysis.planner import PlanOptions

    if isinstance(given.get("lora_targets"), str):
        targets = str(given["lora_targets"])
        given["lora_targets"] = targets if targets == "all-linear" else tuple(targets.split(","))
    return PlanOptions(**given)


def _given(value: object) -> bool:
    """Whether an option was given: a switch not given is False, any other option None (0 is a value)."""
    return value is not None and value is not False


def _check_options(arguments: argparse.Namespace | _Arguments) -> None:
    """Refuse, before any work, an option value that is meaningless or has no effect where it was given."""
    output = "--batch" if arguments.batch is not None else "--json" if arguments.json else None
    if arguments.list:
        others = [flag.name for flag in FLAGS if flag.name != "--list" and _given(getattr(arguments, flag.dest))]
        if arguments.expression or others:
            raise ArgumentError("--list", f"lists what paramcount knows; give it no {others[0] if others else 'query'}")
    if arguments.batch is not None and arguments.expression:
        raise ArgumentError("--batch", "reads the queries from its file; give no query beside it")
    if arguments.batch is not None and arguments.markdown:
        raise ArgumentError("--markdown", "--batch writes one JSON object per line")
    if arguments.width is not None:
        if output is not None or arguments.markdown:
            raise ArgumentError("--width", f"wraps text output only, not {output or '--markdown'}")
        if arguments.width < MIN_WIDTH:
            raise ArgumentError("--width", f"must be at least {MIN_WIDTH} columns, got {arguments.width}")
    if arguments.depth is not None:
        if output is not None:
            raise ArgumentError("--depth", f"limits the module table of text and --markdown, not {output}")
        if arguments.depth < 0:
            raise ArgumentError("--depth", f"must be 0 (the root alone) or more, got {arguments.depth}")


def _answerer(arguments: argparse.Namespace | _Arguments) -> Callable[[str], Report]:
    """The report of one query with every option given: the single answer and each line of a batch go
    through it. The plan and the input shape are checked once, before the first query."""
    from paramcount.api import count
    from paramcount.sources.live import file_target

    plan = _plan_options(arguments)
    shape = None
    if arguments.input is not None:
        from paramcount.analysis.shapes.propagate import parse_shape

        shape = parse_shape(arguments.input)
    architecture, via_transformers, offline = arguments.architecture, arguments.via_transformers, arguments.offline

    def answer(query: str) -> Report:
        target = file_target(query)
        if target is not None:
            from paramcount.api import refuse_config_options, summary_of_file

            refuse_config_options(query, architecture, via_transformers)
            depth = DEFAULT_DEPTH if arguments.depth is None else arguments.depth
            report = summary_of_file(*target, arguments.args, shape, plan, depth)
            return replace(report, query=query)  # the text given, as every other answer's (not the class's name)
        if arguments.args is not None:
            raise ArgumentError("--args", "gives the constructor's arguments of FILE.py:CLASS only")
        result = count(query, architecture=architecture, via_transformers=via_transformers, offline=offline)
        return result.report(plan, shape)

    return answer


def _run_one(arguments: argparse.Namespace | _Arguments, out: TextIO) -> int:
    report = _answerer(arguments)(" ".join(arguments.expression))
    depth = DEFAULT_DEPTH if arguments.depth is None else arguments.depth
    if arguments.json:
        from paramcount.render.json import render_json

        out.write(render_json(report) + "\n")
    elif arguments.markdown:
        from paramcount.render.markdown import render_markdown
        from paramcount.render.sections import CLI_HINTS

        out.write(render_markdown(report, depth, CLI_HINTS))
    elif _use_rich(out, arguments.no_color):
        from paramcount.render.sections import CLI_HINTS
        from paramcount.render.text import write_rich

        write_rich(report, out, arguments.width, depth, CLI_HINTS)
    else:
        from paramcount.render.sections import CLI_HINTS
        from paramcount.render.text import render_plain

        out.write(render_plain(report, arguments.width or 100, depth, CLI_HINTS))
    return 0


def _answer(arguments: argparse.Namespace | _Arguments, *, exiting: bool) -> int:
    """One answer to stdout. In a process that ends with it, the cyclic garbage collector is switched off
    first and everything made is frozen (``gc.freeze``) after: the modules, classes, tree and report are
    thousands of small objects that reference counting frees, which the collector would otherwise walk
    during the answer and once more when the interpreter exits (a tenth of the process's instructions)."""
    if not exiting:
        return _run_one(arguments, sys.stdout)
    gc.disable()
    status = _run_one(arguments, sys.stdout)
    gc.freeze()
    return status


def _list(what: str, out: TextIO) -> int:
    if what == "layers":
        from paramcount.layers import known_layers

        names = known_layers()
    elif what == "models":
        from paramcount.zoo import known_models

        names = known_models()
    elif what == "quantizations":
        from paramcount.dtypes import FORMATS

        found = [entry for entry in FORMATS if entry.role == "quantization"]
        names = tuple(entry.name + (f"  also: {', '.join(entry.aliases)}" if entry.aliases else "") for entry in found)
    elif what == "gpus":
        from paramcount.analysis.planner import ACCELERATORS

        names = tuple(
            f"{entry.name}  {entry.memory_bytes:,} B: {entry.basis}"
            + (f"  also: {', '.join(entry.aliases)}" if entry.aliases else "")
            for entry in ACCELERATORS
        )
    else:
        from paramcount.sources.hf.hub import shipped_hub_ids

        names = shipped_hub_ids()
    out.write("\n".join(names) + "\n")
    return 0


def run() -> int:
    """The ``paramcount`` command (and ``python -m paramcount``): ``main`` in a process that ends after it."""
    return main(exiting=True)


def main(argv: Sequence[str] | None = None, *, exiting: bool = False) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``) and return the exit status. ``exiting``:
    the process ends after this single answer, so the cyclic garbage collector is left out of it (see
    ``_answer``)."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["serve"] or words[:1] == ["site"]:  # the web app's commands (the web extra)
        from paramcount.web.commands import serve_main, site_main

        return (serve_main if words[0] == "serve" else site_main)(words[1:])
    try:
        arguments = _quick_arguments(words) or _parser().parse_args(words)
    except QueryError as error:  # an option argparse refused: one line, or JSON as any refusal with --json
        batch = any(word == "--batch" or word.startswith("--batch=") for word in words)  # not --batch-size
        if batch or "--json" in words:
            sys.stdout.write(_error_json(None, error, indent=None if batch else 2) + "\n")
        else:
            sys.stderr.write(f"paramcount: error: {error.worded(_flags())}\n")
        return 2
    if not (arguments.list or arguments.batch is not None or arguments.expression):
        _parser().print_usage(sys.stderr)
        sys.stderr.write('paramcount: error: give an expression, e.g. paramcount "Conv2d(256, 512, 3)"\n')
        return 2
    try:
        _check_options(arguments)
        if arguments.list:
            return _list(arguments.list, sys.stdout)
        if arguments.batch is not None:
            return _run_batch(arguments.batch, _answerer(arguments), sys.stdout)
        return _answer(arguments, exiting=exiting)
    except ParamcountError as error:
        if arguments.json or arguments.batch is not None:
            query = None if arguments.batch is not None else " ".join(arguments.expression)
            sys.stdout.write(_error_json(query, error, indent=None if arguments.batch is not None else 2) + "\n")
        else:
            sys.stderr.write(f"paramcount: error: {error.worded(_flags())}\n")
        return 2
    except BrokenPipeError:
        return 0
    except OSError as error:
        sys.stderr.write(f"paramcount: error: {error.strerror}: {error.filename}\n")
        return 2
