"""``integrity-kit demo``: the toolkit's whole story on an embedded SQLite database (or a database you name)."""

from integrity_kit.demo.story import Demo, DemoResult

__all__ = ["Demo", "DemoResult"]
