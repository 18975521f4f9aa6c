import AsyncHTTPClient
import Foundation
import Gateway
import NIOCore
import Testing

/// Limits from configuration, enforced while the envelope streams in, each with a clear code.
@Suite struct LimitTests {
    let population = Population()

    @Test func envelopeLargerThanTheLimitIsRefusedWithNothingCommitted() async throws {
        try await TestGateway.with(limits: .init(maxEnvelopeBytes: 4096)) { gw in
            let answer = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo")) }
            #expect(answer.refusal?.status == 413)
            #expect(answer.refusal?.code == "envelope_too_large")
            #expect(try gw.store.storedRecordRows() == 0)
        }
    }

    @Test func batchAnnouncingTooManyRecordsIsRefused() async throws {
        try await TestGateway.with(limits: .init(maxRecords: 10)) { gw in
            let answer = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo")) }
            #expect(answer.refusal?.status == 413)
            #expect(answer.refusal?.code == "too_many_records")
            #expect(try gw.store.storedRecordRows() == 0)
        }
    }

    @Test func payloadHoldingMoreRecordsThanTheLimitIsRefused() async throws {
        try await TestGateway.with(limits: .init(maxRecords: 10)) { gw in
            // The header understates the count; the limit holds while streaming all the same.
            let answer = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo", recordCount: 5)) }
            #expect(answer.refusal?.code == "too_many_records")
            #expect(try gw.store.storedRecordRows() == 0)
        }
    }

    @Test func recordLongerThanTheLimitIsRejectedAndTheRestGoesOn() async throws {
        try await TestGateway.with(limits: .init(maxRecordBytes: 400)) { gw in
            var lines = Array(population.duoLines.prefix(3))
            lines.insert(#"{"bsn":"123456782","brin":""# + String(repeating: "A", count: 500) + #""}"#, at: 1)
            let answer = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(lines, as: "duo")) }
            #expect(answer.status == 201)
            #expect(answer.body.contains(#"\"line\":2,\"reason\":\"record_too_large\""#))
            #expect(try gw.store.counts().records == 3)
        }
    }

    @Test func slowSenderIsCutOff() async throws {
        try await TestGateway.with(limits: .init(maxUploadSeconds: 1)) { gw in
            let envelope = try gw.seal(population.duoLines, as: "duo")
            let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
            let sender = Task {
                continuation.yield(ByteBuffer(bytes: envelope[..<1000]))
                try await Task.sleep(for: .milliseconds(1500))
                continuation.yield(ByteBuffer(bytes: envelope[1000...]))
                continuation.finish()
            }
            let answer = try await gw.using("duo") { try await $0.push(body: .stream(stream, length: .known(Int64(envelope.count)))) }
            _ = try? await sender.value
            #expect(answer.refusal?.status == 408)
            #expect(answer.refusal?.code == "upload_too_slow")
            #expect(try gw.store.storedRecordRows() == 0)
        }
    }
}
