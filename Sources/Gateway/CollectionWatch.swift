import AccessPolicy
import AuditLog
import Foundation
import Records
import Storage
import Synchronization
import VangnetCore

/// What a region has not collected in time, for one purpose that expects collection within some
/// working days (the mbo report: five): the records delivered to it before ``dueBefore`` that it
/// has not pulled.
package struct OverdueCollection: Sendable, Equatable {
    package let region: RegionNumber
    package let purpose: PurposeID
    package let workingDays: Int
    package let records: Int
    /// A record delivered before this instant is overdue: the start (in the Netherlands) of the
    /// working day `workingDays` working days before today.
    package let dueBefore: Date
}

/// Watches the collections: counts what each region has not collected in time, keeps the metric
/// `vangnet_overdue_records{region,purpose}`, and audits every change of a count
/// (`delivery.overdue`), so that the security officer sees a region that does not act.
final class CollectionWatch: Sendable {
    private let audited = Mutex<[DeliveryStream: Int]>([:])
    /// Positions pulls reached and not yet written: a pull writes nothing, so it never waits for
    /// the store's writer; the next count writes them first. Lost in a crash, a position only
    /// makes a report count as overdue until the region's next pull.
    private let pending = Mutex<[DeliveryStream: (seq: Int64, at: Date)]>([:])

    /// Notes that `stream`'s region collected everything through `seq`.
    func collected(_ stream: DeliveryStream, through seq: Int64, at time: Date) {
        pending.withLock { pending in
            if (pending[stream]?.seq ?? .min) < seq { pending[stream] = (seq, time) }
        }
    }

    /// Writes the positions noted since the last flush.
    func flush(to store: any RecordStore) async throws {
        let taken = pending.withLock { pending in
            defer { pending.removeAll() }
            return pending
        }
        for (stream, position) in taken {
            try await store.markCollected(stream, through: position.seq, at: position.at)
        }
    }

    /// The cutoff for `workingDays` on the day in the Netherlands of `now`.
    static func dueBefore(workingDays: Int, now: Date) -> Date {
        let today = CalendarDate.inAmsterdam(secondsSince1970: now.timeIntervalSince1970)
        return Date(timeIntervalSince1970: today.workingDays(before: workingDays).startInAmsterdam)
    }

    /// Every region with something overdue, per purpose that expects collection, in (purpose,
    /// region) order.
    static func overdue(store: any RecordStore, policy: Policy, now: Date) async throws -> [OverdueCollection] {
        var found: [OverdueCollection] = []
        for id in policy.purposeIDs {
            guard let purpose = policy.purpose(id), let days = purpose.collectWithinWorkingDays else { continue }
            let due = dueBefore(workingDays: days, now: now)
            let counts = try await store.uncollected(purpose: id, deliveredBefore: due)
            for (region, records) in counts.sorted(by: { $0.key.value < $1.key.value }) where records > 0 {
                found.append(
                    OverdueCollection(region: region, purpose: id, workingDays: days, records: records, dueBefore: due)
                )
            }
        }
        return found
    }

    /// Counts, sets the metric and audits each (region, purpose) whose count changed since the
    /// last check, a count back to 0 included. Returns what is overdue.
    @discardableResult
    func check(
        store: any RecordStore,
        policy: Policy,
        metrics: GatewayMetrics,
        actor: OIN,
        now: Date
    ) async throws -> [OverdueCollection] {
        try await flush(to: store)
        let overdue = try await Self.overdue(store: store, policy: policy, now: now)
        var counts: [DeliveryStream: (Int, Int)] = [:]
        for o in overdue { counts[DeliveryStream(region: o.region, purpose: o.purpose)] = (o.records, o.workingDays) }
        let earlier = audited.withLock { $0 }
        for stream in Set(earlier.keys).union(counts.keys).sorted() {
            let records = counts[stream]?.0 ?? 0
            metrics.overdue(region: stream.region, purpose: stream.purpose, records: records)
            guard records != earlier[stream] ?? 0 else { continue }
            try await store.appendAudit(
                AuditEvent(
                    time: now,
                    actor: actor,
                    role: nil,
                    action: .deliveryOverdue,
                    object: "purpose:\(stream.purpose)/region:\(stream.region)",
                    outcome: .success,
                    counts: ["records": records, "workingDays": counts[stream]?.1 ?? 0],
                    region: stream.region,
                    purpose: stream.purpose
                )
            )
            audited.withLock { $0[stream] = records }
        }
        return overdue
    }
}

extension Gateway {
    /// Counts what regions have not collected in time at `now` (default: the clock's), sets the
    /// metric and audits what changed.
    @discardableResult
    package func checkCollections(at now: Date? = nil) async throws -> [OverdueCollection] {
        try await collections.check(
            store: store,
            policy: policy,
            metrics: metrics,
            actor: configuration.gateway.oin,
            now: now ?? clock.now()
        )
    }
}
