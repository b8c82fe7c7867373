"""Airflow Assets: what the DAGs publish, so that the UI shows who feeds whom and a DAG can
wait on another's output.

URIs use the private scheme ``x-adtech`` and name the data, not a host: the same asset is the
same in the embedded stack, in docker-compose and on a cluster, whatever the lake's address.

* ``landing/<source>``: an arrival hour of a raw source was closed (done marker written).
  Events carry ``{"hour": "<ISO hour>"}``. Emitted by ``kafka_landing_hourly`` and
  ``tracking_csv_hourly``.
* ``table/adtech.<table>``: a day of a curated table was published. Events carry
  ``{"ds": "YYYY-MM-DD", "run_id": ...}``. Emitted by ``adtech_daily``; ``lake_maintenance``
  runs after each published ``campaign_daily`` day.
"""

from __future__ import annotations

from airflow.sdk import Asset

from adplatform import lake
from adplatform.contracts import TOPIC_AD_IMPRESSIONS, TOPIC_BID_REQUESTS

SCHEME = "x-adtech"

KAFKA_SOURCES = (TOPIC_BID_REQUESTS, TOPIC_AD_IMPRESSIONS)
LANDING_SOURCES = (*KAFKA_SOURCES, lake.TRACKING_SOURCE)


def landing(source: str) -> Asset:
    return Asset(name=f"landing.{source}", uri=f"{SCHEME}://landing/{source}", group="landing")


def table(name: str) -> Asset:
    return Asset(
        name=f"{lake.DATABASE}.{name}",
        uri=f"{SCHEME}://table/{lake.DATABASE}.{name}",
        group="curated",
    )


LANDING = {source: landing(source) for source in LANDING_SOURCES}

IMPRESSIONS = table("impressions")
BID_REQUESTS = table("bid_requests")
CLICKS = table("clicks")
CONVERSIONS = table("conversions")
AD_FUNNEL = table("ad_funnel")
CAMPAIGN_DAILY = table("campaign_daily")
DIM_CAMPAIGN = table("dim_campaign")
DIM_USER = table("dim_user")
