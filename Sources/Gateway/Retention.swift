import AccessPolicy
import AuditLog
import Foundation
import Records
import ServiceLifecycle
import Storage
import VangnetCore

/// Removing records past their retention. A record is kept while a purpose that delivers its
/// dataset may still use it: the longest `retentionDays` among them, counted from when its source
/// last stated it (the commit of its version, or of a later complete picture that held it). The
/// delivery index leaves a record out of each purpose once that purpose's own retention ends.
package enum Retention {
    /// Purges what `policy` no longer allows to be kept at `now`; the purge and its audit entry
    /// (`retention.purge`, with counts per dataset) are one transaction.
    @discardableResult
    package static func purge(
        store: any RecordStore,
        active: ActivePolicy,
        now: Date,
        actor: OIN?,
        trigger: String
    ) async throws -> PurgeResult {
        let policy = active.policy
        let rules = PolicyDeliveryRules(policy: policy, pseudonymiser: active.pseudonymiser)
        // A kept BSN lives only as long as the re-identifying purposes' retention, even where a
        // purpose without re-identification keeps the record longer.
        try await store.forgetIdentities(before: policy.identityCutoffs(now: now)) { forgotten in
            AuditEvent(
                time: now,
                actor: actor,
                role: nil,
                action: .retentionPurge,
                object: "retention:\(trigger)/identities/policy:\(policy.fingerprint)",
                outcome: .success,
                counts: ["identities": forgotten]
            )
        }
        return try await store.purge(
            before: policy.retentionCutoffs(now: now),
            rules: rules,
            day: CalendarDate.inAmsterdam(now),
            now: now
        ) { result in
            var counts = ["batches": result.batches.values.reduce(0, +), "records": result.records.values.reduce(0, +)]
            for (dataset, n) in result.records { counts["records.\(dataset)"] = n }
            return AuditEvent(
                time: now,
                actor: actor,
                role: nil,
                action: .retentionPurge,
                object: "retention:\(trigger)/policy:\(policy.fingerprint)",
                outcome: .success,
                counts: counts
            )
        }
    }
}

extension Gateway {
    /// Purges records past retention under the policy in force, and expires re-identification
    /// requests past their time.
    @discardableResult
    package func purgeExpiredRecords() async throws -> PurgeResult {
        try await reidentification.expireOverdue()
        return try await Retention.purge(
            store: store,
            active: state.current,
            now: clock.now(),
            actor: configuration.gateway.oin,
            trigger: "scheduled"
        )
    }
}

extension ActivePolicy {
    /// The policy and pseudonym keys a configuration names (for operator commands that need
    /// what the gateway would decide, such as a purge).
    package static func load(_ configuration: GatewayConfiguration) throws -> ActivePolicy {
        let keys = try GatewayKeys.load(from: configuration.resolve(configuration.gateway.keyDirectory))
        return try Gateway.activate(configuration, keys: keys)
    }
}
