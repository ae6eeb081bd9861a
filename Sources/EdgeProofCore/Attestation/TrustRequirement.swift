import Foundation

/// What a gateway or collector demands of an agent's key beyond being allowlisted
/// (`require_trust_level`, `require_trust_level_by_agent`, `max_attestation_age_s`): a minimum trust
/// level, globally or per agent, and an attestation no older than a limit. The default demands nothing.
public struct TrustRequirement: Sendable, Hashable {
    public var minimumLevel: TrustLevel
    public var minimumLevelByAgent: [String: TrustLevel]
    /// Seconds; nil: an attestation never goes stale.
    public var maximumAttestationAge: Double?

    public init(
        minimumLevel: TrustLevel = .configured, minimumLevelByAgent: [String: TrustLevel] = [:],
        maximumAttestationAge: Double? = nil
    ) {
        self.minimumLevel = minimumLevel
        self.minimumLevelByAgent = minimumLevelByAgent
        self.maximumAttestationAge = maximumAttestationAge
    }

    public func minimumLevel(for agent: String) -> TrustLevel {
        minimumLevelByAgent[agent] ?? minimumLevel
    }

    /// Fails with `agent_not_attested` when `level` is below what `agent` must have, or when its key
    /// has TPM evidence whose last attestation (`attestedAt`, seconds since 1970) is older than the
    /// limit. A key an operator configured has no attestation to go stale: only the level refuses it.
    public func check(agent: String, level: TrustLevel, attestedAt: Double?, now: Date) throws(ValidationFailure) {
        let required = minimumLevel(for: agent)
        guard level >= required else {
            throw ValidationFailure(
                .agentNotAttested,
                "agent \(agent)'s key is \(level), below the required trust level \(required)",
                details: [
                    "agent_name": .string(agent), "trust_level": .string(level.rawValue),
                    "required_trust_level": .string(required.rawValue),
                ])
        }
        guard let maximumAttestationAge, level > .configured else { return }
        let age = attestedAt.map { now.timeIntervalSince1970 - $0 }
        guard let age, age <= maximumAttestationAge else {
            var details: [String: JSONValue] = [
                "agent_name": .string(agent), "trust_level": .string(level.rawValue),
                "max_attestation_age_s": .number(maximumAttestationAge),
            ]
            if let attestedAt {
                details["attested_at"] = .string(Timestamp.string(from: Date(timeIntervalSince1970: attestedAt)))
            }
            let when = age.map { "\(Int($0)) s ago" } ?? "at no readable time"
            throw ValidationFailure(
                .agentNotAttested,
                "agent \(agent)'s key was last attested \(when), longer ago than max_attestation_age_s "
                    + "\(Int(maximumAttestationAge))",
                details: details)
        }
    }
}

/// The trust of an accepted envelope's key at acceptance, as its record carries it.
public struct RecordTrust: Sendable, Hashable {
    public var level: TrustLevel
    /// Seconds since 1970; nil for a key without an attestation (`configured`).
    public var attestedAt: Double?

    public init(level: TrustLevel, attestedAt: Double?) {
        self.level = level
        self.attestedAt = attestedAt
    }
}
