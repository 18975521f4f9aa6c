import AccessPolicy
import AuditLog
import Foundation
import Pseudonymisation
import Records
import Storage
import Synchronization
import VangnetCore

/// What a pull reads: a region's current picture for a purpose, or the changes to it.
package enum DeliveryView: String, Sendable, CaseIterable {
    /// Everyone in the population today with their current records: one consistent snapshot.
    case current
    /// What entered, changed or left the picture since the cursor.
    case changes
}

/// Where a pull continues: opaque to the region, and valid only for the (region, purpose) it was
/// given for. Sealed with the gateway's cursor key (``Pseudonymiser/sealToken(_:context:)``), so it
/// reveals nothing (no batch, line, region of a record or count) and cannot be forged or moved to
/// another region or purpose.
package struct DeliveryCursor: Sendable, Equatable {
    package enum Position: Sendable, Equatable {
        /// Inside the snapshot taken at version `snapshot`, after item `after` (none: at its start).
        case picture(snapshot: Int64, after: [UInt8]?)
        /// Changes after version `after`.
        case changes(after: Int64)
    }
    package let position: Position

    package var view: DeliveryView {
        if case .picture = position { return .current }
        return .changes
    }

    static func context(_ stream: DeliveryStream) -> String {
        "vangnet/cursor/v1:region=\(stream.region.value);purpose=\(stream.purpose.value)"
    }

    /// The cursor's text for `stream`: `vc1.e<epoch>.<base64url>`.
    func sealed(for stream: DeliveryStream, by pseudonymiser: Pseudonymiser) -> String {
        var payload: [UInt8] = []
        func append(_ n: Int64) {
            payload += (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: n) >> (56 - 8 * UInt64($0))) }
        }
        switch position {
        case .picture(let snapshot, let after):
            payload.append(1)
            append(snapshot)
            payload += after ?? []
        case .changes(let after):
            payload.append(2)
            append(after)
        }
        return "vc1." + pseudonymiser.sealToken(payload, context: Self.context(stream))
    }

    /// Reads a cursor given for `stream`; `nil` for anything else (another region's or purpose's
    /// cursor, a forged, truncated or old-format one, or one sealed under a destroyed epoch).
    init?(_ text: String, for stream: DeliveryStream, by pseudonymiser: Pseudonymiser) {
        guard text.hasPrefix("vc1."),
            let payload = pseudonymiser.openToken(text.dropFirst(4), context: Self.context(stream)),
            payload.count >= 9
        else { return nil }
        let n = Int64(bitPattern: payload[1..<9].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        switch (payload[0], payload.count) {
        case (1, 9): position = .picture(snapshot: n, after: nil)
        case (1, 25): position = .picture(snapshot: n, after: Array(payload[9...]))
        case (2, 9): position = .changes(after: n)
        default: return nil
        }
    }

    init(_ position: Position) { self.position = position }
}

/// A record as a region receives it, or (in changes) the withdrawal of one.
package struct DeliveredLine: Sendable {
    /// The record as a JSON object (`id`, `pseudonym`, `dataset`, the purpose's fields); `nil`
    /// for a withdrawal.
    package let record: String?
    /// The 16 bytes of the identifier.
    let item: [UInt8]
    /// The record's identifier (`vr1.<hex>`), stable per (region, purpose).
    package var id: String { Pseudonymiser.deliveryRecordID(digest: item) }
}

/// One page of a pull.
package struct DeliveryPage: Sendable {
    package let purpose: PurposeID
    package let region: RegionNumber
    package let view: DeliveryView
    /// The page's versions as read, their lines in one buffer (what the renderings write from).
    let rows: DeliveryRows
    /// Where to continue. For `current`, once the snapshot is complete this is a changes cursor
    /// at the snapshot: pull changes with it from then on.
    package let nextCursor: String
    /// Whether a `current` pull has reached the end of its snapshot (always true for changes).
    package let complete: Bool
    /// Fingerprint of the policy the page was made under.
    package let policyVersion: String
    /// Every field the purpose delivers, over all its datasets (in dataset order): the CSV columns.
    package let columns: [String]

    /// The page's records and withdrawals, each as a value of its own.
    package var lines: [DeliveredLine] {
        rows.map {
            DeliveredLine(record: rows.line($0).map { String(decoding: $0, as: UTF8.self) }, item: Array(rows.item($0)))
        }
    }
}

/// The pull side of the data flow: who may see what, reduced to what they may see, read from the
/// delivery index (``DeliveryIndex``) in time proportional to the page.
///
/// What a region receives for a purpose is decided when records commit and when the calendar
/// moves (``PolicyDeliveryRules``), not at the pull: a page is an index range. Every pull and
/// every refusal is audited before anything is returned.
package struct DeliveryPipeline: Sendable {
    let state: GatewayState
    let store: any RecordStore
    let clock: any WallClock
    let maxPageSize: Int
    let metrics: GatewayMetrics
    let keeper: DeliveryKeeper
    let collections: CollectionWatch

    /// A page of `view` for `purpose` from `cursor` (`nil`: from the start), or the refusal
    /// (already audited).
    package func pull(
        caller: Caller.Consumer,
        purpose: PurposeID,
        view requested: DeliveryView?,
        cursor text: String?,
        limit: Int
    ) async throws -> DeliveryPage {
        let now = clock.now()
        let active = state.current
        let (policy, pseudonymiser) = (active.policy, active.pseudonymiser)
        func refuse(
            _ code: GatewayRefusal.Code,
            _ message: String,
            region: RegionNumber?,
            known: Bool
        ) async throws -> Never {
            try await store.appendAudit(
                AuditEvent(
                    time: now,
                    actor: caller.oin,
                    role: caller.role,
                    action: .pull,
                    object: "purpose:\(known ? purpose.value : "(unknown)")/policy:\(policy.fingerprint)",
                    outcome: .refused,
                    reason: code.rawValue,
                    region: region,
                    purpose: known ? purpose : nil
                )
            )
            throw GatewayRefusal(code, message)
        }
        let scope: DeliveryScope
        switch policy.mayPull(consumer: caller, purpose: purpose) {
        case .deny(let denial):
            try await refuse(
                GatewayRefusal.Code(denial.code),
                denial.reason,
                region: caller.region,
                known: policy.purpose(purpose) != nil
            )
        case .permit(let permitted):
            scope = permitted
        }
        let stream = DeliveryStream(region: scope.region, purpose: purpose)
        var position: DeliveryCursor.Position
        if let text {
            guard let cursor = DeliveryCursor(text, for: stream, by: pseudonymiser) else {
                try await refuse(
                    .invalidCursor,
                    "the cursor was not given for this region and purpose by this gateway (or its key epoch was destroyed)",
                    region: scope.region,
                    known: true
                )
            }
            if let requested, requested != cursor.view {
                try await refuse(
                    .invalidCursor,
                    "this cursor continues a pull of \(cursor.view.rawValue), not of \(requested.rawValue)",
                    region: scope.region,
                    known: true
                )
            }
            position = cursor.position
        } else {
            position = (requested ?? .current) == .current ? .picture(snapshot: -1, after: nil) : .changes(after: 0)
        }
        try await keeper.bringUpToDate(store: store, active: active, now: now)
        let size = min(max(limit, 1), maxPageSize)
        let read: DeliveryRead
        switch position {
        case .picture(let snapshot, let after):
            read = .picture(stream, snapshot: snapshot < 0 ? nil : snapshot, after: after, limit: size + 1)
        case .changes(let after): read = .changes(stream, after: after, limit: size)
        }
        let result = try await store.readDeliveries(read)
        var rows = result.found
        let next: DeliveryCursor.Position
        var complete = true
        switch position {
        case .picture(var snapshot, _):
            if snapshot < 0 { snapshot = result.head }
            if snapshot < result.snapshotHorizon {
                try await refuse(
                    .snapshotExpired,
                    "this snapshot is too old to continue; start the current picture again",
                    region: scope.region,
                    known: true
                )
            }
            complete = rows.count <= size
            rows.keepFirst(size)
            next =
                complete
                ? .changes(after: snapshot)
                : .picture(snapshot: snapshot, after: rows.last.map { Array(rows.item($0)) })
        case .changes(let after):
            if after < result.cursorHorizon {
                try await refuse(
                    .cursorExpired,
                    "changes this old are no longer kept; pull the current picture again",
                    region: scope.region,
                    known: true
                )
            }
            if after > result.head {
                try await refuse(
                    .invalidCursor,
                    "the cursor is ahead of this gateway's index",
                    region: scope.region,
                    known: true
                )
            }
            next = .changes(after: rows.last?.seq ?? max(after, result.head))
            // One version per item in a page, so their order does not matter: by identifier, as
            // in the picture, so that the order says nothing about how records were committed.
            rows.sortByItem()
        }
        let withdrawn = rows.count(where: { rows.lineCount($0) == nil })
        let counts = ["records": rows.count - withdrawn, "withdrawn": withdrawn]
        try await store.appendAudit(
            AuditEvent(
                time: now,
                actor: caller.oin,
                role: caller.role,
                action: .pull,
                object:
                    "purpose:\(purpose)/region:\(scope.region)/view:\(DeliveryCursor(position).view.rawValue)/policy:\(policy.fingerprint)",
                outcome: .success,
                counts: counts,
                region: scope.region,
                purpose: purpose
            )
        )
        metrics.pull(region: scope.region, purpose: purpose, records: rows.count)
        // What the region is expected to collect promptly: it has now collected everything up to
        // where its next changes pull starts.
        if scope.purpose.collectWithinWorkingDays != nil, case .changes(let through) = next {
            // Kept in memory, written before the next count: no write transaction on a pull.
            collections.collected(stream, through: through, at: now)
        }
        let columns = scope.datasets.flatMap(scope.deliveredFields).reduce(into: [String]()) {
            if !$0.contains($1) { $0.append($1) }
        }
        return DeliveryPage(
            purpose: purpose,
            region: scope.region,
            view: DeliveryCursor(position).view,
            rows: rows,
            nextCursor: DeliveryCursor(next).sealed(for: stream, by: pseudonymiser),
            complete: complete,
            policyVersion: policy.fingerprint,
            columns: columns
        )
    }
}

/// Keeps the delivery index on today's date under the rules in force: the first request of a new
/// day, or under a new policy or key epoch, brings it up to date before it is read (the daily
/// service usually has). One at a time; the rest wait and find it done.
final class DeliveryKeeper: Sendable {
    private let done = Mutex<(day: CalendarDate, rules: String)?>(nil)
    private let gate = AsyncGate()
    /// The rules of the policy and key epochs last asked for: made once per reload, not per request.
    private let cached = Mutex<(policy: String, epochs: [UInt32], rules: PolicyDeliveryRules)?>(nil)

    func rules(for active: ActivePolicy) -> PolicyDeliveryRules {
        let (policy, epochs) = (active.policy.fingerprint, active.pseudonymiser.heldEpochs)
        return cached.withLock { cached in
            if let hit = cached, hit.policy == policy, hit.epochs == epochs { return hit.rules }
            let rules = PolicyDeliveryRules(policy: active.policy, pseudonymiser: active.pseudonymiser)
            cached = (policy, epochs, rules)
            return rules
        }
    }

    @discardableResult
    func bringUpToDate(store: any RecordStore, active: ActivePolicy, now: Date) async throws -> DeliveryMaintenance? {
        let day = CalendarDate.inAmsterdam(now)
        let rules = rules(for: active)
        if let done = done.withLock({ $0 }), done.day >= day, done.rules == rules.version { return nil }
        return try await gate.run {
            if let done = self.done.withLock({ $0 }), done.day >= day, done.rules == rules.version { return nil }
            let result = try await store.maintainDeliveries(rules: rules, day: day, now: now)
            self.done.withLock { $0 = (day, rules.version) }
            return result
        }
    }
}

/// Runs one operation at a time, in order of arrival. Each operation runs in its caller's task;
/// the others wait their turn, and the one that finishes wakes the next.
final class AsyncGate: Sendable {
    private let turns = Mutex<(busy: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func run<T>(_ body: () async throws -> T) async throws -> T {
        await withCheckedContinuation { (turn: CheckedContinuation<Void, Never>) in
            let now = turns.withLock { turns -> Bool in
                guard turns.busy else {
                    turns.busy = true
                    return true
                }
                turns.waiting.append(turn)
                return false
            }
            if now { turn.resume() }
        }
        defer {
            let next = turns.withLock { turns -> CheckedContinuation<Void, Never>? in
                guard !turns.waiting.isEmpty else {
                    turns.busy = false
                    return nil
                }
                return turns.waiting.removeFirst()
            }
            next?.resume()
        }
        return try await body()
    }
}

extension CalendarDate {
    /// The calendar day in the Netherlands at `instant`.
    package static func inAmsterdam(_ instant: Date) -> CalendarDate {
        inAmsterdam(secondsSince1970: instant.timeIntervalSince1970)
    }
}
