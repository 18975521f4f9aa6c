import AuditLog
import Foundation
import Storage
import Testing
import VangnetCore
import VangnetCrypto

/// The outside security test's audit findings, reproduced on the store: readable columns edited
/// outside the chain, and a tail edited, forged or re-chained without the audit key, all fail
/// verification, in the database and in an exported copy.
@Suite struct AuditTamperingTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "vangnet-tamper-\(UUID().uuidString.prefix(8))"
    )
    let key = SigningKeyPair.generate()
    static let amsterdam = "00000099000000000221"

    func event(_ i: Int) -> AuditEvent {
        AuditEvent(
            time: Date(timeIntervalSince1970: 1_795_435_200 + Double(i)),
            actor: OIN(Self.amsterdam),
            role: .consumer,
            action: .pull,
            object: "purpose:vsv-opvolging/region:21",
            outcome: .success,
            counts: ["records": i],
            region: RegionNumber(21),
            purpose: "vsv-opvolging"
        )
    }

    /// A store that signs every entry, with a checkpoint every 5, holding `n` entries.
    func store(_ n: Int = 12) throws -> SQLiteStore {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try SQLiteStore(
            path: directory.appendingPathComponent("audit.sqlite").path,
            auditSigning: AuditSigning(key: key, every: 5)
        )
        for i in 1...n { try store.appendAudit(event(i)) }
        return store
    }

    func brokenAt(_ verdict: AuditVerdict) -> (Int64, String)? {
        guard case .broken(let sequence, let reason) = verdict else { return nil }
        return (sequence, reason)
    }

    @Test(arguments: [
        ("actor = '00000099000000000219'", "actor"), ("region = NULL", "region"), ("outcome = 'failed'", "outcome"),
        ("role = NULL", "role"), ("action = 'config.load'", "action"), ("time = time + 86400", "time"),
    ])
    func aFilterColumnEditedOutsideTheChainBreaksVerification(edit: String, column: String) throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try store()
        guard case .intact = try store.verifyAudit(key: key.publicKey) else {
            Issue.record("not intact before the edit")
            return
        }
        // With the gateway stopped, an attacker hides Amsterdam's entries from ?actor= and ?region=.
        try store.uncheckedExecute("UPDATE audit SET \(edit) WHERE actor = '\(Self.amsterdam)' AND seq >= 7")
        let broken = brokenAt(try store.verifyAudit(key: key.publicKey))
        #expect(broken?.0 == 7)
        #expect(broken?.1.contains("stored \(column) column differs") == true, "\(broken?.1 ?? "intact")")
    }

    @Test func aTailEntryEditedWithARecomputedHashIsCaughtByItsSignature() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try store(12)  // checkpoints at 5 and 10; 11 and 12 after the last one
        var forged = event(12)
        forged.outcome = .refused
        let previous = try #require(try store.auditHash(at: 11))
        let record = AuditChain.link(forged, sequence: 12, previous: previous)
        try store.uncheckedExecute(
            """
            UPDATE audit SET event = X'\(Hex.encode(AuditChain.canonicalBytes(forged)))', hash = X'\(Hex.encode(record.hash))', outcome = 'refused' WHERE seq = 12
            """
        )
        let withOldSignature = brokenAt(try store.verifyAudit(key: key.publicKey))
        #expect(withOldSignature?.0 == 12)
        #expect(
            withOldSignature?.1.contains("signature is not the audit key's") == true,
            "\(withOldSignature?.1 ?? "intact")"
        )
        try store.uncheckedExecute("UPDATE audit SET signature = NULL WHERE seq = 12")
        let unsigned = brokenAt(try store.verifyAudit(key: key.publicKey))
        #expect(unsigned?.0 == 12)
        #expect(unsigned?.1.contains("covered by no signature") == true, "\(unsigned?.1 ?? "intact")")
    }

    @Test func aForgedEntryAppendedWithoutTheKeyIsCaught() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try store(12)
        // Without the audit key.
        let unsigned = try SQLiteStore(path: directory.appendingPathComponent("audit.sqlite").path, auditSigning: nil)
        try unsigned.appendAudit(event(13))
        let broken = brokenAt(try unsigned.verifyAudit(key: key.publicKey))
        #expect(broken?.0 == 13)
        #expect(broken?.1.contains("entries 13–13 are covered by no signature") == true, "\(broken?.1 ?? "intact")")
    }

    @Test func anAppendOfSeveralEntriesIsCoveredByItsLastSignature() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try store(3)
        try store.appendAudit((4...8).map(event))  // one transaction: only entry 8 carries a signature
        guard case .intact(8, _, _) = try store.verifyAudit(key: key.publicKey) else {
            Issue.record("the batch is not covered")
            return
        }
        try store.uncheckedExecute("UPDATE audit SET signature = NULL WHERE seq = 8")
        let broken = brokenAt(try store.verifyAudit(key: key.publicKey))
        // The checkpoint signed at entry 5 still covers 4 and 5; 6 to 8 are covered by nothing.
        #expect(broken?.0 == 6, "\(broken?.1 ?? "intact")")
    }

    @Test func aChainWithoutAnySignatureIsNotReportedIntact() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try store(12)
        try store.uncheckedExecute("UPDATE audit SET signature = NULL")
        try store.uncheckedExecute("DELETE FROM audit_checkpoints")
        let broken = brokenAt(try store.verifyAudit(key: key.publicKey))
        #expect(broken?.1.contains("the chain is not protected") == true, "\(broken?.1 ?? "intact")")
    }

    @Test(arguments: AuditExport.Format.allCases)
    func anExportVerifiesAndAReadableColumnEditedInItDoesNot(format: AuditExport.Format) throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try store(12)
        var lines: [String] = []
        try store.exportAudit(format) { lines.append($0) }
        let text = lines.joined(separator: "\n") + "\n"
        guard case .intact(12, _, 2) = try AuditExport.verify(text, key: key.publicKey) else {
            Issue.record("the export does not verify")
            return
        }
        // The review copy (CSV; NDJSON holds no readable copy of the columns): Amsterdam's pull in
        // entry 12 shown as Utrecht's.
        if format == .csv {
            let edited = text.replacingOccurrences(
                of: "entry,12,2026-11-23T12:00:12.000Z,\(Self.amsterdam)",
                with: "entry,12,2026-11-23T12:00:12.000Z,00000099000000000219"
            )
            #expect(edited != text)
            let broken = brokenAt(try AuditExport.verify(edited, key: key.publicKey))
            #expect(broken?.0 == 12)
            #expect(broken?.1.contains("actor column differs") == true, "\(broken?.1 ?? "intact")")
        }
        // Dropping the signatures from a copy leaves entries 11 and 12 covered by nothing.
        let stripped = text.split(separator: "\n").map { line -> String in
            guard
                line.hasPrefix("entry,11,") || line.hasPrefix("entry,12,") || line.contains(#""seq":11,"#)
                    || line.contains(#""seq":12,"#)
            else { return String(line) }
            return String(line).replacingOccurrences(of: #","sig":"[^"]*""#, with: "", options: .regularExpression)
                .replacingOccurrences(of: #",,[A-Za-z0-9+/=]{86,88},"#, with: ",,,", options: .regularExpression)
        }.joined(separator: "\n")
        let unsigned = brokenAt(try AuditExport.verify(stripped, key: key.publicKey))
        #expect(unsigned?.0 == 11, "\(unsigned?.1 ?? "intact")")
    }
}
