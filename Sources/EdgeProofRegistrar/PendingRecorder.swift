import EdgeProofCore

/// Leaves every verified enrollment pending: the registrar's recorder until the enrollment book
/// (EdgeProofStorage's `EnrollmentBook`) is wired in, so that nothing is approved without an operator.
public struct PendingRecorder: EnrollmentRecorder {
    public init() {}

    public func record(_ enrollment: VerifiedEnrollment) async throws -> EnrollmentDecision {
        .pending("verified at \(enrollment.trust.level); no enrollment book is configured to approve it")
    }
}
