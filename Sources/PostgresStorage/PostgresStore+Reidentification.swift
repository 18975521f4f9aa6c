import AuditLog
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Pseudonymisation
import Records
import Storage
import VangnetCore

extension PostgresStore {
    package func subjects(
        _ pseudonyms: [String],
        in stream: DeliveryStream
    ) async throws -> [String: ReidentificationSubject] {
        let wanted = Array(Set(pseudonyms))
        return try await client.withConnection { c in
            var found: [String: ReidentificationSubject] = [:]
            for try await (pseudonym, person, epoch, fields) in try await c.query(
                """
                SELECT s.pseudonym, s.person, c.epoch, c.fields FROM subjects s
                JOIN streams st ON st.id = s.stream AND st.region = \(Int64(stream.region.value)) AND st.purpose = \(stream.purpose.value)
                LEFT JOIN current c ON c.person = s.person
                WHERE s.pseudonym = ANY(\(wanted)::text[])
                """,
                logger: self.logger
            ).decode((String, ByteBuffer, Int64?, String?).self) {
                let identity = fields.flatMap(ReidentificationTables.identity(in:))
                if let known = found[pseudonym], known.identity != nil || identity == nil { continue }
                found[pseudonym] = ReidentificationSubject(
                    person: InternalPseudonym(storedBytes: Array(buffer: person), epoch: UInt32(epoch ?? 0)),
                    identity: identity
                )
            }
            return found
        }
    }

    package func createReidentification(
        _ request: ReidentificationRequest,
        quota: Int,
        audit: AuditEvent,
        refused: @Sendable (Int) -> AuditEvent
    ) async throws -> Int? {
        try await client.withTransaction(logger: logger) { c in
            // One request at a time per gateway cluster, so two cannot both fit the last of a quota.
            try await c.query("LOCK TABLE reidentifications IN SHARE ROW EXCLUSIVE MODE", logger: self.logger)
            var used: Int64 = 0
            for try await n in try await c.query(
                """
                SELECT COALESCE(SUM(people), 0)::int8 FROM reidentifications
                WHERE region = \(Int64(request.region.value)) AND purpose = \(request.purpose.value) AND month = \(Int64(request.month))
                AND state IN ('pending', 'approved', 'released')
                """,
                logger: self.logger
            ).decode(Int64.self) { used = n }
            guard Int(used) + request.pseudonyms.count <= quota else {
                try await self.append(refused(Int(used)), on: c)
                return Int(used)
            }
            let r = request
            try await c.query(
                """
                INSERT INTO reidentifications (id, region, purpose, requester, reason, case_reference, pseudonyms, people, month,
                    created_at, expires_at, state)
                VALUES (\(r.id), \(Int64(r.region.value)), \(r.purpose.value), \(r.requester.value), \(r.reason), \(r.caseReference),
                    \(r.pseudonyms.joined(separator: "\n")), \(Int64(r.pseudonyms.count)), \(Int64(r.month)),
                    \(r.createdAt.timeIntervalSince1970), \(r.expiresAt.timeIntervalSince1970), \(r.state.rawValue))
                """,
                logger: self.logger
            )
            try await self.append(audit, on: c)
            return nil
        }
    }

    static let requestColumns =
        "id, region, purpose, requester, reason, case_reference, pseudonyms, month, created_at, expires_at, state, decided_by, decided_at, decision_reason, released_at"

    typealias RequestRow = (
        String, Int64, String, String, String, String, String, Int64, Double, Double, String, String?, Double?, String?,
        Double?
    )

    static func request(_ row: RequestRow) -> ReidentificationRequest {
        let (id, region, purpose, requester, reason, caseReference, pseudonyms, month, created, expires, state) = (
            row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9, row.10
        )
        return ReidentificationRequest(
            id: id,
            region: RegionNumber(Int(region))!,
            purpose: PurposeID(purpose),
            requester: OIN(requester)!,
            reason: reason,
            caseReference: caseReference,
            pseudonyms: pseudonyms.isEmpty ? [] : pseudonyms.split(separator: "\n").map(String.init),
            month: Int(month),
            createdAt: Date(timeIntervalSince1970: created),
            expiresAt: Date(timeIntervalSince1970: expires),
            state: ReidentificationState(rawValue: state) ?? .expired,
            decidedBy: row.11.flatMap { OIN($0) },
            decidedAt: row.12.map(Date.init(timeIntervalSince1970:)),
            decisionReason: row.13,
            releasedAt: row.14.map(Date.init(timeIntervalSince1970:))
        )
    }

    private func requests(_ query: PostgresQuery, on c: PostgresConnection) async throws -> [ReidentificationRequest] {
        var out: [ReidentificationRequest] = []
        for try await row in try await c.query(query, logger: logger).decode(RequestRow.self) {
            out.append(Self.request(row))
        }
        return out
    }

    package func reidentification(_ id: String) async throws -> ReidentificationRequest? {
        try await client.withConnection { c in
            try await self.requests(
                "SELECT \(unescaped: Self.requestColumns) FROM reidentifications WHERE id = \(id)",
                on: c
            ).first
        }
    }

    package func reidentifications(
        state: ReidentificationState?,
        region: RegionNumber?,
        limit: Int
    ) async throws -> [ReidentificationRequest] {
        try await client.withConnection { c in
            try await self.requests(
                """
                SELECT \(unescaped: Self.requestColumns) FROM reidentifications
                WHERE (\(state?.rawValue)::text IS NULL OR state = \(state?.rawValue)::text)
                AND (\(region.map { Int64($0.value) })::int8 IS NULL OR region = \(region.map { Int64($0.value) })::int8)
                ORDER BY created_at DESC LIMIT \(Int64(limit))
                """,
                on: c
            )
        }
    }

    package func changeReidentification(
        _ id: String,
        from: ReidentificationState,
        to change: @Sendable (inout ReidentificationRequest) -> Void,
        audit: @Sendable (ReidentificationRequest) -> AuditEvent
    ) async throws -> ReidentificationChange {
        try await client.withTransaction(logger: logger) { c in
            guard
                var request = try await self.requests(
                    "SELECT \(unescaped: Self.requestColumns) FROM reidentifications WHERE id = \(id) FOR UPDATE",
                    on: c
                ).first
            else { return .notFound }
            guard request.state == from else { return .notIn(request.state) }
            change(&request)
            try await c.query(
                """
                UPDATE reidentifications SET state = \(request.state.rawValue), decided_by = \(request.decidedBy?.value),
                    decided_at = \(request.decidedAt?.timeIntervalSince1970), decision_reason = \(request.decisionReason),
                    released_at = \(request.releasedAt?.timeIntervalSince1970)
                WHERE id = \(id)
                """,
                logger: self.logger
            )
            try await self.append(audit(request), on: c)
            return .done(request)
        }
    }

    package func overdueReidentifications(at now: Date, limit: Int) async throws -> [ReidentificationRequest] {
        try await client.withConnection { c in
            try await self.requests(
                """
                SELECT \(unescaped: Self.requestColumns) FROM reidentifications
                WHERE state IN ('pending', 'approved') AND expires_at < \(now.timeIntervalSince1970) ORDER BY expires_at LIMIT \(Int64(limit))
                """,
                on: c
            )
        }
    }

    package func reidentificationTallies() async throws -> [ReidentificationTally] {
        try await client.withConnection { c in
            var out: [ReidentificationTally] = []
            for try await (region, month, purpose, reason, state, requests, people) in try await c.query(
                """
                SELECT region, month, purpose, reason, state, COUNT(*)::int8, SUM(people)::int8
                FROM reidentifications GROUP BY region, month, purpose, reason, state
                ORDER BY region, month, purpose, reason, state
                """,
                logger: self.logger
            ).decode((Int64, Int64, String, String, String, Int64, Int64).self) {
                out.append(
                    ReidentificationTally(
                        region: RegionNumber(Int(region))!,
                        month: Int(month),
                        purpose: PurposeID(purpose),
                        reason: reason,
                        state: ReidentificationState(rawValue: state) ?? .expired,
                        requests: Int(requests),
                        people: Int(people)
                    )
                )
            }
            return out
        }
    }

    package func forgetIdentities(
        before cutoffs: [DatasetID: Date],
        audit: @escaping @Sendable (Int) -> AuditEvent
    ) async throws -> Int {
        let member = ",\"\(IdentityVault.storedField)\""
        return try await client.withTransaction(logger: logger) { c in
            var forgotten = 0
            for (dataset, cutoff) in cutoffs.sorted(by: { $0.key < $1.key }) {
                // The identity is the stored fields' last member (IdentityVault.storedFields).
                for try await n in try await c.query(
                    """
                    WITH changed AS (
                        UPDATE current c SET fields = substr(c.fields, 1, strpos(c.fields, \(member)) - 1) || '}'
                        WHERE c.dataset = \(dataset.value) AND c.changed_at < \(cutoff.timeIntervalSince1970)
                        AND strpos(c.fields, \(member)) > 0
                        AND NOT EXISTS (SELECT 1 FROM pictures p WHERE p.source = c.source AND p.dataset = c.dataset
                                        AND p.complete_at >= \(cutoff.timeIntervalSince1970))
                        RETURNING 1)
                    SELECT COUNT(*)::int8 FROM changed
                    """,
                    logger: self.logger
                ).decode(Int64.self) { forgotten += Int(n) }
            }
            if forgotten > 0 { try await self.append(audit(forgotten), on: c) }
            return forgotten
        }
    }
}

extension PostgresStore {
    package func markCollected(_ stream: DeliveryStream, through seq: Int64, at time: Date) async throws {
        try await client.withConnection { c in
            try await c.query(
                """
                INSERT INTO collections
                SELECT id, \(seq), \(time.timeIntervalSince1970) FROM streams
                WHERE region = \(Int64(stream.region.value)) AND purpose = \(stream.purpose.value)
                ON CONFLICT (stream) DO UPDATE SET seq = greatest(collections.seq, excluded.seq), at = excluded.at
                """,
                logger: self.logger
            )
        }
    }

    package func uncollected(purpose: PurposeID, deliveredBefore before: Date) async throws -> [RegionNumber: Int] {
        try await client.withConnection { c in
            var counts: [RegionNumber: Int] = [:]
            for try await (region, count) in try await c.query(
                """
                SELECT s.region, count(*) FROM streams s
                LEFT JOIN collections c ON c.stream = s.id
                JOIN deliveries d ON d.stream = s.id AND d.superseded IS NULL AND d.seq > coalesce(c.seq, 0)
                WHERE s.purpose = \(purpose.value) AND d.line IS NOT NULL AND d.at < \(before.timeIntervalSince1970)
                GROUP BY s.region
                """,
                logger: self.logger
            ).decode((Int64, Int64).self) {
                if let number = RegionNumber(Int(region)) { counts[number] = Int(count) }
            }
            return counts
        }
    }
}
