import VangnetCore

/// The outcome of an access check: a value, not an exception. A denial carries a reason that can
/// be shown to the caller and to the security officer.
package enum AccessDecision<Permit: Sendable>: Sendable {
    case permit(Permit)
    case deny(Denial)
}

/// Why access was refused.
package struct Denial: Sendable, Equatable, Error, CustomStringConvertible {
    /// Stable reason codes (see `docs/api.md`).
    package enum Code: String, Sendable {
        case unknownOrganisation = "unknown_organisation"
        case wrongRole = "wrong_role"
        case unknownPurpose = "unknown_purpose"
        case noGrant = "no_grant"
        case datasetNotAllowed = "dataset_not_allowed"
        case unknownSigningKey = "unknown_signing_key"
        case sourceMismatch = "source_mismatch"
        case reidentificationNotAllowed = "reidentification_not_allowed"
        case noRevealKey = "no_reveal_key"
        case selfApproval = "self_approval"
        case notAnApprover = "not_an_approver"
    }

    package let code: Code
    package let reason: String

    package init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    package var description: String { "\(code.rawValue): \(reason)" }
}
