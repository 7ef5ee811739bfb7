"""Baselines: adopt the audit on a legacy database and fail CI only on findings that are new.

A baseline is the set of finding fingerprints (stable across runs and orderings), written as JSON with enough of
each finding beside it for a reviewer to see what was accepted.
"""

from __future__ import annotations

import json
from pathlib import Path

from integrity_kit import __version__
from integrity_kit.audit.runner import Report
from integrity_kit.errors import IntegrityKitError


def write(report: Report, path: str | Path) -> None:
    entries = [{"fingerprint": f.fingerprint, "rule": f.rule, "table": f.table, "columns": list(f.columns),
                **({"schema": f.schema} if f.schema else {})} for f in report.findings]
    data = {"tool": "integrity-kit", "version": __version__, "database": report.url,
            "findings": sorted(entries, key=lambda entry: str(entry["fingerprint"]))}
    try:
        Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise IntegrityKitError(f"cannot write the baseline {path}: {error.strerror}") from None


def read(path: str | Path) -> set[str]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return {entry["fingerprint"] for entry in data["findings"]}
    except FileNotFoundError:
        raise IntegrityKitError(f"no baseline file {path} (write one with --write-baseline)") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise IntegrityKitError(f"{path} is not an integrity-kit baseline: {error}") from None


def apply(report: Report, fingerprints: set[str]) -> Report:
    """The report without the known findings; ``baseline_hidden`` says how many were left out."""
    kept = [finding for finding in report.findings if finding.fingerprint not in fingerprints]
    report.baseline_hidden = len(report.findings) - len(kept)
    report.findings = kept
    return report
