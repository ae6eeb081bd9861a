import EdgeProofTPM

/// How the agent enrolls with a registrar: `enroll: auto | off` (default off, as before enrollment existed)
/// and `tpm.attestation_key_handle` (default ``PersistentHandle/defaultAttestationKey``, 0x81020011).
public struct EnrollmentSettings: Sendable, Hashable {
    public enum Mode: String, Sendable, Hashable, Decodable {
        /// The agent service enrolls (re-attests) at every start and publishes no metrics before approval.
        case auto
        /// No enrollment: the operator added the key to the allowlist (`level: configured`).
        case off
    }

    public static let defaultAttestationKeyHandle = PersistentHandle.defaultAttestationKey

    public var mode: Mode
    public var attestationKeyHandle: PersistentHandle

    public init(mode: Mode = .off, attestationKeyHandle: PersistentHandle = Self.defaultAttestationKeyHandle) {
        self.mode = mode
        self.attestationKeyHandle = attestationKeyHandle
    }

    private enum TPMKeys: String, CodingKey {
        case attestationKeyHandle = "attestation_key_handle"
    }

    /// `mode` as decoded; the AK handle from the `tpm:` section's decoder, when there is one.
    init(mode: Mode?, tpm: (any Decoder)?) throws {
        self.init(mode: mode ?? .off)
        guard let tpm, let container = try? tpm.container(keyedBy: TPMKeys.self) else { return }
        if let number = try? container.decodeIfPresent(UInt32.self, forKey: .attestationKeyHandle) {
            guard let handle = try? PersistentHandle(number) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .attestationKeyHandle, in: container,
                    debugDescription: "\(number) is outside the persistent handle range 0x81000000–0x817FFFFF")
            }
            attestationKeyHandle = handle
        } else if let text = try container.decodeIfPresent(String.self, forKey: .attestationKeyHandle) {
            guard let handle = PersistentHandle(text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .attestationKeyHandle, in: container,
                    debugDescription: "\"\(text)\" is not a persistent handle such as 0x81020011")
            }
            attestationKeyHandle = handle
        }
    }
}
