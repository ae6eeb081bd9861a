import EdgeProofCore
import EdgeProofMQTT
import EdgeProofStorage
import Foundation
import Logging

/// Single use of nonces across restarts: the records files are the durable account.
extension Collector {
    /// How far back records can still hold unexpired nonces: the nonce lifetime, plus a margin for
    /// clock steps. Records files changed within it are read back on start and never deleted by
    /// retention.
    static func replayWindow(_ configuration: CollectorConfiguration) -> Duration {
        configuration.nonceLifetime + .seconds(60)
    }

    /// Fills the replay cache with the nonces of the records written within the replay window.
    func rememberRecordedNonces(now: Date = Date()) throws {
        let since = now.addingTimeInterval(-Self.replayWindow(configuration).seconds)
        let read: (uses: [RecordedNonceReader.Use], unreadableLines: Int)
        do {
            read = try RecordedNonceReader.read(directory: records.file.directory, modifiedSince: since)
        } catch {
            throw CollectorError("cannot start: cannot read back the recent records: \(error)")
        }
        let uses = read.uses.compactMap { use -> RecordedNonceUse? in
            // Validated as at the beginning of time: the MAC and the binding to the agent's key must
            // hold; expiry is the cache's business. Tokens of a key no longer in the keyring cannot
            // be presented again anyway.
            guard let nonce = try? nonceAuthority.validate(use.nonce, for: use.kid, now: .distantPast) else { return nil }
            return RecordedNonceUse(
                id: nonce.id, expiresAt: nonce.expiresAt, fingerprint: EnvelopeFingerprint(signature: use.signature),
                storedAt: Timestamp.date(from: use.receivedAt) ?? now)
        }
        replayCache.remember(uses, now: now)
        FreedMemory.release()
        if read.unreadableLines > 0 {
            logger.warning("records lines that do not parse were skipped", metadata: ["lines": "\(read.unreadableLines)"])
        }
        logger.info("replay cache rebuilt from the records", metadata: ["nonces": "\(replayCache.count)"])
    }
}
