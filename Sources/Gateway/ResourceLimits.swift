import AuditLog
import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import Storage
import Synchronization
import VangnetCore

/// Refusals by a resource limit, counted in the metrics at once and written to the audit log as
/// one `limit.refused` entry per reason (and caller, when known) each second: a flood of refused
/// connections is recorded without becoming a flood of audit writes.
final class LimitRefusals: Sendable {
    struct Key: Hashable, Sendable {
        let reason: String
        let actor: OIN?
    }

    private let pending = Mutex<[Key: Int]>([:])
    private let metrics: GatewayMetrics

    init(metrics: GatewayMetrics) { self.metrics = metrics }

    /// Counts a refusal in the metrics and for the next audit entry.
    func record(_ reason: String) {
        metrics.refusal(reason)
        audit(reason, actor: nil)
    }

    /// Counts a refusal for the next audit entry only (its route counts it in the metrics).
    func audit(_ reason: String, actor: OIN?) {
        pending.withLock { $0[Key(reason: reason, actor: actor), default: 0] += 1 }
    }

    /// Writes what was refused since the last flush.
    func flush(to store: any RecordStore, at time: Date) async throws {
        let counts = pending.withLock { pending in defer { pending = [:] }; return pending }
        for (key, count) in counts.sorted(by: { ($0.key.reason, $0.key.actor?.value ?? "") < ($1.key.reason, $1.key.actor?.value ?? "") }) {
            try await store.appendAudit(AuditEvent(time: time, actor: key.actor, role: nil, action: .limit, object: "connection",
                                                   outcome: .refused, reason: key.reason, counts: ["refusals": count]))
        }
    }
}

/// Open connections, in total and per remote address.
final class ConnectionCount: Sendable {
    private let open = Mutex<(total: Int, perAddress: [String: Int])>((0, [:]))
    let maximum: Int
    let maximumPerAddress: Int

    init(maximum: Int, maximumPerAddress: Int) {
        self.maximum = maximum
        self.maximumPerAddress = maximumPerAddress
    }

    /// Counts a new connection from `address`, or says which limit refuses it.
    func admit(_ address: String) -> String? {
        open.withLock { open in
            if open.total >= maximum { return "too_many_connections" }
            if open.perAddress[address, default: 0] >= maximumPerAddress { return "too_many_connections_from_address" }
            open.total += 1
            open.perAddress[address, default: 0] += 1
            return nil
        }
    }

    func release(_ address: String) {
        open.withLock { open in
            open.total -= 1
            open.perAddress[address, default: 1] -= 1
            if open.perAddress[address] == 0 { open.perAddress[address] = nil }
        }
    }
}

/// Per connection: the connection limits, a deadline for each request's headers (against
/// slow-loris senders), and the record of requests the HTTP decoder refused (headers too large,
/// malformed). Sits after the HTTP decoder, so it sees request parts and decoder errors.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let connections: ConnectionCount
    private let refusals: LimitRefusals
    private let headerTimeout: TimeAmount
    private var started = false
    private var address: String?
    private var deadline: Scheduled<Void>?

    init(connections: ConnectionCount, refusals: LimitRefusals, headerTimeout: TimeAmount) {
        self.connections = connections
        self.refusals = refusals
        self.headerTimeout = headerTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let remote = context.channel.remoteAddress?.ipAddress ?? "unknown"
        if let refused = connections.admit(remote) {
            refusals.record(refused)
            context.close(promise: nil)
            return
        }
        address = remote
        armDeadline(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        if let address { connections.release(address) }
        address = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The response is complete: the next request's headers have their own deadline.
        if case .end = unwrapOutboundIn(data) { armDeadline(context) }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parserError = error as? HTTPParserError {
            refusals.record(parserError == .headerOverflow ? "request_headers_too_large" : "malformed_request")
        }
        context.fireErrorCaught(error)
    }

    private func armDeadline(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        let channel = context.channel, refusals = self.refusals
        deadline = context.eventLoop.scheduleTask(in: headerTimeout) {
            refusals.record("request_headers_too_slow")
            channel.close(promise: nil)
        }
    }
}

/// Requests per caller: a token bucket per OIN that holds a tenth of a minute's allowance and
/// refills at the configured rate.
final class RequestRateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let buckets = Mutex<[OIN: Bucket]>([:])
    private let perSecond: Double
    private let burst: Double

    init(requestsPerMinute: Int) {
        perSecond = Double(requestsPerMinute) / 60
        burst = max(1, Double(requestsPerMinute) / 10)
    }

    /// Takes one request from `caller`'s allowance; `nil` if admitted, otherwise the seconds until
    /// the next request would be.
    func admit(_ caller: OIN, now: ContinuousClock.Instant = .now) -> Int? {
        buckets.withLock { buckets in
            var bucket = buckets[caller] ?? Bucket(tokens: burst, updated: now)
            let elapsed = now - bucket.updated
            bucket.tokens = min(burst, bucket.tokens + perSecond * (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
            bucket.updated = now
            defer { buckets[caller] = bucket }
            guard bucket.tokens >= 1 else { return max(1, Int(((1 - bucket.tokens) / perSecond).rounded(.up))) }
            bucket.tokens -= 1
            return nil
        }
    }
}
