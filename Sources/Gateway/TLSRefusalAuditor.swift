import AuditLog
import NIOCore
import NIOSSL
import Storage
import VangnetCore

/// Writes an audit entry for every TLS handshake the gateway refuses: a client without a
/// certificate, with one that does not chain to the configured CA, or one that fails otherwise.
/// These callers never reach a route, so this is the only trace they leave.
final class TLSRefusalAuditor: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny

    let store: any RecordStore
    let clock: any WallClock

    init(store: any RecordStore, clock: any WallClock) {
        self.store = store
        self.clock = clock
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let reason = Self.reason(error) {
            // Written off the event loop (a burst of bad handshakes must not stall other
            // connections). A failed write cannot stop a handshake that already failed.
            let event = AuditEvent(time: clock.now(), actor: nil, role: nil, action: .tlsHandshake,
                                   object: "connection", outcome: .refused, reason: reason)
            Task.detached { [store] in try? await store.appendAudit(event) }
        }
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
