import AccessPolicy
import AuditLog
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Records
import Storage
import VangnetCore
import VangnetCrypto

extension Gateway {
    /// The security officer's side of the API: the policy explained for any consumer, the audit
    /// log's verification, entries, checkpoints and the review page. Auditor role only (another
    /// role is refused and audited at the edge); every use is itself audited (`policy.explain`,
    /// `audit.read`, `audit.verify`).
    func addAuditRoutes(to auditors: RouterGroup<AuditorContext>) {
        auditors.get("/v1/policy/explain") { request, context in
            let caller = context.caller
            let query = request.uri.queryParameters
            guard let consumer = OIN(query.get("consumer") ?? "") else {
                throw GatewayRefusal(.invalidQuery, "consumer must be an OIN (20 digits)")
            }
            let purpose = PurposeID(query.get("purpose") ?? "")
            guard !purpose.value.isEmpty else {
                throw GatewayRefusal(.invalidQuery, "purpose must name a purpose")
            }
            let explanation = policy.explain(consumer: consumer, purpose: purpose)
            // Only names the gateway knows reach the audit log (a query string is input).
            let named = policy.purpose(purpose) != nil ? purpose.value : "(unknown)"
            try await audit(caller, .policyExplain, "policy:explain/consumer:\(consumer)/purpose:\(named)")
            return try json(explanation, status: .ok)
        }

        auditors.get("/v1/audit/verify") { _, context in
            let caller = context.caller
            let verdict = try await store.verifyAudit(key: keys.audit.publicKey)
            try await audit(caller, .auditVerify, "audit")
            struct Result: Encodable {
                let intact: Bool
                let entries: Int?
                let checkpoints: Int?
                let brokenAt: Int64?
                let reason: String?
            }
            switch verdict {
            case .intact(let count, _, let checkpoints):
                return try json(
                    Result(intact: true, entries: count, checkpoints: checkpoints, brokenAt: nil, reason: nil),
                    status: .ok
                )
            case .broken(let seq, let reason):
                return try json(
                    Result(intact: false, entries: nil, checkpoints: nil, brokenAt: seq, reason: reason),
                    status: .ok
                )
            }
        }

        auditors.get("/v1/audit/entries") { request, context in
            let caller = context.caller
            let query = request.uri.queryParameters
            let filter = try Self.auditFilter(query)
            let after = try Self.integer(query, "after") ?? 0
            let limit = Int(try Self.integer(query, "limit") ?? 100)
            guard (1...1000).contains(limit) else {
                throw GatewayRefusal(.invalidQuery, "limit must be a whole number from 1 to 1000")
            }
            let entries = try await store.auditEntries(filter, after: after, limit: limit)
            try await audit(caller, .auditRead, "audit:entries", counts: ["entries": entries.count])
            struct Page: Encodable {
                let entries: [AuditEntryJSON]
                let next: Int64?
            }
            return try json(
                Page(
                    entries: entries.map(AuditEntryJSON.init),
                    next: entries.count == limit ? entries.last?.sequence : nil
                ),
                status: .ok
            )
        }

        auditors.get("/v1/audit/checkpoints") { _, context in
            let caller = context.caller
            let checkpoints = try await store.auditCheckpoints()
            try await audit(caller, .auditRead, "audit:checkpoints", counts: ["checkpoints": checkpoints.count])
            struct Answer: Encodable {
                let auditKey: String
                let keyId: String
                let checkpoints: [AuditCheckpoint]
            }
            return try json(
                Answer(
                    auditKey: Data(keys.audit.publicKey.bytes).base64EncodedString(),
                    keyId: keys.audit.publicKey.keyID,
                    checkpoints: checkpoints
                ),
                status: .ok
            )
        }

        auditors.get("/review") { request, context in
            let caller = context.caller
            let query = request.uri.queryParameters
            let filter = try Self.auditFilter(query)
            let before = try Self.integer(query, "before")
            try await collections.flush(to: store)
            let page = ReviewPage(
                gatewayOIN: configuration.gateway.oin,
                policy: policy,
                now: clock.now(),
                verdict: try await store.verifyAudit(key: keys.audit.publicKey),
                auditKeyID: keys.audit.publicKey.keyID,
                lastCheckpoint: try await store.auditCheckpoints().last,
                overview: try await store.pullOverview(),
                reidentifications: try await store.reidentificationTallies(),
                reidentificationRefusals: try await store.auditEntries(
                    AuditFilter(action: .reidentificationRequest, outcome: .refused),
                    before: nil,
                    limit: 1_000
                ).map(\.event),
                overdue: try await CollectionWatch.overdue(store: store, policy: policy, now: clock.now()),
                filter: filter,
                query: query.map { (String($0.key), String($0.value)) },
                entries: try await store.auditEntries(filter, before: before, limit: ReviewPage.pageSize)
            )
            try await audit(caller, .auditRead, "audit:review", counts: ["entries": page.entries.count])
            var buffer = ByteBuffer()
            buffer.writeString(page.html)
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/html; charset=utf-8",
                    .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
                ],
                body: .init(byteBuffer: buffer)
            )
        }
    }

    /// Appends the auditor's use of the log or the policy to the chain (before answering: a
    /// failed write fails the request).
    func audit(
        _ auditor: Caller.Auditor,
        _ action: AuditEvent.Action,
        _ object: String,
        counts: [String: Int] = [:]
    ) async throws {
        try await store.appendAudit(
            AuditEvent(
                time: clock.now(),
                actor: auditor.oin,
                role: auditor.role,
                action: action,
                object: object,
                outcome: .success,
                counts: counts
            )
        )
    }

    static func integer(_ query: Parameters, _ name: String) throws -> Int64? {
        guard let text = query.get(name), !text.isEmpty else { return nil }
        guard let value = Int64(text), value >= 0 else {
            throw GatewayRefusal(.invalidQuery, "\(name) must be a whole number")
        }
        return value
    }

    /// The filter in a query: `from`, `to` (ISO 8601 time, or a day `YYYY-MM-DD`; `to` excludes),
    /// `actor` (OIN), `action`, `region` (1-40), `outcome`. Empty parameters are ignored.
    static func auditFilter(_ query: Parameters) throws -> AuditFilter {
        func value(_ name: String) -> String? { query.get(name).flatMap { $0.isEmpty ? nil : $0 } }
        func refuse(_ name: String, _ expected: String) -> GatewayRefusal {
            GatewayRefusal(.invalidQuery, "\(name) must be \(expected)")
        }
        func time(_ name: String, endOfDay: Bool) throws -> Date? {
            guard let text = value(name) else { return nil }
            if let day = CalendarDate(text) {
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = TimeZone(identifier: "Europe/Amsterdam") ?? .gmt
                let start = calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day))!
                return endOfDay ? calendar.date(byAdding: .day, value: 1, to: start) : start
            }
            let formatter = ISO8601DateFormatter()
            guard let date = formatter.date(from: text) ?? ISO8601DateFormatter.vangnet.date(from: text) else {
                throw refuse(name, "an ISO 8601 time or a day YYYY-MM-DD")
            }
            return date
        }
        var filter = AuditFilter()
        filter.from = try time("from", endOfDay: false)
        filter.to = try time("to", endOfDay: true)
        if let text = value("actor") {
            guard let oin = OIN(text) else { throw refuse("actor", "an OIN (20 digits)") }
            filter.actor = oin
        }
        if let text = value("action") {
            guard let action = AuditEvent.Action(rawValue: text) else {
                throw refuse("action", "one of " + AuditEvent.Action.allCases.map(\.rawValue).joined(separator: ", "))
            }
            filter.action = action
        }
        if let text = value("region") {
            guard let region = Int(text).flatMap({ RegionNumber($0) }) else {
                throw refuse("region", "a region number 1-40")
            }
            filter.region = region
        }
        if let text = value("outcome") {
            guard let outcome = AuditEvent.Outcome(rawValue: text) else {
                throw refuse("outcome", "success, refused or failed")
            }
            filter.outcome = outcome
        }
        return filter
    }
}

/// An audit entry as the auditor API returns it.
struct AuditEntryJSON: Encodable {
    let seq: Int64
    let time: String
    let actor: OIN?
    let role: Role?
    let action: String
    let object: String
    let region: RegionNumber?
    let purpose: PurposeID?
    let dataset: DatasetID?
    let outcome: String
    let reason: String?
    let counts: [String: Int]
    let hash: String

    init(_ entry: StoredAuditEntry) {
        let e = entry.event
        seq = entry.sequence
        time = AuditChain.text(milliseconds: AuditChain.milliseconds(e.time))
        actor = e.actor
        role = e.role
        action = e.action.rawValue
        object = e.object
        region = e.region
        purpose = e.purpose
        dataset = e.dataset
        outcome = e.outcome.rawValue
        reason = e.reason
        counts = e.counts
        hash = Hex.encode(entry.hash)
    }
}
