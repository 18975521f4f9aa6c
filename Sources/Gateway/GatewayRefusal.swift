/// A request the gateway refuses: an HTTP status, a stable machine-readable code and a message
/// for people. Never carries a record value or a BSN. Codes are listed in `docs/api.md`.
public struct GatewayRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String
    /// Seconds after which the caller may try again (`Retry-After`), for refusals that pass.
    public let retryAfter: Int?

    public init(status: Int, code: String, message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status) \(code): \(message)" }
}
