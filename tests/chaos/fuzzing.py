"""The hypothesis profile of the fuzz tests.

``chaos``: a bounded number of examples so that the folder stays within minutes on two
cores, no deadline (a Spark action per example takes seconds on a loaded machine, which is
not a failure), and derandomized so that CI sees the same examples on every run and a
failure reproduces. Spark properties run one Spark job per example over a whole batch of
generated records, so they take fewer examples of many records each, and do not shrink.
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "chaos",
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PURE = settings(settings.get_profile("chaos"))
# No shrinking for Spark: each shrink step is a Spark job, minutes in all; the assertion
# names the record that differs, which is what one needs.
SPARK = settings(
    settings.get_profile("chaos"),
    max_examples=8,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
