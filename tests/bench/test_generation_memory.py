"""The benchmark refuses a volume whose generation would not fit in this machine's memory."""

from __future__ import annotations

from bench import pipeline


def test_a_volume_that_fits_is_generated():
    assert pipeline.memory_shortfall(5_000_000, available_mb=21_000) is None


def test_a_volume_that_does_not_fit_says_what_it_needs_and_what_to_do():
    problem = pipeline.memory_shortfall(20_000_000, available_mb=21_000)
    assert "needs about 60,000 MB" in problem
    assert "21,000 MB are available" in problem
    assert "BENCH_VOLUMES" in problem


def test_the_command_stops_before_generating_anything(capsys):
    # A trillion impressions needs more memory than any machine that runs this has.
    volume = 10**12
    assert pipeline.main(["--volumes", str(volume), "--no-docs"]) == 2
    assert capsys.readouterr().err.startswith(f"bench: generating {volume:,} impressions/day")
    assert not pipeline.simulation_folder(volume, 0.002).exists()
