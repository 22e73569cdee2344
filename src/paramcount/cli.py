"""The ``paramcount`` command: parse arguments, call the library, pick a renderer, write. No arithmetic.

stdout carries only the answer; errors go to stderr as ``paramcount: error: <message>`` with exit
status 2 (the input was rejected) — an unexpected exception alone prints a traceback (exit 1).
"""

from __future__ import annotations

import argparse
import os
import sys

from paramcount import __version__
from paramcount.errors import LimitError, ParamcountError
from paramcount.limits import MAX_BATCH_LINES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import TextIO

    from paramcount.analysis.planner import PlanOptions

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
  printf 'Linear(10, 20)\\nConv2d(3, 64, 7)\\n' | paramcount --batch -
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paramcount",
        description="Count the parameters of a torch.nn layer or module exactly, and show the arithmetic.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "expression",
        nargs="*",
        help="a layer or module as you would type it in PyTorch, a zoo model (resnet50), a shipped hub id "
        "(meta-llama/Llama-3.1-8B) or a path to a Hugging Face config.json (or its folder)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object (the schema is in the README)")
    output.add_argument("--markdown", action="store_true", help="print the answer as Markdown")
    parser.add_argument(
        "--batch",
        metavar="FILE",
        help="read one expression per line from FILE ('-' for stdin); writes one JSON object per line",
    )
    parser.add_argument("--no-color", action="store_true", help="plain text even on a terminal (also: NO_COLOR)")
    parser.add_argument("--width", type=int, default=None, help="wrap text at this many columns (default 100)")
    parser.add_argument(
        "--architecture",
        metavar="CLASS",
        help="for a config: the class to count instead of the one it names (e.g. LlamaModel for the base model)",
    )
    parser.add_argument(
        "--via-transformers",
        action="store_true",
        help="count a config with transformers itself on the meta device (needs torch and transformers)",
    )
    plan = parser.add_argument_group(
        "memory plan", "how much memory to store, train or serve it (any of these adds a memory plan)"
    )
    plan.add_argument("--dtype", help="storage dtype: float32, bfloat16, float16, float8_e4m3fn, int8 …")
    plan.add_argument(
        "--quantization", metavar="FORMAT", help="weights in a deployed format: nf4, gptq-4bit-g128, Q4_K_M …"
    )
    plan.add_argument(
        "--optimizer", help="train with this optimizer: adamw, sgd, sgd-momentum, adafactor, lion, adamw-8bit …"
    )
    plan.add_argument(
        "--mixed-precision", choices=["bf16", "fp16"], help="16-bit weights and gradients, float32 master copy"
    )
    plan.add_argument("--lora-rank", type=int, metavar="R", help="train LoRA adapters of rank R (base weights frozen)")
    plan.add_argument(
        "--lora-targets", metavar="NAMES", help="comma-separated module names, or all-linear (default q_proj,v_proj)"
    )
    plan.add_argument(
        "--gradient-checkpointing", action="store_true", help="recompute activations in the backward pass"
    )
    plan.add_argument("--seq-len", type=int, metavar="N", help="tokens per sequence (activations, KV cache)")
    plan.add_argument(
        "--batch-size", type=int, metavar="N", help="sequences per batch (default 1; --batch reads a file of queries)"
    )
    plan.add_argument("--zero", type=int, choices=[0, 1, 2, 3], help="ZeRO stage for data parallelism (3 = FSDP)")
    plan.add_argument("--tp", type=int, metavar="N", help="tensor-parallel degree")
    plan.add_argument("--pp", type=int, metavar="N", help="pipeline-parallel degree")
    plan.add_argument("--gpus", type=int, metavar="N", help="devices in all (data parallel = gpus / (tp·pp))")
    plan.add_argument(
        "--gpu", metavar="NAME", help="check the fit on this accelerator: H100-80GB, A100-40GB, RTX-4090 …"
    )
    parser.add_argument(
        "--input",
        metavar="SHAPE",
        help="propagate an input shape (batch first, e.g. 1,3,224,224): output shapes and MACs/FLOPs per layer",
    )
    parser.add_argument("--depth", type=int, default=3, help="deepest level of the module table (default 3)")
    parser.add_argument("--list", choices=["layers", "models", "configs"], help="list what paramcount knows and exit")
    parser.add_argument("--version", action="version", version=f"paramcount {__version__}")
    return parser


def _use_rich(stream: TextIO, no_color: bool) -> bool:
    if no_color or os.environ.get("NO_COLOR") or not stream.isatty():
        return False
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def _batch_lines(source: str) -> Iterator[str]:
    stream = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
    with stream:
        for number, line in enumerate(stream, start=1):
            if number > MAX_BATCH_LINES:
                raise LimitError("the batch", MAX_BATCH_LINES, unit="lines")
            text = line.strip()
            if text and not text.startswith("#"):
                yield text


def _run_batch(source: str, out: TextIO) -> int:
    import json

    from paramcount.api import count

    failures = 0
    for text in _batch_lines(source):
        try:
            data: dict[str, object] = count(text).to_dict()
        except ParamcountError as error:
            failures += 1
            data = {"query": text, "error": str(error), "error_type": type(error).__name__}
        out.write(json.dumps(data, ensure_ascii=False) + "\n")
    return 2 if failures else 0


PLAN_FLAGS = (
    "dtype", "quantization", "optimizer", "mixed_precision", "lora_rank", "lora_targets", "seq_len", "batch_size",
    "zero", "tp", "pp", "gpus", "gpu",
)  # fmt: skip


def _plan_options(arguments: argparse.Namespace) -> PlanOptions | None:
    """One ``PlanOptions`` field per flag; None when no planner flag was given."""
    given = {name: getattr(arguments, name) for name in PLAN_FLAGS if getattr(arguments, name) is not None}
    if "batch_size" in given:
        given["batch"] = given.pop("batch_size")
    if arguments.gradient_checkpointing:
        given["gradient_checkpointing"] = True
    if not given:
        return None
    from paramcount.analysis.planner import PlanOptions

    if isinstance(given.get("lora_targets"), str):
        targets = str(given["lora_targets"])
        given["lora_targets"] = targets if targets == "all-linear" else tuple(targets.split(","))
    return PlanOptions(**given)


def _run_one(arguments: argparse.Namespace, out: TextIO) -> int:
    from paramcount.api import count

    query = " ".join(arguments.expression)
    result = count(query, architecture=arguments.architecture, via_transformers=arguments.via_transformers)
    shape = None
    if arguments.input is not None:
        from paramcount.analysis.shapes import parse_shape

        shape = parse_shape(arguments.input)
    report = result.report(_plan_options(arguments), shape)
    if arguments.json:
        from paramcount.render.json import render_json

        out.write(render_json(report) + "\n")
    elif arguments.markdown:
        from paramcount.render.markdown import render_markdown

        out.write(render_markdown(report, arguments.depth))
    elif _use_rich(out, arguments.no_color):
        from paramcount.render.text import write_rich

        write_rich(report, out, arguments.width, arguments.depth)
    else:
        from paramcount.render.text import render_plain

        out.write(render_plain(report, arguments.width or 100, arguments.depth))
    return 0


def _list(what: str, out: TextIO) -> int:
    if what == "layers":
        from paramcount.layers import known_layers

        names = known_layers()
    elif what == "models":
        from paramcount.zoo import known_models

        names = known_models()
    else:
        from paramcount.sources.hf.hub import shipped_hub_ids

        names = shipped_hub_ids()
    out.write("\n".join(names) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["serve"] or words[:1] == ["site"]:  # the web app's commands (the web extra)
        from paramcount.web.commands import serve_main, site_main

        return (serve_main if words[0] == "serve" else site_main)(words[1:])
    parser = _parser()
    arguments = parser.parse_args(argv)
    if arguments.list:
        return _list(arguments.list, sys.stdout)
    if arguments.batch is None and not arguments.expression:
        parser.print_usage(sys.stderr)
        sys.stderr.write('paramcount: error: give an expression, e.g. paramcount "Conv2d(256, 512, 3)"\n')
        return 2
    try:
        if arguments.batch is not None:
            return _run_batch(arguments.batch, sys.stdout)
        return _run_one(arguments, sys.stdout)
    except ParamcountError as error:
        sys.stderr.write(f"paramcount: error: {error}\n")
        return 2
    except BrokenPipeError:
        return 0
    except OSError as error:
        sys.stderr.write(f"paramcount: error: {error.strerror}: {error.filename}\n")
        return 2
