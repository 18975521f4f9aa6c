import AuditLog
import Foundation
import Testing
import VangnetCore
import VangnetCrypto

/// docs/test-vectors/audit-v1.json (made by the Python client, clients/python/make_audit_vectors.py):
/// the gateway's own chain code gives the same canonical bytes, hashes, API time text and
/// checkpoint signature, so a client written from docs/audit.md verifies what the gateway writes.
@Suite struct AuditVectorTests {
    struct Vectors: Decodable {
        struct Row: Decodable {
            struct Entry: Decodable {
                let seq: Int64
                let time: String
                let actor: String?
                let role: String?
                let action: String
                let object: String
                let region: Int?
                let purpose: String?
                let dataset: String?
                let outcome: String
                let reason: String?
                let counts: [String: Int]
            }
            let entry: Entry
            let canonical: String
            let hash: String
        }
        struct Checkpoint: Decodable {
            let sequence: Int64
            let hash: String
            let time: Int64
            let signature: String
        }
        let auditSigningSeed: String
        let auditKey: String
        let entries: [Row]
        let checkpoint: Checkpoint
    }

    let v: Vectors = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../docs/test-vectors/audit-v1.json"
        )
        return try! JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
    }()

    func event(_ e: Vectors.Row.Entry, milliseconds: Int64) -> AuditEvent {
        let actor: OIN? = e.actor.flatMap { OIN($0) }
        let role: Role? = e.role.flatMap { Role(rawValue: $0) }
        let region: RegionNumber? = e.region.flatMap { RegionNumber($0) }
        let purpose: PurposeID? = e.purpose.map { PurposeID($0) }
        let dataset: DatasetID? = e.dataset.map { DatasetID($0) }
        return AuditEvent(
            time: Date(timeIntervalSince1970: Double(milliseconds) / 1000),
            actor: actor,
            role: role,
            action: AuditEvent.Action(rawValue: e.action)!,
            object: e.object,
            outcome: AuditEvent.Outcome(rawValue: e.outcome)!,
            reason: e.reason,
            counts: e.counts,
            region: region,
            purpose: purpose,
            dataset: dataset
        )
    }

    @Test func theGatewaysChainGivesTheVectorsBytesHashesAndTimes() throws {
        #expect(v.entries.count >= 2)
        var previous = AuditChain.genesis
        for row in v.entries {
            let canonical = Array(row.canonical.utf8)
            let ms = try #require(Int64(row.canonical.split(separator: "\"time\":").last!.dropLast()))
            let made = AuditChain.canonicalBytes(event(row.entry, milliseconds: ms))
            #expect(String(decoding: made, as: UTF8.self) == row.canonical, "entry \(row.entry.seq)")
            #expect(AuditChain.text(milliseconds: ms) == row.entry.time, "the API's time of entry \(row.entry.seq)")
            previous = AuditChain.hash(canonical, sequence: row.entry.seq, previous: previous)
            #expect(Hex.encode(previous) == row.hash, "entry \(row.entry.seq)")
        }
    }

    @Test func theCheckpointIsTheOneTheGatewaySigns() throws {
        let key = try SigningKeyPair(seed: SecretBytes(Hex.decode(v.auditSigningSeed)!))
        #expect(Data(key.publicKey.bytes).base64EncodedString() == v.auditKey)
        let signed = AuditCheckpoint(
            sequence: v.checkpoint.sequence,
            hash: Hex.decode(v.checkpoint.hash)!,
            time: Date(timeIntervalSince1970: Double(v.checkpoint.time) / 1000),
            key: key
        )
        #expect(signed.signature == v.checkpoint.signature)
        #expect(signed.isSigned(by: key.publicKey))
    }
}
