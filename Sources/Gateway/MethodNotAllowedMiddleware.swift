import HTTPTypes
import Hummingbird
import NIOCore

/// Answers 405 Method Not Allowed, with `Allow`, for a path the API has but a method it does not
/// take (the router alone would say 404).
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let routes: [(path: String, methods: [HTTPRequest.Method])]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let route = routes.first(where: { Self.matches($0.path, request.uri.path) }), !route.methods.contains(request.method) else { throw error }
            let allow = route.methods.map(\.rawValue).joined(separator: ", ")
            var buffer = ByteBuffer()
            buffer.writeString(#"{"error":"method_not_allowed","message":"this path takes \#(allow)"}"# + "\n")
            return Response(status: .methodNotAllowed, headers: [.contentType: "application/json", .allow: allow], body: .init(byteBuffer: buffer))
        }
    }

    /// Whether `path` fits the template (`:name` matches one segment).
    static func matches(_ template: String, _ path: String) -> Bool {
        let t = template.split(separator: "/"), p = path.split(separator: "/")
        return t.count == p.count && zip(t, p).allSatisfy { $0.hasPrefix(":") || $0 == $1 }
    }
}
