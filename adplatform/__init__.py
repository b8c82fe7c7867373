"""Shared code of the ad-tech data platform: settings, schemas, lake paths, metrics, the
simulator, the embedded stack and the command-line tool."""
