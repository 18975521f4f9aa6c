import AccessPolicy
import Pseudonymisation
import Synchronization

/// What a reload can change without a restart: the policy, the pseudonym key epoch and the
/// re-identification keys.
package struct ActivePolicy: Sendable {
    package let policy: Policy
    package let pseudonymiser: Pseudonymiser
    /// Seals the BSNs of records a re-identifying purpose delivers, and opens them for a release;
    /// `nil` when no re-identification key is held (nothing is kept, nothing released).
    package let identities: IdentityVault?

    package init(policy: Policy, pseudonymiser: Pseudonymiser, identities: IdentityVault? = nil) {
        (self.policy, self.pseudonymiser, self.identities) = (policy, pseudonymiser, identities)
    }
}

/// The gateway's current ``ActivePolicy``. Each request reads it once at its start, so a request
/// runs wholly under one policy version; a reload swaps it for the requests that follow.
package final class GatewayState: Sendable {
    private let active: Mutex<ActivePolicy>

    init(_ initial: ActivePolicy) { active = Mutex(initial) }

    package var current: ActivePolicy { active.withLock { $0 } }

    func replace(with new: ActivePolicy) { active.withLock { $0 = new } }
}
