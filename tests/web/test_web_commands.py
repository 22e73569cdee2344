"""``paramcount serve`` and ``paramcount site build``: arguments, the missing-extra sentence, the export."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from paramcount.web import commands, site
from paramcount.web.commands import INSTALL_HINT, SETTINGS_VARIABLE, app_from_environment, serve_main, site_main
from paramcount.web.curated import Question
from paramcount.web.settings import Settings

SMALL_SITE = (
    Question("parameters-conv2d-256-512-kernel-3", "Conv2d(256, 512, 3)", "layer"),
    Question("parameters-conv2d-512-512-kernel-3", "Conv2d(512, 512, 3)", "layer"),
    Question("parameters-resnet18", "resnet18()", "model"),
    Question("parameters-gpt2", "gpt2", "hub"),
    Question("memory-gpt2-with-optimizer-adamw-seq-len-1024", "gpt2", "memory"),
    Question("output-conv2d-3-64-kernel-3-input-1x3x224x224", "Conv2d(3, 64, 3)", "output"),
)


@pytest.mark.parametrize("module", ["uvicorn", "fastapi", "jinja2"])
def test_serve_without_the_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], module: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    assert serve_main([]) == 1
    assert capsys.readouterr().err == INSTALL_HINT
    assert INSTALL_HINT == (
        "paramcount: the web app needs the web extra: pip install 'paramcount[web]' "
        "(in a source checkout: pip install -e '.[web]')\n"
    )


def test_site_without_the_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    assert site_main(["build", str(tmp_path)]) == 1
    assert capsys.readouterr().err == INSTALL_HINT


def test_serve_runs_uvicorn_with_the_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    monkeypatch.setenv(SETTINGS_VARIABLE, "{}")  # restored (removed) after the test
    arguments = ["--port", "8123", "--workers", "3", "--base-url", "https://params.example.org"]
    assert serve_main(arguments) == 0
    assert calls == [
        (
            ("paramcount.web.commands:app_from_environment",),
            {
                "factory": True,
                "host": "127.0.0.1",
                "port": 8123,
                "workers": 3,
                "log_level": "info",
                "access_log": False,
                "http": "paramcount.web.server:NoDelayH11Protocol",
            },
        )
    ]
    app = app_from_environment()
    assert app.state.settings == Settings(base_url="https://params.example.org")


@pytest.mark.parametrize(("arguments", "message"), [(["--workers", "0"], "must be at least 1, got 0")])
def test_serve_rejects_bad_arguments(capsys: pytest.CaptureFixture[str], arguments: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exited:
        serve_main(arguments)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("main", "arguments"), [(serve_main, []), (site_main, []), (site_main, ["build"])])
def test_help_ends_with_an_example(main: Any, arguments: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*arguments, "--help"])
    assert exited.value.code == 0
    assert "examples:\n  paramcount " in capsys.readouterr().out  # one example a line, not wrapped into one


def test_site_build_writes_pages_twins_and_sitemap(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(site, "curated", lambda: SMALL_SITE)
    assert site_main(["build", str(tmp_path), "--base-url", "https://params.example.org/"]) == 0
    assert re.fullmatch(rf"wrote 6 answer pages \(20 files\) to {tmp_path} in \d+\.\d s\n", capsys.readouterr().out)
    page = (tmp_path / "answers" / "parameters-conv2d-256-512-kernel-3" / "index.html").read_text()
    assert '<strong id="total">1,180,160</strong>' in page
    assert '<link rel="canonical" href="https://params.example.org/answers/parameters-conv2d-256-512-kernel-3">' in page
    assert 'href="/answers/parameters-conv2d-512-512-kernel-3"' in page  # published: linked
    assert 'href="/answers/parameters-conv2d-128-512-kernel-3"' not in page  # not published: plain text
    assert "counter.js" not in page
    assert '<script src="/static/fragments.js" defer></script>' in page  # the copy buttons
    assert "?q=" not in page
    twin = json.loads((tmp_path / "answers" / "parameters-gpt2.json").read_text())
    assert twin["total"] == 124_439_808  # GPT-2 small, as transformers counts it (tied lm_head once)
    sitemap = (tmp_path / "sitemap.xml").read_text()
    assert sitemap.count("<loc>") == 8
    memory = (tmp_path / "answers" / "memory-gpt2-with-optimizer-adamw-seq-len-1024" / "index.html").read_text()
    assert "How much memory does gpt2 need to train with AdamW in float32, sequence length 1,024?" in memory
    assert "<loc>https://params.example.org/answers/parameters-resnet18</loc>" in sitemap
    assert (tmp_path / "static" / "style.css").exists()
    assert (tmp_path / "static" / "fragments.js").exists()
    assert not (tmp_path / "static" / "counter.js").exists()
    assert 'href="/answers/parameters-resnet18"' in (tmp_path / "index.html").read_text()


def test_site_build_reports_what_it_skips(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = (
        *SMALL_SITE[:1],
        Question("parameters-conv2d-10-4-kernel-3-groups-3", "Conv2d(10, 4, 3, groups=3)", "layer"),
    )
    monkeypatch.setattr(site, "curated", lambda: broken)
    assert site_main(["build", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        "paramcount: skipped Conv2d(10, 4, 3, groups=3): Conv2d: in_channels must be divisible by groups "
        "(in_channels=10, groups=3)\n"
    )


def test_commands_import_nothing_heavy() -> None:
    assert commands.__name__ == "paramcount.web.commands"
    import subprocess

    code = (
        "import sys, paramcount.web.commands; print([m for m in ('fastapi', 'jinja2', 'uvicorn') if m in sys.modules])"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_every_serve_and_site_option_is_documented() -> None:
    import argparse

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    parsers = [commands._serve_parser(), commands._site_parser()]
    for parser in list(parsers):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    options = {option for parser in parsers for action in parser._actions for option in action.option_strings}
    assert "--base-url" in options
    assert sorted(option for option in options - {"--help"} if option.startswith("--") and option not in readme) == []
    assert "paramcount serve" in readme
    assert "paramcount site build" in readme
