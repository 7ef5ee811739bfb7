"""One case file per audit rule (``<rule_name_with_underscores>.py``, each with its ``CASES``), collected here."""

from __future__ import annotations

import importlib
import pkgutil

from tests.audit.cases._case import ALL, SERVERS, Case, case

__all__ = ["ALL", "CASES", "SERVERS", "Case", "case", "case_modules"]


def case_modules() -> dict[str, object]:
    """Case module by file name (``missing_foreign_key``), every module of this package but ``_case``."""
    names = sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))
    return {name: importlib.import_module(f"{__name__}.{name}") for name in names}


CASES: list[Case] = [item for module in case_modules().values() for item in module.CASES]
