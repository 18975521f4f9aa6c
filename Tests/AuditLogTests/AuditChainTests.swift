import AuditLog
import Foundation
import Storage
import Testing
import VangnetCore

/// The audit chain as stored in SQLite: intact when untouched; broken by any edit, deletion,
/// insertion or reordering, which `verifyAudit` pinpoints.
@Suite struct AuditChainTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vangnet-audit-\(UUID().uuidString)")

    func storeWithEntries(_ n: Int = 10) throws -> SQLiteStore {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: directory.appendingPathComponent("audit.sqlite").path)
        for i in 1...n {
            try store.appendAudit(
                AuditEvent(
                    time: Date(timeIntervalSince1970: 1_790_000_000 + Double(i)),
                    actor: OIN("00000099000000000219"),
                    role: .consumer,
                    action: .pull,
                    object: "purpose:vsv-opvolging/region:19",
                    outcome: .success,
                    counts: ["records": i]
                )
            )
        }
        return store
    }

    @Test func untouchedChainIsIntact() throws {
        let store = try storeWithEntries()
        guard case .intact(let count, _, _) = try store.verifyAudit() else {
            Issue.record("chain not intact")
            return
        }
        #expect(count == 10)
    }

    @Test func editedEntryIsDetected() throws {
        let store = try storeWithEntries()
        try store.uncheckedExecute(
            "UPDATE audit SET event = CAST(REPLACE(CAST(event AS TEXT), '\"records\":5', '\"records\":50') AS BLOB) WHERE seq = 5"
        )
        #expect(try store.verifyAudit() == .broken(sequence: 5, reason: "its content does not match its hash (edited)"))
    }

    @Test func deletedEntryIsDetected() throws {
        let store = try storeWithEntries()
        try store.uncheckedExecute("DELETE FROM audit WHERE seq = 4")
        #expect(try store.verifyAudit() == .broken(sequence: 5, reason: "record 4 is missing"))
    }

    @Test func reorderedEntriesAreDetected() throws {
        let store = try storeWithEntries()
        try store.uncheckedExecute(
            """
            UPDATE audit SET seq = -1 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = -1;
            """
        )
        guard case .broken(let sequence, _) = try store.verifyAudit() else {
            Issue.record("reordering not detected")
            return
        }
        #expect(sequence == 3)
    }

    @Test func insertedEntryIsDetected() throws {
        let store = try storeWithEntries()
        // Re-number 6...10 to 7...11 and insert a copy of entry 5 as 6: the copy does not link.
        try store.uncheckedExecute(
            """
            UPDATE audit SET seq = seq + 100 WHERE seq > 5; UPDATE audit SET seq = seq - 99 WHERE seq > 100;
            INSERT INTO audit (seq, time, actor, action, event, prev_hash, hash) SELECT 6, time, actor, action, event, prev_hash, hash FROM audit WHERE seq = 5;
            """
        )
        guard case .broken(let sequence, _) = try store.verifyAudit() else {
            Issue.record("insertion not detected")
            return
        }
        #expect(sequence == 6)
    }

    @Test func overwrittenHashIsDetected() throws {
        let store = try storeWithEntries()
        try store.uncheckedExecute("UPDATE audit SET hash = zeroblob(32) WHERE seq = 7")
        guard case .broken(let sequence, _) = try store.verifyAudit() else {
            Issue.record("not detected")
            return
        }
        #expect(sequence == 7)
    }
}
