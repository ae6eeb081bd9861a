import Crypto
import EdgeProofCore
import EdgeProofTPM
import EdgeProofTesting
import Foundation
import Testing

/// What a TPM does to the device across power losses, outages and dictionary-attack lockout, on a real swtpm.
@Suite struct TPMRecoveryTests {
    private static let hash = SHA256.hash(data: Data("power loss".utf8))
    private static let digest = Array(hash)

    @Test func orderlyStopsAndUncleanStopsOfANoDAKeyCountNoFailures() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        let device = try TPMDevice(tcti: tpm.tcti)
        let key = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey)
        for round in 0..<4 {
            _ = try await device.sign(digest: Self.digest, with: .defaultSigningKey, algorithm: .es256)
            // Alternately an orderly stop (stop-swtpm.sh: TPM2_Shutdown, SIGTERM) and a power loss.
            if round.isMultiple(of: 2) {
                let stop = try await ProcessRunner.run(PackagePaths.script("tpm/stop-swtpm.sh"), [tpm.directory.path])
                #expect(stop.status == 0, "\(stop.standardError)")
            } else {
                tpm.kill()
            }
            try await tpm.restart()
        }
        let status = try await signAgain(device)
        #expect(status.failures == 0, "\(status)")
        #expect(!status.inLockout)
        let signature = try await device.sign(digest: Self.digest, with: .defaultSigningKey, algorithm: .es256)
        #expect(key.publicKey.isValidSignature(signature, forDigest: Self.hash))
    }

    @Test func orderlyStopKeepsEvenAKeyWithoutNoDAFromCounting() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        try tpm.createKeyWithoutNoDA()
        for _ in 0..<4 {
            let device = try TPMDevice(tcti: tpm.tcti)
            _ = try await device.sign(digest: Self.digest, with: .defaultSigningKey, algorithm: .es256)
            let stop = try await ProcessRunner.run(PackagePaths.script("tpm/stop-swtpm.sh"), [tpm.directory.path])
            #expect(stop.status == 0, "\(stop.standardError)")
            try await tpm.restart()
        }
        let device = try TPMDevice(tcti: tpm.tcti)
        // Creating the legacy key used its DA-protected parent before the first orderly stop: at most that one.
        #expect(try await device.dictionaryAttackStatus().failures <= 1)
        _ = try await device.sign(digest: Self.digest, with: .defaultSigningKey, algorithm: .es256)
    }

    @Test func lockoutIsReportedWithItsRecoveryTime() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        try tpm.createKeyWithoutNoDA()
        // Power losses after using the key: swtpm locks it out after three.
        var lockout: TPMError?
        for _ in 0..<6 where lockout == nil {
            let device = try TPMDevice(tcti: tpm.tcti)
            do throws(TPMError) {
                _ = try await device.sign(digest: Self.digest, with: .defaultSigningKey, algorithm: .es256)
            } catch {
                lockout = error
                break
            }
            tpm.kill()
            try await tpm.restart()
        }
        let error = try #require(lockout)
        #expect(error.isLockout)
        #expect(!error.isUnavailable)
        let text = error.description
        #expect(text.contains("dictionary-attack lockout (TPM_RC_LOCKOUT 0x921)"), "\(text)")
        #expect(text.contains("3 of 3 failures counted"), "\(text)")
        #expect(text.contains("after about 1000 s"), "\(text)")
        #expect(text.contains("TPM_PT_LOCKOUT_RECOVERY 1000 s"), "\(text)")
        #expect(text.contains("has no noDA") && text.contains("edgeproof tpm provision --replace"), "\(text)")
        #expect(error.retryAfter == .seconds(1000))

        // The way out that needs no waiting: a noDA key in its place signs at once, lockout or not.
        let device = try TPMDevice(tcti: tpm.tcti)
        let replaced = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey, replace: true)
        #expect(replaced.created)
        #expect(replaced.replaced?.reason.contains("without noDA") == true)
        #expect(try await device.dictionaryAttackStatus().inLockout)
        let signature = try await device.sign(digest: Self.digest, with: .defaultSigningKey, algorithm: .es256)
        #expect(replaced.publicKey.isValidSignature(signature, forDigest: Self.hash))
    }

    @Test func provisionRefusesAKeyWithoutNoDAUnlessToldToReplaceIt() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        try tpm.createKeyWithoutNoDA()
        let device = try TPMDevice(tcti: tpm.tcti)
        let old = try await device.signingKeyDetails(at: .defaultSigningKey)
        #expect(!old.lockoutExempt)
        let error = try await #require(throws: TPMError.self) {
            try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey)
        }
        #expect(error.description.hasPrefix("handle 0x81020010 holds an ECC P-256 key (attributes"), "\(error)")
        #expect(error.description.contains("without noDA"))
        #expect(try await device.publicKey(at: .defaultSigningKey).hash == old.publicKey.hash)

        let new = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey, replace: true)
        #expect(new.created)
        #expect(new.replaced?.publicKeyHash == old.publicKey.hash)
        #expect(new.publicKey.hash != old.publicKey.hash)
        #expect(try await device.signingKeyDetails(at: .defaultSigningKey).lockoutExempt)
        #expect(try tpm.transientHandles().isEmpty)
    }

    @Test func deviceReconnectsAfterTheTPMWasAway() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        let device = try TPMDevice(tcti: tpm.tcti)
        let key = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey)
        _ = try await device.sign(digest: Self.digest, with: .defaultSigningKey, algorithm: .es256)

        tpm.kill()
        for _ in 0..<3 {
            let error = try await #require(throws: TPMError.self) {
                try await device.sign(digest: Self.digest, with: .defaultSigningKey, algorithm: .es256)
            }
            #expect(error.isUnavailable, "\(error)")
            #expect(error.description.contains("is unavailable"))
        }
        try await tpm.restart()
        // Within the backoff (at most 15 s) the device opens a new context and signs again.
        let deadline = ContinuousClock.now + .seconds(20)
        var signature: [UInt8]?
        while signature == nil, ContinuousClock.now < deadline {
            signature = try? await device.sign(digest: Self.digest, with: .defaultSigningKey, algorithm: .es256)
            if signature == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let resumed = try #require(signature, "the device never signed again after the TPM came back")
        #expect(key.publicKey.isValidSignature(resumed, forDigest: Self.hash))
    }

    /// Signs once more (waiting while the device reconnects) and returns the DA state.
    private func signAgain(_ device: TPMDevice) async throws -> TPMDictionaryAttackStatus {
        let deadline = ContinuousClock.now + .seconds(20)
        var lastError: TPMError?
        while ContinuousClock.now < deadline {
            do throws(TPMError) {
                _ = try await device.sign(digest: Self.digest, with: .defaultSigningKey, algorithm: .es256)
                return try await device.dictionaryAttackStatus()
            } catch {
                guard error.isUnavailable else { throw error }
                lastError = error
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw try #require(lastError)
    }
}
