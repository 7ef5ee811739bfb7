"""Race simulations: the reference checkout's strategies under real concurrency, scheduled interleavings that
reproduce anomalies every time, and the isolation-level x anomaly matrix of an engine.

``simulate()`` is the stochastic mode; :mod:`integrity_kit.races.schedule` the interleaving engine;
:mod:`integrity_kit.races.anomalies` the Hermitage-style tests.
"""

from integrity_kit.races.result import RaceResult
from integrity_kit.races.simulate import simulate

__all__ = ["RaceResult", "simulate"]
