import AccessPolicy
import AuditLog
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Storage
import VangnetCore

extension Gateway {
    /// A request as the API shows it: counts, reason and case reference, never a pseudonym or a BSN.
    struct ReidentificationView: Encodable {
        let id: String
        let region: RegionNumber
        let purpose: PurposeID
        let requester: OIN
        let reason: String
        let caseReference: String
        let people: Int
        let state: ReidentificationState
        let createdAt: String
        let expiresAt: String
        let decidedBy: OIN?
        let decidedAt: String?
        let decisionReason: String?
        let releasedAt: String?

        init(_ r: ReidentificationRequest) {
            let time = { (date: Date) in ISO8601DateFormatter.vangnet.string(from: date) }
            (id, region, purpose, requester, reason, caseReference, people, state) = (
                r.id, r.region, r.purpose, r.requester, r.reason, r.caseReference, r.pseudonyms.count, r.state
            )
            (createdAt, expiresAt, decidedBy, decidedAt, decisionReason, releasedAt) = (
                time(r.createdAt), time(r.expiresAt), r.decidedBy, r.decidedAt.map(time), r.decisionReason,
                r.releasedAt.map(time)
            )
        }

        func encode(to encoder: any Encoder) throws {
            // Absent values are `null`, so every client sees the same members.
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(region, forKey: .region)
            try c.encode(purpose, forKey: .purpose)
            try c.encode(requester, forKey: .requester)
            try c.encode(reason, forKey: .reason)
            try c.encode(caseReference, forKey: .caseReference)
            try c.encode(people, forKey: .people)
            try c.encode(state, forKey: .state)
            try c.encode(createdAt, forKey: .createdAt)
            try c.encode(expiresAt, forKey: .expiresAt)
            try c.encode(decidedBy, forKey: .decidedBy)
            try c.encode(decidedAt, forKey: .decidedAt)
            try c.encode(decisionReason, forKey: .decisionReason)
            try c.encode(releasedAt, forKey: .releasedAt)
        }

        enum CodingKeys: String, CodingKey {
            case id, region, purpose, requester, reason, caseReference, people, state, createdAt, expiresAt
            case decidedBy, decidedAt, decisionReason, releasedAt
        }
    }

    /// The most bytes a request body may have: 10,000 pseudonyms of 39 characters and their quotes.
    static let reidentificationBodyLimit = 512 * 1024

    func decodeBody<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: Self.reidentificationBodyLimit)
        } catch {
            throw GatewayRefusal(.bodyMalformed, "the body is larger than \(Self.reidentificationBodyLimit) bytes")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let DecodingError.keyNotFound(key, _) {
            throw GatewayRefusal(.bodyMalformed, "the body lacks \(key.stringValue)")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
            let DecodingError.dataCorrupted(context)
        {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw GatewayRefusal(
                .bodyMalformed,
                "the body is not what this route takes\(path.isEmpty ? "" : " at \(path)")"
            )
        } catch {
            throw GatewayRefusal(.bodyMalformed, "the body is not a JSON object")
        }
    }

    func addReidentificationRoutes(
        consumers: RouterGroup<ConsumerContext>,
        known: RouterGroup<KnownCallerContext>,
        auditors: RouterGroup<AuditorContext>
    ) {
        consumers.post("/v1/reidentifications") { request, context in
            let ask = try await self.decodeBody(ReidentificationPipeline.Ask.self, from: request)
            let made = try await self.reidentification.request(ask, caller: context.caller)
            return try self.json(ReidentificationView(made), status: .created)
        }
        consumers.post("/v1/reidentifications/:id/release") { _, context in
            let id = context.parameters.get("id") ?? ""
            return try self.json(try await self.reidentification.release(id, caller: context.caller), status: .ok)
        }
        known.get("/v1/reidentifications") { request, context in
            var wanted: ReidentificationState?
            if let text = request.uri.queryParameters.get("state") {
                guard let state = ReidentificationState(rawValue: String(text)) else {
                    throw GatewayRefusal(
                        .invalidQuery,
                        "state must be one of \(ReidentificationState.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                wanted = state
            }
            struct Requests: Encodable { let requests: [ReidentificationView] }
            let found = try await self.reidentification.list(caller: context.caller, state: wanted)
            return try self.json(Requests(requests: found.map(ReidentificationView.init)), status: .ok)
        }
        known.get("/v1/reidentifications/:id") { _, context in
            let found = try await self.reidentification.show(context.parameters.get("id") ?? "", caller: context.caller)
            return try self.json(ReidentificationView(found), status: .ok)
        }
        known.post("/v1/reidentifications/:id/decision") { request, context in
            let decision = try await self.decodeBody(ReidentificationPipeline.Decision.self, from: request)
            let decided = try await self.reidentification.decide(
                context.parameters.get("id") ?? "",
                decision,
                caller: context.caller
            )
            return try self.json(ReidentificationView(decided), status: .ok)
        }
        auditors.get("/v1/audit/reidentifications") { _, context in
            struct Tallies: Encodable { let tallies: [ReidentificationTally] }
            let tallies = try await self.store.reidentificationTallies()
            try await self.store.appendAudit(
                AuditEvent(
                    time: self.clock.now(),
                    actor: context.caller.oin,
                    role: .auditor,
                    action: .auditRead,
                    object: "reidentifications",
                    outcome: .success,
                    counts: ["tallies": tallies.count]
                )
            )
            return try self.json(Tallies(tallies: tallies), status: .ok)
        }
    }
}
