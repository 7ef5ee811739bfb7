"""What every command does with a rendered report: print it, write it to --output, or note a side effect."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from integrity_kit.errors import IntegrityKitError

if TYPE_CHECKING:
    from rich.console import Console


def terminal(*, stderr: bool = False, soft_wrap: bool = False, width: int | None = None) -> Console:
    """A rich console on stdout (or stderr); rich is imported only by the commands that print rich text."""
    from rich.console import Console

    # Emoji codes are off: a user's ":smile:" in a name or argument is text, not a picture.
    console = Console(emoji=False, stderr=stderr, highlight=False, soft_wrap=soft_wrap, width=width)
    if not console.is_terminal:
        console.soft_wrap = True  # piped text is never wrapped: a wrapped SQL comment would go on as SQL
    return console


def note(text: str) -> None:
    """One line on stderr about a file the command wrote, so stdout stays the report."""
    terminal(stderr=True).print(text)


def emit(text: str, output: str | None) -> None:
    """A machine-readable report on stdout, or in the file ``output``, ending in exactly one newline."""
    if output:
        write_file(output, text.rstrip("\n") + "\n")
    else:
        click.echo(text.rstrip("\n"))


def check_writable(path: str | None) -> None:
    """Refuse an output file in a folder that does not exist before any work is done, not after it."""
    if path is None:
        return
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise IntegrityKitError(f"cannot write {path}: the folder {folder} does not exist")


def write_file(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise IntegrityKitError(f"cannot write {path}: {error.strerror}") from None


def split_selectors(values: tuple[str, ...]) -> list[str]:
    """``--select a,b --select c`` as ``[a, b, c]``."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]
