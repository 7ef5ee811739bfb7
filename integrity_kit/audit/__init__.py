"""The live-schema audit: rules over a Snapshot, findings with evidence and safe fixes."""

from integrity_kit.audit.model import Finding, Fix, Rule, Severity
from integrity_kit.audit.registry import RULES
from integrity_kit.audit.runner import Report, audit

__all__ = ["RULES", "Finding", "Fix", "Report", "Rule", "Severity", "audit"]
