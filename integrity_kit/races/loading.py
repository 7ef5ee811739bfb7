"""Find the workload a race runs from its ``module:object`` import path."""

from __future__ import annotations

from integrity_kit.errors import IntegrityKitError
from integrity_kit.importing import load_object
from integrity_kit.races.workload import Workload

# The reference app's checkout, named by path so the library never imports the app (DESIGN.md §2).
DEFAULT_WORKLOAD = "examples.ecommerce.race_workload:workload"


def load_workload(spec: str | Workload) -> Workload:
    """The workload named by ``module:object`` (one line of error for every way that can fail)."""
    if not isinstance(spec, str):
        return spec
    target = load_object(spec, "--workload", DEFAULT_WORKLOAD)
    if isinstance(target, Workload):
        return target
    raise IntegrityKitError(f"--workload {spec} is a {type(target).__name__}, not a workload (an object with the "
                            "attributes of integrity_kit.races.workload.Workload)")
