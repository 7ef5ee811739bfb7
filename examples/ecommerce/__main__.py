"""``python -m examples.ecommerce``: create the reference database, or serve its JSON API."""

from __future__ import annotations

import os
import socket
import time

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import exc, inspect

from examples.ecommerce import database, sample_data
from integrity_kit.connect import mask_url
from integrity_kit.errors import IntegrityKitError, first_line


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except IntegrityKitError as error:
            console = Console(emoji=False, stderr=True, highlight=False, soft_wrap=True)
            console.print(f"[bold red]error:[/] {escape(str(error))}")
            ctx.exit(error.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """The integrity-kit reference ecommerce app."""


@cli.command()
@click.argument("database_url", envvar="DATABASE_URL")
@click.option("--legacy", is_flag=True,
              help="Build the flawed schema of a typical first project (and data with the damage it lets in).")
@click.option("--rows", type=click.IntRange(min=0), default=sample_data.DEFAULT_ROWS, show_default=True,
              help="Approximate number of sample rows across all tables; 0 creates the schema only.")
@click.option("--seed", type=int, default=sample_data.DEFAULT_SEED, show_default=True,
              help="Seed for the sample data; the same seed always gives the same rows.")
@click.option("--reset", is_flag=True, help="Drop the app's tables first if they already exist.")
def init(database_url: str, legacy: bool, rows: int, seed: int, reset: bool) -> None:
    """Create the reference schema in DATABASE_URL and fill it with sample data.

    Without --legacy the schema comes from the Alembic migrations. Existing app tables are never dropped
    unless --reset is given.
    """
    console = Console(emoji=False, highlight=False)
    engine = database.make_engine(database_url)
    shown = mask_url(engine.url)
    try:
        present = database.existing_tables(engine)
        if present and not reset:
            raise IntegrityKitError(
                f"{shown} already has {', '.join(present)}; pass --reset to drop and recreate them"
            )
        started = time.perf_counter()
        if present:
            database.drop_schema(engine)
        database.create_schema(engine, legacy=legacy)
        kind = "legacy" if legacy else "reference"
        console.print(f"Created the {kind} schema in {shown}")
        if rows:
            result = _load_with_progress(engine, rows, seed, legacy, console)
            summary = ", ".join(f"{name} {count:,}" for name, count in result.counts.items())
            console.print(f"Loaded {sum(result.counts.values()):,} rows (seed {seed}): {summary}")
            if legacy:
                _print_damage(console, result.damage)
        console.print(f"Done in {time.perf_counter() - started:.1f}s")
    except exc.SQLAlchemyError as error:
        raise IntegrityKitError(f"could not build the database at {shown}: {first_line(error)}") from None
    finally:
        engine.dispose()


SECRET_KEY_ENV = "ECOMMERCE_SECRET_KEY"
MIN_SECRET_KEY = 32


@cli.command()
@click.argument("database_url", envvar="DATABASE_URL", required=False)
@click.option("--port", type=click.IntRange(0, 65535), default=5000, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. The default keeps the API on this machine (it is a development server).")
@click.option("--gateway", "gateway_behaviour", type=click.Choice(["succeed", "decline", "timeout", "raise"]),
              default="succeed", show_default=True,
              help="How the built-in fake payment gateway answers (there is no real gateway).")
def serve(database_url: str | None, port: int, host: str, gateway_behaviour: str) -> None:
    """Serve the JSON API for the reference database at DATABASE_URL (create it first with `init`).

    Cart, checkout, order and payment routes need a token from POST /api/auth/login. Tokens are signed with the
    key in the ECOMMERCE_SECRET_KEY environment variable (at least 32 characters; an environment variable rather
    than an option, so the key never shows in the process list). Without it a random key is made at start: tokens
    then stop working when the server restarts. Sample users log in with the password "sample-password".
    """
    if not database_url:
        raise IntegrityKitError("no database: pass DATABASE_URL or set the DATABASE_URL environment variable")
    secret_key = os.environ.get(SECRET_KEY_ENV) or None
    if secret_key is not None and len(secret_key) < MIN_SECRET_KEY:
        raise IntegrityKitError(f"{SECRET_KEY_ENV} is too short: use at least {MIN_SECRET_KEY} random characters, "
                                "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    try:
        from werkzeug.serving import make_server

        from examples.ecommerce.api import create_app
        from examples.ecommerce.payments import FakeGateway
        from examples.ecommerce.security import QuietRequestHandler
    except ImportError as error:  # Flask lives in the `web` extra
        raise IntegrityKitError(f"serve needs Flask: pip install 'integrity-kit[web]' ({error})") from None
    engine = database.make_engine(database_url)
    shown = mask_url(engine.url)
    missing = set(database.APP_TABLES) - set(database.existing_tables(engine))
    if not missing:  # a database made before the credentials migration (0008) has no way to log in
        columns = {column["name"] for column in inspect(engine).get_columns("users")}
        missing = {f"users.{name}" for name in ("password_hash", "token_version") if name not in columns}
    if missing:
        engine.dispose()
        raise IntegrityKitError(f"{shown} has no up-to-date reference schema (missing {', '.join(sorted(missing))}); "
                                "run `python -m examples.ecommerce init` first (or upgrade it to the latest migration)")
    try:
        # Bound here, before anything is announced: Werkzeug's own bind prints its own lines and exits 1.
        listening = socket.create_server((host, port))
    except OSError as error:
        engine.dispose()
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise IntegrityKitError(f"cannot listen on {host}:{port}: {reason}; "
                                "stop what holds it or pass another --port") from None
    app = create_app(engine, gateway=FakeGateway(gateway_behaviour), secret_key=secret_key)
    console = Console(emoji=False, stderr=True, highlight=False)
    if secret_key is None:
        console.print(f"No {SECRET_KEY_ENV} set: signing tokens with a random key made for this process "
                      "(tokens end when it stops)")
    server = make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler,
                         fd=listening.fileno())
    console.print(f"Serving the reference API for {shown} on http://{host}:{server.port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        engine.dispose()


def _load_with_progress(engine, rows: int, seed: int, legacy: bool, console: Console):
    columns = (TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("sample data", total=sample_data.expected_total(rows))

        def advance(table: str, count: int) -> None:
            progress.update(task, advance=count, description=table)

        return sample_data.load(engine, rows, seed, legacy=legacy, on_progress=advance)


def _print_damage(console: Console, damage: sample_data.Damage) -> None:
    console.print("Damage the legacy schema let in (for the audit to find):")
    console.print(f"  orphan cart items (ids): {damage.orphan_cart_items}")
    console.print(f"  duplicate cart lines (cart_id, product_id): {damage.duplicate_cart_lines}")
    console.print(f"  products with negative stock (ids): {damage.negative_stock_products}")
    console.print(f"  orders whose total disagrees with their items (ids): {damage.mistotalled_orders}")


if __name__ == "__main__":
    cli(prog_name="python -m examples.ecommerce")
