import EdgeProofCore
import EdgeProofOTLP
import Foundation

/// The collector's verification of one envelope, apart from MQTT and files: size and form, topic,
/// allowlist and key hash, signature, nonce, signing time within the nonce's window, geography, single
/// use, in the prototype's order; for an accepted envelope, its record line. Synchronous and thread-safe: the collector runs it from many
/// tasks at once, and `edgeproof bench verify` measures exactly this code.
///
/// An accepted envelope holds its nonce claimed in the replay cache: the caller writes the record,
/// then calls ``stored(_:at:)``, or ``notStored(_:)`` when the write failed.
public struct EnvelopeIntake: Sendable {
    public let collectorID: String
    public let nonceAuthority: NonceAuthority
    public let replayCache: ReplayCache
    public let maximumEnvelopeBytes: Int
    /// How far a signed timestamp may lie outside its nonce's validity window.
    public let maximumClockSkew: Duration
    public let trustRequirement: TrustRequirement
    /// Also keep what each accepted envelope's OTLP JSON line (``OTLPRecord``) is made of.
    public let writesOTLP: Bool

    public init(
        collectorID: String, nonceAuthority: NonceAuthority, replayCache: ReplayCache, maximumEnvelopeBytes: Int,
        maximumClockSkew: Duration = .seconds(300), trustRequirement: TrustRequirement = TrustRequirement(),
        writesOTLP: Bool = false
    ) {
        self.collectorID = collectorID
        self.nonceAuthority = nonceAuthority
        self.replayCache = replayCache
        self.maximumEnvelopeBytes = maximumEnvelopeBytes
        self.maximumClockSkew = maximumClockSkew
        self.trustRequirement = trustRequirement
        self.writesOTLP = writesOTLP
    }

    /// An envelope that passed every check, with its nonce claimed and its record line ready; of the
    /// envelope itself only what its answer needs. A class, and no envelope in it: it waits in batches
    /// for the disk, and keeping every parsed envelope alive that long (and copying it into outcomes)
    /// cost more than the answer's few fields.
    public final class Accepted: Sendable {
        /// The nonce as the agent sent it: receipts and events name the envelope by it.
        public let nonceToken: String
        public let keyID: PublicKeyHash
        public let sampleCount: Int
        public let nonce: ValidNonce
        public let recordLine: Data
        /// When the collector writes OTLP too: what its OTLP line is made of. The line is made by
        /// ``otlpLine()`` where the batch is written, beside the records' fsync, not on the checking
        /// thread; only then is the parsed envelope kept until the write.
        private let otlpSource: (envelope: SignedEnvelope, collector: String, receivedAt: String, trust: RecordTrust?)?

        init(
            envelope: SignedEnvelope, nonce: ValidNonce, recordLine: Data,
            otlpSource: (envelope: SignedEnvelope, collector: String, receivedAt: String, trust: RecordTrust?)?
        ) {
            self.nonceToken = envelope.claims.nonce
            self.keyID = envelope.header.keyID
            self.sampleCount = envelope.claims.metrics.samples.count
            self.nonce = nonce
            self.recordLine = recordLine
            self.otlpSource = otlpSource
        }

        /// Its OTLP JSON line (``OTLPRecord``); nil when the collector writes no OTLP.
        public func otlpLine() throws -> Data? {
            guard let source = otlpSource else { return nil }
            return Data(
                try OTLPRecord.line(
                    for: source.envelope, collector: source.collector, receivedAt: source.receivedAt, trust: source.trust))
        }
    }

    public enum Verdict: Sendable {
        case accepted(Accepted)
        /// Refused; the failure already names the envelope's nonce where there is one.
        case rejected(ValidationFailure)
        /// This very envelope is stored already (a resend): refused as `nonce_replayed` with
        /// `stored_at` and `collector`, which the agent takes for the receipt it missed.
        case storedAlready(ValidationFailure)
        /// This very envelope is being stored right now: its first copy's receipt answers both.
        case inProgress
    }

    /// Checks `payload`, received on `topic` (the verified topic of `agent`), against `allowlist`.
    public func check(_ payload: Data, topic: String, agent: String, allowlist: Allowlist, receivedAt: Date) -> Verdict {
        let envelope: SignedEnvelope
        do throws(ValidationFailure) {
            envelope = try SignedEnvelope(parsing: payload, maximumSize: maximumEnvelopeBytes)
        } catch {
            return .rejected(error)
        }
        let nonce: ValidNonce
        let trust: RecordTrust
        do throws(ValidationFailure) {
            try envelope.checkTopic(agent: agent)
            let (entry, key, keyTrust) = try allowlist.verifyAgent(
                named: envelope.claims.agentName, keyHash: envelope.claims.publicKeyHash, requirement: trustRequirement,
                now: receivedAt)
            trust = keyTrust
            try envelope.verifySignature(with: key)
            nonce = try nonceAuthority.validate(envelope.claims.nonce, for: envelope.claims.publicKeyHash, now: receivedAt)
            try envelope.checkTimestamp(within: nonce, lifetime: nonceAuthority.lifetime, skew: maximumClockSkew)
            try allowlist.policy.check(
                envelope.claims, agentPlaces: entry.allowedPlaces, agentRequirement: entry.locationRequirements)
        } catch {
            return .rejected(error.about(envelope))
        }

        // Formatted only for a refusal: most envelopes are claimed.
        var expiry: [String: JSONValue] { ["expires_at": .string(Timestamp.string(from: nonce.expiresAt))] }
        switch replayCache.claim(nonce, fingerprint: EnvelopeFingerprint(signature: envelope.signature), now: receivedAt) {
        case .claimed:
            break
        case .alreadyStored(let storedAt):
            let failure = ValidationFailure(
                .nonceReplayed, "nonce was already used: this envelope is stored already",
                details: expiry.merging([
                    "stored_at": .string(Timestamp.string(from: storedAt)), "collector": .string(collectorID),
                ]) { old, _ in old })
            return .storedAlready(failure.about(envelope))
        case .inProgress:
            return .inProgress
        case .replayed:
            return .rejected(ValidationFailure(.nonceReplayed, "nonce was already used", details: expiry).about(envelope))
        }

        do {
            let received = Timestamp.string(from: receivedAt)
            let line = try StoredRecord.jsonLine(
                for: envelope, topic: topic, collector: collectorID, receivedAt: received, trust: trust)
            return .accepted(
                Accepted(
                    envelope: envelope, nonce: nonce, recordLine: Data(line),
                    otlpSource: writesOTLP ? (envelope, collectorID, received, trust) : nil))
        } catch {
            // Cannot happen for a parsed envelope; refuse rather than store something unreadable.
            replayCache.release(nonce.id)
            return .rejected(ValidationFailure(.malformedEnvelope, "cannot encode the record: \(error)").about(envelope))
        }
    }

    /// The accepted envelope's record is durable: its nonce is used for good.
    public func stored(_ accepted: Accepted, at time: Date = Date()) {
        replayCache.commit(accepted.nonce.id, storedAt: time)
    }

    /// The accepted envelope's record could not be written: its nonce is free again for the resend.
    public func notStored(_ accepted: Accepted) {
        replayCache.release(accepted.nonce.id)
    }
}
