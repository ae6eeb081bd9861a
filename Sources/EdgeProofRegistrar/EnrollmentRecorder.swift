import EdgeProofCore
import Foundation

/// Where a registrar hands an enrollment every check passed: the enrollment book (allowlist side) decides
/// approved, pending or refused. The registrar's side of that seam stays this one call.
public protocol EnrollmentRecorder: Sendable {
    func record(_ enrollment: VerifiedEnrollment) async throws -> EnrollmentDecision
}
