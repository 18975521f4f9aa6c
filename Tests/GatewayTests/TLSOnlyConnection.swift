import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// An mTLS connection that completes its handshake and then sends nothing: what a slow-loris
/// sender with a valid certificate holds open. Tells when the gateway closes it.
final class TLSOnlyConnection: Sendable {
    let channel: any Channel
    let handshake: EventLoopFuture<Void>

    /// Connects to 127.0.0.1:`port` with the client certificate `<name>.pem`/`.key` in `directory`
    /// (`nil`: none, a handshake the gateway refuses).
    init(port: Int, certificate name: String?, in directory: URL) async throws {
        let context = try NIOSSLContext(configuration: Self.configuration(certificate: name, in: directory))
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: Void.self)
        channel = try await ClientBootstrap(group: group).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                try channel.pipeline.syncOperations.addHandler(HandshakeWatcher(promise: promise))
            }
        }.connect(host: "127.0.0.1", port: port).get()
        handshake = promise.futureResult
    }

    static func configuration(certificate name: String?, in directory: URL) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv13
        tls.trustRoots = .file(directory.appendingPathComponent("ca.pem").path)
        if let name {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(directory.appendingPathComponent("\(name).pem").path).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: directory.appendingPathComponent("\(name).key").path, format: .pem))
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

    private final class HandshakeWatcher: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<Void>
        init(promise: EventLoopPromise<Void>) { self.promise = promise }
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
