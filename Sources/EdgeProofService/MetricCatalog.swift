import EdgeProofCore

/// One metric as Prometheus shows it: the name, help and type every service's `/metrics` gives it.
public struct MetricDefinition: Sendable {
    public enum Kind: Sendable, Equatable {
        case counter
        case gauge
        /// Durations in seconds (swift-metrics `Timer`), with these upper bounds.
        case durationHistogram(buckets: [Duration])
    }

    /// The swift-metrics label the services use (`received`, `nonce_request_duration`).
    public let label: String
    /// The Prometheus family name (`edgeproof_envelopes_received_total`).
    public let name: String
    public let help: String
    public let kind: Kind
    /// What the services' one dimension (`reason`) is called in Prometheus (`reason`, `event`, `broker`).
    public let dimension: String
    /// Shown only with its dimension: the services also keep the plain total (`rejected`) for their status,
    /// which in the same family would count everything twice.
    public let onlyWithDimension: Bool

    public init(
        _ label: String, _ name: String, _ kind: Kind = .counter, dimension: String = "reason",
        onlyWithDimension: Bool = false, help: String
    ) {
        self.label = label
        self.name = name
        self.help = help
        self.kind = kind
        self.dimension = dimension
        self.onlyWithDimension = onlyWithDimension
    }
}

/// Every metric the services expose, in one place: a Prometheus family must always be created with the
/// same help text (swift-prometheus stops the process otherwise), and metrics created through swift-metrics
/// alone would carry none. ``ServiceMetrics`` looks definitions up here by label; a counter a service adds
/// without an entry still gets a stable name and a generic help text (``fallback(for:kind:)``), and the
/// operations tests fail on it, so that it gets an entry.
///
/// Every family carries `component` (agent, gateway, collector, registrar). No family has an agent label:
/// a fleet of 100,000 agents must not make 100,000 series.
public enum MetricCatalog {
    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        .seconds(30),
    ]
    static let diskBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .seconds(1),
    ]

    public static let definitions: [MetricDefinition] = [
        // Envelopes
        .init("received", "edgeproof_envelopes_received_total",
              help: "Envelopes (and, at the gateway, nonce requests) received from the broker."),
        .init("accepted", "edgeproof_envelopes_accepted_total",
              help: "Envelopes accepted: stored by a collector; at an agent, envelopes a collector receipted."),
        .init("forwarded", "edgeproof_envelopes_forwarded_total", help: "Messages the gateway republished on verified/."),
        .init("published", "edgeproof_envelopes_published_total", help: "Envelopes an agent published (each sending)."),
        .init("duplicates", "edgeproof_envelopes_duplicate_total",
              help: "Envelopes received again after they were stored (answered with their receipt, not stored twice)."),
        .init("rejected", "edgeproof_rejections_total", onlyWithDimension: true,
              help: "Refusals, by validation type and reason; an agent counts the refusals it received."),
        .init("dropped", "edgeproof_dropped_total", help: "Messages dropped without an answer (no agent to answer to)."),
        .init("spool_dropped", "edgeproof_spool_dropped_total",
              help: "Envelopes an agent dropped from its full spool (the oldest first)."),
        .init("resigned", "edgeproof_envelopes_resigned_total",
              help: "Envelopes an agent signed again with a fresh nonce after a retryable refusal."),
        .init("samples_refused", "edgeproof_samples_refused_total",
              help: "Samples an agent refused to sign (unfit for an envelope)."),
        .init("otlp_points", "edgeproof_otlp_points_total",
              help: "Data points an agent received over OTLP/HTTP and spooled for signing."),
        .init("otlp_refused", "edgeproof_otlp_requests_refused_total",
              help: "OTLP/HTTP requests an agent refused, by why (malformed, too_large, unsupported_media_type, spool_full)."),
        .init("batches_split", "edgeproof_batches_split_total", help: "Batches an agent split to fit an envelope."),
        .init("batches_unsendable", "edgeproof_batches_unsendable_total",
              help: "Batches an agent could not fit into any envelope."),
        .init("ignored", "edgeproof_messages_ignored_total", help: "Messages ignored, by why."),
        .init("publish_failed", "edgeproof_publish_failures_total", help: "Publishes the broker refused or that failed."),
        .init("store_failed", "edgeproof_store_failures_total", help: "Batches of envelopes that could not be made durable."),
        .init("record_failed", "edgeproof_record_failures_total", help: "Envelopes whose record could not be written."),
        .init("events", "edgeproof_events_total", help: "Trust events, by what happened to them."),
        // Nonces and receipts
        .init("nonces_issued", "edgeproof_nonces_issued_total", help: "Nonces a collector issued."),
        .init("nonce_timeouts", "edgeproof_nonce_timeouts_total", help: "Nonce requests an agent gave up waiting for."),
        .init("receipt_timeouts", "edgeproof_receipt_timeouts_total",
              help: "Envelopes an agent sent whose receipt did not come in time (sent again later)."),
        .init("nonce", "edgeproof_nonce_events_total", help: "Unusual nonce traffic, by what it was."),
        .init("nonce_request_duration", "edgeproof_nonce_request_duration_seconds", .durationHistogram(buckets: latencyBuckets),
              help: "At an agent: from a nonce request to its answer."),
        .init("nonce_issue_duration", "edgeproof_nonce_issue_duration_seconds", .durationHistogram(buckets: diskBuckets),
              help: "At a collector: from a nonce request's arrival to the broker's acknowledgement of its answer."),
        .init("receipt_duration", "edgeproof_receipt_duration_seconds", .durationHistogram(buckets: latencyBuckets),
              help: "At an agent: from publishing an envelope to its receipt."),
        // Storage
        .init("records_fsync_duration", "edgeproof_records_fsync_duration_seconds", .durationHistogram(buckets: diskBuckets),
              help: "How long one group commit of records took to write and fsync."),
        .init("records_bytes", "edgeproof_records_written_bytes_total", help: "Bytes of records written."),
        .init("records_files", "edgeproof_records_files", .gauge, help: "Records files in the records directory (open and closed)."),
        .init("spool_envelopes", "edgeproof_spool_envelopes", .gauge, help: "Envelopes in an agent's spool, not yet receipted."),
        .init("spool_oldest_age", "edgeproof_spool_oldest_age_seconds", .gauge,
              help: "Age of the oldest unreceipted envelope in an agent's spool (0 when empty)."),
        // TPM
        .init("tpm_sign_duration", "edgeproof_tpm_sign_duration_seconds", .durationHistogram(buckets: latencyBuckets),
              help: "How long the TPM took to sign one envelope."),
        .init("tpm_failures", "edgeproof_tpm_failures_total", help: "TPM operations that failed."),
        // MQTT
        .init("mqtt_connected", "edgeproof_mqtt_connected", .gauge, dimension: "broker",
              help: "1 while connected to the broker, 0 otherwise."),
        .init("mqtt_connections", "edgeproof_mqtt_connections_total", dimension: "broker",
              help: "Connections made to the broker (the first and every reconnect)."),
        .init("mqtt_pending_publishes", "edgeproof_mqtt_pending_publishes", .gauge, dimension: "broker",
              help: "QoS 1 publishes handed to the broker and not yet acknowledged."),
        // Allowlist and relay
        .init("allowlist_reloads", "edgeproof_allowlist_reloads_total", help: "Allowlist reloads that took effect."),
        .init("allowlist_reload_failures", "edgeproof_allowlist_reload_failures_total",
              help: "Allowlist reloads refused (the previous allowlist stays in force)."),
        .init("attestation_ledger_failures", "edgeproof_attestation_ledger_failures_total",
              help: "Failures to read or write the attestation ledger."),
        .init("relay", "edgeproof_relay_events_total", dimension: "event", help: "Site relay events, by direction and what happened."),
        .init("relayed_up", "edgeproof_relayed_up_total", help: "Messages the site gateway relayed upstream."),
        .init("relayed_down", "edgeproof_relayed_down_total", help: "Messages the site gateway relayed down to the site."),
        // Registrar
        .init("challenges", "edgeproof_enrollment_challenges_total", help: "Enrollment challenges the registrar issued."),
        .init("approved", "edgeproof_enrollments_approved_total", help: "Enrollments the registrar approved."),
        .init("pending", "edgeproof_enrollments_pending_total", help: "Enrollments left pending an operator's decision."),
        .init("enrollment", "edgeproof_enrollment_outcomes_total", dimension: "outcome", help: "An agent's enrollment attempts, by outcome."),
    ]

    private static let byLabel: [String: MetricDefinition] = Dictionary(
        definitions.map { ($0.label, $0) }, uniquingKeysWith: { first, _ in first })

    /// The definition of `label`: its entry, or a generic one with a stable name and help.
    public static func definition(for label: String, kind: MetricDefinition.Kind = .counter) -> MetricDefinition {
        byLabel[label] ?? fallback(for: label, kind: kind)
    }

    /// Whether `label` has an entry of its own.
    public static func isDefined(_ label: String) -> Bool { byLabel[label] != nil }

    /// A name derived from the label alone, so that it is the same wherever the label is used.
    static func fallback(for label: String, kind: MetricDefinition.Kind) -> MetricDefinition {
        let base = "edgeproof_" + String(label.map { $0.isLetter || $0.isNumber ? $0 : "_" }).lowercased()
        switch kind {
        case .counter: return .init(label, base + "_total", help: "Count of \(label) (no description yet).")
        case .gauge: return .init(label, base, .gauge, help: "Value of \(label) (no description yet).")
        case .durationHistogram: return .init(label, base + "_seconds", .durationHistogram(buckets: latencyBuckets), help: "Duration of \(label) (no description yet).")
        }
    }

    /// The Prometheus labels of one series: the component, then the service's dimension as the family
    /// names it. A rejection's reason also gives its validation type; a reason outside the known codes (an
    /// agent counts what it is told) is `other`, so that the series stay bounded.
    static func labels(
        for definition: MetricDefinition, component: String, dimensions: [(String, String)]
    ) -> [(String, String)] {
        var labels = [("component", component)]
        for (_, value) in dimensions {
            if definition.label == "rejected" {
                let reason = RejectionReason.all.first { $0.code == value }
                labels.append(("validation_type", reason?.validationType.rawValue ?? "other"))
                labels.append(("reason", reason?.code ?? "other"))
            } else {
                labels.append((definition.dimension, value))
            }
        }
        return labels
    }
}
