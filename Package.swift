// swift-tools-version: 6.0
import PackageDescription

/// Settings every target shares: existential `any` spelled out, imports visible only where declared.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "EdgeProof",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "edgeproof", targets: ["edgeproof"]),
        .library(name: "EdgeProofCore", targets: ["EdgeProofCore"]),
        .library(name: "EdgeProofTPM", targets: ["EdgeProofTPM"]),
        .library(name: "EdgeProofMQTT", targets: ["EdgeProofMQTT"]),
        .library(name: "EdgeProofAttestation", targets: ["EdgeProofAttestation"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.3.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swhitty/FlyingFox.git", from: "0.27.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        // System libraries: headers and link flags from the Debian -dev packages.
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        .systemLibrary(
            name: "CTSS2",
            providers: [.apt(["libtss2-dev"])]
        ),
        // libcrypto for what swift-crypto lacks: RSA-OAEP with a label and AES-CFB (TPM2_MakeCredential).
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),

        // The wire contract: envelope, keys, allowlist, policy, nonces, rejections, topics. Pure Swift.
        .target(
            name: "EdgeProofCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // OTLP metrics as OTLP/JSON: the data model, accepted envelopes as OTLP lines, and their re-verification.
        .target(
            name: "EdgeProofOTLP",
            dependencies: ["EdgeProofCore", "OTLPProto", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: swiftSettings
        ),
        // ESAPI: provision, read the public key, sign digests.
        .target(
            name: "EdgeProofTPM",
            dependencies: [
                "CTSS2",
                "EdgeProofCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The registrar's verification: TPM structures, MakeCredential, signatures over attestations. No TPM, no MQTT.
        .target(
            name: "EdgeProofAttestation",
            dependencies: [
                "COpenSSL", "EdgeProofCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        // libmosquitto: MQTT v5 over mutual TLS, QoS 1, request/response, reconnect.
        .target(
            name: "EdgeProofMQTT",
            dependencies: [
                "CMosquitto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Files on disk: allowlist, spool, rotating records and events, nonce keys.
        .target(
            name: "EdgeProofStorage",
            dependencies: [
                "EdgeProofCore",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // The service kit every role shares: allowlist watcher, counters (swift-metrics), configuration
        // loading and validation.
        .target(
            name: "EdgeProofService",
            dependencies: [
                "EdgeProofCore", "EdgeProofMQTT", "EdgeProofStorage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // Each service's operations endpoint over HTTP: /metrics (Prometheus), /healthz, /readyz.
        .target(
            name: "EdgeProofOperations",
            dependencies: [
                "EdgeProofService", "EdgeProofMQTT",
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "FlyingSocks", package: "FlyingFox"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // OTLP's official protobuf definitions (opentelemetry-proto), generated by protoc-gen-swift once
        // (scripts/generate-otlp-proto.sh) and committed: the OTLP/HTTP intake reads requests with them.
        .target(
            name: "OTLPProto",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // The agent's OTLP/HTTP metrics intake (FlyingFox): applications' points become signed samples.
        .target(
            name: "EdgeProofOTLPReceiver",
            dependencies: [
                "EdgeProofCore", "EdgeProofService", "EdgeProofOperations", "OTLPProto",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "FlyingSocks", package: "FlyingFox"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The services. Each is a swift-service-lifecycle Service over EdgeProofMQTT.
        .target(
            name: "EdgeProofCollector",
            dependencies: [
                "EdgeProofCore", "EdgeProofMQTT", "EdgeProofStorage", "EdgeProofService", "EdgeProofOperations", "EdgeProofOTLP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EdgeProofGateway",
            dependencies: [
                "EdgeProofCore", "EdgeProofMQTT", "EdgeProofStorage", "EdgeProofService", "EdgeProofOperations",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The registrar: attested enrollment over MQTT (EK certificate, credential activation, certify, quote).
        .target(
            name: "EdgeProofRegistrar",
            dependencies: [
                "EdgeProofCore", "EdgeProofMQTT", "EdgeProofStorage", "EdgeProofService", "EdgeProofOperations", "EdgeProofAttestation",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EdgeProofAgent",
            dependencies: [
                "EdgeProofCore", "EdgeProofMQTT", "EdgeProofStorage", "EdgeProofService", "EdgeProofOperations", "EdgeProofTPM",
                "EdgeProofOTLPReceiver",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Starts mosquitto (TLS, client certificates, dynamic security) and swtpm on this machine, and runs
        // components as child processes, for `edgeproof demo` and `edgeproof bench`; tests use it too.
        .target(
            name: "EdgeProofLocalStack",
            dependencies: [
                "EdgeProofCore", "EdgeProofMQTT",
                .product(name: "Logging", package: "swift-log"),
                // ClientCertificateIssuer: thousands of client certificates for benches, in-process.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        // `edgeproof demo`: the whole system on this machine, the prototype's scenarios in both gateway modes.
        .target(
            name: "EdgeProofDemo",
            dependencies: [
                "EdgeProofAgent", "EdgeProofCollector", "EdgeProofGateway", "EdgeProofCore", "EdgeProofMQTT",
                "EdgeProofStorage", "EdgeProofTPM", "EdgeProofLocalStack", "EdgeProofService", "EdgeProofRegistrar",
                "EdgeProofAttestation", "EdgeProofOperations", "EdgeProofOTLP", "EdgeProofOTLPReceiver",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `edgeproof bench …`: every measurement, each printing a table and its figures.
        .target(
            name: "EdgeProofBench",
            dependencies: [
                "EdgeProofAgent", "EdgeProofCollector", "EdgeProofGateway", "EdgeProofCore", "EdgeProofMQTT",
                "EdgeProofStorage", "EdgeProofTPM", "EdgeProofLocalStack", "EdgeProofService", "EdgeProofRegistrar",
                "EdgeProofAttestation", "EdgeProofOperations", "EdgeProofOTLP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The shared test kit, for test targets only (no product module depends on it): MQTT inbox, software
        // signer, waits, process watchers, the fuzz corpus.
        .target(
            name: "EdgeProofTesting",
            dependencies: [
                "EdgeProofCore", "EdgeProofMQTT", "EdgeProofLocalStack",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "edgeproof",
            dependencies: [
                "EdgeProofCore",
                "EdgeProofTPM",
                "EdgeProofStorage",
                "EdgeProofMQTT",
                "EdgeProofCollector",
                "EdgeProofGateway",
                "EdgeProofAgent",
                "EdgeProofRegistrar",
                "EdgeProofDemo",
                "EdgeProofService",
                "EdgeProofBench",
                "EdgeProofAttestation",
                "EdgeProofOTLP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        .testTarget(
            name: "EdgeProofCoreTests",
            dependencies: [
                "EdgeProofCore", "EdgeProofTesting",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EdgeProofStorageTests",
            dependencies: ["EdgeProofStorage", "EdgeProofCore", "EdgeProofTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EdgeProofMQTTTests",
            dependencies: ["EdgeProofMQTT", "EdgeProofTesting", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EdgeProofCollectorTests",
            dependencies: [
                "EdgeProofCollector", "EdgeProofCore", "EdgeProofMQTT", "EdgeProofStorage", "EdgeProofTesting",
                "EdgeProofService", "EdgeProofOTLP", "OTLPProto", "EdgeProofLocalStack",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EdgeProofServiceTests",
            dependencies: [
                "EdgeProofService", "EdgeProofAgent", "EdgeProofCollector", "EdgeProofGateway", "EdgeProofStorage",
                "EdgeProofCore", "EdgeProofMQTT", "EdgeProofTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EdgeProofGatewayTests",
            dependencies: [
                "EdgeProofGateway", "EdgeProofCore", "EdgeProofMQTT", "EdgeProofStorage", "EdgeProofTesting",
                "EdgeProofService",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EdgeProofAgentTests",
            dependencies: [
                "EdgeProofAgent", "EdgeProofCore", "EdgeProofMQTT", "EdgeProofStorage", "EdgeProofTPM",
                "EdgeProofTesting", "EdgeProofService",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EdgeProofSystemTests",
            dependencies: [
                "EdgeProofDemo", "EdgeProofAgent", "EdgeProofCollector", "EdgeProofGateway", "EdgeProofCore",
                "EdgeProofMQTT", "EdgeProofStorage", "EdgeProofTPM", "EdgeProofTesting", "EdgeProofBench",
                "EdgeProofService", "EdgeProofOperations", "EdgeProofOTLP", "EdgeProofOTLPReceiver", "OTLPProto",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EdgeProofTPMTests",
            dependencies: [
                "EdgeProofTPM",
                "EdgeProofCore",
                "EdgeProofTesting",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EdgeProofAttestationTests",
            dependencies: [
                "EdgeProofAttestation", "EdgeProofLocalStack", "EdgeProofTPM",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EdgeProofRegistrarTests",
            dependencies: [
                "EdgeProofRegistrar", "EdgeProofAgent", "EdgeProofAttestation", "EdgeProofCore", "EdgeProofMQTT",
                "EdgeProofStorage", "EdgeProofService", "EdgeProofTPM", "EdgeProofTesting", "EdgeProofLocalStack",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "edgeproofTests",
            dependencies: [
                "EdgeProofCore", "EdgeProofOTLP", "EdgeProofStorage", "EdgeProofTesting",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
