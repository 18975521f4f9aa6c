import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import Records
import Testing
import VangnetClient
import VangnetCore

/// Thousands of hostile envelopes pushed at a running gateway over mTLS: bit flips, truncations,
/// splices of two valid batches, the wrong signer, the wrong source or dataset, stale replays,
/// oversize envelopes and headers, and batches of malformed records. Every one is refused with a
/// documented code (or, for records, rejected line by line with one), nothing of them is
/// committed, no answer holds a BSN, and the gateway still serves afterwards.
///
/// `VANGNET_HOSTILE_ENVELOPES` sets the number (default 10,000); `VANGNET_HOSTILE_SEED` the seed.
@Suite struct HostileCorpusTests {
    /// Every code docs/errors.md documents for a push.
    static let pushCodes: Set<String> = [
        "envelope_malformed", "envelope_unsupported_version", "envelope_wrong_recipient",
        "envelope_payload_key_unreadable",
        "envelope_decryption_failed", "envelope_truncated", "envelope_trailing_data", "envelope_bad_signature",
        "envelope_too_large",
        "unknown_signing_key", "source_mismatch", "dataset_not_allowed", "batch_outside_time_window",
        "record_count_mismatch",
        "too_many_records", "unsupported_schema_version", "batch_id_conflict",
    ]
    static let envelopeCodes = pushCodes.filter { $0.hasPrefix("envelope_") }
    /// Every reason docs/errors.md documents for a rejected record.
    static let recordCodes = Set(RecordRejection.Reason.allCases.map(\.rawValue))

    enum Kind: CaseIterable {
        case bitFlip, truncation, splice, wrongSigner, wrongSource, wrongDataset, staleReplay, oversizeEnvelope,
            oversizeHeader,
            malformedRecords, identicalReplay
    }

    @Test func everyHostileEnvelopeIsRefusedWithItsCodeAndNothingIsCommitted() async throws {
        let environment = ProcessInfo.processInfo.environment
        let total = environment["VANGNET_HOSTILE_ENVELOPES"].flatMap(Int.init) ?? 10_000
        let seed = environment["VANGNET_HOSTILE_SEED"].flatMap(UInt64.init) ?? 20_261_123
        let limits = GatewayConfiguration.Limits(
            maxEnvelopeBytes: 32 * 1024,
            maxRecords: 200,
            maxRecordBytes: 2048,
            requestsPerMinute: 6_000_000
        )
        try await TestGateway.with(limits: limits) { gw in
            var random = SplitMix64(seed: seed)
            var synth = SyntheticRecords(seed: seed)
            let people = synth.people(400, in: ["GM0344", "GM0355", "GM0363"].map { MunicipalityCode($0)! })
            let bsns = Set(people.map(\.bsn))
            func lines(_ n: Int) -> [String] {
                (0..<n).map { _ in
                    synth.duoLine(for: people[Int(random.next() % UInt64(people.count))], earlyLeaver: true)
                }
            }

            // One committed batch, the target of the identical replays.
            let committed = try gw.seal(lines(5), as: "duo")
            let first = try await gw.using("duo") { try await $0.push(envelope: committed) }
            #expect(first.status == 201)
            let baseline = try await gw.store.counts()

            let corpus: [(Kind, [UInt8])] = try (0..<total).map { i in
                let kind = Kind.allCases[i % Kind.allCases.count]
                switch kind {
                case .bitFlip:
                    var bytes = try gw.seal(lines(4), as: "duo")
                    let bit = Int(random.next() % UInt64(bytes.count * 8))
                    bytes[bit / 8] ^= UInt8(1 << (bit % 8))
                    return (kind, bytes)
                case .truncation:
                    let bytes = try gw.seal(lines(4), as: "duo")
                    return (kind, Array(bytes.prefix(Int(random.next() % UInt64(bytes.count)))))
                case .splice:
                    // Cut after the first byte where they differ, or the splice would simply be b.
                    let a = try gw.seal(lines(4), as: "duo")
                    let b = try gw.seal(lines(4), as: "duo")
                    let shorter = min(a.count, b.count)
                    let differ = (0..<shorter).first { a[$0] != b[$0] } ?? 0
                    let cut = differ + 1 + Int(random.next() % UInt64(shorter - differ - 1))
                    return (kind, Array(a[..<cut] + b[cut...]))
                case .wrongSigner: return (kind, try gw.seal(lines(4), as: "duo", signedBy: "uwv"))
                case .wrongSource:
                    return (kind, try gw.seal(lines(4), as: "duo", sourceOIN: DevelopmentSetup.uwv, batchId: BatchID()))
                case .wrongDataset:
                    return (kind, try gw.seal(lines(4), as: "uwv", signedBy: "duo", sourceOIN: DevelopmentSetup.duo))
                case .staleReplay:
                    return (
                        kind,
                        try gw.seal(lines(4), as: "duo", createdAt: TestGateway.now.addingTimeInterval(-60 * 86_400))
                    )
                case .oversizeEnvelope: return (kind, try gw.seal(lines(150), as: "duo"))
                case .oversizeHeader: return (kind, try gw.seal(lines(4), as: "duo", recordCount: 100_000))
                case .malformedRecords: return (kind, try gw.seal(Self.malformed(lines(6), &random), as: "duo"))
                case .identicalReplay: return (kind, committed)
                }
            }

            // Four callers at once, as a hostile source would.
            let answers = try await withThrowingTaskGroup(of: [(Kind, GatewayClient.Answer)].self) { group in
                for lane in 0..<4 {
                    group.addTask {
                        try await gw.using("duo") { client in
                            var out: [(Kind, GatewayClient.Answer)] = []
                            for index in stride(from: lane, to: corpus.count, by: 4) {
                                out.append((corpus[index].0, try await client.push(envelope: corpus[index].1)))
                            }
                            return out
                        }
                    }
                }
                return try await group.reduce(into: [(Kind, GatewayClient.Answer)]()) { $0 += $1 }
            }
            #expect(answers.count == total)

            var byCode: [String: Int] = [:]
            var malformedBatches = 0
            for (kind, answer) in answers {
                for bsn in Self.nineDigitRuns(answer.body) where bsns.contains(bsn) {
                    Issue.record("a BSN in the answer to a \(kind) envelope")
                }
                switch kind {
                case .identicalReplay:
                    #expect(
                        answer.status == 200 && answer.body == first.body,
                        "an identical replay gets the first receipt"
                    )
                case .malformedRecords:
                    // Accepted as a batch: every line rejected with its reason, no record stored.
                    guard answer.status == 201,
                        let signed = try? JSONDecoder().decode(SignedReceipt.self, from: Data(answer.body.utf8)),
                        let receipt = try? signed.verified(with: try gw.gatewaySigningKey)
                    else {
                        Issue.record("malformed records: \(answer.status) \(answer.refusal?.code ?? "")")
                        continue
                    }
                    malformedBatches += 1
                    #expect(receipt.accepted == 0 && receipt.rejections.count == 6)
                    do {
                        let holds = receipt.rejections.allSatisfy { Self.recordCodes.contains($0.reason.rawValue) }
                        #expect(holds)
                    }
                default:
                    guard let refusal = answer.refusal, (400..<500).contains(refusal.status) else {
                        Issue.record("a \(kind) envelope was not refused: \(answer.status)")
                        continue
                    }
                    byCode[refusal.code, default: 0] += 1
                    #expect(Self.expected(kind).contains(refusal.code), "\(kind): \(refusal.code) (\(refusal.message))")
                }
            }
            // Every kind of hostility was exercised and answered as documented.
            #expect(
                byCode.keys.contains("envelope_bad_signature") && byCode.keys.contains("envelope_truncated"),
                "\(byCode)"
            )

            // Nothing of it stored: the malformed batches hold no record; nothing staged is left.
            let after = try await gw.store.counts()
            #expect(after.records == baseline.records)
            #expect(after.batches == baseline.batches + malformedBatches)
            #expect(try await gw.store.storedRecordRows() == baseline.records)
            #expect(try await gw.store.verifyAudit().isIntact)

            // And the gateway still serves an honest source.
            let honest = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(lines(3), as: "duo")) }
            #expect(honest.status == 201)
        }
    }

    /// The codes a refusal of `kind` may carry.
    static func expected(_ kind: Kind) -> Set<String> {
        switch kind {
        // A flipped bit lands in the framing, the header (any of its checks), the ciphertext or the signature.
        case .bitFlip: pushCodes.subtracting(["batch_id_conflict"])
        case .truncation: ["envelope_truncated", "envelope_malformed"]
        case .splice: envelopeCodes
        case .wrongSigner: ["unknown_signing_key"]
        case .wrongSource: ["source_mismatch"]
        case .wrongDataset: ["dataset_not_allowed"]
        case .staleReplay: ["batch_outside_time_window"]
        case .oversizeEnvelope: ["envelope_too_large"]
        case .oversizeHeader: ["too_many_records"]
        case .malformedRecords, .identicalReplay: []
        }
    }

    /// Lines broken in the ways a careless or hostile source breaks them.
    static func malformed(_ lines: [String], _ random: inout SplitMix64) -> [String] {
        lines.enumerated().map { i, line in
            switch (i + Int(random.next() % 6)) % 6 {
            case 0: String(line.dropLast(Int(random.next() % 20) + 1))  // cut short: invalid JSON
            case 1: line.replacingOccurrences(of: #""vsv":true"#, with: #""vsv":"ja""#)  // wrong type
            case 2: line.replacingOccurrences(of: "GM0", with: "GX0")  // invalid municipality code
            case 3: line.replacingOccurrences(of: "}", with: #","extra":1}"#)  // unknown field
            case 4: #"{"bsn":"000000001"}"#  // invalid BSN
            default: String(repeating: "x", count: 4_000)  // longer than maxRecordBytes
            }
        }
    }

    /// Every run of exactly nine digits in `text` (a BSN's shape).
    static func nineDigitRuns(_ text: String) -> [String] {
        var runs: [String] = []
        var current = ""
        for character in text + " " {
            if character.isASCII && character.isNumber {
                current.append(character)
                continue
            }
            if current.count == 9 { runs.append(current) }
            current = ""
        }
        return runs
    }
}
