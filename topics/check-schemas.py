#!/usr/bin/env python3
"""Checks topics/schemas against the JSON Schema 2020-12 meta-schema, validates every example in
topics/examples against the schema of the same name, and checks that known-bad instances fail.

    python3 topics/check-schemas.py        # needs: pip install jsonschema (>= 4.18)
    python3 topics/check-schemas.py KIND=FILE...   # also validate messages a program produced


Exits non-zero on the first kind of failure it finds, after printing every problem.
"""
import base64
import copy
import json
import pathlib
import sys

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

HERE = pathlib.Path(__file__).resolve().parent
SCHEMAS = HERE / "schemas"
EXAMPLES = HERE / "examples"

problems = []


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


schemas = {p.name.removesuffix(".schema.json"): load(p) for p in sorted(SCHEMAS.glob("*.schema.json"))}
for kind, schema in schemas.items():
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as error:  # noqa: BLE001 - report every problem
        problems.append(f"{kind}.schema.json is not a valid 2020-12 schema: {error}")
registry = Registry().with_resources(
    (schema["$id"], Resource.from_contents(schema)) for schema in schemas.values()
)


def validator(kind):
    return Draft202012Validator(
        schemas[kind], registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def errors(kind, instance):
    return [e.message for e in validator(kind).iter_errors(instance)]


def b64decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# Every example is valid.
examples = {p.name.removesuffix(".json"): load(p) for p in sorted(EXAMPLES.glob("*.json"))}
for kind, instance in examples.items():
    if kind not in schemas:
        problems.append(f"examples/{kind}.json has no schema")
        continue
    for message in errors(kind, instance):
        problems.append(f"examples/{kind}.json: {message}")
for kind in schemas:
    if kind != "common" and kind not in examples:
        problems.append(f"schemas/{kind}.schema.json has no example")

# The example envelope carries the example header and claims.
envelope = examples["envelope"]
if json.loads(b64decode(envelope["protected"])) != examples["protected-header"]:
    problems.append("examples/envelope.json: protected does not decode to examples/protected-header.json")
if json.loads(b64decode(envelope["payload"])) != examples["claims"]:
    problems.append("examples/envelope.json: payload does not decode to examples/claims.json")


def changed(kind, edit):
    instance = copy.deepcopy(examples[kind])
    result = edit(instance)
    return result if result is not None else instance


def set_path(instance, path, value):
    target = instance
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value


DELETE = object()
# (kind, description, path, new value): each must make the example invalid.
INVALID = [
    ("nonce-request", "unknown member", ["extra"], 1),
    ("nonce-request", "bad key hash", ["tpm_public_key_hash"], "ABC"),
    ("nonce-response", "nonce too short", ["nonce"], "abc"),
    ("nonce-response", "nonce with padding", ["nonce"], "A" * 66 + "="),
    ("nonce-response", "missing expires_at", ["expires_at"], DELETE),
    ("nonce-response", "expires_at with offset", ["expires_at"], "2026-11-21T10:05:00+01:00"),
    ("nonce-response", "expires_at not a time", ["expires_at"], "tomorrow"),
    ("envelope", "unprotected header", ["header"], {"kid": "x"}),
    ("envelope", "standard base64 in signature", ["signature"], "ab+/cd=="),
    ("envelope", "missing payload", ["payload"], DELETE),
    ("protected-header", "alg none", ["alg"], "none"),
    ("protected-header", "alg HS256", ["alg"], "HS256"),
    ("protected-header", "uppercase kid", ["kid"], "A" * 64),
    ("protected-header", "wrong typ", ["typ"], "JWT"),
    ("protected-header", "crit member", ["crit"], ["exp"]),
    ("claims", "version 2", ["v"], 2),
    ("claims", "agent name with slash", ["agent_name"], "a/b"),
    ("claims", "agent name starting with dash", ["agent_name"], "-a"),
    ("claims", "agent name of 65 characters", ["agent_name"], "a" * 65),
    ("claims", "short key hash", ["tpm_public_key_hash"], "ab" * 31),
    ("claims", "missing nonce", ["nonce"], DELETE),
    ("claims", "timestamp without zone", ["timestamp"], "2026-11-21T10:00:00.123"),
    ("claims", "city without state", ["geographic_region"], {"region": "US", "city": "Austin"}),
    ("claims", "empty region", ["geographic_region", "region"], ""),
    ("claims", "missing region", ["geographic_region", "region"], DELETE),
    ("claims", "latitude 91", ["geolocation", "latitude"], 91),
    ("claims", "longitude -181", ["geolocation", "longitude"], -181),
    ("claims", "negative accuracy", ["geolocation", "accuracy_m"], -1),
    ("claims", "no samples", ["metrics", "samples"], []),
    ("claims", "sample without values", ["metrics", "samples", 0, "values"], DELETE),
    ("claims", "values not an object", ["metrics", "samples", 0, "values"], [1, 2]),
    ("claims", "service without instance_id", ["metrics", "service", "instance_id"], DELETE),
    ("claims", "unknown member", ["extra"], True),
    ("receipt", "status rejected", ["status"], "rejected"),
    ("receipt", "missing stored_at", ["stored_at"], DELETE),
    ("rejection", "unknown reason", ["details", "reason"], "teapot"),
    ("rejection", "reason of another validation type", ["details", "reason"], "bad_signature"),
    ("rejection", "details without reason", ["details"], {"expires_at": "2026-11-21T10:05:00.000Z"}),
    ("rejection", "rejected by agent", ["rejected_by"], "agent"),
    ("rejection", "unknown validation type", ["validation_type"], "vibes"),
    ("rejection", "trust_evidence reason as request_validation", ["details", "reason"], "ek_certificate_untrusted"),
    ("event", "rejection kind without rejection", ["rejection"], DELETE),
    ("event", "component agent", ["component"], "agent"),
    ("event", "kind with capitals", ["kind"], "Rejection"),
    ("event", "embedded rejection invalid", ["rejection", "rejected_by"], "agent"),
    ("event", "missing details", ["details"], DELETE),
    ("status", "state sleeping", ["state"], "sleeping"),
    ("status", "negative counter", ["counters", "accepted"], -1),
    ("status", "fractional counter", ["counters", "accepted"], 1.5),
    ("status", "missing since", ["since"], DELETE),
    ("enroll-request", "unknown type", ["type"], "middle"),
    ("enroll-request", "missing ak_public", ["ak_public"], DELETE),
    ("enroll-request", "agent name with slash", ["agent_name"], "a/b"),
    ("enroll-response", "pcr 24", ["pcrs"], [24]),
    ("enroll-response", "missing token", ["token"], DELETE),
    ("workload-geo-id", "location without region", ["client_workload_location"], {"state": "California"}),
    ("workload-geo-id", "missing client_type", ["client_type"], DELETE),
    ("claims", "geolocation with an unknown source", ["geolocation", "source"], "satellite"),
    ("claims", "geolocation with an unknown fix mode", ["geolocation", "fix_mode"], "4d"),
    ("claims", "geolocation with fix_mode none and a position", ["geolocation", "fix_mode"], "none"),
    ("claims", "geolocation with a latitude only", ["geolocation", "longitude"], DELETE),
    ("claims", "geolocation with a sensor without driver", ["geolocation", "sensor"], {"model": "NEO-M8N"}),
    ("rejection", "a geolocation reason under another type", ["details", "reason"], "location_stale"),
]
for kind, description, path, value in INVALID:
    instance = changed(kind, lambda i: set_path(i, path, value))
    if not errors(kind, instance):
        problems.append(f"{kind}: invalid instance accepted ({description})")

SIGNATURE_INPUT_INVALID = [
    examples["signature-input"].replace('alg="ES256"', 'alg="RSA"'),
    examples["signature-input"].replace(", nonce=", ",nonce="),
    examples["signature-input"].split(", nonce=")[0],
]
for instance in SIGNATURE_INPUT_INVALID:
    if not errors("signature-input", instance):
        problems.append(f"signature-input: invalid instance accepted: {instance[:60]}...")
# Valid variants that must stay valid.
VALID = [
    ("nonce-request", {}),
    ("claims", changed("claims", lambda i: i.pop("geolocation") and None)),
    ("claims", changed("claims", lambda i: set_path(i, ["geographic_region"], {"region": "DE"}))),
    ("claims", changed("claims", lambda i: set_path(i, ["timestamp"], "2026-11-21T10:00:00Z"))),
    ("claims", changed("claims", lambda i: set_path(i, ["geolocation"], {
        "latitude": 37.3541, "longitude": -121.9552, "altitude": -10, "accuracy_m": 4.9, "source": "gnss",
        "fix_mode": "3d", "fix_time": "2026-11-21T09:59:58.000Z", "sensor": {"driver": "NMEA0183"}}))),
    ("claims", changed("claims", lambda i: set_path(i, ["geolocation"], {
        "source": "gnss", "fix_mode": "none", "sensor": {"driver": "u-blox", "model": "NEO-M8N", "firmware": "SPG 3.01"}}))),
    ("rejection", changed("rejection", lambda i: i.update(validation_type="geolocation_policy",
        details={"reason": "location_outside_fence", "declared_place": "US/California/Santa Clara"}))),
    ("event", changed("event", lambda i: i.update(kind="allowlist_reloaded", details={"agents": 3}) or i.pop("rejection") and None)),
    ("rejection", changed("rejection", lambda i: i.update(validation_type="geolocation_policy", details={"reason": "location_not_allowed"}))),
    ("status", {"component": "agent", "id": "agent-001", "state": "offline", "since": "2026-11-21T09:00:00.000Z"}),
    ("status", {"component": "gateway", "id": "bridge-site1", "state": "online", "since": "2026-11-21T09:00:00.000Z",
        "counters": {"received": 10, "relayed_up": 9}, "relay": {"site_connected": True, "upstream_connected": False,
        "agents": 3, "up": {"messages": 12, "bytes": 4096, "in_flight": 2, "oldest_age_s": 4.2,
        "dropped": {"expired": 5}}, "down": {"messages": 0, "bytes": 0, "in_flight": 0}}}),
    ("enroll-request", changed("enroll-request", lambda i: i.pop("ek_certificate") and None)),
    ("enroll-request", {"type": "finish", "agent_name": "agent-001", "token": "AbC_-1", "activation_proof": "AAAA",
        "certify": {"attest": "AAAA", "signature": "AAAA"}, "quote": {"attest": "AAAA", "signature": "AAAA"},
        "pcr_values": {"0": "00" * 32, "7": "ab" * 32}, "executable_digest": "12" * 32, "kernel_release": "6.1.0-13-amd64"}),
    ("enroll-response", {"type": "result", "status": "approved", "trust_level": "tpm-ek-cert"}),
    ("enroll-response", {"type": "result", "status": "pending", "message": "waiting for an operator"}),
    ("enroll-response", {"type": "result", "status": "refused", "rejection": {"error": "EK certificate does not chain",
        "rejected_by": "registrar", "validation_type": "trust_evidence",
        "details": {"reason": "ek_certificate_untrusted"}, "timestamp": "2026-11-21T10:00:00.000Z"}}),
]
for kind, instance in VALID:
    for message in errors(kind, instance):
        problems.append(f"{kind}: valid variant refused: {message}")

# Instances given on the command line (KIND=FILE), e.g. messages the Swift code produced.
produced = [argument.split("=", 1) for argument in sys.argv[1:]]
for kind, path in produced:
    if kind not in schemas:
        problems.append(f"{path}: no schema named {kind}")
        continue
    for message in errors(kind, load(path)):
        problems.append(f"{path} ({kind}): {message}")

total = len(examples) + len(INVALID) + len(SIGNATURE_INPUT_INVALID) + len(VALID) + len(produced)
if problems:
    print("\n".join(problems))
    print(f"FAILED: {len(problems)} problem(s)")
    sys.exit(1)
print(f"ok: {len(schemas)} schemas, {len(examples)} examples, {total - len(examples)} extra instances checked")
