"""integrity-kit: find, prove and teach data-integrity problems in SQLAlchemy-era apps.

The entry points live in their subpackages (``from integrity_kit.audit import audit``,
``from integrity_kit.queries import capture``, ``from integrity_kit.races import simulate``): importing this package
stays cheap, so ``integrity-kit --version`` never pays for SQLAlchemy.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
