import EdgeProofCore
import EdgeProofStorage
import Foundation

/// The registrar's recorder in service: the enrollment book of the allowlist file (pending, expected and
/// rejected enrollments, approved entries, re-attestations in the ledger beside it).
extension EnrollmentBook: EnrollmentRecorder {
    public func record(_ enrollment: VerifiedEnrollment) async throws -> EnrollmentDecision {
        try submit(enrollment, now: Date())
    }
}
