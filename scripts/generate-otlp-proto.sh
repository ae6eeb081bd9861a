#!/usr/bin/env bash
# Regenerates Sources/OTLPProto from OpenTelemetry's official protobuf definitions (opentelemetry-proto,
# Apache-2.0) and proto/google/rpc/status.proto (OTLP/HTTP's error body). Run by hand when the OTLP version
# changes; the generated Swift is committed, so builds need neither protoc nor the plugin.
#   scripts/generate-otlp-proto.sh [TAG]     (needs git, protoc from Debian's protobuf-compiler, swift)
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-v1.11.0}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone -q --depth 1 --branch "$tag" https://github.com/open-telemetry/opentelemetry-proto "$work/otlp"
git clone -q --depth 1 --branch 1.39.0 https://github.com/apple/swift-protobuf "$work/swift-protobuf"
(cd "$work/swift-protobuf" && swift build -c release --product protoc-gen-swift)
mkdir -p "$work/out"
protoc --plugin=protoc-gen-swift="$work/swift-protobuf/.build/release/protoc-gen-swift" \
    --swift_out="$work/out" --swift_opt=Visibility=Public --swift_opt=FileNaming=PathToUnderscores \
    -I "$work/otlp" -I proto \
    opentelemetry/proto/collector/metrics/v1/metrics_service.proto opentelemetry/proto/common/v1/common.proto \
    opentelemetry/proto/metrics/v1/metrics.proto opentelemetry/proto/resource/v1/resource.proto \
    google/rpc/status.proto
rm -f Sources/OTLPProto/*.pb.swift
cp "$work/out"/*.pb.swift Sources/OTLPProto/
echo "Sources/OTLPProto regenerated from opentelemetry-proto $tag"
