import AccessPolicy
import AuditLog
import BatchEnvelope
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Storage
import VangnetCore

extension Gateway {
    /// The HTTP API (documented in `docs/api.md`):
    ///
    /// | route | who | what |
    /// |---|---|---|
    /// | `POST /v1/batches` | source | push an envelope; 201 + signed receipt (200 for an identical retry) |
    /// | `GET /v1/purposes/{purpose}/records` | consumer | pull a page (`view=current|changes`, `cursor`, `limit`, `format=ndjson|csv`) |
    /// | `GET /v1/me` | anyone known | who the gateway takes the caller for, what it may do, and for a consumer what each purpose gives it and why |
    /// | `GET /v1/policy/explain` | auditor | the same explanation for any consumer and purpose (`consumer`, `purpose`) |
    /// | `GET /v1/audit/verify` | auditor | recompute the audit chain and check its signed checkpoints |
    /// | `GET /v1/audit/entries` | auditor | audit entries, filtered and paged |
    /// | `GET /v1/audit/checkpoints` | auditor | the signed checkpoints (keep the latest to detect truncation later) |
    /// | `GET /review` | auditor | the review page (HTML) |
    /// | `GET /healthz` | anyone with a certificate | liveness |
    /// | `GET /readyz` | anyone with a certificate | readiness: the store answers, a policy is in force |
    /// | `GET /metrics` | monitor, auditor | Prometheus metrics |
    func addRoutes(to router: Router<GatewayRequestContext>) {
        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: Self.plainText, body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }

        router.get("/readyz") { _, _ in
            // Ready when the store answers and a checked policy is in force.
            do {
                _ = try await store.auditHead()
                _ = policy.fingerprint
                return Response(
                    status: .ok,
                    headers: Self.plainText,
                    body: .init(byteBuffer: ByteBuffer(string: "ready\n"))
                )
            } catch {
                logger.error("not ready: the store does not answer", metadata: ["error.type": "\(type(of: error))"])
                return Response(
                    status: .serviceUnavailable,
                    headers: Self.plainText,
                    body: .init(byteBuffer: ByteBuffer(string: "not ready: store unavailable\n"))
                )
            }
        }

        router.get("/metrics") { _, context in
            try await respond("/metrics") {
                let caller = try await identify(context)
                guard caller.role == .monitor || caller.role == .auditor else {
                    throw GatewayRefusal(.wrongRole, "only the monitor and auditor roles may read metrics")
                }
                return Response(
                    status: .ok,
                    headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: metrics.exposition()))
                )
            }
        }

        router.post("/v1/batches") { request, context in
            try await respond("/v1/batches") {
                let caller = try await identify(context)
                switch try await ingest.ingest(request.body, caller: caller) {
                case .committed(let receipt): return try json(receipt, status: .created)
                case .duplicate(let receipt): return try json(receipt, status: .ok)
                }
            }
        }

        router.get("/v1/purposes/:purpose/records") { request, context in
            try await respond("/v1/purposes/:purpose/records") {
                let caller = try await identify(context)
                let purpose = PurposeID(context.parameters.get("purpose") ?? "")
                let query = request.uri.queryParameters
                var view: DeliveryView?
                if let text = query.get("view") {
                    guard let v = DeliveryView(rawValue: text) else {
                        throw GatewayRefusal(.invalidQuery, "view must be current or changes")
                    }
                    view = v
                }
                guard let limit = Int(query.get("limit") ?? "1000"), limit > 0 else {
                    throw GatewayRefusal(.invalidQuery, "limit must be a whole number of at least 1")
                }
                let format = query.get("format") ?? "ndjson"
                guard format == "ndjson" || format == "csv" else {
                    throw GatewayRefusal(.invalidQuery, "format must be ndjson or csv")
                }
                let page = try await delivery.pull(
                    caller: caller,
                    purpose: purpose,
                    view: view,
                    cursor: query.get("cursor"),
                    limit: limit
                )
                let body = format == "csv" ? page.csv() : page.ndjson()
                var headers: HTTPFields = [:]
                headers[HTTPField.Name("Vangnet-Next-Cursor")!] = page.nextCursor
                headers[HTTPField.Name("Vangnet-View")!] = page.view.rawValue
                headers[HTTPField.Name("Vangnet-Complete")!] = page.complete ? "true" : "false"
                headers[HTTPField.Name("Vangnet-Policy-Version")!] = page.policyVersion
                headers[HTTPField.Name("Vangnet-Region")!] = String(page.region.value)
                headers[.contentType] = format == "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
            }
        }

        router.get("/v1/me") { _, context in
            try await respond("/v1/me") {
                let caller = try await identify(context)
                let policy = self.policy
                struct Me: Encodable {
                    let oin: OIN
                    let name: String
                    let role: Role
                    let region: RegionNumber?
                    let purposes: [PurposeID]
                    let datasets: [DatasetID]
                    let policyVersion: String
                    /// For a consumer: every purpose of the policy, granted or not, and why.
                    let explanations: [Explanation]
                }
                let explanations =
                    caller.role == .consumer
                    ? policy.purposeIDs.map { policy.explain(consumer: caller.oin, purpose: $0) } : []
                return try json(
                    Me(
                        oin: caller.oin,
                        name: caller.name,
                        role: caller.role,
                        region: caller.region,
                        purposes: policy.grantedPurposes(of: caller.oin),
                        datasets: caller.datasets ?? [],
                        policyVersion: policy.fingerprint,
                        explanations: explanations
                    ),
                    status: .ok
                )
            }
        }

        router.get("/v1/policy/explain") { request, context in
            try await respond("/v1/policy/explain") {
                let caller = try await identify(context)
                let query = request.uri.queryParameters
                let purpose = PurposeID(query.get("purpose") ?? "")
                guard caller.role == .auditor else {
                    try await store.appendAudit(
                        AuditEvent(
                            time: clock.now(),
                            actor: caller.oin,
                            role: caller.role,
                            action: .policyExplain,
                            object: "policy:explain",
                            outcome: .refused,
                            reason: Denial.Code.wrongRole.rawValue
                        )
                    )
                    throw GatewayRefusal(
                        .wrongRole,
                        "only the auditor role may ask about other consumers; use GET /v1/me"
                    )
                }
                guard let consumer = OIN(query.get("consumer") ?? "") else {
                    throw GatewayRefusal(.invalidQuery, "consumer must be an OIN (20 digits)")
                }
                guard !purpose.value.isEmpty else {
                    throw GatewayRefusal(.invalidQuery, "purpose must name a purpose")
                }
                let explanation = policy.explain(consumer: consumer, purpose: purpose)
                // Only names the gateway knows reach the audit log (a query string is input).
                let named = policy.purpose(purpose) != nil ? purpose.value : "(unknown)"
                try await store.appendAudit(
                    AuditEvent(
                        time: clock.now(),
                        actor: caller.oin,
                        role: caller.role,
                        action: .policyExplain,
                        object: "policy:explain/consumer:\(consumer)/purpose:\(named)",
                        outcome: .success
                    )
                )
                return try json(explanation, status: .ok)
            }
        }

        addAuditRoutes(to: router)
        addMethodNotAllowed(to: router)
    }

    static let plainText: HTTPFields = [.contentType: "text/plain; charset=utf-8"]

    /// Answers 404 and 405 for what the router does not take, from the routes it holds once every
    /// route is added (so no table of paths is kept by hand beside the registrations).
    func addMethodNotAllowed(to router: Router<GatewayRequestContext>) {
        router.middlewares.add(MethodNotAllowedMiddleware(routes: router.routes))
    }

    /// The organisation behind the verified client certificate; an unknown OIN is refused and audited.
    func identify(_ context: GatewayRequestContext) async throws -> PolicyDocument.Organisation {
        let oin: OIN
        do {
            let certificate = try await CallerIdentity.certificate(on: context.channel)
            oin = try CallerIdentity.oin(in: certificate)
            // A connection opened before its certificate was revoked ends its service here.
            switch revocation.refusal(for: certificate, at: clock.now()) {
            case .revoked:
                try await store.appendAudit(
                    AuditEvent(
                        time: clock.now(),
                        actor: oin,
                        role: nil,
                        action: .identity,
                        object: "connection",
                        outcome: .refused,
                        reason: "certificate_revoked"
                    )
                )
                throw GatewayRefusal(
                    .certificateRevoked,
                    "the client certificate is on the client CA's revocation list"
                )
            case .listExpired:
                try await store.appendAudit(
                    AuditEvent(
                        time: clock.now(),
                        actor: oin,
                        role: nil,
                        action: .identity,
                        object: "connection",
                        outcome: .refused,
                        reason: "crl_expired"
                    )
                )
                throw GatewayRefusal(
                    .crlExpired,
                    "the client CA's revocation list is past its nextUpdate; the gateway refuses every client until a current one is in place"
                )
            case nil:
                break
            }
        } catch let refusal as GatewayRefusal {
            throw refusal
        } catch {
            try await store.appendAudit(
                AuditEvent(
                    time: clock.now(),
                    actor: nil,
                    role: nil,
                    action: .identity,
                    object: "connection",
                    outcome: .refused,
                    reason: "no_oin"
                )
            )
            throw GatewayRefusal(.noOIN, String(describing: error))
        }
        switch policy.identify(oin) {
        case .permit(let organisation):
            if let wait = rateLimiter.admit(oin) {
                refusals.rateLimited(oin)
                throw GatewayRefusal(
                    .rateLimited,
                    "more than \(configuration.gateway.limits.requestsPerMinute) requests a minute; try again in \(wait) s",
                    retryAfter: wait
                )
            }
            return organisation
        case .deny(let denial):
            try await store.appendAudit(
                AuditEvent(
                    time: clock.now(),
                    actor: oin,
                    role: nil,
                    action: .identity,
                    object: "connection",
                    outcome: .refused,
                    reason: denial.code.rawValue
                )
            )
            throw GatewayRefusal(denial)
        }
    }

    /// Runs a handler; a refusal becomes its JSON error response, any other error a 500 without detail.
    /// Runs the handler of `route`, counting the answer and its latency in the metrics.
    func respond(_ route: String, _ body: () async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response: Response
        do {
            response = try await body()
        } catch let refusal as GatewayRefusal {
            logger.info(
                "request refused",
                metadata: ["route": "\(route)", "code": "\(refusal.code.rawValue)", "status": "\(refusal.status.code)"]
            )
            metrics.refusal(refusal.code.rawValue)
            response = refusal.response()
        } catch {
            // The error is logged by type only: an unexpected error could carry input.
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

    func json(_ value: some Encodable, status: HTTPResponse.Status) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var buffer = ByteBuffer()
        buffer.writeBytes(try encoder.encode(value))
        buffer.writeString("\n")
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: buffer))
    }
}
