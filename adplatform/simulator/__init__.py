"""The ad-world simulator: a deterministic generator of bid requests, impressions, clicks and
conversions with injected faults, and the independent reference that computes the ground
truth from the raw files it wrote (docs/simulator.md, docs/data-contracts.md)."""
