"""The README's set-up commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", setup, flags=re.S)


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    declared = re.search(r"^TEST_COMMAND='(.+)'$", ci, flags=re.M)
    assert declared, ".ci/run must declare TEST_COMMAND"
    assert declared.group(1) == _readme_commands()[1]
    assert 'bash -c "$TEST_COMMAND"' in ci


def test_the_tour_shows_what_the_commands_print_today() -> None:
    from tests import readme_tour

    text = (ROOT / "README.md").read_text()
    problems = readme_tour.differences(readme_tour.current_tour(text), readme_tour.run_tour())
    assert problems == [], "the README tour is stale: run `python -m tests.readme_tour --write`"


def test_the_benchmark_figures_are_those_of_the_last_run() -> None:
    import json

    from tests import readme_tour

    text = (ROOT / "README.md").read_text()
    shown = readme_tour.section(text, readme_tour.BENCH_START, readme_tour.BENCH_END)
    assert shown == readme_tour.render_benchmarks(json.loads(readme_tour.RESULTS.read_text()))
    assert (ROOT / "benchmarks" / "RESULTS.md").exists()
