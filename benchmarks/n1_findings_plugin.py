"""A pytest plugin for ``benchmarks/n1_real_apps.py``: every N+1 finding of every test, in full, for hand-checking.

Loaded with ``-p n1_findings_plugin`` (this folder on ``PYTHONPATH``) beside integrity-kit's own plugin, which stays
off (``--detect-n-plus-one=off``), so this is the only capture. It wraps each test's call phase in ``capture()``,
exactly as the plugin does, and appends one JSON object per finding (``to_dict()`` plus the test id, the
application path that led to the location and the source line there) to the file named by
``IK_N1_FINDINGS_FILE``. With ``IK_RACE_FINDINGS`` set it also writes every race risk (``to_dict()`` with
``"race": true``, the test id and the source lines of the read and the write).
"""

from __future__ import annotations

import json
import linecache
import os
from collections.abc import Iterator
from typing import Any

import pytest


def _source(location: str | None) -> str:
    if not location or ":" not in location:
        return ""
    path, line = location.rsplit(":", 1)
    return linecache.getline(os.path.abspath(path), int(line)).strip() if line.isdigit() else ""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    from integrity_kit.queries import capture

    cap = capture()
    cap.start()
    try:
        return (yield)
    finally:
        cap.stop()
        target = os.environ.get("IK_N1_FINDINGS_FILE")
        if target:
            rows: list[dict[str, Any]] = []
            for finding in cap.log.n_plus_one:
                row = finding.to_dict()
                row["test"] = item.nodeid
                row["source"] = _source(finding.location)
                row["caller_sources"] = [_source(c) for c in finding.callers[:3]]
                rows.append(row)
            for duplicate in cap.log.duplicates:
                rows.append({"test": item.nodeid, "duplicate": True, "count": duplicate.count,
                             "location": duplicate.location, "sample_sql": duplicate.sql})
            if os.environ.get("IK_RACE_FINDINGS"):
                for risk in cap.log.race_risks:
                    row = risk.to_dict()
                    row.update(race=True, test=item.nodeid, read_source=_source(risk.read_location),
                               write_source=_source(risk.write_location), read_sql=risk.read.sql,
                               write_sql=risk.write.sql, read_callers=list(risk.read.callers),
                               write_callers=list(risk.write.callers))
                    rows.append(row)
            if rows:
                with open(target, "a") as out:
                    for row in rows:
                        out.write(json.dumps(row, default=repr) + "\n")
