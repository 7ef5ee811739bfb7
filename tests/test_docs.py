"""Every command, option and rule is documented, and the generated docs pages match the code they come from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))

import gen_pages  # noqa: E402  (docs/ is not a package; the generator is the one place that walks the tree)

COMMANDS = gen_pages.commands()
SECTIONS = ("What it checks", "Why it matters", "Example", "How to fix")


def test_the_walk_finds_every_command_lazy_ones_included() -> None:
    from integrity_kit.cli import _Group, cli

    paths = {entry.path for entry in COMMANDS}
    for name in _Group.lazy_commands:
        assert f"integrity-kit {name}" in paths
    assert set(cli.list_commands(click.Context(cli))) <= {path.split(" ", 1)[1] for path in paths}
    assert {"python -m examples.ecommerce init", "python -m examples.ecommerce serve"} <= paths


@pytest.mark.parametrize("entry", COMMANDS, ids=lambda entry: entry.path)
def test_every_command_option_and_argument_is_documented(entry: gen_pages.Command) -> None:
    command = entry.command
    assert command.help and command.help.strip(), f"`{entry.path}` has no help text"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help and param.help.strip(), f"`{entry.path}` option {'/'.join(param.opts)} has no help"
        elif isinstance(param, click.Argument):
            # Arguments have no help of their own in click: the command's help must explain them.
            assert param.human_readable_name in command.help, (
                f"`{entry.path}`: the help text never mentions its argument {param.human_readable_name}")
    page = ROOT / "docs" / "cli" / f"{entry.slug}.md"
    assert page.exists(), f"no page for `{entry.path}`; run: {gen_pages.REGENERATE}"
    text = page.read_text()
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert f"`{param.opts[0]}`" in text, f"{page.name} does not document {param.opts[0]}"


def _rules() -> list[tuple[str, type]]:
    return [("audit", rule) for rule in gen_pages.audit_rules()] + [
        ("migrations", rule) for rule in gen_pages.migration_rules()]


@pytest.mark.parametrize(("family", "rule"), _rules(), ids=lambda value: getattr(value, "code", value))
def test_every_rule_has_its_documentation_and_a_page(family: str, rule: type) -> None:
    doc = rule.documentation()
    missing = [title for title in SECTIONS if f"## {title}" not in doc]
    assert not missing, f"{rule.code} {rule.name}: docstring lacks the sections {missing}"
    assert rule.summary.strip(), f"{rule.code} has no summary"
    page = ROOT / "docs" / "rules" / family / f"{rule.name}.md"
    assert page.exists(), f"no page for {rule.code} {rule.name}; run: {gen_pages.REGENERATE}"
    assert f"# {rule.code} {rule.name}" in page.read_text()


def test_generated_pages_are_up_to_date() -> None:
    completed = subprocess.run([sys.executable, str(ROOT / "docs" / "gen_pages.py"), "--check"],
                               capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr


def test_check_mode_notices_a_stale_page() -> None:
    pages = gen_pages.expected_pages()
    page = next(path for path in pages if path.parent.name == "audit")
    stale_copy = dict(pages)
    stale_copy[page] = pages[page] + "\nan edit by hand\n"
    # Compare what is on disk against a world where the code says something else: the page must be reported.
    assert any(str(page.relative_to(ROOT)) in problem for problem in gen_pages.stale(stale_copy))


def test_getting_started_includes_the_readme_setup_commands() -> None:
    text = (ROOT / "docs" / "getting-started.md").read_text()
    readme = (ROOT / "README.md").read_text().splitlines()
    for start, end in gen_pages.readme_setup_blocks():
        assert f'--8<-- "README.md:{start}:{end}"' in text
        block = readme[start - 1:end]
        assert block[0].startswith("```") and block[-1].startswith("```")
        assert "python3 -m venv .venv" in "\n".join(block)
