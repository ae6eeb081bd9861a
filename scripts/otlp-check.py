#!/usr/bin/env python3
"""Reads OTLP JSON Lines files (the collector's otlp: output) with the official OpenTelemetry protobuf
definitions, strictly: every line must parse as an ExportMetricsServiceRequest without unknown fields.
Prints, per line, the JWS its edgeproof.envelope scope carries as one JSON object
{"protected": ..., "payload": ..., "signature": ..., "points": N}, so that the caller can re-verify
the signature from what the official parser read. Exit status 1 on the first line that does not parse.

  scripts/otlp-check.py FILE...        (needs opentelemetry-proto: scripts/install-deps.sh)
"""
import json
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest


def attribute(attributes, key):
    for item in attributes:
        if item.key == key:
            return item.value.string_value
    return None


def main(paths):
    for path in paths:
        with open(path, encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                if not line.strip():
                    continue
                request = ExportMetricsServiceRequest()
                try:
                    json_format.Parse(line, request, ignore_unknown_fields=False)
                except json_format.ParseError as error:
                    print(f"{path}:{number}: {error}", file=sys.stderr)
                    return 1
                for resource in request.resource_metrics:
                    for scope in resource.scope_metrics:
                        attributes = scope.scope.attributes
                        points = sum(len(m.gauge.data_points) + len(m.sum.data_points) for m in scope.metrics)
                        print(json.dumps({
                            "protected": attribute(attributes, "edgeproof.jws.protected"),
                            "payload": attribute(attributes, "edgeproof.jws.payload"),
                            "signature": attribute(attributes, "edgeproof.jws.signature"),
                            "points": points,
                        }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
