import NIOCore
import NIOSSL

/// Records TLS handshakes that fail before the client certificate verifier had its say: a client
/// without a certificate, or one whose handshake fails otherwise. (Certificates that are presented
/// and refused are counted by the ``ClientCertificateVerifier`` with their precise reason.) These
/// callers never reach a route, so this is the only trace they leave. They are counted in the
/// ``RefusalSummary`` (one `tls.handshake` audit entry per reason and second, with the exact
/// count), never one entry or one task per refusal: an unauthenticated flood cannot become a
/// flood of audit writes.
final class TLSRefusalAuditor: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny

    let refusals: RefusalSummary

    init(refusals: RefusalSummary) { self.refusals = refusals }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let reason = Self.reason(error) { refusals.handshake(reason) }
        context.fireErrorCaught(error)
    }

    /// A stable reason code for a TLS error, or `nil` for errors that are not handshake refusals
    /// (or were counted by the verifier).
    static func reason(_ error: any Error) -> String? {
        guard error is NIOSSLError || error is BoringSSLError else { return nil }
        let text = String(describing: error)
        if text.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE") { return "tls_no_certificate" }
        // The client certificate verifier counted this refusal already, with its precise reason.
        if text.contains("CERTIFICATE_VERIFY_FAILED") { return nil }
        // The client hung up (browsers open spare connections and close them): not a refusal.
        if case NIOSSLError.uncleanShutdown = error { return nil }
        if text.contains("EOF during handshake") { return nil }
        return "tls_handshake_failed"
    }
}
