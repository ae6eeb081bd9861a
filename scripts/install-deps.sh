#!/usr/bin/env bash
# Installs the Debian packages EdgeProof builds and runs with, only those that are missing.
# Safe to run repeatedly; needs root (or sudo) only when something is missing.
#
#   scripts/install-deps.sh                   what the build, the demo and the tests need
#   scripts/install-deps.sh --with-ejabberd   also ejabberd (and Erlang), for `edgeproof demo --cluster
#                                             ejabberd` and the clustered-engine tests (CI installs it)
set -euo pipefail

with_ejabberd=false
for argument in "$@"; do
    case $argument in
    --with-ejabberd) with_ejabberd=true ;;
    *) echo "usage: $0 [--with-ejabberd]" >&2; exit 2 ;;
    esac
done

packages=(
    mosquitto mosquitto-clients libmosquitto-dev   # broker, CLI clients, client library
    libtss2-dev                                   # TPM2 Software Stack: ESAPI, TCTI loader, MU, RC
    swtpm swtpm-tools tpm2-tools                  # software TPM for development and tests; reference tools
    libssl-dev openssl                            # TLS for libmosquitto; certificate generation
    python3 python3-pip                           # the strict-JSON differential tests' reference parser; schema checks
    gpsd gpsd-clients                             # GNSS daemon the agent reads; gpsfake replays the demo's NMEA logs
    prometheus                                    # promtool: the tests check every /metrics endpoint with it
)
# A clustered MQTT engine (Debian's ejabberd 23.01 with mod_mqtt); opt-in: about 60 MB with Erlang. The
# package's own service is never used (nor started here: no init system in CI); EdgeProof runs its nodes.
if $with_ejabberd; then packages+=(ejabberd); fi

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# topics/check-schemas.py validates the published JSON Schemas (jsonschema >= 4.18 brings `referencing`;
# Debian 12's python3-jsonschema is older, so it comes from PyPI).
if ! python3 -c "import jsonschema, referencing" 2>/dev/null; then
    echo "installing: jsonschema (PyPI)" >&2
    python3 -m pip install --quiet "jsonschema>=4.18"
fi

# The fence tests cross-check every decision against an independent implementation (shapely's geometry
# with pyproj's geodesic projections), installed from PyPI for the python3 on the PATH.
if ! python3 -c "import shapely, pyproj" 2>/dev/null; then
    echo "installing: shapely, pyproj (PyPI)" >&2
    python3 -m pip install --quiet "shapely>=2" "pyproj>=3.5"
fi

# The OpenTelemetry tests read the collector's OTLP JSON files with the official protobuf definitions
# (opentelemetry-proto) and send to the agent's OTLP/HTTP intake with the SDK's own exporter.
if ! python3 -c "import opentelemetry.proto, opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http" 2>/dev/null; then
    echo "installing: opentelemetry-proto, -sdk, -exporter-otlp-proto-http (PyPI)" >&2
    python3 -m pip install --quiet "opentelemetry-proto==1.45.2" "opentelemetry-sdk==1.45.2" \
        "opentelemetry-exporter-otlp-proto-http==1.45.2"
fi
