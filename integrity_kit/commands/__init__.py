"""The click commands, one module per capability, over the library APIs.

Only :mod:`integrity_kit.cli` names these modules (lazily); no library module imports a command.
"""
