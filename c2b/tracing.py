"""OpenTelemetry tracing, off by default: an HTTP request through the API, the Temporal
calls it makes, the workflows they start or update and the activities those run, as one
trace across the API, worker and solver processes.

``C2B_TRACING`` chooses the exporter:

- empty (the default): no tracing at all;
- ``console``: each finished span as one JSON line on standard error;
- ``file:PATH``: the same lines appended to PATH (every process may share one file;
  ``c2b trace show PATH`` prints a trace as an indented tree);
- ``otlp``: OTLP over HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (a collector, Jaeger, Tempo).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from temporalio.contrib.opentelemetry import TracingInterceptor


def _one_line(span: ReadableSpan) -> str:
    line: str = span.to_json(indent=None)
    return line + "\n"


def exporter_for(spec: str) -> SpanExporter:
    """The exporter ``C2B_TRACING`` names; a ValueError naming the setting otherwise."""
    if spec == "console":
        return ConsoleSpanExporter(out=sys.stderr, formatter=_one_line)
    if spec.startswith("file:") and len(spec) > len("file:"):
        path = Path(spec.removeprefix("file:"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # Line-buffered appends: whole lines from several processes interleave cleanly.
        out: IO[str] = path.open("a", buffering=1, encoding="utf-8")
        return ConsoleSpanExporter(out=out, formatter=_one_line)
    if spec == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    raise ValueError(f"C2B_TRACING={spec!r}: use console, file:PATH or otlp (or leave it empty)")


def tracer_provider(spec: str, service: str) -> TracerProvider | None:
    """A provider exporting this process's spans as ``service``, or None when tracing is off."""
    if not spec:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(exporter_for(spec), schedule_delay_millis=500))
    return provider


def temporal_interceptors(provider: TracerProvider | None) -> list[TracingInterceptor]:
    """For ``Client.connect``: spans around client calls, workflows and activities, with the
    trace context carried in Temporal headers from the API to the worker."""
    if provider is None:
        return []
    return [TracingInterceptor(provider.get_tracer("c2b"))]


# ---------------------------------------------------------------- reading a trace back


def read_spans(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def trace_ids(spans: Sequence[dict[str, Any]]) -> list[str]:
    """Trace ids, the most recent trace last."""
    last: dict[str, str] = {}
    for span in spans:
        trace = span["context"]["trace_id"]
        last[trace] = max(last.get(trace, ""), span["end_time"] or "")
    return sorted(last, key=lambda t: last[t])


def render_trace(spans: Sequence[dict[str, Any]], trace_id: str) -> list[str]:
    """One trace as an indented tree: each span with its service, duration and the
    attributes that name what it was about (route, workflow, activity, ids)."""
    mine = [s for s in spans if s["context"]["trace_id"] == trace_id]
    ids = {s["context"]["span_id"] for s in mine}
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for span in mine:
        parent = span.get("parent_id")
        children[parent if parent in ids else None].append(span)
    lines: list[str] = []

    def walk(span: dict[str, Any], depth: int) -> None:
        service = span["resource"]["attributes"].get("service.name", "?")
        ms = _duration_ms(span)
        keep = ("http.route", "http.status_code", "http.response.status_code")
        attrs = {k: v for k, v in span["attributes"].items() if k in keep or "temporal" in k}
        said = " ".join(f"{k}={v}" for k, v in attrs.items())
        lines.append(f"{'  ' * depth}{span['name']}  [{service}, {ms:.1f} ms] {said}".rstrip())
        for child in sorted(children[span["context"]["span_id"]], key=lambda s: s["start_time"]):
            walk(child, depth + 1)

    for root in sorted(children[None], key=lambda s: s["start_time"]):
        walk(root, 0)
    return lines


def _duration_ms(span: dict[str, Any]) -> float:
    from datetime import datetime

    start = datetime.fromisoformat(span["start_time"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(span["end_time"].replace("Z", "+00:00"))
    return (end - start).total_seconds() * 1000
