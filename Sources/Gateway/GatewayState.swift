import AccessPolicy
import Pseudonymisation
import Synchronization

/// What a reload can change without a restart: the policy and the pseudonym key epoch.
package struct ActivePolicy: Sendable {
    package let policy: Policy
    package let pseudonymiser: Pseudonymiser
}

/// The gateway's current ``ActivePolicy``. Each request reads it once at its start, so a request
/// runs wholly under one policy version; a reload swaps it for the requests that follow.
package final class GatewayState: Sendable {
    private let active: Mutex<ActivePolicy>

    init(_ initial: ActivePolicy) { active = Mutex(initial) }

    package var current: ActivePolicy { active.withLock { $0 } }

    func replace(with new: ActivePolicy) { active.withLock { $0 = new } }
}
