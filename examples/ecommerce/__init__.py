"""The reference ecommerce app: a correct schema, its legacy twin, sample data and (later) checkout and API.

``examples`` is deliberately a namespace package (it has no ``__init__.py``), so installing integrity-kit does not
claim a generic top-level name in site-packages.
"""
