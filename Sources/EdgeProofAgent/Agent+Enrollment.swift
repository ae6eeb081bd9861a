import EdgeProofCore
import EdgeProofMQTT
import EdgeProofTPM
import Foundation
import Logging

/// `enroll: auto`: the agent service re-attests at every start and sends nothing before approval.
extension Agent {
    /// First and longest wait between attempts while pending, refused or unreachable.
    static let enrollmentBackoff: ClosedRange<Double> = 2...300

    /// Returns true at once with `enroll: off`; else enrolls until a registrar approves (true) or the task is
    /// cancelled (false). Pending, refused and failed attempts are retried with backoff (an operator may
    /// approve, or fix the policy); the sample loop keeps spooling meanwhile.
    func enrollUntilApproved(_ transport: any MQTTTransport) async -> Bool {
        guard configuration.enrollment.mode == .auto else { return true }
        guard let tpm = signer as? TPMSigner else {
            logger.error("enroll: auto needs the TPM signer; not enrolling")
            return true
        }
        let enrollment = AgentEnrollment(
            agent: configuration.name, device: tpm.device, signingKey: tpm.handle,
            attestationKey: configuration.enrollment.attestationKeyHandle,
            requestedPlaces: [
                AllowedPlace(
                    region: configuration.location.region, state: configuration.location.state,
                    city: configuration.location.city)
            ])
        let exchange = AgentEnrollment.exchange(
            over: transport, topics: topics, agent: configuration.name, timeout: .seconds(30))
        var delay = Self.enrollmentBackoff.lowerBound
        while !Task.isCancelled {
            do {
                try await transport.waitUntilConnected(timeout: .seconds(30))
                let result = try await enrollment.run(exchange)
                switch result.status {
                case .approved:
                    count("enrollment.approved")
                    logger.info("enrolled", metadata: ["trust_level": "\(result.trustLevel?.rawValue ?? "?")"])
                    return true
                case .pending:
                    count("enrollment.pending")
                    logger.notice("enrollment pending", metadata: ["why": "\(result.message ?? "")"])
                case .refused:
                    count("enrollment.refused")
                    if let rejection = result.rejection { log(rejection, context: "enrollment refused") }
                }
            } catch {
                count("enrollment.failed")
                logger.warning("enrollment failed", metadata: ["error": "\(error)", "retry_in_s": "\(delay)"])
            }
            do {
                try await Task.sleep(for: .seconds(delay))
            } catch {
                return false
            }
            delay = min(delay * 2, Self.enrollmentBackoff.upperBound)
        }
        return false
    }
}
