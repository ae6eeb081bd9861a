#!/usr/bin/env python3
"""An application instrumented with the OpenTelemetry Python SDK, unchanged but for its exporter's endpoint:
it exports a gauge and a counter once through the SDK's own OTLP/HTTP exporter (protobuf) to an EdgeProof
agent's otlp_receiver, which signs them into its envelopes. Exit status 0 when the export succeeded.

  scripts/otlp-send.py http://127.0.0.1:4318/v1/metrics [--temperature 21.5] [--requests 42]
  (needs opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http: scripts/install-deps.sh)
"""
import argparse
import sys

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource


class RecordingExporter(OTLPMetricExporter):
    """The SDK's exporter, remembering whether its exports succeeded."""

    results = []

    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        result = super().export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        self.results.append(result)
        return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("--temperature", type=float, default=21.5)
    parser.add_argument("--requests", type=int, default=42)
    arguments = parser.parse_args()

    exporter = RecordingExporter(endpoint=arguments.endpoint, timeout=10)
    # Exports only at shutdown: one export with both instruments.
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create({"service.name": "sensor-app"}), metric_readers=[reader])
    meter = provider.get_meter("sensor-app")
    meter.create_observable_gauge(
        "app_temperature_celsius", callbacks=[lambda options: [Observation(arguments.temperature)]], unit="Cel")
    meter.create_counter("app_requests_total").add(arguments.requests)
    provider.shutdown()  # collects once and exports
    ok = bool(exporter.results) and all(result == MetricExportResult.SUCCESS for result in exporter.results)
    print(f"exports: {len(exporter.results)}, {'succeeded' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
