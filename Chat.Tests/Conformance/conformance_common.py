"""What the conformance scripts share: checks that collect every failure, and the original's value types as a
Python client sees them (json.loads gives int for 12 and float for 12.0; fromisoformat reads timestamps).

Standard library only: the scripts run on Debian's /usr/bin/python3 with python3-grpcio, python3-grpc-tools and
python3-websocket, nothing from PyPI.
"""

import argparse
import datetime
import json
import re
import sys
import time
import traceback

# Python's datetime.isoformat(): microseconds unless they are 0, an offset when the datetime has one. The original
# printed naive local time; ours is UTC with "+00:00" (docs/contracts.md). Both parse with fromisoformat.
ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?(\+00:00)?$")


class Report:
    """Collects failures instead of stopping at the first, so one run shows everything that differs."""

    def __init__(self, name):
        self.name = name
        self.checks = 0
        self.failures = []
        self.section = ""

    def begin(self, section):
        self.section = section
        print(f"--- {section}", flush=True)

    def check(self, condition, what):
        self.checks += 1
        if not condition:
            message = f"[{self.section}] {what}"
            self.failures.append(message)
            print(f"FAIL {message}", flush=True)
        return bool(condition)

    def equal(self, actual, expected, what):
        return self.check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")

    def finish(self):
        print(f"{self.name}: {self.checks} checks, {len(self.failures)} failed", flush=True)
        for failure in self.failures:
            print(f"  - {failure}", flush=True)
        return 1 if self.failures else 0


def is_timestamp(value):
    if type(value) is not str or not ISO_TIMESTAMP.match(value):
        return False
    try:
        datetime.datetime.fromisoformat(value)
        return True
    except ValueError:
        return False


def parse_timestamp(value):
    """An aware datetime; a naive one (the original's format) is taken as UTC."""
    parsed = datetime.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def check_timestamp(report, value, what, after=None, before=None, slack_seconds=1.0):
    """Format first; then, when bounds are given, the instant (same machine, same clock; slack for rounding)."""
    if not report.check(is_timestamp(value), f"{what} is a Python isoformat() timestamp, got {value!r}"):
        return None
    at = parse_timestamp(value)
    slack = datetime.timedelta(seconds=slack_seconds)
    if after is not None:
        report.check(at >= after - slack, f"{what} {value} is not before {after.isoformat()}")
    if before is not None:
        report.check(at <= before + slack, f"{what} {value} is not after {before.isoformat()}")
    return at


# Kinds of JSON values, as the original's FastAPI servers wrote them (pydantic models and json.dumps).
INT, FLOAT, STR, BOOL, TS, LIST, DICT = "int", "float", "str", "bool", "timestamp", "list", "dict"


def kind_matches(value, kind):
    if kind == INT:
        return type(value) is int  # bool is a subclass of int: `type is` keeps true/false out
    if kind == FLOAT:
        return type(value) is float  # 12.0, never 12: the original's floats always carried a fraction
    if kind == STR:
        return type(value) is str
    if kind == BOOL:
        return type(value) is bool
    if kind == TS:
        return is_timestamp(value)
    if kind == LIST:
        return type(value) is list
    if kind == DICT:
        return type(value) is dict
    raise ValueError(kind)


def check_shape(report, obj, shape, what):
    """Every key the original sent is there with the original's JSON type; keys we add are allowed (additive)."""
    if not report.check(type(obj) is dict, f"{what} is a JSON object, got {type(obj).__name__}: {obj!r}"):
        return False
    ok = True
    for key, kind in shape.items():
        if not report.check(key in obj, f"{what} has '{key}' (keys: {sorted(obj)})"):
            ok = False
            continue
        ok &= report.check(kind_matches(obj[key], kind), f"{what}.{key} is a JSON {kind}, got {obj[key]!r}")
    return ok


def arguments(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--http", required=True, help="the gateway's HTTP/1.1 base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--grpc", help="the gateway's HTTP/2 (native gRPC) address, e.g. 127.0.0.1:50051")
    parser.add_argument("--out", help="a scratch folder for generated code")
    return parser.parse_args()


def run(report, body):
    """Runs the checks; an exception is a failure with its traceback. Exit code 0 only when every check passed."""
    started = time.monotonic()
    try:
        body()
    except Exception:  # noqa: BLE001 - any error is a failed conformance run, printed in full
        traceback.print_exc()
        report.failures.append(f"[{report.section}] stopped by an exception (traceback above)")
    print(f"{report.name}: {time.monotonic() - started:.1f} s", flush=True)
    sys.exit(report.finish())


def loads(text, what):
    try:
        return json.loads(text)
    except ValueError as error:
        raise AssertionError(f"{what} is not JSON ({error}): {text[:300]!r}") from error
