"""The API's request and error models, and the responses each route documents in ``/openapi.json``.

One web parameter per library argument: ``q`` and ``architecture`` are ``count``'s; the memory fields are
``PlanOptions``'s, with the same names; ``input`` is the input shape of ``Result.report``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ARCHITECTURE_HELP",
    "COUNT_QUERY",
    "QUERY_HELP",
    "SECTIONS_HELP",
    "CountBody",
    "CountRequest",
    "ErrorResponse",
    "FlopsBody",
    "FlopsRequest",
    "FragmentBody",
    "FragmentRequest",
    "MemoryBody",
    "MemoryRequest",
    "Responses",
]

QUERY_HELP = (
    "a torch.nn layer or module as typed in PyTorch (Conv2d(256, 512, 3)), a zoo model (resnet50), "
    "a shipped hub id (meta-llama/Llama-3.1-8B) or the text of a config.json; never a file path"
)
ARCHITECTURE_HELP = "for a hub id or config: the class to count instead (LlamaModel for the base model)"
INPUT_HELP = "input shape, batch first, sizes separated by commas: 1,3,224,224"
SECTIONS_HELP = (
    "the optional parts to compute and return, comma-separated: explanation (the formula and reading), modules "
    "(modules, blocks), code, training (memory.training), appears_in, variants, related; none by default: the "
    "count, tensors and memory (Result.report's sections)"
)


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str = Field(description=QUERY_HELP, examples=["Conv2d(256, 512, 3)"])
    architecture: str | None = Field(default=None, description=ARCHITECTURE_HELP)


class CountRequest(_Query):
    sections: str | None = Field(default=None, description=SECTIONS_HELP, examples=["training,variants"])


class MemoryRequest(CountRequest):
    """The memory planner's options (``PlanOptions``); leave ``optimizer`` out for inference."""

    dtype: str | None = Field(default=None, description="storage dtype: float32, bfloat16, float16, int8 …")
    optimizer: str | None = Field(default=None, description="adamw, sgd-momentum, adafactor, lion, adamw-8bit …")
    mixed_precision: str | None = Field(default=None, description="bf16 or fp16 (float32 master weights)")
    lora_rank: int | None = Field(default=None, description="train LoRA adapters of this rank")
    lora_targets: str | None = Field(default=None, description="Linear names to adapt, comma-separated, or all-linear")
    quantization: str | None = Field(default=None, description="weight format: nf4, gptq-g128, Q4_K_M …")
    gradient_checkpointing: bool = Field(default=False, description="recompute activations (keep layer inputs)")
    attention: Literal["eager", "sdpa", "flash"] = Field(
        default="sdpa", description="transformers' attention implementation the activations follow"
    )
    zero: int = Field(default=0, description="ZeRO stage 0-3 over the data-parallel devices")
    tp: int = Field(default=1, description="tensor-parallel degree")
    pp: int = Field(default=1, description="pipeline-parallel degree")
    gpus: int | None = Field(default=None, description="devices in all (default tp × pp)")
    seq_len: int | None = Field(default=None, description="tokens per sequence (activations, KV cache)")
    batch: int = Field(default=1, description="sequences per device")
    gpu: str | None = Field(default=None, description="accelerator to check the fit against: H100-80GB, A100-40GB …")
    kv_dtype: str | None = Field(default=None, description="KV cache dtype: fp8, fp8_e5m2, int8, bf16, fp16, fp32")


class FlopsRequest(CountRequest):
    input: str | None = Field(default=None, description=INPUT_HELP, examples=["1,3,224,224"])
    seq_len: int | None = Field(default=None, description="tokens per sequence: FLOPs per step (6·N·tokens rule)")
    batch: int = Field(default=1, description="sequences per step")


class FragmentRequest(_Query):
    """What the counter and the planner pages send; values are text, as a form sends them (blank: not given)."""

    view: Literal["parameters", "memory", "output"] = "parameters"
    input: str | None = None
    dtype: str | None = None
    optimizer: str | None = None
    mixed_precision: str | None = None
    lora_rank: str | None = None
    lora_targets: str | None = None
    quantization: str | None = None
    gradient_checkpointing: str | None = None
    attention: str | None = None
    zero: str | None = None
    tp: str | None = None
    pp: str | None = None
    gpus: str | None = None
    seq_len: str | None = None
    batch: str | None = None
    gpu: str | None = None
    kv_dtype: str | None = None


class CountBody(CountRequest):
    """JSON bodies are read strictly: a number is not a string, a boolean is not a number."""

    model_config = ConfigDict(extra="forbid", strict=True)


class MemoryBody(MemoryRequest):
    model_config = ConfigDict(extra="forbid", strict=True)


class FlopsBody(FlopsRequest):
    model_config = ConfigDict(extra="forbid", strict=True)


class FragmentBody(FragmentRequest):
    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorDetail(BaseModel):
    type: str = Field(description="ParamcountError subclass (ExpressionError …) or the HTTP condition")
    message: str = Field(description="one line: where, what is wrong, what is allowed")
    column: int | None = Field(default=None, description="1-based column in the query, when the error has one")


class ErrorResponse(BaseModel):
    query: str | None
    error: ErrorDetail


Responses = dict[int | str, dict[str, Any]]

REJECTED: Responses = {
    400: {"model": ErrorResponse, "description": "the query was rejected (the message says why and where)"}
}
BOUNDS: Responses = {
    413: {"model": ErrorResponse, "description": "the request body is over the limit"},
    503: {"model": ErrorResponse, "description": "busy: try again"},
    504: {"model": ErrorResponse, "description": "the answer took longer than the limit"},
}
REPORT: Responses = {200: {"description": "report_dict(report): the JSON schema documented in the README"}}
HTML: Responses = {200: {"content": {"text/html": {}}, "description": "an HTML page"}}
HTML_REJECTED: Responses = {400: {"content": {"text/html": {}}, "description": "the page, the error shown inline"}}
HTML_BUSY: Responses = {
    503: {"content": {"text/html": {}}, "description": "busy: try again"},
    504: {"content": {"text/html": {}}, "description": "the answer took longer than the limit"},
}
UNREADABLE: Responses = {400: {"model": ErrorResponse, "description": "the request body could not be read"}}
MOVED: Responses = {301: {"description": "the canonical address of the same answer"}}
HTML_MISSING: Responses = {404: {"content": {"text/html": {}}, "description": "no such answer"}}
JSON_MISSING: Responses = {404: {"model": ErrorResponse, "description": "no such answer"}}
INVALID: Responses = {
    422: {
        "description": "Validation Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
    }
}
"""What FastAPI documents for a route whose declared parameters it validates, for a route that reads its own."""


def _query_parameter(name: str, description: str, *, required: bool = False) -> dict[str, Any]:
    """A text query parameter as FastAPI documents ``Annotated[str | None, Query(description=...)]``."""
    schema: dict[str, Any] = {"type": "string"} if required else {"anyOf": [{"type": "string"}, {"type": "null"}]}
    schema |= {"description": description, "title": name.title()}
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


COUNT_QUERY = {
    "parameters": [
        _query_parameter("q", QUERY_HELP, required=True),
        _query_parameter("architecture", ARCHITECTURE_HELP),
        _query_parameter("sections", SECTIONS_HELP),
    ]
}
"""``GET /api/count``'s query parameters, documented as FastAPI documents declared ``Query`` parameters; the route
reads them from the query string itself (``handlers.count_ask``): FastAPI's validation of three declared
parameters cost more than everything else a cached answer does (benchmarks/RESULTS.md)."""

FILE_NAME_HELP = "the file's name: its ending (.safetensors or .gguf) gives the format; messages name it"
FILE_BODY = {
    "requestBody": {
        "required": True,
        "description": "the file's first bytes: a safetensors file's 8-byte length and JSON header, a GGUF's "
        "metadata and tensor infos (more bytes may follow; the tensor data is never needed)",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
"""The raw body of ``POST /api/file`` (FastAPI reads it from the request itself: no multipart dependency)."""
