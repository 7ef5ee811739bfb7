"""Race simulations: the reference checkout's strategies under real concurrency, scheduled interleavings that
reproduce anomalies every time, and the isolation-level x anomaly matrix of an engine.

- :func:`simulate` (stochastic mode) and :class:`RaceSpace` (several races in one scratch space);
- :func:`run_scheduled` (two buyers, one exact interleaving) on :mod:`integrity_kit.races.interleaving`, the
  interleaving engine;
- :func:`anomaly_matrix`, the Hermitage-style tests behind ``integrity-kit anomalies``;
- :mod:`integrity_kit.races.testing`, Hypothesis strategies and a harness for race tests of your own checkout.
"""

from integrity_kit.races.anomalies import anomaly_matrix
from integrity_kit.races.result import RaceResult
from integrity_kit.races.scheduled_race import run_scheduled
from integrity_kit.races.simulate import RaceSpace, simulate

__all__ = ["RaceResult", "RaceSpace", "anomaly_matrix", "run_scheduled", "simulate"]
