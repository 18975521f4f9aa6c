import Foundation
import GRDB
import VangnetCore

/// What each region has collected of its streams, for the purposes that expect it within some
/// working days (``PolicyDocument/Purpose/collectWithinWorkingDays``): a stream's region has
/// collected every version up to the position its last pull reached (the end of a changes page,
/// or the snapshot of a completed current picture).
package protocol CollectionStore: Sendable {
    /// Records that `stream`'s region has collected every delivery through `seq` (a later pull
    /// never moves it back).
    func markCollected(_ stream: DeliveryStream, through seq: Int64, at time: Date) async throws

    /// Per region of `purpose`, the records delivered to it before `before` (their current
    /// version, withdrawals not counted) that it has not collected. Reads the uncollected part of
    /// each stream only.
    func uncollected(purpose: PurposeID, deliveredBefore before: Date) async throws -> [RegionNumber: Int]
}

package enum CollectionTables {
    static let sqlite = """
        CREATE TABLE collections (stream INTEGER PRIMARY KEY, seq INTEGER NOT NULL, at REAL NOT NULL);
        """

    /// The count per region: from each stream's collected position, the live upserts before the
    /// time, by the index of changes (stream, seq). PostgreSQL's form is the same query.
    static let uncollected = """
        SELECT s.region, count(*) FROM streams s
        LEFT JOIN collections c ON c.stream = s.id
        JOIN deliveries d ON d.stream = s.id AND d.superseded IS NULL AND d.seq > coalesce(c.seq, 0)
        WHERE s.purpose = ? AND d.line IS NOT NULL AND d.at < ?
        GROUP BY s.region
        """
}

extension SQLiteStore: CollectionStore {
    package func markCollected(_ stream: DeliveryStream, through seq: Int64, at time: Date) async throws {
        try await pool.write { db in
            guard
                let id = try Int64.fetchOne(
                    db,
                    sql: "SELECT id FROM streams WHERE region = ? AND purpose = ?",
                    arguments: [stream.region.value, stream.purpose.value]
                )
            else { return }
            try db.execute(
                sql: """
                    INSERT INTO collections VALUES (?, ?, ?)
                    ON CONFLICT (stream) DO UPDATE SET seq = max(seq, excluded.seq), at = excluded.at
                    """,
                arguments: [id, seq, time.timeIntervalSince1970]
            )
        }
    }

    package func uncollected(purpose: PurposeID, deliveredBefore before: Date) async throws -> [RegionNumber: Int] {
        try await pool.read { db in
            var counts: [RegionNumber: Int] = [:]
            for row in try Row.fetchAll(
                db,
                sql: CollectionTables.uncollected,
                arguments: [purpose.value, before.timeIntervalSince1970]
            ) {
                if let region = RegionNumber(row[0] as Int) { counts[region] = row[1] }
            }
            return counts
        }
    }
}
