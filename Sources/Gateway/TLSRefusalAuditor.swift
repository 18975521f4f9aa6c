import NIOCore
import NIOSSL
import NIOTLS
import VangnetCore
import X509

/// Records every TLS handshake the gateway refuses: a client without a certificate, with one that
/// does not chain to the configured CA, or one that fails otherwise. These callers never reach a
/// route, so this is the only trace they leave. They are counted in the ``RefusalSummary`` (one
/// `tls.handshake` audit entry per reason and second, with the exact count), never one entry or
/// one task per refusal: an unauthenticated flood cannot become a flood of audit writes.
///
/// It also ends the handshake of a client whose certificate the revocation list in force names
/// (or of every client, when the list is past its nextUpdate and `tls.crlFailClosed` is set): the
/// connection is closed as soon as the handshake completes, before any request is read.
final class TLSRefusalAuditor: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny

    let refusals: RefusalSummary
    let revocation: Revocation
    let clock: any WallClock

    init(refusals: RefusalSummary, revocation: Revocation, clock: any WallClock) {
        self.refusals = refusals
        self.revocation = revocation
        self.clock = clock
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent, revocation.list != nil,
           let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
           let der = try? handler.peerCertificate?.toDERBytes(), let certificate = try? Certificate(derEncoded: der),
           let refused = revocation.refusal(for: certificate, at: clock.now()) {
            refusals.handshake(refused, actor: try? CallerIdentity.oin(in: certificate))
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let reason = Self.reason(error) { refusals.handshake(reason) }
        context.fireErrorCaught(error)
    }

    /// A stable reason code for a TLS error, or `nil` for errors that are not handshake refusals.
    static func reason(_ error: any Error) -> String? {
        guard error is NIOSSLError || error is BoringSSLError else { return nil }
        let text = String(describing: error)
        if text.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE") { return "tls_no_certificate" }
        if text.contains("CERTIFICATE_VERIFY_FAILED") { return "tls_untrusted_certificate" }
        // The client hung up (browsers open spare connections and close them): not a refusal.
        if case NIOSSLError.uncleanShutdown = error { return nil }
        if text.contains("EOF during handshake") { return nil }
        return "tls_handshake_failed"
    }
}
