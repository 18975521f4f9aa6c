import Gateway
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypes
import NIOTLS
import Testing

/// The connection limits and deadlines of `ConnectionGuard` on an `EmbeddedChannel`: its own
/// event loop's clock, so every bound is exact and no test waits for real time.
@Suite struct ConnectionGuardTests {
    static let handshakeTimeout = TimeAmount.seconds(2), headerTimeout = TimeAmount.seconds(10)

    /// A guarded connection from `address`, connected (so the guard has admitted or refused it).
    struct Connection {
        let channel: EmbeddedChannel
        var isOpen: Bool { channel.isActive }

        init(_ table: ConnectionTable, _ refusals: RefusalSummary, from address: String = "192.0.2.1") throws {
            channel = EmbeddedChannel(
                handler: ConnectionGuard(
                    connections: table,
                    refusals: refusals,
                    handshakeTimeout: ConnectionGuardTests.handshakeTimeout,
                    headerTimeout: ConnectionGuardTests.headerTimeout
                )
            )
            // An embedded channel's peer is the address it connects to.
            try channel.connect(to: try SocketAddress(ipAddress: address, port: 50_000)).wait()
        }

        func handshakeCompletes() {
            channel.pipeline.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: nil))
        }
        func advance(_ time: TimeAmount) { channel.embeddedEventLoop.advanceTime(by: time) }
        func requestHead() throws {
            try channel.writeInbound(
                HTTPRequestPart.head(HTTPRequest(method: .get, scheme: "https", authority: "gw", path: "/v1/me"))
            )
        }
        func responseEnds() throws { try channel.writeOutbound(HTTPResponsePart.end(nil)) }
    }

    static func table(handshakes: Int = 10, authenticated: Int = 10, perAddress: Int = 10) -> ConnectionTable {
        ConnectionTable(
            maximumHandshakes: handshakes,
            maximumAuthenticated: authenticated,
            maximumPerAddress: perAddress
        )
    }

    /// How many refusals of `reason` the metrics counted.
    static func refused(_ metrics: GatewayMetrics, _ reason: String) -> Int {
        let prefix = #"vangnet_refusals_total{code="\#(reason)"} "#
        return metrics.exposition().split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap {
            Int($0.dropFirst(prefix.count))
        } ?? 0
    }

    @Test func aHandshakeIsClosedExactlyAtItsDeadline() throws {
        let metrics = GatewayMetrics()
        let connection = try Connection(Self.table(), RefusalSummary(metrics: metrics))
        connection.advance(.milliseconds(1_999))
        #expect(connection.isOpen, "open until the deadline")
        connection.advance(.milliseconds(1))
        #expect(!connection.isOpen, "closed at 2 s")
        #expect(Self.refused(metrics, "tls_handshake_too_slow") == 1)
    }

    @Test func aRequestsHeadersHaveTheirDeadlineFromTheHandshakeAndAfterEachResponse() throws {
        let metrics = GatewayMetrics()
        let connection = try Connection(Self.table(), RefusalSummary(metrics: metrics))
        connection.advance(.seconds(1))
        connection.handshakeCompletes()
        // The handshake's deadline is gone; the headers' runs from the handshake.
        connection.advance(.milliseconds(9_999))
        #expect(connection.isOpen)
        try connection.requestHead()
        connection.advance(.seconds(60))
        #expect(connection.isOpen, "a request being answered has no header deadline")
        try connection.responseEnds()
        connection.advance(.milliseconds(9_999))
        #expect(connection.isOpen)
        connection.advance(.milliseconds(1))
        #expect(!connection.isOpen, "the next request's headers did not come within 10 s of the response")
        #expect(
            Self.refused(metrics, "request_headers_too_slow") == 1
                && Self.refused(metrics, "tls_handshake_too_slow") == 0
        )
    }

    @Test func anAddressOverItsLimitIsRefusedAndAClosedConnectionGivesItsPlaceBack() throws {
        let metrics = GatewayMetrics()
        let refusals = RefusalSummary(metrics: metrics)
        let table = Self.table(perAddress: 2)
        let first = try Connection(table, refusals)
        let second = try Connection(table, refusals)
        let third = try Connection(table, refusals)
        #expect(first.isOpen && second.isOpen && !third.isOpen)
        #expect(Self.refused(metrics, "too_many_connections_from_address") == 1)
        let elsewhere = try Connection(table, refusals, from: "198.51.100.7")
        #expect(elsewhere.isOpen, "another address has its own allowance")
        _ = try first.channel.finish()
        let fourth = try Connection(table, refusals)
        #expect(fourth.isOpen, "the closed connection's place is free again")
    }

    @Test func aFullHandshakeTableEvictsTheHeaviestAddressesOldestHandshake() throws {
        let metrics = GatewayMetrics()
        let refusals = RefusalSummary(metrics: metrics)
        let table = Self.table(handshakes: 3)
        let flood = try (0..<3).map { _ in try Connection(table, refusals, from: "203.0.113.9") }
        let caller = try Connection(table, refusals, from: "192.0.2.1")
        let states = flood.map(\.isOpen)
        #expect(states == [false, true, true], "the flood's oldest handshake made room")
        #expect(caller.isOpen && Self.refused(metrics, "handshake_evicted") == 1)
        // The flood's address still holds the most handshakes: its newcomer is the one refused.
        let more = try Connection(table, refusals, from: "203.0.113.9")
        let after = flood.map(\.isOpen) + [more.isOpen, caller.isOpen]
        #expect(after == [false, true, true, false, true])
        #expect(Self.refused(metrics, "too_many_handshakes") == 1)
    }

    @Test func theAuthenticatedTableIsSeparateAndFullMeansClosedAfterTheHandshake() throws {
        let metrics = GatewayMetrics()
        let refusals = RefusalSummary(metrics: metrics)
        let table = Self.table(authenticated: 1)
        let first = try Connection(table, refusals)
        let second = try Connection(table, refusals, from: "198.51.100.7")
        first.handshakeCompletes()
        #expect(first.isOpen)
        second.handshakeCompletes()
        #expect(!second.isOpen && Self.refused(metrics, "too_many_connections") == 1)
    }

    @Test func decoderErrorsAreCountedByKind() throws {
        let metrics = GatewayMetrics()
        let connection = try Connection(Self.table(), RefusalSummary(metrics: metrics))
        connection.handshakeCompletes()
        connection.channel.pipeline.fireErrorCaught(HTTPParserError.headerOverflow)
        connection.channel.pipeline.fireErrorCaught(HTTPParserError.invalidChunkSize)
        #expect(
            Self.refused(metrics, "request_headers_too_large") == 1 && Self.refused(metrics, "malformed_request") == 1
        )
    }
}
