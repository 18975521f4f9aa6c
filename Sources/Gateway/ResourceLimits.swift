import AuditLog
import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOTLS
import Storage
import Synchronization
import VangnetCore

/// Refusals that arrive in floods (resource limits, refused TLS handshakes), counted in the
/// metrics at once and written to the audit log as one entry per action, reason (and caller, when
/// known) each second, with the exact count: a flood of refused connections is recorded without
/// becoming a flood of audit writes, and no refusal costs a task of its own.
package final class RefusalSummary: Sendable {
    struct Key: Hashable, Sendable {
        let action: AuditEvent.Action
        let reason: String
        let actor: OIN?
    }

    private let pending = Mutex<[Key: Int]>([:])
    private let metrics: GatewayMetrics

    package init(metrics: GatewayMetrics) { self.metrics = metrics }

    /// A connection or request refused by a resource limit (`limit.refused`), counted in the
    /// metrics too.
    func limit(_ reason: String) {
        metrics.refusal(reason)
        count(Key(action: .limit, reason: reason, actor: nil))
    }

    /// A request over its caller's rate, for the audit log only (its route counts it in the metrics).
    func rateLimited(_ caller: OIN) {
        count(Key(action: .limit, reason: "rate_limited", actor: caller))
    }

    /// A TLS handshake the gateway refused (`tls.handshake`), with the caller's OIN where the
    /// certificate showed one.
    func handshake(_ reason: String, actor: OIN? = nil) {
        metrics.refusal(reason)
        count(Key(action: .tlsHandshake, reason: reason, actor: actor))
    }

    private func count(_ key: Key) {
        pending.withLock { $0[key, default: 0] += 1 }
    }

    /// Writes what was refused since the last flush.
    func flush(to store: any RecordStore, at time: Date) async throws {
        let counts = pending.withLock { pending in
            defer { pending = [:] }
            return pending
        }
        let order = { (key: Key) in (key.action.rawValue, key.reason, key.actor?.value ?? "") }
        for (key, count) in counts.sorted(by: { order($0.key) < order($1.key) }) {
            try await store.appendAudit(
                AuditEvent(
                    time: time,
                    actor: key.actor,
                    role: nil,
                    action: key.action,
                    object: "connection",
                    outcome: .refused,
                    reason: key.reason,
                    counts: ["refusals": count]
                )
            )
        }
    }
}

/// Open connections: those still in their TLS handshake apart from authenticated ones, and both
/// per remote address.
///
/// An unauthenticated peer cannot take capacity from authenticated callers: handshakes have a
/// table of their own (`maxHandshakes`). When it is full, the address holding the most handshakes
/// gives way: its oldest handshake is closed for the newcomer, or, if the newcomer's own address
/// holds the most, the newcomer is refused. A flood from a few addresses thus takes at most their
/// share of the table, and a caller from any other address still gets its handshake through.
package final class ConnectionTable: Sendable {
    /// What a new connection is told.
    enum Admission {
        /// Admitted under `id`; `evicted` is a handshake to close to make room.
        case admitted(id: UInt64, evicted: (any Channel)?)
        case refused(reason: String)
    }

    private struct State {
        var nextID: UInt64 = 0
        var handshaking: [UInt64: (address: String, channel: any Channel)] = [:]
        /// Per address, its handshakes' ids, oldest first (ids grow).
        var handshakesFrom: [String: [UInt64]] = [:]
        var authenticated: [UInt64: String] = [:]
        var perAddress: [String: Int] = [:]

        mutating func remove(_ id: UInt64) {
            let address: String
            if let entry = handshaking.removeValue(forKey: id) {
                address = entry.address
                removeHandshake(id, from: address)
            } else if let known = authenticated.removeValue(forKey: id) {
                address = known
            } else {
                return
            }
            perAddress[address, default: 1] -= 1
            if perAddress[address] == 0 { perAddress[address] = nil }
        }

        mutating func removeHandshake(_ id: UInt64, from address: String) {
            handshakesFrom[address]?.removeAll { $0 == id }
            if handshakesFrom[address]?.isEmpty == true { handshakesFrom[address] = nil }
        }
    }

    private let state = Mutex(State())
    let maximumHandshakes: Int
    let maximumAuthenticated: Int
    let maximumPerAddress: Int

    package init(maximumHandshakes: Int, maximumAuthenticated: Int, maximumPerAddress: Int) {
        self.maximumHandshakes = maximumHandshakes
        self.maximumAuthenticated = maximumAuthenticated
        self.maximumPerAddress = maximumPerAddress
    }

    /// Counts a new connection from `address` as a handshake, or says which limit refuses it.
    func admit(_ address: String, channel: any Channel) -> Admission {
        state.withLock { state in
            if state.perAddress[address, default: 0] >= maximumPerAddress {
                return .refused(reason: "too_many_connections_from_address")
            }
            var evicted: (any Channel)?
            if state.handshaking.count >= maximumHandshakes {
                let own = state.handshakesFrom[address]?.count ?? 0
                guard let (heaviest, ids) = state.handshakesFrom.max(by: { $0.value.count < $1.value.count }),
                    own + 1 <= ids.count, heaviest != address, let oldest = ids.first
                else {
                    return .refused(reason: "too_many_handshakes")
                }
                evicted = state.handshaking[oldest]?.channel
                state.remove(oldest)
            }
            state.nextID += 1
            state.handshaking[state.nextID] = (address, channel)
            state.handshakesFrom[address, default: []].append(state.nextID)
            state.perAddress[address, default: 0] += 1
            return .admitted(id: state.nextID, evicted: evicted)
        }
    }

    /// Moves a connection whose handshake completed to the authenticated table. Returns the reason
    /// when it may not stay: that table is full, or the connection was evicted meanwhile (its
    /// close is under way).
    func authenticate(_ id: UInt64) -> String? {
        state.withLock { state in
            guard let entry = state.handshaking[id] else { return "handshake_evicted" }
            guard state.authenticated.count < maximumAuthenticated else { return "too_many_connections" }
            state.handshaking[id] = nil
            state.removeHandshake(id, from: entry.address)
            state.authenticated[id] = entry.address
            return nil
        }
    }

    func release(_ id: UInt64) { state.withLock { $0.remove(id) } }
}

/// Per connection: the connection limits, a short deadline for the TLS handshake, a deadline for
/// each request's headers (against slow-loris senders), and the record of requests the HTTP
/// decoder refused (headers too large, malformed). Sits after the HTTP decoder, so it sees request
/// parts, decoder errors and the TLS handshake's completion.
package final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    package typealias InboundIn = HTTPRequestPart
    package typealias InboundOut = HTTPRequestPart
    package typealias OutboundIn = HTTPResponsePart
    package typealias OutboundOut = HTTPResponsePart

    /// Where the connection is in its life.
    private enum Phase {
        case new
        case handshaking(id: UInt64)
        case authenticated(id: UInt64)
        case closed
    }

    private let connections: ConnectionTable
    private let refusals: RefusalSummary
    private let handshakeTimeout: TimeAmount
    private let headerTimeout: TimeAmount
    private var phase = Phase.new
    private var deadline: Scheduled<Void>?

    package init(
        connections: ConnectionTable,
        refusals: RefusalSummary,
        handshakeTimeout: TimeAmount,
        headerTimeout: TimeAmount
    ) {
        self.connections = connections
        self.refusals = refusals
        self.handshakeTimeout = handshakeTimeout
        self.headerTimeout = headerTimeout
    }

    package func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    package func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard case .new = phase else { return }
        switch connections.admit(context.channel.remoteAddress?.ipAddress ?? "unknown", channel: context.channel) {
        case .refused(let reason):
            phase = .closed
            refusals.limit(reason)
            context.close(promise: nil)
        case .admitted(let id, let evicted):
            phase = .handshaking(id: id)
            if let evicted {
                refusals.limit("handshake_evicted")
                evicted.close(promise: nil)
            }
            arm(context, after: handshakeTimeout, reason: "tls_handshake_too_slow")
        }
    }

    package func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent, case .handshaking(let id) = phase {
            if let refused = connections.authenticate(id) {
                // An evicted connection was counted when it was evicted.
                if refused != "handshake_evicted" { refusals.limit(refused) }
                context.close(promise: nil)
                return
            }
            phase = .authenticated(id: id)
            arm(context, after: headerTimeout, reason: "request_headers_too_slow")
        }
        context.fireUserInboundEventTriggered(event)
    }

    package func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        switch phase {
        case .handshaking(let id), .authenticated(let id): connections.release(id)
        case .new, .closed: break
        }
        phase = .closed
        context.fireChannelInactive()
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The response is complete: the next request's headers have their own deadline.
        if case .end = unwrapOutboundIn(data) { arm(context, after: headerTimeout, reason: "request_headers_too_slow") }
        context.write(data, promise: promise)
    }

    package func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parserError = error as? HTTPParserError {
            refusals.limit(parserError == .headerOverflow ? "request_headers_too_large" : "malformed_request")
        }
        context.fireErrorCaught(error)
    }

    private func arm(_ context: ChannelHandlerContext, after timeout: TimeAmount, reason: String) {
        deadline?.cancel()
        let channel = context.channel
        let refusals = self.refusals
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            refusals.limit(reason)
            channel.close(promise: nil)
        }
    }
}

/// Requests per caller: a token bucket per OIN that holds a tenth of a minute's allowance and
/// refills at the configured rate.
package final class RequestRateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let buckets = Mutex<[OIN: Bucket]>([:])
    private let perSecond: Double
    private let burst: Double

    package init(requestsPerMinute: Int) {
        perSecond = Double(requestsPerMinute) / 60
        burst = max(1, Double(requestsPerMinute) / 10)
    }

    /// Takes one request from `caller`'s allowance; `nil` if admitted, otherwise the seconds until
    /// the next request would be.
    package func admit(_ caller: OIN, now: ContinuousClock.Instant = .now) -> Int? {
        buckets.withLock { buckets in
            var bucket = buckets[caller] ?? Bucket(tokens: burst, updated: now)
            let elapsed = now - bucket.updated
            bucket.tokens = min(
                burst,
                bucket.tokens + perSecond
                    * (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            )
            bucket.updated = now
            defer { buckets[caller] = bucket }
            guard bucket.tokens >= 1 else { return max(1, Int(((1 - bucket.tokens) / perSecond).rounded(.up))) }
            bucket.tokens -= 1
            return nil
        }
    }
}
