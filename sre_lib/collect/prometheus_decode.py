"""Decoding a /api/v1/query_range answer into numpy arrays, verified rather than trusted.

Points out of time order, two points at one time and two series with the same labels are refused (stored,
they would be rows at wrong times or duplicates), as is any answer that is not a successful matrix result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from sre_lib.collect.prometheus_window import from_ms

_VALUES_KEY = b'"values":['
_OPENING_BRACKET = ord("[")  # one per point inside a values array
_PAIRS_TO_LINES = bytes.maketrans(b"[", b"\n")  # with "]" deleted: [[t,"v"],[t,"v"]] -> \n\nt,"v",\nt,"v"
_CSV_READ = pa_csv.ReadOptions(column_names=["t", "v", "rest"], use_threads=False)
_CSV_CONVERT = pa_csv.ConvertOptions(
    column_types={"t": pa.float64(), "v": pa.float64()},
    include_columns=["t", "v"],
    null_values=[],  # "NaN" is a value here, not a missing one
    quoted_strings_can_be_null=False,
)
_SERIES_SHOWN_CHARS = 200  # of a series' labels in a message
_MAX_ABS_SECONDS = 6e10  # point times within about 1,900 years of 1970: what a datetime (and a message) holds


@dataclass(frozen=True)
class Matrix:
    """A decoded range-query result: per series its labels and point count; all points in series order."""

    labels: list[dict[str, str]]
    counts: np.ndarray  # int64, points per series
    ts_ms: np.ndarray  # int64 milliseconds since the epoch
    values: np.ndarray  # float64, NaN and ±Inf included


class ResponseError(ValueError):
    """A response body that is not a successful range-query (matrix) result."""


def decode_matrix(body: bytes, window: tuple[int, int, int] | None = None) -> Matrix:
    """Decode and verify a /api/v1/query_range response body. Raises ResponseError naming what is wrong.

    Why not json.loads: it builds three Python objects per sample and tops out near 1 M samples/s, slower
    than Prometheus serves them. Here the ``"values"`` arrays are cut out of the body (the key cannot occur
    inside a JSON string, where a quote is escaped), turned into CSV lines by one ``bytes.translate`` and
    parsed by Arrow's C++ CSV reader; only the small remainder (status, labels) goes through json.loads.
    Any surprise in the layout falls back to decoding the whole body with json.

    The server's layout is verified, not trusted (see ``_verify``): every time is parsed, never inferred from
    the request's ``window`` (start_ms, end_ms, step_ms), which is accepted for callers' sake and not used.
    """
    try:
        matrix = _decode_fast(body)
    except ResponseError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, pa.ArrowInvalid):
        matrix = _decode_json(body)
    _verify(matrix)
    return matrix


def _verify(matrix: Matrix) -> None:
    """Refuse what would be stored wrong: labels that are not strings, two series with the same labels, and a
    series whose times do not strictly increase (points out of order, or two at one time). Each would become
    rows at wrong times or duplicate rows, which later fail the reports; a range result never holds them."""
    keys: dict[tuple[tuple[str, str], ...], int] = {}
    for position, labels in enumerate(matrix.labels):
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise ResponseError(f"series {position + 1}: its labels ({_shown(labels)}) are not an object of strings")
        key = tuple(sorted(labels.items()))
        if key in keys:
            raise ResponseError(
                f"series {keys[key] + 1} and {position + 1} have the same labels {series_name(labels)}: "
                "a range result holds each series once"
            )
        keys[key] = position
    if matrix.ts_ms.size < 2:
        return
    later = np.diff(matrix.ts_ms) > 0
    firsts = np.cumsum(matrix.counts)[:-1]  # where each series but the first starts
    firsts = firsts[(firsts > 0) & (firsts < matrix.ts_ms.size)]
    later[firsts - 1] = True  # a series' first point may come before the previous series' last
    if later.all():
        return
    point = int(np.argmin(later)) + 1
    series = int(np.searchsorted(np.cumsum(matrix.counts), point, side="right"))
    at, before = int(matrix.ts_ms[point]), int(matrix.ts_ms[point - 1])
    fault = (
        f"two points at {_moment(at)}" if at == before else f"a point at {_moment(at)} after one at {_moment(before)}"
    )
    raise ResponseError(
        f"series {series_name(matrix.labels[series])} has {fault}: a range result's times strictly increase"
    )


def _moment(ms: int) -> str:
    """A point's time for a message: 2025-12-07 00:05:00 UTC, with milliseconds only when it has some."""
    moment = from_ms(ms)
    return f"{moment:%Y-%m-%d %H:%M:%S}{f'.{ms % 1000:03d}' if ms % 1000 else ''} UTC"


def series_name(labels: dict[str, str]) -> str:
    """Labels as Prometheus writes a series, {instance="app-1", job="app"}, cut short for a message."""
    text = "{" + ", ".join(f"{name}={json.dumps(value)}" for name, value in sorted(labels.items())) + "}"
    return text if len(text) <= _SERIES_SHOWN_CHARS else text[: _SERIES_SHOWN_CHARS - 4] + "...}"


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= _SERIES_SHOWN_CHARS else text[: _SERIES_SHOWN_CHARS - 3] + "..."


def _times_ms(seconds: np.ndarray) -> np.ndarray:
    """Point times in seconds (float64) as int64 milliseconds; ResponseError when one is not a time."""
    if seconds.size and not (seconds.min() > -_MAX_ABS_SECONDS and seconds.max() < _MAX_ABS_SECONDS):  # or NaN
        bad = seconds[~(np.abs(seconds) < _MAX_ABS_SECONDS)][0]
        raise ResponseError(f"a point's time is {float(bad)!r}, not seconds since 1970")
    return np.rint(seconds * 1000.0).astype(np.int64)


def _decode_fast(body: bytes) -> Matrix:
    view = memoryview(body)
    octets = np.frombuffer(body, dtype=np.uint8)
    skeleton: list[Any] = []
    arrays: list[tuple[int, int]] = []  # where each non-empty values array starts and ends
    counts: list[int] = []
    position = 0
    while (found := body.find(_VALUES_KEY, position)) >= 0:
        opening = found + len(_VALUES_KEY) - 1
        if body[opening + 1] == 0x5D:  # "values":[] -- no points
            closing = opening + 2
            counts.append(0)
        else:
            closing = _values_end(body, opening)
            arrays.append((opening, closing))
            counts.append(int(np.count_nonzero(octets[opening + 1 : closing] == _OPENING_BRACKET)))
        skeleton += (view[position:opening], b"[]")
        position = closing
    skeleton.append(view[position:])
    document = json.loads(b"".join(skeleton))
    result = _result(document)
    if len(result) != len(counts) or any(series["values"] for series in result):
        raise ValueError("values arrays not where expected")
    labels = [series["metric"] for series in result]
    total = sum(counts)
    if not total:
        return Matrix(labels, np.asarray(counts, dtype=np.int64), np.empty(0, np.int64), np.empty(0))
    spans = [view[opening:closing] for opening, closing in arrays]
    lines = b",".join([*spans, b""]).translate(_PAIRS_TO_LINES, b"]")  # a "," after every pair
    table = pa_csv.read_csv(pa.py_buffer(lines), read_options=_CSV_READ, convert_options=_CSV_CONVERT)
    if table.num_rows != total:
        raise ValueError(f"decoded {table.num_rows} points, expected {total}")
    times = _times_ms(table.column("t").to_numpy())
    return Matrix(labels, np.asarray(counts, dtype=np.int64), times, table.column("v").to_numpy())


def _values_end(body: bytes, opening: int) -> int:
    """Where the values array opened at ``opening`` ends (just past its "]]").

    Both Prometheus and VictoriaMetrics put "values" last in a series object, so the array ends right before
    the object's "}", the first "}" after it: memchr finds that one far faster than a search for "]]" among
    the "],[" of every point. Points hold no ":", so one between the two means another key came after "values"
    (a histogram, say), and the slow search decides.
    """
    brace = body.find(b"}", opening)
    if brace > opening and body[brace - 2 : brace] == b"]]" and body.find(b":", opening, brace) < 0:
        return brace  # no ":" in between: only points, no later key of the same object
    closing = body.find(b"]]", opening) + 2
    if closing < 2:
        raise ValueError("unterminated values array")
    return closing


def _decode_json(body: bytes) -> Matrix:
    """The plain, slower decoding: every sample through Python objects."""
    try:
        document = json.loads(body)
        result = _result(document)
        labels: list[dict[str, str]] = []
        counts: list[int] = []
        times: list[float] = []
        values: list[str] = []
        for series in result:
            labels.append(series["metric"])
            points = series.get("values") or []
            counts.append(len(points))
            times += (point[0] for point in points)
            values += (point[1] for point in points)
        return Matrix(
            labels,
            np.asarray(counts, dtype=np.int64),
            _times_ms(np.asarray(times, dtype=np.float64)),
            np.asarray(values, dtype=np.float64),
        )
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        if isinstance(exc, ResponseError):
            raise
        raise ResponseError(f"not a range-query result: {type(exc).__name__}: {exc}") from None


def _result(document: Any) -> list[dict[str, Any]]:
    """The series of a successful matrix result; ResponseError for any other answer."""
    if not isinstance(document, dict) or document.get("status") != "success":
        raise ResponseError(f"status {document.get('status') if isinstance(document, dict) else None!r}")
    data = document["data"]
    if not isinstance(data, dict):
        raise ResponseError(f"data is {_shown(data)}, expected an object")
    if data.get("resultType") != "matrix":
        raise ResponseError(f"result type {data.get('resultType')!r}, expected 'matrix'")
    result = data["result"]
    if not isinstance(result, list):
        raise ResponseError(f"result is {_shown(result)}, expected a list of series")
    return result
