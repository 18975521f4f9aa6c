import AccessPolicy
import AuditLog
import Foundation
import Pseudonymisation
import Records
import Storage
import VangnetCore

/// A record as a region receives it: its pseudonym for (region, purpose, epoch), its dataset, and
/// only the purpose's fields. Only ``DeliveryPipeline`` makes one.
public struct DeliveredRecord: Sendable {
    /// Position in delivery order: pass the last one as `after` to continue.
    public let cursor: DeliveryCursor
    public let pseudonym: DeliveryPseudonym
    public let dataset: DatasetID
    public let fields: [(name: String, value: FieldValue?)]
}

/// One page of a pull.
public struct DeliveryPage: Sendable {
    public let purpose: PurposeID
    public let region: RegionNumber
    public let records: [DeliveredRecord]
    /// The cursor to continue after; equal to the request's when the page is empty.
    public let nextCursor: DeliveryCursor
    /// Fingerprint of the policy the page was made under.
    public let policyVersion: String
    /// Every field the purpose delivers, over all its datasets (in dataset order): the CSV columns.
    public let columns: [String]
}

/// The pull side of the data flow: who may see what, reduced to what they may see.
///
/// Population first: a purpose's population is the set of people with a record of its population
/// dataset, in the caller's region, that meets its row conditions on the day of the pull. Records
/// of other datasets reach the region only for people in that population. Each delivered record
/// carries only the purpose's fields and a pseudonym for (region, purpose, epoch).
/// Every pull and every refusal is audited before anything is returned.
public struct DeliveryPipeline: Sendable {
    let state: GatewayState
    let store: any RecordStore
    let clock: any WallClock
    let maxPageSize: Int
    let metrics: GatewayMetrics

    /// A page of records for `purpose` after `cursor`, or the refusal (already audited).
    public func pull(caller: PolicyDocument.Organisation, purpose: PurposeID, after cursor: DeliveryCursor, limit: Int) async throws -> DeliveryPage {
        let now = clock.now()
        let active = state.current
        let (policy, pseudonymiser) = (active.policy, active.pseudonymiser)
        let scope: DeliveryScope
        switch policy.mayPull(consumer: caller, purpose: purpose) {
        case .deny(let denial):
            let known = policy.purpose(purpose) != nil
            try await store.appendAudit(AuditEvent(time: now, actor: caller.oin, role: caller.role, action: .pull,
                                             object: "purpose:\(known ? purpose.value : "(unknown)")/policy:\(policy.fingerprint)", outcome: .refused,
                                             reason: denial.code.rawValue, region: caller.region, purpose: known ? purpose : nil))
            throw GatewayRefusal(status: 403, code: denial.code.rawValue, message: denial.reason)
        case .permit(let permitted):
            scope = permitted
        }
        let referenceDate = scope.referenceDate(on: CalendarDate.inAmsterdam(now))
        let populationDataset = scope.purpose.populationDataset
        let population = Set(try await store.records(dataset: populationDataset, region: scope.region).lazy
            .filter { scope.withinRetention(committedAt: $0.committedAt, now: now) && scope.admitsToPopulation($0.fields, on: referenceDate) }
            .map(\.person))
        let datasets = scope.datasets
        let heldEpochs = Set(pseudonymiser.heldEpochs)
        let page = try await store.scanRecords(after: cursor, datasets: datasets, limit: min(max(limit, 1), maxPageSize)) { record in
            // A record of an epoch whose key was destroyed has no deliverable pseudonym.
            guard population.contains(record.person), heldEpochs.contains(record.person.epoch),
                  scope.withinRetention(committedAt: record.committedAt, now: now) else { return false }
            if record.dataset == populationDataset {
                guard record.region == scope.region, scope.admitsToPopulation(record.fields, on: referenceDate) else { return false }
            }
            return scope.admitsRecord(record.fields, of: record.dataset, on: referenceDate)
        }
        let delivered = page.map { record in
            DeliveredRecord(
                cursor: record.cursor,
                pseudonym: pseudonymiser.deliveryPseudonym(for: record.person, region: scope.region, purpose: purpose)!,
                dataset: record.dataset,
                fields: scope.project(record.fields, of: record.dataset)
            )
        }
        var counts = ["records": delivered.count]
        for dataset in datasets { counts["records." + dataset.value] = delivered.filter { $0.dataset == dataset }.count }
        try await store.appendAudit(AuditEvent(time: now, actor: caller.oin, role: caller.role, action: .pull,
                                         object: "purpose:\(purpose)/region:\(scope.region)/policy:\(policy.fingerprint)", outcome: .success, counts: counts,
                                         region: scope.region, purpose: purpose))
        metrics.pull(region: scope.region, purpose: purpose, records: delivered.count)
        let columns = datasets.flatMap(scope.deliveredFields).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        return DeliveryPage(purpose: purpose, region: scope.region, records: delivered,
                            nextCursor: delivered.last?.cursor ?? cursor, policyVersion: policy.fingerprint, columns: columns)
    }
}

extension CalendarDate {
    /// The calendar day in the Netherlands at `instant`.
    public static func inAmsterdam(_ instant: Date) -> CalendarDate {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Amsterdam") ?? .gmt
        let c = calendar.dateComponents([.year, .month, .day], from: instant)
        return CalendarDate(year: c.year!, month: c.month!, day: c.day!)!
    }
}
