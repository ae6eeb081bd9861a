import EdgeProofCore
import EdgeProofTPM
import EdgeProofTesting
import Testing

@Suite("Persistent handles: outside the TCG registry's primary-key blocks, older installs kept working")
struct TPMHandlePlanTests {
    @Test("the default signing key and attestation key handles are outside the EK and SRK blocks")
    func defaultsAreOutsideReservedBlocks() {
        #expect(!PersistentHandle.defaultSigningKey.isReservedForPrimaryKeys)
        #expect(!PersistentHandle.defaultAttestationKey.isReservedForPrimaryKeys)
        #expect(PersistentHandle.legacySigningKey.isReservedForPrimaryKeys)
        #expect(PersistentHandle.defaultSigningKey != PersistentHandle.defaultAttestationKey)
    }

    @Test("a new install uses the default handle; an older install whose key is at the legacy handle keeps it")
    func unconfiguredHandleFindsTheLegacyKey() async throws {
        let tpm = try await SoftwareTPM.start()
        defer { tpm.stop() }
        try await tpm.withDevice { device in
            #expect(try await device.signingKeyHandleWhenUnconfigured() == .defaultSigningKey)
            let legacy = try await device.provisionSigningKey(.eccP256, at: .legacySigningKey)
            #expect(try await device.signingKeyHandleWhenUnconfigured() == .legacySigningKey)
            #expect(try await device.publicKey(at: try await device.signingKeyHandleWhenUnconfigured()).hash
                == legacy.publicKey.hash)
            // Once a key is at the default (re-provisioned and re-allowlisted), the default wins.
            _ = try await device.provisionSigningKey(.eccP256, at: .defaultSigningKey)
            #expect(try await device.signingKeyHandleWhenUnconfigured() == .defaultSigningKey)
        }
    }
}
