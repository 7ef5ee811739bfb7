"""--fix-migration: the revision it writes, run by Alembic on the legacy database, leaves none of the findings it
fixes; on damaged data the clean-up is written out as comments, never run."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from examples.ecommerce import database, sample_data
from integrity_kit.audit import audit
from integrity_kit.audit.apply import apply_revision, script_directory
from integrity_kit.cli import cli


def test_applying_the_fix_migration_clears_what_it_fixes(app_engine, engine_url, tmp_path) -> None:
    database.create_schema(app_engine, legacy=True)
    url = engine_url.render_as_string(hide_password=False)
    revision = tmp_path / "fix_legacy.py"
    result = CliRunner().invoke(cli, ["audit", url, "--format", "json", "--fix-migration", str(revision)])
    assert result.exit_code == 1, result.output
    before = json.loads(result.stdout)["findings"]
    text = revision.read_text()
    compile(text, str(revision), "exec")  # valid Python
    fixed_rules = {"missing-foreign-key", "unindexed-foreign-key", "missing-unique-constraint", "missing-not-null",
                   "float-for-money", "nullable-unique-column"}
    expected_gone = {f["fingerprint"] for f in before if f["rule"] in fixed_rules}
    expected_gone |= {f["fingerprint"] for f in before if f["rule"] == "missing-check-constraint"
                      and "…" not in f["evidence"].get("condition", "…")}
    assert len(expected_gone) >= 20
    apply_revision(app_engine, revision.read_text(), tmp_path / "scripts")
    after = audit(url)
    assert expected_gone.isdisjoint({f.fingerprint for f in after.findings})
    assert not [f for f in after.findings if f.rule == "missing-foreign-key"]


@pytest.mark.engines("sqlite", "postgresql")
def test_damaged_rows_become_commented_clean_ups(app_engine, engine_url, tmp_path) -> None:
    database.create_schema(app_engine, legacy=True)
    damage = sample_data.load(app_engine, rows=400, legacy=True).damage
    url = engine_url.render_as_string(hide_password=False)
    revision = tmp_path / "fix_damaged.py"
    assert CliRunner().invoke(cli, ["audit", url, "--fix-migration", str(revision)]).exit_code == 1
    text = revision.read_text()
    upgrade = text[text.index("def upgrade"):text.index("def downgrade")]
    assert "# 1. Clean the data first" in upgrade
    cleanup = [line for line in upgrade.splitlines() if "DELETE" in line]
    assert cleanup and all(line.lstrip().startswith("#") for line in cleanup)  # never executed
    assert str(damage.orphan_cart_items[0]) in upgrade or str(damage.orphan_cart_items[:3]) in upgrade
    # A mis-totalled order needs no schema change, but its reviewed repair is listed with the rest.
    assert any(line.lstrip().startswith("#") and "UPDATE orders" in line for line in upgrade.splitlines())
    assert str(damage.mistotalled_orders[0]) in upgrade
    if engine_url.get_backend_name() == "postgresql":
        assert "postgresql_not_valid=True" in upgrade and "with op.get_context().autocommit_block():" in upgrade
        assert "postgresql_concurrently=True" in upgrade


@pytest.mark.engines("postgresql")
def test_the_fix_migration_passes_our_own_migration_linter(app_engine, engine_url, tmp_path) -> None:
    from integrity_kit.migrations.linter import lint

    database.create_schema(app_engine, legacy=True)
    scripts = script_directory(tmp_path / "scripts")
    revision = scripts / "versions" / "fix.py"
    url = engine_url.render_as_string(hide_password=False)
    assert CliRunner().invoke(cli, ["audit", url, "--fix-migration", str(revision)]).exit_code == 1
    result = lint(scripts, dialect="postgresql", render_sql=False)
    # The one thing it cannot avoid, and says so in a comment: FLOAT -> NUMERIC rewrites the table. The lock timeout
    # is left to the project's env.py, which this throwaway script directory does not have.
    assert {finding.rule for finding in result.findings} == {"column-type-change-rewrites-table",
                                                             "strong-lock-without-timeout"}
