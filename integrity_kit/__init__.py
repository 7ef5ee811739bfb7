"""integrity-kit: find, prove and teach data-integrity problems in SQLAlchemy-era apps."""

__version__ = "0.1.0"

__all__ = ["__version__"]
