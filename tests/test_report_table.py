"""Renderers live in integrity_kit/report/, one module per subject and format, all reached through one table."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import integrity_kit.report as report
from integrity_kit.report import FORMATS, renderer

PAIRS = [(subject, output_format) for subject, formats in FORMATS.items() for output_format in formats]


@pytest.mark.parametrize(("subject", "output_format"), PAIRS)
def test_every_entry_is_a_render_function_returning_text(subject: str, output_format: str) -> None:
    render = renderer(subject, output_format)
    parameters = list(inspect.signature(render).parameters.values())
    assert parameters[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD  # the result
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters[1:])  # options by name only
    assert inspect.signature(render).return_annotation in (str, "str")
    if output_format == "text":
        assert "console" in inspect.signature(render).parameters


def test_every_renderer_module_is_in_the_table() -> None:
    folder = Path(report.__file__).parent
    helpers = {"__init__", "console", "sarif", "er_diagram"}
    modules = {path.stem for path in folder.glob("*.py")} - helpers
    assert modules == {f"{subject}_{output_format}" for subject, output_format in PAIRS}


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError):
        renderer("lint", "html")
