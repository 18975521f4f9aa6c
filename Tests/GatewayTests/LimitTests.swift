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
            let answer = try await gw.using("duo") {
                try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo"))
            }
            #expect(answer.refusal?.status == 413)
            #expect(answer.refusal?.code == "envelope_too_large")
            #expect(try await gw.store.storedRecordRows() == 0)
        }
    }

    @Test func batchAnnouncingTooManyRecordsIsRefused() async throws {
        try await TestGateway.with(limits: .init(maxRecords: 10)) { gw in
            let answer = try await gw.using("duo") {
                try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo"))
            }
            #expect(answer.refusal?.status == 413)
            #expect(answer.refusal?.code == "too_many_records")
            #expect(try await gw.store.storedRecordRows() == 0)
        }
    }

    @Test func payloadHoldingMoreRecordsThanTheLimitIsRefused() async throws {
        try await TestGateway.with(limits: .init(maxRecords: 10)) { gw in
            // The header understates the count; the limit holds while streaming all the same.
            let answer = try await gw.using("duo") {
                try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo", recordCount: 5))
            }
            #expect(answer.refusal?.code == "too_many_records")
            #expect(try await gw.store.storedRecordRows() == 0)
        }
    }

    @Test func recordLongerThanTheLimitIsRejectedAndTheRestGoesOn() async throws {
        try await TestGateway.with(limits: .init(maxRecordBytes: 400)) { gw in
            var lines = Array(population.duoLines.prefix(3))
            lines.insert(#"{"bsn":"123456782","brin":""# + String(repeating: "A", count: 500) + #""}"#, at: 1)
            let answer = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(lines, as: "duo")) }
            #expect(answer.status == 201)
            #expect(answer.body.contains(#"\"line\":2,\"reason\":\"record_too_large\""#))
            #expect(try await gw.store.counts().records == 3)
        }
    }

    @Test func slowSenderIsCutOff() async throws {
        try await TestGateway.with(.tls, limits: .init(maxUploadSeconds: 1)) { gw in
            let envelope = try gw.seal(population.duoLines, as: "duo")
            // The pause starts when the client has sent the first part, so connection set-up time
            // on a busy machine cannot hide it.
            let body = SlowBody(
                parts: [Array(envelope[..<1000]), Array(envelope[1000...])],
                pause: .milliseconds(3000)
            )
            let answer = try await gw.using("duo") {
                try await $0.push(body: .stream(body, length: .known(Int64(envelope.count))))
            }
            #expect(answer.refusal?.status == 408)
            #expect(answer.refusal?.code == "upload_too_slow")
            #expect(try await gw.store.storedRecordRows() == 0)
        }
    }
}

/// A request body that sends its parts with a pause before each part after the first.
struct SlowBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let parts: [[UInt8]]
    let pause: Duration

    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: [[UInt8]]
        let pause: Duration
        var first = true
        mutating func next() async throws -> ByteBuffer? {
            guard !remaining.isEmpty else { return nil }
            if !first { try await Task.sleep(for: pause) }
            first = false
            return ByteBuffer(bytes: remaining.removeFirst())
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(remaining: parts, pause: pause) }
}
