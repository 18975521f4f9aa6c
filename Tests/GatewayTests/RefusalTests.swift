import AuditLog
import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import Testing
import VangnetCore
import VangnetCrypto

/// Every way a caller is refused, each with a clear error; after each, nothing was committed.
@Suite struct RefusalTests {
    let population = Population()

    /// Asserts that the store holds no batch and no record, and that the refusal was audited.
    func assertNothingCommitted(_ gw: TestGateway, audited reason: String? = nil) async throws {
        #expect(try await gw.store.counts() == (batches: 0, records: 0))
        #expect(try await gw.store.storedRecordRows() == 0, "no staged record is left behind")
        if let reason {
            do {
                let holds = try await gw.store.auditEvents().contains { $0.outcome == .refused && $0.reason == reason }
                #expect(holds, "refusal \(reason) audited")
            }
        }
        guard case .intact = try await gw.store.verifyAudit() else {
            Issue.record("audit chain broken")
            return
        }
    }

    @Test func clientWithoutCertificateIsRefusedAtTheHandshake() async throws {
        try await TestGateway.with(.tls) { gw in
            let envelope = try gw.seal(population.duoLines, as: "duo")
            let error = await #expect(throws: (any Error).self) {
                try await gw.using(nil) { try await $0.push(envelope: envelope) }
            }
            #expect(String(describing: error).contains("CERTIFICATE_REQUIRED"), "the TLS alert says why")
            try await assertNothingCommitted(gw)
        }
    }

    @Test func certificateFromAnotherCAIsRefusedAtTheHandshake() async throws {
        try await TestGateway.with(.tls) { gw in
            let envelope = try gw.seal(population.duoLines, as: "duo")
            let error = await #expect(throws: (any Error).self) {
                try await gw.using("duo", pki: "rogue") { try await $0.push(envelope: envelope) }
            }
            // swift-nio-ssl lets a custom verifier send only certificate_unknown; the audit log says why.
            #expect(
                String(describing: error).contains("CERTIFICATE_UNKNOWN"),
                "refused with a TLS alert at the handshake"
            )
            let audited = try await eventually {
                try await gw.store.auditEvents().contains {
                    $0.reason == "tls_untrusted_certificate" && $0.actor == nil
                }
            }
            #expect(audited, "audited with its reason, and without the unverified certificate's OIN")
            try await assertNothingCommitted(gw)
        }
    }

    @Test func unknownOINIsRefusedAndAudited() async throws {
        try await TestGateway.with { gw in
            let push = try await gw.using("stranger") {
                try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo"))
            }
            let pull = try await gw.using("stranger") { try await $0.pull(purpose: "vsv-opvolging") }
            for answer in [push, pull] {
                #expect(answer.refusal?.status == 403)
                #expect(answer.refusal?.code == "unknown_organisation")
            }
            try await assertNothingCommitted(gw, audited: "unknown_organisation")
            do {
                let holds = try await gw.store.auditEvents().contains {
                    $0.action == .identity && $0.actor == TestGateway.stranger
                }
                #expect(holds)
            }
        }
    }

    @Test func batchSignedWithAnotherOrganisationsKeyIsRefused() async throws {
        try await TestGateway.with { gw in
            // DUO's certificate, DUO named as source, but signed with UWV's registered key.
            let answer = try await gw.using("duo") {
                try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo", signedBy: "uwv"))
            }
            #expect(answer.refusal?.status == 403)
            #expect(answer.refusal?.code == "unknown_signing_key")
            try await assertNothingCommitted(gw, audited: "unknown_signing_key")
        }
    }

    @Test func envelopeNamingAnotherSourceThanTheCertificateIsRefused() async throws {
        try await TestGateway.with { gw in
            let answer = try await gw.using("uwv") {
                try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo"))
            }
            #expect(answer.refusal?.code == "source_mismatch")
            try await assertNothingCommitted(gw, audited: "source_mismatch")
        }
    }

    @Test func sourcePushingAnotherDatasetIsRefused() async throws {
        try await TestGateway.with { gw in
            // UWV's own key and OIN, but the DUO dataset.
            let envelope = try EnvelopeSealer(
                source: DevelopmentSetup.uwv,
                signingKey: gw.signingKey("uwv"),
                recipient: gw.gatewayBoxKey
            )
            .seal(
                payload: Array(population.duoLines.joined(separator: "\n").utf8),
                batchId: BatchID(),
                dataset: "duo.onderwijsdeelname",
                createdAt: TestGateway.now,
                recordCount: population.duoLines.count
            )
            let answer = try await gw.using("uwv") { try await $0.push(envelope: envelope) }
            #expect(answer.refusal?.code == "dataset_not_allowed")
            try await assertNothingCommitted(gw, audited: "dataset_not_allowed")
        }
    }

    @Test func tamperedCiphertextIsRefused() async throws {
        try await TestGateway.with { gw in
            var envelope = try gw.seal(population.duoLines, as: "duo")
            envelope[envelope.count - 200] ^= 0x20
            let answer = try await gw.using("duo") { try await $0.push(envelope: envelope) }
            #expect(answer.refusal?.status == 400)
            #expect(answer.refusal?.code == "envelope_decryption_failed")
            try await assertNothingCommitted(gw, audited: "envelope_decryption_failed")
        }
    }

    @Test func truncatedEnvelopeIsRefused() async throws {
        try await TestGateway.with { gw in
            let envelope = try gw.seal(population.duoLines, as: "duo")
            let answer = try await gw.using("duo") { try await $0.push(envelope: Array(envelope.dropLast(40))) }
            #expect(answer.refusal?.status == 400)
            #expect(answer.refusal?.code == "envelope_truncated")
            try await assertNothingCommitted(gw, audited: "envelope_truncated")
        }
    }

    /// An empty body, or one that does not begin with the magic, is not an envelope (malformed); a
    /// body cut inside the magic is a cut-off envelope (truncated). As the vectors say.
    @Test(arguments: [
        ("empty", "envelope_malformed"), ("garbage", "envelope_malformed"), ("cut magic", "envelope_truncated"),
    ])
    func aBodyThatIsNoEnvelopeIsMalformedAndACutOneTruncated(body: String, code: String) async throws {
        try await TestGateway.with { gw in
            let bytes: [UInt8] =
                switch body {
                case "empty": []
                case "garbage": Array("not an envelope at all".utf8)
                default: Array(try gw.seal(population.duoLines, as: "duo").prefix(5))
                }
            let answer = try await gw.using("duo") { try await $0.push(envelope: bytes) }
            #expect(answer.refusal?.status == 400)
            #expect(answer.refusal?.code == code, "\(body)")
            try await assertNothingCommitted(gw, audited: code)
        }
    }

    /// Correctly encrypted and signed by the source, but the chunks break the layout: a short
    /// chunk that is not the last, a chunk tagged push; or no chunk is final (the body ends at a
    /// frame boundary), which is truncated whatever the signature's bytes.
    @Test(arguments: [
        ("short", "envelope_chunk_invalid"), ("push", "envelope_chunk_invalid"), ("no final", "envelope_truncated"),
    ])
    func anEnvelopeWhoseChunksBreakTheLayoutIsRefused(layout: String, code: String) async throws {
        try await TestGateway.with { gw in
            let payload = Array((population.duoLines.joined(separator: "\n") + "\n").utf8)
            let size = payload.count / 3
            let first = Array(payload[..<size])
            let second = Array(payload[size..<2 * size])
            let chunks: [(plaintext: [UInt8], tag: SecretStream.Tag)] =
                switch layout {
                case "short":
                    [(first, .message), (Array(second.dropLast()), .message), (Array(payload[(2 * size)...]), .final)]
                case "push": [(first, .message), (second, .push), (Array(payload[(2 * size)...]), .final)]
                default: [(first, .message), (second, .message)]
                }
            let envelope = try EnvelopeSealer(
                source: DevelopmentSetup.duo,
                signingKey: gw.signingKey("duo"),
                recipient: gw.gatewayBoxKey,
                chunkSize: size
            )
            .seal(
                chunks: chunks,
                dataset: "duo.onderwijsdeelname",
                createdAt: TestGateway.now,
                recordCount: population.duoLines.count
            )
            let answer = try await gw.using("duo") { try await $0.push(envelope: envelope) }
            #expect(answer.refusal?.status == 400)
            #expect(answer.refusal?.code == code)
            try await assertNothingCommitted(gw, audited: code)
        }
    }

    @Test func brokenSignatureIsRefused() async throws {
        try await TestGateway.with { gw in
            var envelope = try gw.seal(population.duoLines, as: "duo")
            envelope[envelope.count - 1] ^= 0x01
            let answer = try await gw.using("duo") { try await $0.push(envelope: envelope) }
            #expect(answer.refusal?.code == "envelope_bad_signature")
            try await assertNothingCommitted(gw, audited: "envelope_bad_signature")
        }
    }

    @Test func batchCreatedOutsideTheTimeWindowIsRefused() async throws {
        try await TestGateway.with { gw in
            let stale = try gw.seal(
                population.duoLines,
                as: "duo",
                createdAt: TestGateway.now.addingTimeInterval(-30 * 86400)
            )
            let answer = try await gw.using("duo") { try await $0.push(envelope: stale) }
            #expect(answer.refusal?.status == 422)
            #expect(answer.refusal?.code == "batch_outside_time_window")
            try await assertNothingCommitted(gw, audited: "batch_outside_time_window")
        }
    }

    @Test func headerAnnouncingAnotherRecordCountIsRefused() async throws {
        try await TestGateway.with { gw in
            let envelope = try gw.seal(population.duoLines, as: "duo", recordCount: population.duoLines.count + 1)
            let answer = try await gw.using("duo") { try await $0.push(envelope: envelope) }
            #expect(answer.refusal?.code == "record_count_mismatch")
            try await assertNothingCommitted(gw, audited: "record_count_mismatch")
        }
    }

    @Test func notAnEnvelopeIsRefused() async throws {
        try await TestGateway.with { gw in
            let answer = try await gw.using("duo") {
                try await $0.push(envelope: Array(population.duoLines.joined(separator: "\n").utf8))
            }
            #expect(answer.refusal?.code == "envelope_malformed")
            #expect(!answer.body.contains(population.utrechtLeavers[0].bsn))
            try await assertNothingCommitted(gw, audited: "envelope_malformed")
        }
    }

    @Test func consumerWithoutAGrantIsRefused() async throws {
        try await TestGateway.with { gw in
            let answer = try await gw.using("region-amsterdam") { try await $0.pull(purpose: "kwetsbare-jongeren") }
            #expect(answer.refusal?.status == 403)
            #expect(answer.refusal?.code == "no_grant")
            do {
                let holds = try await gw.store.auditEvents().contains {
                    $0.action == .pull && $0.outcome == .refused && $0.reason == "no_grant"
                }
                #expect(holds)
            }
        }
    }

    @Test func unknownPurposeIsRefused() async throws {
        try await TestGateway.with { gw in
            let answer = try await gw.using("region-utrecht") { try await $0.pull(purpose: "everything") }
            #expect(answer.refusal?.code == "unknown_purpose")
        }
    }

    @Test(arguments: [
        ("duo", "pull"), ("auditor", "pull"), ("region-utrecht", "push"), ("auditor", "push"), ("monitor", "push"),
    ])
    func callerWithTheWrongRoleIsRefused(name: String, action: String) async throws {
        try await TestGateway.with { gw in
            let answer = try await gw.using(name) { client in
                action == "pull"
                    ? try await client.pull(purpose: "vsv-opvolging")
                    : try await client.push(envelope: try gw.seal(population.duoLines, as: "duo"))
            }
            #expect(answer.refusal?.status == 403)
            #expect(answer.refusal?.code == "wrong_role")
            try await assertNothingCommitted(gw, audited: "wrong_role")
        }
    }

    /// A push by a consumer or the auditor is refused for its role before its body is read: not
    /// as a malformed, truncated or foreign envelope, which would tell the caller about the body.
    @Test func aPushByAnyoneButASourceIsWrongRoleWhateverItsBody() async throws {
        try await TestGateway.with { gw in
            let envelope = try gw.seal(population.duoLines, as: "duo")
            let bodies: [(String, [UInt8])] = [
                ("garbage", Array("not an envelope".utf8)), ("empty", []),
                ("truncated", Array(envelope.prefix(40))), ("tampered", envelope.map { $0 ^ 0x01 }),
            ]
            for name in ["region-utrecht", "auditor"] {
                for (label, body) in bodies {
                    let answer = try await gw.using(name) { try await $0.push(envelope: body) }
                    #expect(
                        answer.refusal?.status == 403 && answer.refusal?.code == "wrong_role",
                        "\(name), \(label) body"
                    )
                }
            }
            // Refused at the edge, audited there with the route: no batch was begun.
            let events = try await gw.store.auditEvents()
            let refused = events.filter { $0.action == .identity && $0.outcome == .refused }
            do {
                let holds =
                    refused.count == 8
                    && refused.allSatisfy { $0.reason == "wrong_role" && $0.object == "route:POST /v1/batches" }
                    && !events.contains { $0.action == .batchPush }
                #expect(holds)
            }
            try await assertNothingCommitted(gw)
        }
    }

    /// A body whose chunked encoding breaks off is the client's error (400), audited, and leaves nothing.
    @Test func aPushWithABrokenChunkedEncodingIs400BodyMalformed() async throws {
        try await TestGateway.with(.tls) { gw in
            let envelope = try gw.seal(population.duoLines, as: "duo")
            let connection = try await TLSOnlyConnection(port: gw.port, certificate: "duo", in: gw.certs)
            try await connection.handshakeCompleted()
            let head =
                "POST /v1/batches HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/vnd.vangnet.envelope.v1\r\nTransfer-Encoding: chunked\r\n\r\n"
            let chunk = Array(envelope.prefix(64))
            try await connection.send(
                Array(head.utf8) + Array(String(chunk.count, radix: 16).utf8) + [13, 10] + chunk
                    + Array("\r\nzz-not-a-size\r\n".utf8)
            )
            let answer = await connection.response(within: .seconds(10))
            await connection.close()
            #expect(answer.hasPrefix("HTTP/1.1 400"), "answered 400, not 500")
            #expect(answer.contains(#""error":"body_malformed""#))
            try await assertNothingCommitted(gw, audited: "body_malformed")
        }
    }

    @Test func anUnknownPathIs404AndAKnownPathWithAnotherMethodIs405BothWithAJSONError() async throws {
        try await TestGateway.with(.tls) { gw in
            let missing = try await gw.using("region-utrecht") { try await $0.get("/v1/nothing-here") }
            #expect(missing.status == 404 && missing.refusal?.code == "not_found")
            #expect(missing.headers["content-type"] == "application/json")
            let wrongMethod = try await gw.using("region-utrecht") { try await $0.get("/v1/batches") }
            #expect(wrongMethod.status == 405 && wrongMethod.refusal?.code == "method_not_allowed")
            // A path with a capture: another method is 405 with the route's methods, one more segment is 404.
            let beyond = try await gw.using("region-utrecht") {
                try await $0.get("/v1/purposes/vsv-opvolging/records/more")
            }
            #expect(beyond.status == 404 && beyond.refusal?.code == "not_found")
            let connection = try await TLSOnlyConnection(port: gw.port, certificate: "region-utrecht", in: gw.certs)
            try await connection.handshakeCompleted()
            try await connection.send(
                Array("DELETE /v1/purposes/vsv-opvolging/records HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
            )
            let answer = await connection.response(within: .seconds(10)).lowercased()
            await connection.close()
            #expect(answer.hasPrefix("http/1.1 405"))
            #expect(answer.contains("\r\nallow: get\r\n") && answer.contains(#""error":"method_not_allowed""#))
        }
    }

    @Test func secretKeyFileReadableByOthersIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-keys-\(UUID().uuidString)"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        try GatewayKeys.create(in: directory)
        _ = try GatewayKeys.load(from: directory)
        try FileManager.default.setAttributes(
            [.posixPermissions: 0o644],
            ofItemAtPath: directory.appendingPathComponent("pseudonym-root.e1.key").path
        )
        #expect(throws: KeyFile.Failure.self) { try GatewayKeys.load(from: directory) }
        try FileManager.default.removeItem(at: directory.appendingPathComponent("audit-signing.key"))
        let missing = try #require(throws: KeyFile.Failure.self) { try GatewayKeys.load(from: directory) }
        #expect(missing.reason.hasPrefix("missing"))
    }
}
