import AuditLog
import Foundation
import Storage
import Testing
import VangnetCore
import VangnetCrypto

/// Signed checkpoints: they pin the chain, so a rewritten or truncated log fails verification,
/// in the database and in an exported copy; an auditor's own copy of a checkpoint catches a log
/// that was cut short together with its checkpoints.
@Suite struct CheckpointTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "vangnet-checkpoints-\(UUID().uuidString)"
    )
    let key = SigningKeyPair.generate()

    func event(_ i: Int) -> AuditEvent {
        AuditEvent(
            time: Date(timeIntervalSince1970: 1_795_435_200 + Double(i)),
            actor: OIN("00000099000000000219"),
            role: .consumer,
            action: .pull,
            object: "purpose:vsv-opvolging/region:19",
            outcome: i % 4 == 0 ? .refused : .success,
            reason: i % 4 == 0 ? "no_grant" : nil,
            counts: ["records": i],
            region: RegionNumber(19),
            purpose: "vsv-opvolging"
        )
    }

    /// A store signing a checkpoint every 5 entries, with `n` entries.
    func store(_ n: Int = 12) throws -> SQLiteStore {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try SQLiteStore(
            path: directory.appendingPathComponent("audit.sqlite").path,
            auditSigning: AuditSigning(key: key, every: 5)
        )
        for i in 1...n { try store.appendAudit(event(i)) }
        return store
    }

    func isBroken(_ verdict: AuditVerdict, at sequence: Int64, saying words: String) -> Bool {
        guard case .broken(let s, let reason) = verdict else { return false }
        return s == sequence && reason.contains(words)
    }

    @Test func checkpointsAreSignedEveryNEntriesAndVerify() throws {
        let store = try store()
        let checkpoints = try store.auditCheckpoints()
        #expect(checkpoints.map(\.sequence) == [5, 10])
        do {
            let holds = checkpoints.allSatisfy { $0.isSigned(by: key.publicKey) }
            #expect(holds)
        }
        #expect(!checkpoints[0].isSigned(by: SigningKeyPair.generate().publicKey))
        guard case .intact(12, _, 2) = try store.verifyAudit(key: key.publicKey) else {
            Issue.record("not intact")
            return
        }
    }

    @Test func theTimerCheckpointsTheHeadOnlyWhenThereIsSomethingNew() throws {
        let store = try store(12)
        #expect(try store.checkpointAudit(at: Date())?.sequence == 12)
        #expect(try store.checkpointAudit(at: Date()) == nil, "nothing new since")
        guard case .intact(12, _, 3) = try store.verifyAudit(key: key.publicKey) else {
            Issue.record("not intact")
            return
        }
    }

    @Test func aForgedCheckpointSignatureIsDetected() throws {
        let store = try store()
        let other = AuditCheckpoint(
            sequence: 5,
            hash: [UInt8](repeating: 1, count: 32),
            time: Date(),
            key: SigningKeyPair.generate()
        )
        try store.uncheckedExecute("UPDATE audit_checkpoints SET signature = '\(other.signature)' WHERE seq = 5")
        #expect(isBroken(try store.verifyAudit(key: key.publicKey), at: 5, saying: "not signed by the audit key"))
    }

    @Test func aLogCutShortAfterASignedCheckpointIsDetected() throws {
        let store = try store()
        try store.uncheckedExecute("DELETE FROM audit WHERE seq > 7")
        #expect(
            isBroken(
                try store.verifyAudit(key: key.publicKey),
                at: 10,
                saying: "the log ends at entry 7, but a signed checkpoint covers entry 10 (truncated)"
            )
        )
    }

    @Test func aRechainedLogFailsAtTheFirstSignedCheckpoint() throws {
        // An attacker edits entry 3 and recomputes every hash after it (all of this is possible
        // without the audit key); the checkpoint at 5, which they cannot re-sign, no longer matches.
        let store = try store()
        try store.uncheckedExecute("DELETE FROM audit")
        var previous = AuditChain.genesis
        for i in 1...12 {
            var e = event(i)
            if i == 3 { e.counts["records"] = 300 }
            let record = AuditChain.link(e, sequence: Int64(i), previous: previous)
            // The readable columns made to agree with the forged entry (they are checked too).
            try store.uncheckedExecute(
                """
                INSERT INTO audit (seq, time, action, event, prev_hash, hash, outcome, actor, role, region)
                VALUES (\(i), \(e.time.timeIntervalSince1970), '\(e.action.rawValue)', X'\(Hex.encode(AuditChain.canonicalBytes(e)))',
                        X'\(Hex.encode(previous))', X'\(Hex.encode(record.hash))', '\(e.outcome.rawValue)', '\(e.actor!.value)', 'consumer', 19)
                """
            )
            previous = record.hash
        }
        #expect(
            isBroken(try store.verifyAudit(key: key.publicKey), at: 5, saying: "differs from the signed checkpoint")
        )
        // Dropping the checkpoints as well no longer hides it: no entry carries the audit key's
        // signature, which the attacker cannot make. An auditor's held checkpoint catches it too.
        let held = try store.auditCheckpoints().last!
        try store.uncheckedExecute("DELETE FROM audit_checkpoints")
        #expect(isBroken(try store.verifyAudit(key: key.publicKey), at: 1, saying: "the chain is not protected"))
        #expect(
            isBroken(try store.verifyAudit(held: [held], key: key.publicKey), at: 10, saying: "held signed checkpoint")
        )
    }

    @Test func aLogCutShortWithItsCheckpointsIsCaughtByAHeldCheckpoint() throws {
        let store = try store()
        let held = try store.auditCheckpoints().last!
        try store.uncheckedExecute("DELETE FROM audit WHERE seq > 6; DELETE FROM audit_checkpoints WHERE seq > 6")
        guard case .intact = try store.verifyAudit(key: key.publicKey) else {
            Issue.record("a clean cut passes without a held checkpoint")
            return
        }
        #expect(
            isBroken(
                try store.verifyAudit(held: [held], key: key.publicKey),
                at: 10,
                saying: "a held checkpoint covers entry 10 (truncated)"
            )
        )
    }

    @Test(arguments: AuditExport.Format.allCases)
    func anExportVerifiesOfflineAndATamperedCopyDoesNot(format: AuditExport.Format) throws {
        let store = try store()
        var lines: [String] = []
        try store.exportAudit(format) { lines.append($0) }
        #expect(lines.count == (format == .csv ? 1 : 0) + 2 + 12, "header, two checkpoints, twelve entries")
        let text = lines.joined(separator: "\n") + "\n"
        guard case .intact(12, _, 2) = try AuditExport.verify(text, key: key.publicKey) else {
            Issue.record("export does not verify")
            return
        }
        let held = try store.auditCheckpoints().last!
        guard case .intact = try AuditExport.verify(text, held: [held], key: key.publicKey) else {
            Issue.record("held checkpoint not matched")
            return
        }

        let quote = format == .csv ? "\"\"" : "\""
        let edited = text.replacingOccurrences(of: "\(quote)records\(quote):6}", with: "\(quote)records\(quote):60}")
        #expect(edited != text)
        #expect(isBroken(try AuditExport.verify(edited, key: key.publicKey), at: 6, saying: "edited"))
        let entryLines = lines.filter { $0.contains("entry") }
        let withoutSeven = lines.filter { $0 != entryLines[6] }.joined(separator: "\n")
        #expect(
            isBroken(try AuditExport.verify(withoutSeven, key: key.publicKey), at: 8, saying: "record 7 is missing")
        )
        let cut = lines.filter { !entryLines.suffix(4).contains($0) }.joined(separator: "\n")
        #expect(isBroken(try AuditExport.verify(cut, key: key.publicKey), at: 10, saying: "truncated"))
        #expect(throws: AuditExport.ExportError.self) { try AuditExport.verify("not an export\n", key: key.publicKey) }
    }

    @Test func aBatchOfEntriesIsAppendedWholeOrNotAtAll() throws {
        let store = try store(3)
        try store.uncheckedExecute(
            "CREATE TRIGGER fail_at_6 BEFORE INSERT ON audit WHEN NEW.seq = 6 BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
        #expect(throws: (any Error).self) { try store.appendAudit((4...8).map(event)) }
        #expect(try store.auditHead() == 3)
    }
}

/// The canonical encoding is plain JSON with sorted keys: it decodes to the same event, and for
/// whole-millisecond times equals what a general JSON encoder with sorted keys writes.
@Suite struct CanonicalEncodingTests {
    @Test func canonicalBytesAreSortedJSONAndRoundTrip() throws {
        let events = [
            AuditEvent(
                time: Date(timeIntervalSince1970: 1_795_435_200.123),
                actor: OIN("00000099000000000219"),
                role: .consumer,
                action: .pull,
                object: "purpose:vsv-opvolging/region:19",
                outcome: .refused,
                reason: "no_grant",
                counts: ["records": 3, "b": 1, "a.z": 2],
                region: RegionNumber(19),
                purpose: "vsv-opvolging",
                dataset: "duo.onderwijsdeelname"
            ),
            AuditEvent(
                time: Date(timeIntervalSince1970: 1_795_435_200),
                actor: nil,
                role: nil,
                action: .tlsHandshake,
                object: "a \"quoted\" \\ object\nwith\tcontrol \u{1}",
                outcome: .failed
            ),
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        for event in events {
            let bytes = AuditChain.canonicalBytes(event)
            let decoded = try AuditChain.decode(bytes)
            #expect(
                decoded.object == event.object && decoded.counts == event.counts && decoded.region == event.region
                    && decoded.reason == event.reason
            )
            #expect(abs(decoded.time.timeIntervalSince(event.time)) < 0.001)
            var whole = event
            whole.time = decoded.time
            #expect(
                String(decoding: bytes, as: UTF8.self) == String(decoding: try encoder.encode(whole), as: UTF8.self)
            )
        }
    }
}
