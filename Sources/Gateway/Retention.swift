import AccessPolicy
import AuditLog
import Foundation
import ServiceLifecycle
import Storage
import VangnetCore

/// Removing records past their retention. A record is kept while a purpose that delivers its
/// dataset may still use it (the longest `retentionDays` among them, counted from the batch's
/// commit); every pull also leaves out records older than its own purpose's retention.
public enum Retention {
    /// Purges what `policy` no longer allows to be kept at `now`; the purge and its audit entry
    /// (`retention.purge`, with counts per dataset) are one transaction.
    @discardableResult
    public static func purge(store: any RecordStore, policy: Policy, now: Date, actor: OIN?, trigger: String) async throws -> PurgeResult {
        try await store.purge(before: policy.retentionCutoffs(now: now)) { result in
            var counts = ["batches": result.batches.values.reduce(0, +), "records": result.records.values.reduce(0, +)]
            for (dataset, n) in result.records { counts["records.\(dataset)"] = n }
            return AuditEvent(time: now, actor: actor, role: nil, action: .retentionPurge, object: "retention:\(trigger)/policy:\(policy.fingerprint)",
                              outcome: .success, counts: counts)
        }
    }
}

extension Gateway {
    /// Purges records past retention under the policy in force.
    @discardableResult
    public func purgeExpiredRecords() async throws -> PurgeResult {
        try await Retention.purge(store: store, policy: policy, now: clock.now(), actor: configuration.gateway.oin, trigger: "scheduled")
    }
}
