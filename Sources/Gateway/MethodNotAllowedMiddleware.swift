import HTTPTypes
import Hummingbird
import NIOCore

/// Answers 405 Method Not Allowed, with `Allow`, for a path the API has but a method it does not
/// take (the router alone would say 404), and 404 `not_found` for a path it does not have: both
/// with the JSON error body of every other refusal (the router alone answers an empty 404).
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    /// Every path the API has (its segments, a capture as `{name}`) and the methods it takes.
    let routes: [(path: [String], methods: [HTTPRequest.Method])]

    init(routes: [Router<Context>.RouteDescription]) {
        let byPath = Dictionary(grouping: routes) { $0.path.components.map(\.description) }
        self.routes = byPath.map { (path: $0.key, methods: $0.value.map(\.method)) }
    }

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let route = routes.first(where: { Self.matches($0.path, request.uri.path) }) else {
                return GatewayRefusal(.notFound, "the API has no such path (see docs/api.md)").response()
            }
            guard !route.methods.contains(request.method) else { throw error }
            let allow = route.methods.map(\.rawValue).joined(separator: ", ")
            var refused = GatewayRefusal(.methodNotAllowed, "this path takes \(allow)").response()
            refused.headers[.allow] = allow
            return refused
        }
    }

    /// Whether `path` fits the template's segments (a capture `{name}` matches any one segment).
    static func matches(_ template: [String], _ path: String) -> Bool {
        let segments = path.split(separator: "/")
        return template.count == segments.count && zip(template, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
    }
}
