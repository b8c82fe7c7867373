"""Simulator runs shared by the tests of this folder (each generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adplatform.simulator import faults
from adplatform.simulator.generate import SimConfig, simulate

# Rates high enough that every fault kind shows up in a run of a few seconds, including
# those of the few hundred clicks and conversions.
FAULTY_RATES = faults.rates(
    0.015,
    {
        **{k: 0.06 for k in faults.FAULTS if "clicks" in faults.FAULTS[k].sources},
        **{k: 0.06 for k in faults.FAULTS if "conversions" in faults.FAULTS[k].sources},
        "orphan_click": 0.1,
    },
)
FAULTY = SimConfig(seed=7, days=3, events_per_day=4000, users=2500, fault_rates=FAULTY_RATES)


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sim-default") / "run"
    return out, simulate(SimConfig(), out)


@pytest.fixture(scope="session")
def faulty_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sim-faulty") / "run"
    return out, simulate(FAULTY, out)
