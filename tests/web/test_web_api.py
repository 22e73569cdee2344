"""The JSON API through the app factory: every endpoint, every error path, with exact messages."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Query
from fastapi.testclient import TestClient
from markupsafe import escape

import paramcount
from paramcount.limits import MAX_EXPRESSION_CHARS
from paramcount.render.json import report_dict
from paramcount.report import SECTIONS
from paramcount.web.app import create_app
from paramcount.web.queries import EMPTY_MESSAGE, PATH_MESSAGE
from paramcount.web.schema import ARCHITECTURE_HELP, QUERY_HELP, SECTIONS_HELP
from paramcount.web.settings import Settings


@pytest.mark.parametrize(
    "query",
    [
        "Conv2d(256, 512, 3)",
        "nn.LSTM(512, 1024, num_layers=2, bidirectional=True)",
        "nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))",
        "resnet50(num_classes=10)",
        "meta-llama/Llama-3.1-8B",
    ],
)
def test_count_get_is_the_report(client: TestClient, query: str) -> None:
    response = client.get("/api/count", params={"q": query})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == report_dict(paramcount.count(query).report(sections=()))


def test_count_computes_only_the_sections_asked_for(client: TestClient) -> None:
    """Without ``sections`` the optional parts are neither computed nor sent; with them, the whole report."""
    query = "Conv2d(256, 512, 3)"
    plain = client.get("/api/count", params={"q": query}).json()
    assert {"explanation", "modules", "blocks", "code", "variants", "related", "appears_in"}.isdisjoint(plain)
    assert "training" not in plain["memory"]
    assert (plain["total"], plain["parameters"][0]["count"]) == (256 * 512 * 9 + 512, 256 * 512 * 9)  # the counter's
    assert plain["memory"]["stored"]["parameter_bytes"] == 4 * plain["total"]  # float32: 4 bytes each
    every = client.get("/api/count", params={"q": query, "sections": ",".join(SECTIONS)}).json()
    assert every == report_dict(paramcount.count(query).report())
    assert every["memory"]["training"][0]["name"] == "AdamW, float32"
    some = client.post("/api/count", json={"q": query, "sections": "variants"}).json()
    assert some["variants"] == every["variants"]
    assert "related" not in some
    wrong = client.get("/api/count", params={"q": query, "sections": "trainig"})
    assert wrong.status_code == 400
    known = "explanation, modules, code, training, appears_in, variants, related"
    message = f"sections: unknown section 'trainig'; known: {known}"
    assert wrong.json()["error"]["message"] == message


def test_count_post_is_the_report(client: TestClient) -> None:
    response = client.post("/api/count", json={"q": "Linear(4096, 4096)"})
    assert response.status_code == 200
    assert response.json()["total"] == 4096 * 4096 + 4096  # weight (out × in) + bias (out)


def test_count_architecture(client: TestClient) -> None:
    response = client.get("/api/count", params={"q": "meta-llama/Llama-3.1-8B", "architecture": "LlamaModel"})
    expected = paramcount.count("meta-llama/Llama-3.1-8B", architecture="LlamaModel").report(sections=())
    assert response.json() == report_dict(expected)


def _error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("query", "error_type", "message", "column"),
    [
        ("nn.Linear(3, 4).__class__", "ExpressionError", "column 17: dunder name '__class__' is not allowed", 17),
        ("Linear(3, 4", "ExpressionError", "column 7: invalid syntax: '(' was never closed", 7),
        (
            "Conv2D(1, 2, 3)",
            "UnknownNameError",
            "column 1: unknown layer 'Conv2D'; did you mean 'Conv2d', 'Conv3d' or 'Conv1d'?",
            1,
        ),
        (
            "Conv2d(10, 4, 3, groups=3)",
            "ArgumentError",
            "Conv2d: in_channels must be divisible by groups (in_channels=10, groups=3)",
            None,
        ),
        ("config.json", "QueryError", PATH_MESSAGE, None),
        ("models/llama/config.JSON", "QueryError", PATH_MESSAGE, None),
        ("/etc", "QueryError", PATH_MESSAGE, None),
        ("../secrets", "QueryError", PATH_MESSAGE, None),
        ("~/models", "QueryError", PATH_MESSAGE, None),
        (  # a hub id the package does not ship is not a path: say so, with the shipped ids that are close
            "meta-llama/Llama-3.1-8C",
            "UnknownNameError",
            "meta-llama/Llama-3.1-8C: not a shipped hub id, and the web app fetches nothing from the hub; paste its "
            "config.json text; did you mean 'meta-llama/Llama-3.1-8B', 'meta-llama/Llama-3.1-405B' or "
            "'meta-llama/Llama-3.2-1B'?",
            None,
        ),
        (
            "mistralai/Mistral-Nemo-Instruct-2407",
            "UnknownNameError",
            "mistralai/Mistral-Nemo-Instruct-2407: not a shipped hub id, and the web app fetches nothing from the "
            "hub; paste its config.json text",
            None,
        ),
        ("  ", "QueryError", EMPTY_MESSAGE, None),
        ("gpt2", None, None, None),
    ],
)
def test_count_rejects_bad_queries(
    client: TestClient, query: str, error_type: str | None, message: str | None, column: int | None
) -> None:
    response = client.get("/api/count", params={"q": query})
    if error_type is None:
        assert response.status_code == 200  # a shipped hub id, for contrast with the paths around it
        return
    assert response.status_code == 400
    expected = {"type": error_type, "message": message, "column": column}
    assert _error(response) == {"query": query, "error": expected}


def test_count_error_is_the_library_message(client: TestClient) -> None:
    with pytest.raises(paramcount.ExpressionError) as raised:
        paramcount.count("Linear(3, lambda x: x)")
    body = _error(client.post("/api/count", json={"q": "Linear(3, lambda x: x)"}))
    assert body["error"] == {"type": "ExpressionError", "message": str(raised.value), "column": raised.value.column}


def test_count_too_long_is_400(client: TestClient) -> None:
    query = "Linear(1, 1)" + " " * MAX_EXPRESSION_CHARS
    response = client.post("/api/count", json={"q": query})
    assert response.status_code == 400
    assert _error(response)["error"] == {
        "type": "LimitError",
        "message": f"expression is {len(query):,} characters; the limit is {MAX_EXPRESSION_CHARS:,} characters",
        "column": None,
    }


def test_count_body_over_the_limit_is_413() -> None:
    with TestClient(create_app(Settings(max_body_bytes=1_000))) as small:
        response = small.post(
            "/api/count", content=json.dumps({"q": "x" * 2_000}), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert _error(response) == {
        "query": None,
        "error": {
            "type": "RequestTooLarge",
            "message": "request body is 2,009 bytes; the limit is 1,000 bytes",
            "column": None,
        },
    }


def test_count_streamed_body_over_the_limit_is_413() -> None:
    def chunks() -> Any:
        yield b'{"q": "'
        yield b"x" * 2_000
        yield b'"}'

    with TestClient(create_app(Settings(max_body_bytes=1_000))) as small:
        response = small.post("/api/count", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert _error(response)["error"]["message"] == "request body is more than 1,000 bytes; the limit is 1,000 bytes"


def test_count_architecture_for_an_expression_is_400(client: TestClient) -> None:
    response = client.get("/api/count", params={"q": "Linear(2, 3)", "architecture": "LlamaModel"})
    assert response.status_code == 400
    assert _error(response)["error"]["message"] == "architecture: applies only to a hub id or a pasted config.json"


@pytest.mark.parametrize(
    ("request_kwargs", "status"),
    [
        ({"method": "GET", "url": "/api/count"}, 422),  # q is required
        ({"method": "POST", "url": "/api/count", "json": {}}, 422),
        ({"method": "POST", "url": "/api/count", "json": {"q": "Linear(1, 1)", "extra": 1}}, 422),
        (
            {
                "method": "POST",
                "url": "/api/count",
                "content": b"{not json",
                "headers": {"content-type": "application/json"},
            },
            422,
        ),
        ({"method": "DELETE", "url": "/api/count"}, 405),
        ({"method": "GET", "url": "/api/nothing"}, 404),
    ],
)
def test_malformed_requests(client: TestClient, request_kwargs: dict[str, Any], status: int) -> None:
    response = client.request(**request_kwargs)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/?q=Conv2d(3,%208,%203)",
        "/planner",
        "/answers",
        "/answers/parameters-conv2d-256-512-kernel-3",
        "/answers/parameters-conv2d-256-512-kernel-3.json",
        "/answers/parameters-conv2d-256-512-3",  # a redirect
        "/answers/no-such-page",  # a 404 page
        "/api/count?q=Linear(2,%203)",
        "/api/count?q=Linar(2,%203)",  # a 400
        "/api/memory?q=gpt2&optimizer=adamw",
        "/api/flops?q=Conv2d(3,%2064,%203)&input=1,3,32,32",
        "/fragments/answer?q=Linear(2,%203)",
        "/sitemap.xml",
        "/robots.txt",
        "/favicon.ico",
        "/static/style.css",
        "/openapi.json",
    ],
)
def test_head_is_get_without_the_body(client: TestClient, url: str) -> None:
    get = client.get(url, follow_redirects=False)
    head = client.head(url, follow_redirects=False)
    assert head.status_code == get.status_code
    assert head.content == b""
    for header in ("content-type", "content-length", "location", "content-security-policy"):
        assert head.headers.get(header) == get.headers.get(header), header
    assert int(head.headers["content-length"]) == len(get.content)


def test_allow_names_head_beside_get(client: TestClient) -> None:
    assert client.delete("/api/count").headers["allow"] == "GET, HEAD, POST"


def test_not_found_api_is_json(client: TestClient) -> None:
    assert _error(client.get("/api/nothing")) == {
        "query": None,
        "error": {"type": "NotFound", "message": "/api/nothing: no page here", "column": None},
    }


def test_pasted_config_is_counted_from_its_text(client: TestClient) -> None:
    from paramcount.sources.hf.hub import hub_config_path

    path = hub_config_path("gpt2")
    assert path is not None
    text = path.read_text(encoding="utf-8")
    response = client.post("/api/count", json={"q": text})
    assert response.status_code == 200
    assert response.json()["total"] == paramcount.count("gpt2").total
    assert response.json()["query"] == text


def test_pasted_config_errors_are_400(client: TestClient) -> None:
    response = client.post("/api/count", json={"q": '{"model_type": "llama", "hidden_size": NaN}'})
    assert response.status_code == 400
    assert _error(response)["error"]["type"] == "ConfigError"


def test_a_pasted_config_of_an_unknown_model_type_offers_nothing_the_web_lacks(client: TestClient) -> None:
    """The library offers ``via_transformers=True`` and the command line ``--via-transformers``; the web counts
    with neither, so its message and its page leave the offer out."""
    config = json.dumps({"model_type": "lama", "hidden_size": 8})
    response = client.post("/api/count", json={"q": config})
    assert response.status_code == 400
    message = _error(response)["error"]["message"]
    assert message.startswith("config.json: model_type 'lama' is not supported; supported: albert, bart,")
    assert message.endswith("xlm-roberta; did you mean 'llama', 'llama4' or 'llava'?")
    assert escape(message) in client.post("/fragments/answer", json={"q": config}).text


@pytest.mark.parametrize("query", ["Linear(1, \\ud800)", "ModuleDict({'\\ud800': Linear(1, 1)})"])
def test_lone_surrogate_is_400_not_500(client: TestClient, query: str) -> None:
    body = ('{"q": "' + query + '"}').encode()
    response = client.post("/api/count", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    column = query.index("\\") + 1
    assert _error(response) == {
        "query": query.replace("\\ud800", "?"),
        "error": {
            "type": "QueryError",
            "message": f"column {column}: the query is not valid Unicode (a lone surrogate)",
            "column": column,
        },
    }


def test_security_headers(client: TestClient) -> None:
    response = client.get("/api/count", params={"q": "Linear(1, 1)"})
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_openapi_documents_the_api(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert {"/api/count", "/answers/{slug}.json", "/fragments/answer"} <= set(document["paths"])
    assert set(document["paths"]["/api/count"]) == {"get", "post"}
    assert "400" in document["paths"]["/api/count"]["get"]["responses"]


def _declared_count_app() -> FastAPI:
    """``GET /api/count`` with its three parameters declared to FastAPI, as it was before it read them itself
    (FastAPI reads the annotations from this module's globals)."""
    app = FastAPI()

    @app.get("/api/count")
    async def count_get(
        q: Annotated[str, Query(description=QUERY_HELP)],
        architecture: Annotated[str | None, Query(description=ARCHITECTURE_HELP)] = None,
        sections: Annotated[str | None, Query(description=SECTIONS_HELP)] = None,
    ) -> dict[str, Any]:
        return {"q": q, "architecture": architecture, "sections": sections}

    return app


def test_count_get_documents_its_parameters_as_fastapi_would(client: TestClient) -> None:
    """The route reads ``q``, ``architecture`` and ``sections`` itself (``schema.COUNT_QUERY``); its OpenAPI
    operation says what FastAPI says for the same parameters declared, 422 included."""
    ours = client.get("/openapi.json").json()["paths"]["/api/count"]["get"]
    declared = TestClient(_declared_count_app()).get("/openapi.json").json()["paths"]["/api/count"]["get"]
    assert ours["parameters"] == declared["parameters"]
    assert ours["responses"]["422"] == declared["responses"]["422"]


@pytest.mark.parametrize(
    "query_string",
    [
        "",  # no q: 422
        "architecture=LlamaModel",  # no q either
        "q=Linear(3,%204)",
        "q=Linear(3,%204)&q=Linear(5,%206)",  # the last value of a repeated name
        "q=Linear(3,%204)&q",  # the last one, empty: a 400 from the library
        "q=meta-llama%2FLlama-3.1-8B&architecture=LlamaModel",
        "q=Linear(3,%204)&architecture=",  # blank: not given
        "q=Linear(3,%204)&sections=training,%20variants&unknown=1",  # unknown names ignored
        "q=Linear(3,%204)&sections=",
    ],
)
def test_count_get_reads_its_query_as_fastapi_would(client: TestClient, query_string: str) -> None:
    """Missing ``q`` is FastAPI's 422; otherwise the answer for the values FastAPI would have passed."""
    response = client.get(f"/api/count?{query_string}")
    declared = TestClient(_declared_count_app()).get(f"/api/count?{query_string}")
    if declared.status_code == 422:
        assert (response.status_code, response.json()) == (422, declared.json())
        return
    values = declared.json()
    expected = client.post("/api/count", json={key: value for key, value in values.items() if value is not None})
    assert (response.status_code, response.json()) == (expected.status_code, expected.json())
