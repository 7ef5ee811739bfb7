"""The audit rules, one class each, grouped by family (DESIGN.md §4). The registry lists them explicitly."""
