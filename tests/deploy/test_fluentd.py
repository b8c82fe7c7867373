"""fluentd/fluent.conf publishes what the simulator publishes: the contract of
adplatform.contracts.impression_kafka_record (topic, format, key and fields)."""

from __future__ import annotations

import json
import re

import pytest

from adplatform import contracts
from tests.deploy import compose_file as cf
from tests.deploy.fluent_config import Directive, FluentConfigError, load, parse

CONF = load(cf.REPO / "fluentd" / "fluent.conf")
TAIL = next(d for d in CONF.find("source") if d.params.get("@type") == "tail")
TAG = TAIL.params["tag"]
RAW_KEY = TAIL.one("parse").params["message_key"]


def _kafka_outputs(scope: Directive) -> list[Directive]:
    return [d for d in scope.walk() if d.params.get("@type") == "kafka2"]


MAIN = CONF.one("match", TAG)
ERROR = CONF.one("label", "@ERROR")
UNMATCHED = ERROR.one("match", TAG)


def test_parser_understands_the_directive_syntax():
    tree = parse('<a x>\n k "v # not a comment" # comment\n <b>\n </b>\n</a>\n')
    assert tree.one("a", "x").params == {"k": "v # not a comment"}
    with pytest.raises(FluentConfigError):
        parse("<a>\n</b>\n")
    with pytest.raises(FluentConfigError):
        parse("<a>\n")


def test_tails_the_ad_server_logs_with_a_position_file():
    assert TAIL.params["pos_file"].startswith("/fluentd/state/")
    assert TAIL.one("parse").params["@type"] == "none"
    compose_env = cf.environment(cf.compose().services["fluentd"])
    assert compose_env["ADSERVER_LOG_PATH"].startswith("/var/log/adserver/")
    assert "ADSERVER_LOG_PATH" in TAIL.params["path"]


def test_json_parser_keeps_the_raw_line_and_routes_bad_lines_to_error():
    parser = CONF.one("filter", TAG)
    assert parser.params["@type"] == "parser"
    assert parser.params["key_name"] == RAW_KEY
    assert parser.params["reserve_data"] == "true"
    assert parser.params["emit_invalid_record_to_error"] == "true"
    assert parser.one("parse").params["@type"] == "json"
    # Fluentd's own time in UTC; the event time stays in the payload.
    assert parser.one("parse").params["utc"] == "true"
    assert parser.one("parse").params["time_key"] not in _impression_fields()


def _impression_fields() -> set[str]:
    return set(contracts.impression_json_schema()["properties"])


def test_good_lines_go_to_the_contract_topic_unchanged_and_keyed_by_impression_id():
    (out,) = _kafka_outputs(MAIN)
    assert out.params["default_topic"] == contracts.TOPIC_AD_IMPRESSIONS
    fmt = out.one("format").params
    assert fmt == {"@type": "single_value", "message_key": RAW_KEY, "add_newline": "false"}
    assert out.params["message_key_key"] == "impression_id"
    assert "impression_id" in contracts.impression_json_schema()["required"]
    assert not [d for d in MAIN.walk() if d.name == "inject"], "no field may be added"
    assert "topic_key" not in out.params


def test_unparsable_lines_become_unmatched_line_records_on_the_same_topic():
    wrap = ERROR.one("filter", TAG)
    assert wrap.params["@type"] == "record_transformer"
    assert wrap.params["renew_record"] == "true"
    record = wrap.one("record").params
    assert list(record) == [contracts.FLUENTD_UNMATCHED_KEY]
    assert RAW_KEY in record[contracts.FLUENTD_UNMATCHED_KEY]
    (out,) = _kafka_outputs(UNMATCHED)
    assert out.params["default_topic"] == contracts.TOPIC_AD_IMPRESSIONS
    assert out.one("format").params["@type"] == "json"
    assert "message_key_key" not in out.params, "unmatched lines carry no key"
    files = [d for d in UNMATCHED.walk() if d.params.get("@type") == "file" and d.name == "store"]
    assert files, "a local copy of the unparsable lines"
    assert ERROR.find("match", "**"), "every other error event is kept too"


@pytest.mark.parametrize("output", _kafka_outputs(CONF), ids=lambda d: d.params["@id"])
def test_kafka_outputs_use_scram_file_buffers_and_never_drop(output):
    assert output.params["scram_mechanism"] == "sha512"
    assert output.params["sasl_over_ssl"] == "false"
    assert "KAFKA_PASSWORD" in output.params["password"]
    assert output.params["required_acks"] == "-1"
    buffer = output.one("buffer").params
    assert buffer["@type"] == "file"
    assert buffer["path"].startswith("/fluentd/state/buffer/")
    assert buffer["retry_forever"] == "true"
    assert buffer["overflow_action"] == "block"


def test_buffers_have_distinct_paths():
    paths = [d.params["path"] for d in CONF.walk() if d.name == "buffer" and "path" in d.params]
    assert len(paths) == len(set(paths))


def _fluentd_record(line: bytes) -> tuple[bytes | None, bytes]:
    """What this configuration publishes for a line, read off the configuration."""
    (good,) = _kafka_outputs(MAIN)
    key_field = good.params["message_key_key"]
    try:
        parsed = json.loads(line.decode("utf-8", errors="surrogateescape"))
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):  # the parser accepted it: single_value of the raw line
        key = parsed.get(key_field)
        return (key.encode() if isinstance(key, str) and key else None), line
    (field,) = ERROR.one("filter", TAG).one("record").params
    text = line.decode("utf-8", errors="replace")
    return None, json.dumps({field: text}, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "line",
    [
        b'{"impression_id":"imp-1","event_ts":"2025-01-06T10:00:00Z","win_price_micros":1200}',
        b'{"impression_id":"","event_ts":"2025-01-06T10:00:00Z"}',
        b'{"event_ts":"not a time","impression_id":"imp-2"}',
        b'{"impression_id":"imp-3", "truncated": ',
        b"plain text from a confused ad server",
        b'{"impression_id":"imp-4","site":{"domain":"caf\xc3\xa9.example"}}',
    ],
)
def test_records_match_the_contract_the_simulator_follows(line):
    assert _fluentd_record(line) == contracts.impression_kafka_record(line)


def test_plugins_and_base_image_are_pinned():
    dockerfile = (cf.REPO / "fluentd" / "Dockerfile").read_text()
    gems = re.findall(r"gem install (\S+) --version (\S+)", dockerfile)
    assert dict(gems).keys() >= {"fluent-plugin-kafka", "ruby-kafka"}
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", version) for _, version in gems)
    assert "COPY fluentd/fluent.conf /fluentd/etc/fluent.conf" in dockerfile
