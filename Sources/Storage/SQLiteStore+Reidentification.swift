import AuditLog
import Foundation
import GRDB
import Pseudonymisation
import VangnetCore

extension SQLiteStore: ReidentificationStore {
    package func subjects(
        _ pseudonyms: [String],
        in stream: DeliveryStream
    ) async throws -> [String: ReidentificationSubject] {
        try await pool.read { db in
            guard
                let id = try Int64.fetchOne(
                    db,
                    sql: "SELECT id FROM streams WHERE region = ? AND purpose = ?",
                    arguments: [stream.region.value, stream.purpose.value]
                )
            else { return [:] }
            let current = try CurrentTable(db)
            let find = try SQLiteStatement(db, "SELECT person FROM subjects WHERE stream = ? AND pseudonym = ?")
            var found: [String: ReidentificationSubject] = [:]
            for pseudonym in Set(pseudonyms) {
                find.bind(.int(id), .text(pseudonym))
                let person: [UInt8]? = try find.step() ? find.blob(0) : nil
                // Reset, so that no statement is left running when the read transaction ends.
                find.bind()
                guard let person else { continue }
                let records = try current.records(of: person)
                let held = records.lazy.compactMap { record in
                    ReidentificationTables.identity(in: record.fields).map { (record.epoch, $0) }
                }.first
                found[pseudonym] = ReidentificationSubject(
                    person: InternalPseudonym(storedBytes: person, epoch: held?.0 ?? records.first?.epoch ?? 0),
                    identity: held?.1
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
        try await pool.write { db in
            let used =
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT COALESCE(SUM(people), 0) FROM reidentifications
                        WHERE region = ? AND purpose = ? AND month = ? AND state IN ('pending', 'approved', 'released')
                        """,
                    arguments: [request.region.value, request.purpose.value, request.month]
                ) ?? 0
            guard used + request.pseudonyms.count <= quota else {
                try self.append(refused(used), in: db)
                return used
            }
            try Self.insert(request, in: db)
            try self.append(audit, in: db)
            return nil
        }
    }

    static func insert(_ r: ReidentificationRequest, in db: Database) throws {
        try db.execute(
            sql:
                "INSERT INTO reidentifications (\(ReidentificationTables.columns), people) VALUES (\(Array(repeating: "?", count: 16).joined(separator: ", ")))",
            arguments: [
                r.id, r.region.value, r.purpose.value, r.requester.value, r.reason, r.caseReference,
                r.pseudonyms.joined(separator: "\n"), r.month, r.createdAt.timeIntervalSince1970,
                r.expiresAt.timeIntervalSince1970, r.state.rawValue, r.decidedBy?.value,
                r.decidedAt?.timeIntervalSince1970, r.decisionReason, r.releasedAt?.timeIntervalSince1970,
                r.pseudonyms.count,
            ]
        )
    }

    static func request(_ row: Row) -> ReidentificationRequest {
        let pseudonyms = row["pseudonyms"] as String
        return ReidentificationRequest(
            id: row["id"],
            region: RegionNumber(row["region"] as Int)!,
            purpose: PurposeID(row["purpose"] as String),
            requester: OIN(row["requester"] as String)!,
            reason: row["reason"],
            caseReference: row["case_reference"],
            pseudonyms: pseudonyms.isEmpty ? [] : pseudonyms.split(separator: "\n").map(String.init),
            month: row["month"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            expiresAt: Date(timeIntervalSince1970: row["expires_at"]),
            state: ReidentificationState(rawValue: row["state"]) ?? .expired,
            decidedBy: (row["decided_by"] as String?).flatMap { OIN($0) },
            decidedAt: (row["decided_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            decisionReason: row["decision_reason"],
            releasedAt: (row["released_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        )
    }

    package func reidentification(_ id: String) async throws -> ReidentificationRequest? {
        try await pool.read { db in
            try Row.fetchOne(
                db,
                sql: "SELECT \(ReidentificationTables.columns) FROM reidentifications WHERE id = ?",
                arguments: [id]
            ).map(Self.request)
        }
    }

    package func reidentifications(
        state: ReidentificationState?,
        region: RegionNumber?,
        limit: Int
    ) async throws -> [ReidentificationRequest] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(ReidentificationTables.columns) FROM reidentifications
                    WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR region = ?2) ORDER BY created_at DESC LIMIT ?3
                    """,
                arguments: [state?.rawValue, region?.value, limit]
            ).map(Self.request)
        }
    }

    package func changeReidentification(
        _ id: String,
        from: ReidentificationState,
        to change: @Sendable (inout ReidentificationRequest) -> Void,
        audit: @Sendable (ReidentificationRequest) -> AuditEvent
    ) async throws -> ReidentificationChange {
        try await pool.write { db in
            guard
                var request = try Row.fetchOne(
                    db,
                    sql: "SELECT \(ReidentificationTables.columns) FROM reidentifications WHERE id = ?",
                    arguments: [id]
                ).map(Self.request)
            else { return .notFound }
            guard request.state == from else { return .notIn(request.state) }
            change(&request)
            try db.execute(
                sql: """
                    UPDATE reidentifications SET state = ?, decided_by = ?, decided_at = ?, decision_reason = ?, released_at = ?
                    WHERE id = ?
                    """,
                arguments: [
                    request.state.rawValue, request.decidedBy?.value, request.decidedAt?.timeIntervalSince1970,
                    request.decisionReason, request.releasedAt?.timeIntervalSince1970, id,
                ]
            )
            try self.append(audit(request), in: db)
            return .done(request)
        }
    }

    package func overdueReidentifications(at now: Date, limit: Int) async throws -> [ReidentificationRequest] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(ReidentificationTables.columns) FROM reidentifications
                    WHERE state IN ('pending', 'approved') AND expires_at < ? ORDER BY expires_at LIMIT ?
                    """,
                arguments: [now.timeIntervalSince1970, limit]
            ).map(Self.request)
        }
    }

    package func reidentificationTallies() async throws -> [ReidentificationTally] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT region, month, purpose, reason, state, COUNT(*) AS requests, SUM(people) AS people
                    FROM reidentifications GROUP BY region, month, purpose, reason, state
                    ORDER BY region, month, purpose, reason, state
                    """
            ).map { row in
                ReidentificationTally(
                    region: RegionNumber(row["region"] as Int)!,
                    month: row["month"],
                    purpose: PurposeID(row["purpose"] as String),
                    reason: row["reason"],
                    state: ReidentificationState(rawValue: row["state"]) ?? .expired,
                    requests: row["requests"],
                    people: row["people"]
                )
            }
        }
    }

    package func forgetIdentities(
        before cutoffs: [DatasetID: Date],
        audit: @escaping @Sendable (Int) -> AuditEvent
    ) async throws -> Int {
        try await pool.write { db in
            let current = try CurrentTable(db)
            var forgotten = 0
            for (dataset, cutoff) in cutoffs.sorted(by: { $0.key < $1.key }) {
                guard let id = current.existingID(dataset: dataset.value) else { continue }
                // The identity is the stored fields' last member (IdentityVault.storedFields).
                try db.execute(
                    sql: """
                        UPDATE current SET fields = substr(fields, 1, instr(fields, ?1) - 1) || '}'
                        WHERE dataset = ?2 AND changed_at < ?3 AND instr(fields, ?1) > 0
                        AND NOT EXISTS (
                            SELECT 1 FROM pictures p JOIN sources s ON s.oin = p.source
                            WHERE s.id = current.source AND p.dataset = ?4 AND p.complete_at >= ?3)
                        """,
                    arguments: [
                        ",\"\(IdentityVault.storedField)\"", id, cutoff.timeIntervalSince1970, dataset.value,
                    ]
                )
                forgotten += db.changesCount
            }
            if forgotten > 0 { try self.append(audit(forgotten), in: db) }
            return forgotten
        }
    }
}
