import AccessPolicy
import AuditLog
import Hummingbird
import Logging
import VangnetCore
import X509

/// Where the caller's verified certificate comes from: in the gateway, the TLS connection the
/// request arrived on (``CallerIdentity/verifiedPeerCertificate``). Router-level tests, where TLS
/// is not the subject, hand in a certificate of the same development PKI.
package typealias PeerCertificate = @Sendable (Request, GatewayRequestContext) async throws -> Certificate

/// The gateway's edge, in one place for every route of the API: reads the OIN from the verified
/// client certificate, checks it against the revocation list, asks the policy who it is, applies
/// the per-caller rate limit, and puts the ``Caller`` in the context. Every refusal of the edge
/// (no OIN, revoked, unknown organisation, and a role that the route's group does not take) is
/// audited here, as `identity.check`; rate-limit refusals are counted and summarised.
struct CallerMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let gateway: Gateway
    let peerCertificate: PeerCertificate

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let caller = try await identify(request, context)
        context.caller = caller
        do {
            return try await next(request, context)
        } catch let refusal as RoleRefusal {
            // The route's template, never the path itself: a path is input.
            try await audit(
                refusal.caller.oin,
                role: refusal.caller.role,
                object: "route:\(request.method) \(context.endpointPath ?? "(unknown)")",
                reason: GatewayRefusal.Code.wrongRole
            )
            throw GatewayRefusal(.wrongRole, refusal.message)
        }
    }

    private func identify(_ request: Request, _ context: Context) async throws -> Caller {
        let oin: OIN
        let certificate: Certificate
        do {
            certificate = try await peerCertificate(request, context)
            oin = try CallerIdentity.oin(in: certificate)
        } catch {
            try await audit(nil, role: nil, object: "connection", reason: .noOIN)
            throw GatewayRefusal(.noOIN, String(describing: error))
        }
        // A connection opened before its certificate was revoked ends its service here.
        switch gateway.revocation.refusal(for: certificate, at: gateway.clock.now()) {
        case .revoked:
            try await audit(oin, role: nil, object: "connection", reason: .certificateRevoked)
            throw GatewayRefusal(.certificateRevoked, "the client certificate is on the client CA's revocation list")
        case .listExpired:
            try await audit(oin, role: nil, object: "connection", reason: .crlExpired)
            throw GatewayRefusal(
                .crlExpired,
                "the client CA's revocation list is past its nextUpdate; the gateway refuses every client until a current one is in place"
            )
        case nil:
            break
        }
        switch gateway.policy.identify(oin) {
        case .deny(let denial):
            let refusal = GatewayRefusal(denial)
            try await audit(oin, role: nil, object: "connection", reason: refusal.code)
            throw refusal
        case .permit(let caller):
            if let wait = gateway.rateLimiter.admit(oin) {
                gateway.refusals.rateLimited(oin)
                throw GatewayRefusal(
                    .rateLimited,
                    "more than \(gateway.configuration.gateway.limits.requestsPerMinute) requests a minute; try again in \(wait) s",
                    retryAfter: wait
                )
            }
            return caller
        }
    }

    /// Appends the refusal to the audit chain; if that fails, the request fails with it.
    private func audit(_ actor: OIN?, role: Role?, object: String, reason: GatewayRefusal.Code) async throws {
        try await gateway.store.appendAudit(
            AuditEvent(
                time: gateway.clock.now(),
                actor: actor,
                role: role,
                action: .identity,
                object: object,
                outcome: .refused,
                reason: reason.rawValue
            )
        )
    }
}

/// Around every route of the API: a refusal becomes its JSON error response (logged by code), any
/// other error a 500 without detail (logged by type only: an error could carry input), and each
/// answer is counted with its latency under the route's template.
struct RequestAccountingMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let metrics: GatewayMetrics
    let logger: Logger

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let started = ContinuousClock.now
        let route = context.endpointPath ?? "(unknown)"
        let response: Response
        do {
            response = try await next(request, context)
        } catch let refusal as GatewayRefusal {
            logger.info(
                "request refused",
                metadata: ["route": "\(route)", "code": "\(refusal.code.rawValue)", "status": "\(refusal.status.code)"]
            )
            metrics.refusal(refusal.code.rawValue)
            response = refusal.response()
        } catch {
            logger.error("request failed", metadata: ["route": "\(route)", "error.type": "\(type(of: error))"])
            metrics.refusal("internal_error")
            response = GatewayRefusal(
                .internalError,
                "the gateway could not complete the request; nothing was committed"
            ).response()
        }
        metrics.request(route, status: response.status.code, duration: ContinuousClock.now - started)
        return response
    }
}
