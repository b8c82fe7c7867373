"""Landing: Kafka topics and tracking CSV files into the lake's raw zone, with done markers.

docs/landing.md describes the layout, the exactly-once protocols and how to read landing.
"""
