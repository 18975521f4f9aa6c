import Foundation
import GRDB

/// A region's own copy of what it receives, kept by applying pulls: a SQLite file the region owns
/// (`vangnet pull --mirror`). Per purpose it holds every record by its identifier and the cursor
/// to continue from, written in one transaction with each page, so an interrupted run continues
/// where it stopped and a page is applied once.
///
/// A current picture's first page replaces what the mirror held for the purpose; its later pages
/// add to it; changes then upsert and withdraw by identifier. Applying the changes ends with
/// exactly the gateway's current picture.
package final class RegionMirror: Sendable {
    private let queue: DatabaseQueue

    package init(path: String) throws {
        queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS records (purpose TEXT NOT NULL, id TEXT NOT NULL, dataset TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (purpose, id));
                    CREATE TABLE IF NOT EXISTS cursors (purpose TEXT PRIMARY KEY, cursor TEXT NOT NULL, view TEXT NOT NULL);
                    """
            )
        }
    }

    /// The cursor to continue `purpose` from and the view it continues, if the mirror has one.
    package func cursor(purpose: String) throws -> (cursor: String, view: String)? {
        try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT cursor, view FROM cursors WHERE purpose = ?", arguments: [purpose]).map {
                ($0["cursor"], $0["view"])
            }
        }
    }

    /// What a page did to the mirror.
    package struct Applied: Sendable, Equatable {
        package var upserted = 0
        package var withdrawn = 0
        package init() {}
    }

    /// Applies one NDJSON page and keeps `next` (with its view) as the purpose's cursor.
    /// `restart`: the first page of a current picture (what the mirror held is replaced).
    /// - Throws: ``StoreError`` for a line that is not a delivered record or change.
    @discardableResult
    package func apply(purpose: String, ndjson: String, next: String, nextView: String, restart: Bool) throws -> Applied
    {
        try queue.write { db in
            if restart { try db.execute(sql: "DELETE FROM records WHERE purpose = ?", arguments: [purpose]) }
            var applied = Applied()
            let upsert = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO records (purpose, id, dataset, record) VALUES (?, ?, ?, ?)"
            )
            let delete = try db.cachedStatement(sql: "DELETE FROM records WHERE purpose = ? AND id = ?")
            for line in ndjson.split(separator: "\n") where !line.isEmpty {
                guard var object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let id = object["id"] as? String
                else {
                    throw StoreError("a line of the page is not a delivered record")
                }
                let change = object.removeValue(forKey: "change") as? String
                if change == "withdraw" {
                    try delete.execute(arguments: [purpose, id])
                    applied.withdrawn += 1
                } else {
                    let record = String(
                        decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
                        as: UTF8.self
                    )
                    try upsert.execute(arguments: [purpose, id, object["dataset"] as? String ?? "", record])
                    applied.upserted += 1
                }
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO cursors (purpose, cursor, view) VALUES (?, ?, ?)",
                arguments: [purpose, next, nextView]
            )
            return applied
        }
    }

    /// The mirror's records of `purpose`: identifier to record (JSON with sorted keys, no `change`).
    package func records(purpose: String) throws -> [String: String] {
        try queue.read { db in
            Dictionary(
                uniqueKeysWithValues: try Row.fetchAll(
                    db,
                    sql: "SELECT id, record FROM records WHERE purpose = ?",
                    arguments: [purpose]
                ).map { ($0["id"], $0["record"]) }
            )
        }
    }
}
