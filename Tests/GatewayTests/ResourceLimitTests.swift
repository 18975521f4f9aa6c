import AuditLog
import Foundation
import Gateway
import Testing
import VangnetCore

#if canImport(Glibc)
import Glibc
import VangnetClient
#endif

/// Resource limits against a hostile network: per-caller request rates, connections in total and
/// per address, a deadline for request headers (slow-loris) and a maximum header size. Each
/// refusal is counted in the metrics and summarised in the audit log.
@Suite struct ResourceLimitTests {
    /// A plain TCP connection to the gateway's port (no TLS): what a flood or a slow-loris opens.
    final class RawConnection {
        let socket: Int32
        init(port: Int, receiveTimeoutSeconds: Int = 2) throws {
            socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else { throw ConfigurationError("connect failed") }
            var timeout = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
            setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        /// Whether the server closed the connection (a read returns end of file) within the receive timeout.
        func closedByServer() -> Bool {
            var byte: UInt8 = 0
            return recv(socket, &byte, 1, 0) == 0
        }
        deinit { close(socket) }
    }

    func limitEntries(_ gw: TestGateway, _ reason: String) async throws -> Int {
        try await gw.store.auditEvents().filter { $0.action == .limit && $0.reason == reason }.reduce(0) {
            $0 + ($1.counts["refusals"] ?? 0)
        }
    }

    @Test func theBucketHoldsATenthOfAMinuteAndRefillsAtTheRate() throws {
        let limiter = RequestRateLimiter(requestsPerMinute: 60)  // a burst of 6, one a second
        let utrecht = try #require(OIN("00000099000000000219"))
        let amsterdam = try #require(OIN("00000099000000000220"))
        let start = ContinuousClock.now
        let burst = (0..<7).map { _ in limiter.admit(utrecht, now: start) }
        let admittedAtOnce = burst.prefix(6).filter { $0 == nil }.count
        #expect(admittedAtOnce == 6, "a burst of a tenth of the minute's allowance")
        #expect(burst.last == 1, "then told to wait a second")
        #expect(limiter.admit(amsterdam, now: start) == nil, "another caller has its own bucket")
        #expect(limiter.admit(utrecht, now: start + .milliseconds(500)) == 1, "half a token is not a request")
        #expect(limiter.admit(utrecht, now: start + .milliseconds(1_000)) == nil, "a second refills one")
        #expect(limiter.admit(utrecht, now: start + .milliseconds(1_000)) == 1)
        let later = start + .seconds(3_600)
        let afterAnHour = (0..<7).map { _ in limiter.admit(utrecht, now: later) }
        let refusedAfterAnHour = afterAnHour.compactMap { $0 }.count
        #expect(refusedAfterAnHour == 1, "an idle hour refills no more than the burst")
    }

    @Test func aCallerOverItsRateIsToldToWaitAndOthersAreNot() async throws {
        try await TestGateway.with(limits: .init(requestsPerMinute: 1)) { gw in
            // One a minute: a burst of one, then nothing for 60 s, so a busy machine cannot refill
            // the bucket during the loop (the refill arithmetic is held by the test above).
            let answers = try await gw.using("region-utrecht") { client in
                var answers: [GatewayClient.Answer] = []
                for _ in 0..<10 { answers.append(try await client.get("/v1/me")) }
                return answers
            }
            // Plain loops, no closure literal inside `#expect`: inside an enclosing closure this
            // toolchain gives a closure written after an `#expect` closure the `#expect` closure's
            // body (reproduced in Toolchain/expect-closure-collision).
            let statuses = answers.map(\.status)
            #expect(statuses.first == 200)
            var refused: [GatewayClient.Answer] = []
            for answer in answers where answer.status == 429 { refused.append(answer) }
            #expect(refused.count == 9, "\(statuses)")
            for answer in refused {
                #expect(answer.refusal?.code == "rate_limited")
                #expect((Int(answer.headers["retry-after"] ?? "") ?? 0) >= 1)
            }
            do {
                let actual = try await gw.using("region-amsterdam") { try await $0.get("/v1/me") }.status
                #expect(actual == 200, "another caller has its own allowance")
            }
            do {
                let holds = try await eventually { try await limitEntries(gw, "rate_limited") == refused.count }
                #expect(holds, "the refusals are audited")
            }
            let utrecht = try await gw.store.auditEvents().first { $0.action == .limit }
            #expect(utrecht?.actor?.value == "00000099000000000219")
            let metrics = try await gw.using("monitor") { try await $0.get("/metrics") }
            #expect(metrics.body.contains(#"vangnet_refusals_total{code="rate_limited"} \#(refused.count)"#))
        }
    }

    @Test func connectionsOverTheLimitAreClosed() async throws {
        try await TestGateway.with(.tls, limits: .init(maxConnectionsPerAddress: 3)) { gw in
            // Three callers whose kept-alive connections the gateway has counted (each answered).
            let held = try ["region-utrecht", "region-amsterdam", "auditor"].map { try gw.client($0) }
            for client in held { #expect(try await client.get("/v1/me").status == 200) }
            #expect(
                try RawConnection(port: gw.port).closedByServer(),
                "a fourth connection from the address is closed at once"
            )
            let refused = try? await gw.using("duo") { try await $0.get("/v1/me") }
            #expect(refused == nil, "so is a real client's, while three are held")
            try await held[0].shutdown()
            do {
                let holds = try await eventually {
                    (try? await gw.using("duo") { try await $0.get("/v1/me") })?.status == 200
                }
                #expect(
                    holds,
                    "the limit counts open connections: a closed one makes room"
                )
            }
            for client in held.dropFirst() { try await client.shutdown() }
            do {
                let holds = try await eventually {
                    try await limitEntries(gw, "too_many_connections_from_address") >= 2
                }
                #expect(holds)
            }
        }
    }

    @Test func aConnectionThatSendsNoHeadersIsClosedAtItsDeadline() async throws {
        try await TestGateway.with(.tls, limits: .init(idleTimeoutSeconds: 60, headerTimeoutSeconds: 1)) { gw in
            // A caller that completes its handshake and then sends nothing (slow-loris).
            let silent = try await TLSOnlyConnection(port: gw.port, certificate: "region-utrecht", in: gw.certs)
            try await silent.handshakeCompleted()
            let started = ContinuousClock.now
            #expect(
                await silent.closedByServer(within: .seconds(4)),
                "closed by the header deadline, long before the idle timeout"
            )
            #expect(ContinuousClock.now - started < .seconds(4))
            do {
                let holds = try await eventually { try await limitEntries(gw, "request_headers_too_slow") == 1 }
                #expect(holds)
            }
            // A client that sends its request in time is served as before.
            do {
                let actual = try await gw.using("region-utrecht") { try await $0.get("/v1/me") }.status
                #expect(actual == 200)
            }
        }
    }

    @Test func requestHeadersOverTheLimitAreRefused() async throws {
        try await TestGateway.with(.tls, limits: .init(maxHeaderBytes: 4096)) { gw in
            let padding = [("X-Padding", String(repeating: "a", count: 8000))]
            let small = [("X-Padding", "small")]
            let big = try? await gw.using("region-utrecht") { try await $0.get("/v1/me", headers: padding) }
            #expect(big == nil || big?.status == 431 || big?.status == 400, "\(big?.status ?? 0)")
            do {
                let holds = try await eventually { try await limitEntries(gw, "request_headers_too_large") == 1 }
                #expect(holds)
            }
            let normal = try await gw.using("region-utrecht") { try await $0.get("/v1/me", headers: small) }
            #expect(normal.status == 200)
        }
    }
}
