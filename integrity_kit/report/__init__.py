"""Renderers for audit reports: text for people (rich), JSON for scripts."""
