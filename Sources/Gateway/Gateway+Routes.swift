import AccessPolicy
import AuditLog
import BatchEnvelope
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Records
import Storage
import VangnetCore

extension Gateway {
    /// The HTTP API (documented in `docs/api.md`):
    ///
    /// | route | who | what |
    /// |---|---|---|
    /// | `POST /v1/batches` | source | push an envelope; 201 + signed receipt (200 for an identical retry) |
    /// | `GET /v1/purposes/{purpose}/records` | consumer | pull a page (`view=current|changes`, `cursor`, `limit`, `format=ndjson|csv`) |
    /// | `GET /v1/datasets` | anyone known | the datasets, each with its version and the path of its schema |
    /// | `GET /v1/datasets/{id}/schema` | anyone known | the dataset's JSON Schema (draft 2020-12) |
    /// | `GET /v1/me` | anyone known | who the gateway takes the caller for, what it may do, and for a consumer what each purpose gives it and why |
    /// | `GET /v1/policy/explain` | auditor | the same explanation for any consumer and purpose (`consumer`, `purpose`) |
    /// | `GET /v1/audit/verify` | auditor | recompute the audit chain and check its signed checkpoints |
    /// | `GET /v1/audit/entries` | auditor | audit entries, filtered and paged |
    /// | `GET /v1/audit/checkpoints` | auditor | the signed checkpoints (keep the latest to detect truncation later) |
    /// | `POST /v1/reidentifications` | consumer | ask who the people behind some pseudonyms are (purpose, pseudonyms, reason, caseReference) |
    /// | `GET /v1/reidentifications` | consumer, approver, auditor | the requests the caller may see (`state`) |
    /// | `GET /v1/reidentifications/{id}` | consumer, approver, auditor | one request |
    /// | `POST /v1/reidentifications/{id}/decision` | an approver of its purpose | approve or refuse, with a reason |
    /// | `POST /v1/reidentifications/{id}/release` | the requesting consumer | the approved BSNs, sealed to its reveal key (once) |
    /// | `GET /v1/audit/reidentifications` | auditor | per region, month, purpose and reason: requests and people by state |
    /// | `GET /review` | auditor | the review page (HTML) |
    /// | `GET /healthz` | anyone with a certificate | liveness |
    /// | `GET /readyz` | anyone with a certificate | readiness: the store answers, a policy is in force |
    /// | `GET /metrics` | monitor, auditor | Prometheus metrics |
    ///
    /// The health routes need no identity. Every other route sits behind the edge
    /// (``RequestAccountingMiddleware``, then ``CallerMiddleware``) in the group of the role that
    /// may use it, whose request context holds the caller as that role's type.
    package func router(
        peerCertificate: @escaping PeerCertificate = CallerIdentity.verifiedPeerCertificate
    )
        -> Router<GatewayRequestContext>
    {
        let router = Router(context: GatewayRequestContext.self)
        addHealthRoutes(to: router)
        let api = router.group()
            .add(middleware: RequestAccountingMiddleware(metrics: metrics, logger: logger))
            .add(middleware: CallerMiddleware(gateway: self, peerCertificate: peerCertificate))
        addSourceRoutes(to: api.group(context: SourceContext.self))
        addConsumerRoutes(to: api.group(context: ConsumerContext.self))
        addAuditRoutes(to: api.group(context: AuditorContext.self))
        addKnownCallerRoutes(to: api.group(context: KnownCallerContext.self))
        addReidentificationRoutes(
            consumers: api.group(context: ConsumerContext.self),
            known: api.group(context: KnownCallerContext.self),
            auditors: api.group(context: AuditorContext.self)
        )
        api.group(context: MetricsReaderContext.self).get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.exposition()))
            )
        }
        // Last, once every route is in: 404 and 405 from the routes the router holds.
        router.middlewares.add(MethodNotAllowedMiddleware(routes: router.routes))
        return router
    }

    func addHealthRoutes(to router: Router<GatewayRequestContext>) {
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
    }

    func addSourceRoutes(to sources: RouterGroup<SourceContext>) {
        sources.post("/v1/batches") { request, context in
            switch try await ingest.ingest(request.body, caller: context.caller) {
            case .committed(let receipt): return try json(receipt, status: .created)
            case .duplicate(let receipt): return try json(receipt, status: .ok)
            }
        }
    }

    func addConsumerRoutes(to consumers: RouterGroup<ConsumerContext>) {
        consumers.get("/v1/purposes/:purpose/records") { request, context in
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
                caller: context.caller,
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

    func addKnownCallerRoutes(to known: RouterGroup<KnownCallerContext>) {
        known.get("/v1/datasets") { _, _ in
            struct Dataset: Encodable {
                let id: DatasetID
                let version: Int
                let schema: String
            }
            struct Datasets: Encodable { let datasets: [Dataset] }
            // Every version held, oldest first: a source may push any of them.
            let datasets = self.policy.datasets.map {
                Dataset(
                    id: $0.id,
                    version: $0.version,
                    schema: "/v1/datasets/\($0.id.value)/schema?version=\($0.version)"
                )
            }
            return try self.json(Datasets(datasets: datasets), status: .ok)
        }
        known.get("/v1/datasets/:dataset/schema") { request, context in
            let id = DatasetID(context.parameters.get("dataset") ?? "")
            let policy = self.policy
            let schema: DatasetSchema?
            switch request.uri.queryParameters.get("version") {
            case nil: schema = policy.schema(id)
            case let text?:
                guard let version = Int(text), version >= 1 else {
                    throw GatewayRefusal(.invalidQuery, "version is a dataset version number (1, 2, ...)")
                }
                schema = policy.schema(id, version: version)
            }
            guard let schema else {
                throw GatewayRefusal(
                    .notFound,
                    "the gateway has no dataset or version of that name (GET /v1/datasets lists them)"
                )
            }
            let text = schema.jsonSchema(reference: self.ingest.reference).rendered()
            return Response(
                status: .ok,
                headers: [.contentType: "application/schema+json"],
                body: .init(byteBuffer: ByteBuffer(string: text))
            )
        }
        known.get("/v1/me") { _, context in
            let caller = context.caller
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
            var (region, datasets, explanations): (RegionNumber?, [DatasetID], [Explanation]) = (nil, [], [])
            switch caller {
            case .consumer(let consumer):
                region = consumer.region
                explanations = policy.purposeIDs.map { policy.explain(consumer: consumer.oin, purpose: $0) }
            case .source(let source):
                datasets = source.datasets
            case .auditor, .monitor, .approver:
                break
            }
            return try json(
                Me(
                    oin: caller.oin,
                    name: caller.name,
                    role: caller.role,
                    region: region,
                    purposes: policy.grantedPurposes(of: caller.oin),
                    datasets: datasets,
                    policyVersion: policy.fingerprint,
                    explanations: explanations
                ),
                status: .ok
            )
        }
    }

    static let plainText: HTTPFields = [.contentType: "text/plain; charset=utf-8"]

    func json(_ value: some Encodable, status: HTTPResponse.Status) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var buffer = ByteBuffer()
        buffer.writeBytes(try encoder.encode(value))
        buffer.writeString("\n")
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: buffer))
    }
}
