from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Shared test helpers (oracle.py, strategies.py) are imported as top-level modules.
sys.path.insert(0, str(Path(__file__).parent))

from vision_oracle import keep_torchvision_ops_out

keep_torchvision_ops_out()  # before transformers or a test imports torchvision
# ... and in every Python process a test starts (a snippet run, the command with --via-transformers).
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(Path(__file__).parent / "_site"), os.environ.get("PYTHONPATH")])
)

# Sized for a 2-core CI machine: enough random configurations per catalog entry to find torch's rules,
# no deadline (the first torch call in a process is slow).
settings.register_profile("default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("default")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/*.txt from the output")


GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Compare a render with tests/golden/<name>; ``pytest --update-golden`` rewrites it (review the diff)."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if request.config.getoption("--update-golden"):
            path.write_text(text, encoding="utf-8")
        assert path.read_text(encoding="utf-8") == text

    return check


@pytest.fixture(autouse=True)
def _no_hub(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reads the user's Hugging Face cache or the network: an empty cache, offline (hub tests serve a
    local fake hub and lift this)."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path_factory.mktemp("hf-cache")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
