/// The allowlist's `policy.platform`: what a registrar accepts of an enrolling agent's platform. Each list
/// empty (or absent) allows anything. Only the registrar applies it, at enrollment.
///
/// What each proves: `executable_digests` and `kernel_releases` are what the agent reports (a compromised
/// host can report anything), so they catch mistakes and stale builds, not attackers; `pcrs` are values the
/// AK's quote signed, so they hold as far as the measurements behind them do (PCR 10 with IMA is the
/// measured form of the executable).
public struct PlatformPolicy: Sendable, Hashable, Codable {
    /// Allowed SHA-256 hex digests of the agent's executable (/proc/self/exe).
    public var executableDigests: [String]
    /// Allowed kernel releases (`uname -r`).
    public var kernelReleases: [String]
    /// Expected SHA-256 bank values by PCR index (decimal text → hex); each must be quoted with this value.
    public var pcrs: [String: String]

    enum CodingKeys: String, CodingKey {
        case executableDigests = "executable_digests"
        case kernelReleases = "kernel_releases"
        case pcrs
    }

    public init(executableDigests: [String] = [], kernelReleases: [String] = [], pcrs: [String: String] = [:]) {
        self.executableDigests = executableDigests
        self.kernelReleases = kernelReleases
        self.pcrs = pcrs
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        executableDigests = try container.decodeIfPresent([String].self, forKey: .executableDigests) ?? []
        kernelReleases = try container.decodeIfPresent([String].self, forKey: .kernelReleases) ?? []
        pcrs = try container.decodeIfPresent([String: String].self, forKey: .pcrs) ?? [:]
    }

    /// Fails with `platform_not_allowed` naming what is outside the policy. `pcrValues` are the quoted ones.
    public func check(
        executableDigest: String, kernelRelease: String, pcrValues: [String: String]
    ) throws(ValidationFailure) {
        if !executableDigests.isEmpty, !executableDigests.contains(where: { $0.lowercased() == executableDigest }) {
            throw ValidationFailure(
                .platformNotAllowed, "executable digest \(executableDigest) is not allowed",
                details: ["executable_digest": .string(executableDigest)])
        }
        if !kernelReleases.isEmpty, !kernelReleases.contains(kernelRelease) {
            throw ValidationFailure(
                .platformNotAllowed, "kernel release \(kernelRelease) is not allowed",
                details: ["kernel_release": .string(kernelRelease)])
        }
        for (index, expected) in pcrs.sorted(by: { $0.key < $1.key }) {
            guard pcrValues[index]?.lowercased() == expected.lowercased() else {
                throw ValidationFailure(
                    .platformNotAllowed, "PCR \(index) is \(pcrValues[index] ?? "not quoted"), not \(expected)",
                    details: ["pcr": .string(index)])
            }
        }
    }
}
