import Crypto
import EdgeProofAgent
import EdgeProofCore
import EdgeProofLocalStack
import EdgeProofRegistrar
import EdgeProofStorage
import EdgeProofTPM
import Foundation
import Testing

/// Every registrar check against the forged input it guards against, with real swtpm evidence: the agent's
/// own enrollment steps (``AgentEnrollment``) produce the requests, a test alters one thing, and
/// ``Registrar/handle(_:agent:now:)`` must refuse it with that check's reason.
@Suite("Registrar checks, each with the forged input it refuses", .serialized)
struct RegistrarChecksTests {
    /// begin → challenge → finish with the agent's real steps, `forge` applied to the finish.
    private func finish(
        _ rig: EnrollmentRig, _ registrar: Registrar, begin presented: EnrollmentBegin? = nil,
        forge: (inout EnrollmentFinish) -> Void = { _ in }, now: Date = Date()
    ) async throws -> EnrollmentResponse {
        let begin: EnrollmentBegin
        if let presented { begin = presented } else { begin = try await rig.enrollment.begin() }
        let answer = await registrar.handle(try EnrollmentRequest.begin(begin).jsonData(), agent: begin.agentName)
        let challenge = try #require(answer.challenge, "begin refused: \(String(describing: answer.refusal))")
        var finish = try await rig.enrollment.finish(challenge, ekPublicHash: try await rig.enrollment.ekPublicHash())
        forge(&finish)
        return await registrar.handle(try EnrollmentRequest.finish(finish).jsonData(), agent: rig.enrollment.agent, now: now)
    }

    @Test("a genuine TPM enrolls at tpm-ek-cert; the book gets the evidence and the EK certificate is stored")
    func approvesGenuineEnrollment() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let recorder = RecordingRecorder()
        let configuration = try rig.configuration()
        let registrar = try rig.registrar(configuration, recorder: recorder)
        let result = try await rig.enrollment.run(EnrollmentRig.exchange(registrar))
        #expect(result.status == .approved, "\(result)")
        #expect(result.trustLevel == .tpmEKCert)
        let recorded = try #require(recorder.enrollments.first)
        #expect(recorded.agent == EnrollmentRig.agent)
        #expect(recorded.trust.level == .tpmEKCert)
        let ekHash = try await rig.enrollment.ekPublicHash()
        #expect(recorded.trust.ekPublicHash == ekHash)
        #expect(recorded.trust.ekIssuer?.contains("swtpm") == true, "\(String(describing: recorded.trust.ekIssuer))")
        #expect(recorded.trust.quote.pcrValues.count == 8)
        #expect(recorded.clock != nil)
        let signing = try await rig.device.publicKey(at: EnrollmentRig.signingHandle)
        #expect(recorded.signingKey.hash == signing.hash)
        #expect(recorded.requestedPlaces == [AllowedPlace(region: "US", state: "California")])
        let stored = URL(fileURLWithPath: configuration.ekCertificateDirectory).appendingPathComponent("\(ekHash.hex).der")
        #expect(FileManager.default.fileExists(atPath: stored.path))
    }

    @Test("a registrar sharing the token key file finishes what another began; one with another key file refuses it")
    func anotherRegistrarFinishesWithTheSharedKey() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let configuration = try rig.configuration()
        let first = try rig.registrar(configuration)
        let second = try rig.registrar(configuration)
        let begin = try await rig.enrollment.begin()
        let challenge = try #require(
            await first.handle(try EnrollmentRequest.begin(begin).jsonData(), agent: begin.agentName).challenge)
        let finish = try await rig.enrollment.finish(challenge, ekPublicHash: try await rig.enrollment.ekPublicHash())
        let payload = try EnrollmentRequest.finish(finish).jsonData()
        var foreign = configuration
        foreign.tokenKeyFile = rig.directory.appending("other.keys").path
        try NonceKeyFile.generate(at: URL(fileURLWithPath: foreign.tokenKeyFile))
        let other = try rig.registrar(foreign)
        #expect(await other.handle(payload, agent: begin.agentName).refusal == "enrollment_token_invalid")
        #expect(await second.handle(payload, agent: begin.agentName).result?.status == .approved)
    }

    @Test("without an EK certificate the enrollment reaches the book at tpm-ek-pinned")
    func enrollsWithoutCertificateAsPinned() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let recorder = RecordingRecorder()
        let registrar = try rig.registrar(try rig.configuration(), recorder: recorder)
        var begin = try await rig.enrollment.begin()
        begin.ekCertificate = nil
        let answer = try await finish(rig, registrar, begin: begin)
        #expect(answer.result?.status == .approved)
        #expect(recorder.enrollments.first?.trust.level == .tpmEKPinned)
    }

    @Test("an EK certificate from a CA outside the trust store is refused")
    func refusesEKCertificateFromUntrustedCA() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let other = try SoftwareTPMManufacturer()
        defer { other.directory.remove() }
        // The other CA exists only once it signed something: manufacture a throw-away TPM with it.
        let foreign = try await SoftwareTPM.start(endorsementCertificates: true, manufacturer: other)
        foreign.stop()
        let registrar = try rig.registrar(try rig.configuration(trusting: other))
        let begin = try await rig.enrollment.begin()
        let answer = await registrar.handle(try EnrollmentRequest.begin(begin).jsonData(), agent: begin.agentName)
        #expect(answer.refusal == "ek_certificate_untrusted")
        #expect(answer.result?.rejection?.validationType == .trustEvidence)
        #expect(answer.result?.rejection?.rejectedBy == .registrar)
    }

    @Test("another TPM's EK certificate with this TPM's AK: the credential does not activate, a guessed proof is refused")
    func refusesForeignTPMsEKCertificate() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let foreign = try await EnrollmentRig(manufacturer: rig.tpm.manufacturer)
        defer { foreign.stop() }
        let registrar = try rig.registrar(try rig.configuration())
        var begin = try await rig.enrollment.begin()
        let foreignBegin = try await foreign.enrollment.begin()
        begin.ekCertificate = foreignBegin.ekCertificate
        begin.ekPublic = foreignBegin.ekPublic
        let answer = await registrar.handle(try EnrollmentRequest.begin(begin).jsonData(), agent: begin.agentName)
        let challenge = try #require(answer.challenge, "the foreign certificate chains: begin passes")
        await #expect(throws: TPMError.self) {
            _ = try await rig.enrollment.finish(challenge, ekPublicHash: try await foreign.enrollment.ekPublicHash())
        }
        // Without the secret the agent can only guess the proof.
        let guessed = try await finishWithGuessedProof(rig, challenge: challenge)
        let result = await registrar.handle(try EnrollmentRequest.finish(guessed).jsonData(), agent: begin.agentName)
        #expect(result.refusal == "activation_proof_invalid")
    }

    @Test("a credential for another name (an AK this TPM does not hold) cannot be activated; a wrong proof is refused")
    func refusesCredentialForAnotherName() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let other = try await EnrollmentRig(manufacturer: rig.tpm.manufacturer)
        defer { other.stop() }
        let registrar = try rig.registrar(try rig.configuration())
        var begin = try await rig.enrollment.begin()
        begin.akPublic = try await other.enrollment.begin().akPublic
        let answer = await registrar.handle(try EnrollmentRequest.begin(begin).jsonData(), agent: begin.agentName)
        let challenge = try #require(answer.challenge)
        await #expect(throws: TPMError.self) {
            _ = try await rig.enrollment.finish(challenge, ekPublicHash: try await rig.enrollment.ekPublicHash())
        }
        let guessed = try await finishWithGuessedProof(rig, challenge: challenge)
        let result = await registrar.handle(try EnrollmentRequest.finish(guessed).jsonData(), agent: begin.agentName)
        #expect(result.refusal == "activation_proof_invalid")
    }

    /// A finish for `challenge` whose activation proof is keyed with a random secret (certify and quote real).
    private func finishWithGuessedProof(_ rig: EnrollmentRig, challenge: EnrollmentChallenge) async throws
        -> EnrollmentFinish
    {
        let nonce = try #require(Data(base64Encoded: challenge.certifyNonce))
        let data = Array(EnrollmentBinding.qualifyingData(
            certifyNonce: nonce, agent: rig.enrollment.agent, ekPublicHash: try await rig.enrollment.ekPublicHash()))
        let certify = try await rig.device.certify(
            EnrollmentRig.signingHandle, by: EnrollmentRig.attestationHandle, qualifyingData: data)
        let quote = try await rig.device.quote(pcrs: challenge.pcrs, by: EnrollmentRig.attestationHandle, qualifyingData: data)
        var values = [String: String]()
        for value in quote.pcrValues { values[String(value.index)] = value.digest.map { String(format: "%02x", $0) }.joined() }
        let guess = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        return EnrollmentFinish(
            agentName: rig.enrollment.agent, token: challenge.token,
            activationProof: EnrollmentBinding.activationProof(secret: guess, token: challenge.token).base64EncodedString(),
            certify: .init(attest: Data(certify.attest).base64EncodedString(), signature: Data(certify.signature).base64EncodedString()),
            quote: .init(attest: Data(quote.evidence.attest).base64EncodedString(), signature: Data(quote.evidence.signature).base64EncodedString()),
            pcrValues: values, executableDigest: String(repeating: "0", count: 64), kernelRelease: "test")
    }

    @Test("an AK without the attestation key's attributes (the signing key offered as AK) is refused")
    func refusesAKWithWrongAttributes() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let registrar = try rig.registrar(try rig.configuration())
        var begin = try await rig.enrollment.begin()
        begin.akPublic = begin.signingKeyPublic
        let answer = await registrar.handle(try EnrollmentRequest.begin(begin).jsonData(), agent: begin.agentName)
        #expect(answer.refusal == "ak_attributes")
    }

    @Test("a signing key created outside the TPM and imported (no sensitiveDataOrigin) is refused")
    func refusesImportedSigningKey() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let registrar = try rig.registrar(try rig.configuration())
        var begin = try await rig.enrollment.begin()
        // An imported key's public area is the same but for sensitiveDataOrigin (0x20), which the TPM sets only
        // for keys it generated: TPM2B_PUBLIC = size(2) type(2) nameAlg(2) objectAttributes(4, big-endian).
        var area = try #require(Data(base64Encoded: begin.signingKeyPublic))
        area[area.startIndex + 9] &= ~0x20
        begin.signingKeyPublic = area.base64EncodedString()
        let answer = await registrar.handle(try EnrollmentRequest.begin(begin).jsonData(), agent: begin.agentName)
        #expect(answer.refusal == "signing_key_attributes")
    }

    @Test("a certify of another key (the AK itself) is refused")
    func refusesCertifyOfAnotherKey() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let registrar = try rig.registrar(try rig.configuration())
        let begin = try await rig.enrollment.begin()
        let answer = await registrar.handle(try EnrollmentRequest.begin(begin).jsonData(), agent: begin.agentName)
        let challenge = try #require(answer.challenge)
        let data = Array(EnrollmentBinding.qualifyingData(
            certifyNonce: try #require(Data(base64Encoded: challenge.certifyNonce)), agent: begin.agentName,
            ekPublicHash: try await rig.enrollment.ekPublicHash()))
        let certifyOfAK = try await rig.device.certify(
            EnrollmentRig.attestationHandle, by: EnrollmentRig.attestationHandle, qualifyingData: data)
        var finish = try await rig.enrollment.finish(challenge, ekPublicHash: try await rig.enrollment.ekPublicHash())
        finish.certify = .init(
            attest: Data(certifyOfAK.attest).base64EncodedString(), signature: Data(certifyOfAK.signature).base64EncodedString())
        let result = await registrar.handle(try EnrollmentRequest.finish(finish).jsonData(), agent: begin.agentName)
        #expect(result.refusal == "certify_invalid")
        #expect(result.result?.rejection?.details["check"]?.stringValue == "certify_name")
    }

    @Test("certify and quote bound to another nonce are refused")
    func refusesWrongQualifyingData() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let registrar = try rig.registrar(try rig.configuration())
        let stale = try await rig.device.certify(
            EnrollmentRig.signingHandle, by: EnrollmentRig.attestationHandle, qualifyingData: Array(repeating: 7, count: 32))
        let answer = try await finish(rig, registrar) { finish in
            finish.certify = .init(
                attest: Data(stale.attest).base64EncodedString(), signature: Data(stale.signature).base64EncodedString())
        }
        #expect(answer.refusal == "certify_invalid")
        #expect(answer.result?.rejection?.details["check"]?.stringValue == "qualifying_data")
        let staleQuote = try await rig.device.quote(
            by: EnrollmentRig.attestationHandle, qualifyingData: Array(repeating: 7, count: 32))
        let quoted = try await finish(rig, registrar) { finish in
            finish.quote = .init(
                attest: Data(staleQuote.evidence.attest).base64EncodedString(),
                signature: Data(staleQuote.evidence.signature).base64EncodedString())
        }
        #expect(quoted.refusal == "quote_invalid")
        #expect(quoted.result?.rejection?.details["check"]?.stringValue == "qualifying_data")
    }

    @Test("a quote whose PCR values were changed is refused")
    func refusesQuoteWithChangedPCRValues() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let registrar = try rig.registrar(try rig.configuration())
        let answer = try await finish(rig, registrar) { finish in finish.pcrValues["0"] = String(repeating: "ab", count: 32) }
        #expect(answer.refusal == "quote_invalid")
    }

    @Test("a finish replayed after it was accepted is refused")
    func refusesReplayedFinish() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let registrar = try rig.registrar(try rig.configuration())
        let begin = try await rig.enrollment.begin()
        let answer = await registrar.handle(try EnrollmentRequest.begin(begin).jsonData(), agent: begin.agentName)
        let challenge = try #require(answer.challenge)
        let finish = try await rig.enrollment.finish(challenge, ekPublicHash: try await rig.enrollment.ekPublicHash())
        let payload = try EnrollmentRequest.finish(finish).jsonData()
        #expect(await registrar.handle(payload, agent: begin.agentName).result?.status == .approved)
        #expect(await registrar.handle(payload, agent: begin.agentName).refusal == "enrollment_token_replayed")
    }

    @Test("a finish after the token expired is refused; a token from another key file does not open")
    func refusesExpiredOrForeignToken() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let configuration = try rig.configuration()
        let registrar = try rig.registrar(configuration)
        let late = try await finish(rig, registrar, now: Date().addingTimeInterval(3600))
        #expect(late.refusal == "enrollment_token_expired")
        var forged = try await finish(rig, registrar) { $0.token = String($0.token.dropLast(4)) + "AAAA" }
        #expect(forged.refusal == "enrollment_token_invalid")
        forged = try await finish(rig, registrar) { $0.agentName = "agent-other" }
        #expect(forged.refusal == "enrollment_agent_mismatch")
    }

    @Test("a request naming another agent than its topic is refused")
    func refusesAgentNameOtherThanTopic() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let registrar = try rig.registrar(try rig.configuration())
        let begin = try await rig.enrollment.begin()
        let answer = await registrar.handle(try EnrollmentRequest.begin(begin).jsonData(), agent: "agent-victim")
        #expect(answer.refusal == "enrollment_agent_mismatch")
    }

    @Test("oversized and malformed requests are refused unread; requests beyond the rate limit are refused")
    func refusesOversizedMalformedAndTooFrequentRequests() async throws {
        let rig = try await EnrollmentRig(certificates: false)
        defer { rig.stop() }
        let registrar = try rig.registrar(try rig.configuration(rateBurst: 3))
        let now = Date()
        let big = Data(repeating: UInt8(ascii: " "), count: 17 * 1024)
        #expect(await registrar.handle(big, agent: "agent-a", now: now).refusal == "payload_too_large")
        #expect(await registrar.handle(Data(#"{"type":"begin","type":"x"}"#.utf8), agent: "agent-b", now: now).refusal
            == "enrollment_malformed")
        for _ in 0..<3 { _ = await registrar.handle(Data("{}".utf8), agent: "agent-c", now: now) }
        #expect(await registrar.handle(Data("{}".utf8), agent: "agent-c", now: now).refusal == "enrollment_rate_limited")
        #expect(await registrar.handle(Data("{}".utf8), agent: "agent-d", now: now).refusal == "enrollment_malformed")
        // The bucket refills: 0.2 per second by default, so 5 s later one request passes the limiter.
        #expect(await registrar.handle(Data("{}".utf8), agent: "agent-c", now: now + 5).refusal == "enrollment_malformed")
    }

    @Test("the allowlist's platform policy refuses a kernel release or PCR value outside it")
    func refusesPlatformOutsidePolicy() async throws {
        let rig = try await EnrollmentRig()
        defer { rig.stop() }
        let kernel = try await registrarAnswer(rig, platform: "policy:\n  allowed_places: []\n  platform:\n    kernel_releases: [\"0.0-none\"]\n")
        #expect(kernel.refusal == "platform_not_allowed")
        let pcr = try await registrarAnswer(rig, platform: "policy:\n  allowed_places: []\n  platform:\n    pcrs: {\"0\": \"\(String(repeating: "11", count: 32))\"}\n")
        #expect(pcr.refusal == "platform_not_allowed")
        let release = try String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let allowed = try await registrarAnswer(rig, platform: "policy:\n  allowed_places: []\n  platform:\n    kernel_releases: [\"\(release)\"]\n")
        #expect(allowed.result?.status == .approved)
    }

    private func registrarAnswer(_ rig: EnrollmentRig, platform: String) async throws -> EnrollmentResponse {
        let registrar = try rig.registrar(try rig.configuration(platform: platform))
        return try await finish(rig, registrar)
    }
}
