"""JSON: ``Report.to_dict()`` serialised, nothing else."""

from __future__ import annotations

import json

from paramcount.report import Report

__all__ = ["render_json"]


def render_json(report: Report, *, indent: int | None = 2) -> str:
    return json.dumps(report.to_dict(), indent=indent, ensure_ascii=False)
