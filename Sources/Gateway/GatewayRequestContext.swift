import AccessPolicy
import Hummingbird
import NIOCore

/// The request context of the gateway: Hummingbird's core context, the request's channel (from
/// which the verified client certificate is read) and, once ``CallerMiddleware`` has identified
/// it, the caller.
package struct GatewayRequestContext: RequestContext {
    package var coreContext: CoreRequestContextStorage
    /// The connection (or, over HTTP/2, the stream) the request arrived on.
    package let channel: any Channel
    /// Who the policy takes the caller for; set by ``CallerMiddleware`` before any route of the
    /// API runs (`nil` only on the health routes, which need no identity).
    package var caller: Caller?

    package init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// A role whose routes form a group: it narrows the identified ``Caller`` to what the role's
/// routes need, or the group refuses the request with `wrong_role`.
package protocol CallerRole: Sendable {
    associatedtype Narrowed: Sendable
    static func narrow(_ caller: Caller) -> Narrowed?
    /// The refusal's message for any other role.
    static var onlyFor: String { get }
}

/// The context of a role's route group (Hummingbird's child request context): it holds the
/// narrowed caller, so a route for consumers is handed a ``Caller/Consumer`` and cannot be reached
/// by anyone else.
package struct RoleRequestContext<Role: CallerRole>: ChildRequestContext {
    package var coreContext: CoreRequestContextStorage
    package let caller: Role.Narrowed

    package init(context: GatewayRequestContext) throws {
        guard let identified = context.caller else {
            throw GatewayRefusal(.internalError, "a route of the API was reached without identifying the caller")
        }
        guard let narrowed = Role.narrow(identified) else {
            throw RoleRefusal(caller: identified, message: Role.onlyFor)
        }
        self.coreContext = context.coreContext
        self.caller = narrowed
    }
}

/// A known caller whose role may not use the route; ``CallerMiddleware`` audits it and answers
/// `wrong_role`.
struct RoleRefusal: Error {
    let caller: Caller
    let message: String
}

package enum SourceRole: CallerRole {
    package static func narrow(_ caller: Caller) -> Caller.Source? {
        if case .source(let source) = caller { source } else { nil }
    }
    package static let onlyFor = "only a source organisation may push batches"
}

package enum ConsumerRole: CallerRole {
    package static func narrow(_ caller: Caller) -> Caller.Consumer? {
        if case .consumer(let consumer) = caller { consumer } else { nil }
    }
    package static let onlyFor = "only a consumer (a region's contactgemeente) may pull records"
}

package enum AuditorRole: CallerRole {
    package static func narrow(_ caller: Caller) -> Caller.Auditor? {
        if case .auditor(let auditor) = caller { auditor } else { nil }
    }
    package static let onlyFor =
        "only the auditor role may read the audit log or ask about other consumers (a consumer asks GET /v1/me)"
}

/// Who may read the metrics: the monitor and the auditor.
package enum MetricsReaderRole: CallerRole {
    package static func narrow(_ caller: Caller) -> Caller? {
        switch caller {
        case .monitor, .auditor: caller
        case .source, .consumer, .approver: nil
        }
    }
    package static let onlyFor = "only the monitor and auditor roles may read metrics"
}

/// Any organisation the policy knows.
package enum KnownRole: CallerRole {
    package static func narrow(_ caller: Caller) -> Caller? { caller }
    package static let onlyFor = ""
}

package typealias SourceContext = RoleRequestContext<SourceRole>
package typealias ConsumerContext = RoleRequestContext<ConsumerRole>
package typealias AuditorContext = RoleRequestContext<AuditorRole>
package typealias MetricsReaderContext = RoleRequestContext<MetricsReaderRole>
package typealias KnownCallerContext = RoleRequestContext<KnownRole>
