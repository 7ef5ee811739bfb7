"""What the ``pytest11`` entry point ``integrity_kit`` loads: a name for the plugin and nothing else.

The hooks live in ``integrity_kit.queries.pytest_plugin``, which pytest loads from here through ``pytest_plugins``.
pytest skips a plugin already registered under its module name, so ``-p integrity_kit.queries.pytest_plugin`` (or
the same line in a conftest) beside the installed entry point registers the hooks once instead of failing with
"Plugin already registered", and ``-p no:integrity_kit`` still turns the whole plugin off.
"""

pytest_plugins = ["integrity_kit.queries.pytest_plugin"]
