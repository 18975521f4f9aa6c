import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// An mTLS connection that completes its handshake and then sends nothing: what a slow-loris
/// sender with a valid certificate holds open. Tells when the gateway closes it. It can also
/// send raw bytes (a request no HTTP client would write) and collect what comes back.
final class TLSOnlyConnection: Sendable {
    let channel: any Channel
    let handshake: EventLoopFuture<Void>
    private let inbox = Inbox()

    /// Connects to 127.0.0.1:`port` with the client certificate `<name>.pem`/`.key` in `directory`
    /// (`nil`: none, a handshake the gateway refuses).
    init(port: Int, certificate name: String?, in directory: URL) async throws {
        let context = try NIOSSLContext(configuration: Self.configuration(certificate: name, in: directory))
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: Void.self)
        let inbox = self.inbox
        channel = try await ClientBootstrap(group: group).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    NIOSSLClientHandler(context: context, serverHostname: nil)
                )
                try channel.pipeline.syncOperations.addHandler(HandshakeWatcher(promise: promise, inbox: inbox))
            }
        }.connect(host: "127.0.0.1", port: port).get()
        handshake = promise.futureResult
    }

    static func configuration(certificate name: String?, in directory: URL) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv13
        tls.trustRoots = .file(directory.appendingPathComponent("ca.pem").path)
        if let name {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(
                directory.appendingPathComponent("\(name).pem").path
            ).map { .certificate($0) }
            tls.privateKey = .privateKey(
                try NIOSSLPrivateKey(file: directory.appendingPathComponent("\(name).key").path, format: .pem)
            )
        }
        return tls
    }

    /// Waits for the handshake to complete.
    func handshakeCompleted() async throws { try await handshake.get() }

    /// Whether the gateway closed the connection within `timeout`.
    func closedByServer(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !channel.isActive { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return !channel.isActive
    }

    func close() async { try? await channel.close() }

    /// Sends `bytes` as they are.
    func send(_ bytes: [UInt8]) async throws { try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get() }

    /// What the gateway sent, as text, once an HTTP response's head and a body line are in, the
    /// gateway closed the connection, or `timeout` passed.
    func response(within timeout: Duration) async -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, channel.isActive {
            let text = inbox.text
            if let end = text.range(of: "\r\n\r\n"), text[end.upperBound...].contains("\n") { return text }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return inbox.text
    }

    private final class Inbox: Sendable {
        private let bytes = Mutex<[UInt8]>([])
        func append(_ buffer: ByteBuffer) { bytes.withLock { $0 += buffer.readableBytesView } }
        var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }
    }

    private final class HandshakeWatcher: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<Void>
        let inbox: Inbox
        init(promise: EventLoopPromise<Void>, inbox: Inbox) { (self.promise, self.inbox) = (promise, inbox) }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { inbox.append(unwrapInboundIn(data)) }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .handshakeCompleted = event as? TLSUserEvent { promise.succeed() }
            context.fireUserInboundEventTriggered(event)
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(ChannelError.ioOnClosedChannel)
            context.fireChannelInactive()
        }
    }
}
