import ArgumentParser
import AuditLog
import Foundation
import GRDB
import Storage
import VangnetCore
import VangnetCrypto

extension BenchCommand {
    struct AuditBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit",
            abstract: "Audit log throughput: append in batches and verify, against plain SQLite in the same run.",
            discussion: """
                append:    the gateway's store appending realistic pull events in batches (one transaction per batch): \
                canonical encoding, hash chain, a checkpoint signed every 1,000 entries.
                baseline:  the same canonical bytes inserted into a table of the same shape, no hashing, no signing.
                verify:    recomputing the whole chain from the database and checking every checkpoint's signature.
                read:      reading the same rows without hashing (the baseline of verify).
                Goals: append at least 50,000 entries/s; verify 1,000,000 entries in at most 2 s. Use a release build.
                """
        )

        @Option(help: "Number of entries.") var entries = 1_000_000
        @Option(help: "Entries per append transaction.") var batch = 1_000

        func run() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
                "vangnet-audit-bench-\(UUID().uuidString.prefix(8))"
            )
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            print(
                "vangnet bench audit --entries \(entries) --batch \(batch)   (\(ProcessInfo.processInfo.activeProcessorCount) cores)"
            )
            let key = SigningKeyPair.generate()
            let start = Date()
            func event(_ i: Int) -> AuditEvent {
                AuditEvent(
                    time: start.addingTimeInterval(Double(i) / 1000),
                    actor: OIN("00000099000000000219"),
                    role: .consumer,
                    action: .pull,
                    object: "purpose:vsv-opvolging/region:19/policy:6f315385b28ee0f9ddcfcf834d8c4158",
                    outcome: i % 50 == 0 ? .refused : .success,
                    reason: i % 50 == 0 ? "no_grant" : nil,
                    counts: ["records": i % 1000, "records.duo.onderwijsdeelname": i % 1000],
                    region: RegionNumber(19),
                    purpose: "vsv-opvolging"
                )
            }

            // Baseline: the same bytes, same table shape, no chain.
            let plain = try DatabaseQueue(path: dir.appendingPathComponent("plain.sqlite").path)
            try plain.write { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try db.execute(
                    sql:
                        "CREATE TABLE audit (seq INTEGER PRIMARY KEY, time REAL, actor TEXT, action TEXT, event BLOB, prev_hash BLOB, hash BLOB, role TEXT, outcome TEXT, region INTEGER)"
                )
            }
            let zero = Data(count: 32)
            let baseline = try measure {
                for first in stride(from: 1, through: entries, by: batch) {
                    try plain.write { db in
                        let insert = try db.cachedStatement(
                            sql: "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                        )
                        for i in first..<min(first + batch, entries + 1) {
                            let e = event(i)
                            try insert.execute(arguments: [
                                i, e.time.timeIntervalSince1970, e.actor?.value, e.action.rawValue,
                                Data(AuditChain.canonicalBytes(e)), zero, zero, e.role?.rawValue, e.outcome.rawValue,
                                19,
                            ])
                        }
                    }
                }
            }
            let store = try SQLiteStore(
                path: dir.appendingPathComponent("audit.sqlite").path,
                auditSigning: AuditSigning(key: key, every: 1000)
            )
            let append = try measure {
                for first in stride(from: 1, through: entries, by: batch) {
                    try store.appendAudit((first..<min(first + batch, entries + 1)).map(event))
                }
            }
            let read = try measure {
                try plain.read { db in
                    let rows = try Row.fetchCursor(
                        db,
                        sql: "SELECT seq, event, prev_hash, hash FROM audit ORDER BY seq"
                    )
                    var bytes = 0
                    while let row = try rows.next() { bytes += (row["event"] as Data).count }
                    precondition(bytes > 0)
                }
            }
            var verdict: AuditVerdict?
            let verify = try measure { verdict = try store.verifyAudit(key: key.publicKey) }
            guard case .intact(let count, _, let checkpoints) = verdict, count == entries else {
                throw BenchmarkFailure("the chain did not verify")
            }

            func row(_ name: String, _ seconds: Double) {
                print(
                    name.padding(toLength: 58, withPad: " ", startingAt: 0)
                        + String(format: "%7.2f s  %10.0f entries/s", seconds, Double(entries) / seconds)
                )
            }
            print("")
            row("append (chain + checkpoint every 1,000, batches)", append)
            row("baseline: insert the same bytes, no chain", baseline)
            row("verify (recompute chain, \(checkpoints) checkpoint signatures)", verify)
            row("baseline: read the same rows, no hashing", read)
            print(
                String(
                    format: "  append: %.0f%% of the baseline's rate; goal at least 50,000 entries/s: %@",
                    100 * baseline / append,
                    Double(entries) / append >= 50_000 ? "met" : "NOT met"
                )
            )
            print(
                String(
                    format:
                        "  verify: %.1fx the time of reading alone; %.2f s per 1,000,000 entries, goal at most 2 s: %@",
                    verify / read,
                    verify * 1_000_000 / Double(entries),
                    verify * 1_000_000 / Double(entries) <= 2 ? "met" : "NOT met"
                )
            )
        }

        func measure(_ body: () throws -> Void) throws -> Double {
            let start = ContinuousClock.now
            try body()
            let d = ContinuousClock.now - start
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
    }
}
