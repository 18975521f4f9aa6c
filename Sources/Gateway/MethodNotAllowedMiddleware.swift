import HTTPTypes
import Hummingbird
import NIOCore

/// Answers 405 Method Not Allowed, with `Allow`, for a path the API has but a method it does not
/// take (the router alone would say 404), and 404 `not_found` for a path it does not have: both
/// with the JSON error body of every other refusal (the router alone answers an empty 404).
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let routes: [(path: String, methods: [HTTPRequest.Method])]

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

    /// Whether `path` fits the template (`:name` matches one segment).
    static func matches(_ template: String, _ path: String) -> Bool {
        let t = template.split(separator: "/")
        let p = path.split(separator: "/")
        return t.count == p.count && zip(t, p).allSatisfy { $0.hasPrefix(":") || $0 == $1 }
    }
}
