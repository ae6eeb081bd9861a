import Crypto
import EdgeProofAgent
import EdgeProofCore
import EdgeProofMQTT
import EdgeProofTPM
import Foundation
import Logging

/// The demo's enrollments over the broker: an honest agent proving its signing key lives in its TPM, and
/// an attacker with a TPM of its own presenting another device's EK certificate (public data: it sits in
/// that TPM's NV) to take over that device's identity.
struct DemoEnrollment {
    let configuration: AgentConfiguration
    let device: TPMDevice
    let logger: Logger

    var enrollment: AgentEnrollment {
        AgentEnrollment(
            agent: configuration.name, device: device, signingKey: .defaultSigningKey,
            attestationKey: configuration.enrollment.attestationKeyHandle,
            requestedPlaces: [
                AllowedPlace(
                    region: configuration.location.region, state: configuration.location.state,
                    city: configuration.location.city)
            ])
    }

    /// Runs `body` with an exchange over a client of the agent's own identity.
    private func withExchange<Result: Sendable>(
        _ body: (AgentEnrollment.Exchange) async throws -> Result
    ) async throws -> Result {
        let client = try MQTTClient(
            configuration: configuration.broker.clientConfiguration(clientID: configuration.name), logger: logger)
        client.start()
        do {
            try await client.waitUntilConnected(timeout: .seconds(30))
            let exchange = AgentEnrollment.exchange(
                over: client, topics: TopicTree(prefix: configuration.broker.topicPrefix), agent: configuration.name,
                timeout: .seconds(30))
            let result = try await body(exchange)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }

    /// The honest enrollment: begin, activate the credential, certify, quote, finish.
    func enroll() async throws -> EnrollmentResult {
        try await withExchange { exchange in try await enrollment.run(exchange) }
    }

    /// The attack: `victim`'s EK certificate and EK public area with this TPM's AK and signing key. The
    /// certificate chains, so the registrar answers with a credential only the victim's TPM can activate;
    /// this TPM cannot, so the attacker answers with its own certify and quote and a guessed proof.
    func enrollPresenting(ekOf victim: AgentEnrollment) async throws -> EnrollmentResult {
        try await withExchange { exchange in
            var begin = try await enrollment.begin()
            let stolen = try await victim.begin()
            begin.ekCertificate = stolen.ekCertificate
            begin.ekPublic = stolen.ekPublic
            let challenge: EnrollmentChallenge
            switch try await exchange(.begin(begin)) {
            case .result(let result): return result
            case .challenge(let answer): challenge = answer
            }
            let stolenHash = try await victim.ekPublicHash()
            if (try? await enrollment.finish(challenge, ekPublicHash: stolenHash)) != nil {
                throw DemoError("a TPM activated a credential made for another TPM's EK")
            }
            guard let nonce = Data(base64Encoded: challenge.certifyNonce) else {
                throw DemoError("the challenge's certify nonce is not base64")
            }
            let binding = Array(
                EnrollmentBinding.qualifyingData(certifyNonce: nonce, agent: configuration.name, ekPublicHash: stolenHash))
            let attestationKey = configuration.enrollment.attestationKeyHandle
            let certify = try await device.certify(.defaultSigningKey, by: attestationKey, qualifyingData: binding)
            let quote = try await device.quote(pcrs: challenge.pcrs, by: attestationKey, qualifyingData: binding)
            var values = [String: String]()
            for value in quote.pcrValues {
                values[String(value.index)] = Hex.encode(value.digest)
            }
            let guess = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
            let finish = EnrollmentFinish(
                agentName: configuration.name, token: challenge.token,
                activationProof: EnrollmentBinding.activationProof(secret: guess, token: challenge.token)
                    .base64EncodedString(),
                certify: .init(
                    attest: Data(certify.attest).base64EncodedString(),
                    signature: Data(certify.signature).base64EncodedString()),
                quote: .init(
                    attest: Data(quote.evidence.attest).base64EncodedString(),
                    signature: Data(quote.evidence.signature).base64EncodedString()),
                pcrValues: values, executableDigest: String(repeating: "0", count: 64), kernelRelease: "demo")
            guard case .result(let result) = try await exchange(.finish(finish)) else {
                throw DemoError("the registrar answered a finish with another challenge")
            }
            return result
        }
    }
}
