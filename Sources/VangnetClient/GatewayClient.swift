import AsyncHTTPClient
import BatchEnvelope
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// An mTLS client of the gateway, for sources (push) and regions (pull).
///
/// Call ``shutdown()`` when done.
package final class GatewayClient: Sendable {
    /// An HTTP answer: status, headers of interest, body.
    package struct Answer: Sendable {
        package let status: Int
        package let body: String
        package let headers: [String: String]

        package init(status: Int, body: String, headers: [String: String]) {
            (self.status, self.body, self.headers) = (status, body, headers)
        }

        /// Whether an answer keeps a response header (by its name in any case): the gateway's
        /// own (`Vangnet-*`), `Content-Type` and `Retry-After`.
        package static func keeps(_ name: String) -> Bool {
            let name = name.lowercased()
            return name.hasPrefix("vangnet-") || name == "content-type" || name == "retry-after"
        }

        /// The refusal this answer describes, if it is not a success.
        package var refusal: Refusal? {
            guard status >= 300 else { return nil }
            struct ErrorBody: Decodable {
                let error: String
                let message: String
            }
            let parsed = try? JSONDecoder().decode(ErrorBody.self, from: Data(body.utf8))
            return Refusal(status: status, code: parsed?.error ?? "http_\(status)", message: parsed?.message ?? body)
        }
    }

    /// A refusal as a client reads it: the code as text, since a newer gateway may answer codes
    /// this client does not know (and a proxy in between answers without one: `http_<status>`).
    package struct Refusal: Sendable, Equatable, CustomStringConvertible {
        package let status: Int
        package let code: String
        package let message: String
        package var description: String { "\(status) \(code): \(message)" }
    }

    private let transport: any GatewayTransport

    /// A client over `transport` (the gateway's mTLS API by ``init(baseURL:certificate:privateKey:trustedCA:connectTimeout:)``).
    package init(transport: any GatewayTransport) {
        self.transport = transport
    }

    /// - Parameters:
    ///   - baseURL: for example `https://127.0.0.1:8443`.
    ///   - certificate, privateKey: the caller's PEM client certificate and key (`nil`: none, for tests of refusal).
    ///   - trustedCA: the PEM CA that signed the gateway's server certificate.
    ///   - connectTimeout: how long to keep trying to connect (with backoff) before a request fails.
    package convenience init(
        baseURL: String,
        certificate: URL?,
        privateKey: URL?,
        trustedCA: URL,
        connectTimeout: Duration = .seconds(10)
    ) throws {
        self.init(
            transport: try MutualTLSTransport(
                baseURL: baseURL,
                certificate: certificate,
                privateKey: privateKey,
                trustedCA: trustedCA,
                connectTimeout: connectTimeout
            )
        )
    }

    package func shutdown() async throws { try await transport.shutdown() }

    /// Runs `body` with this client and shuts the client down afterwards, whatever `body` does.
    package func shuttingDown<T>(after body: (GatewayClient) async throws -> T) async throws -> T {
        do {
            let result = try await body(self)
            try await shutdown()
            return result
        } catch {
            try? await shutdown()
            throw error
        }
    }

    /// Pushes an envelope file, streaming it from disk; `progress` receives the bytes sent so far.
    package func push(envelopeFile url: URL, progress: (@Sendable (Int64) -> Void)? = nil) async throws -> Answer {
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? 0
        return try await push(body: .stream(FileChunks(url: url, progress: progress), length: .known(Int64(size))))
    }

    /// Pushes envelope bytes held in memory.
    package func push(envelope: [UInt8]) async throws -> Answer {
        try await push(body: .bytes(envelope))
    }

    /// Pushes an envelope given as any request body (for example a stream).
    package func push(body: HTTPClientRequest.Body) async throws -> Answer {
        try await transport.send(
            .POST,
            "/v1/batches",
            headers: [("Content-Type", "application/vnd.vangnet.envelope.v1")],
            body: body
        )
    }

    /// Pulls one page of a purpose's records: `view` to start (`current` or `changes`), or
    /// `cursor` to continue (from `Vangnet-Next-Cursor`).
    package func pull(
        purpose: String,
        view: String? = nil,
        cursor: String? = nil,
        limit: Int = 1000,
        format: String = "ndjson"
    ) async throws -> Answer {
        var query = "limit=\(limit)&format=\(format)"
        if let view { query += "&view=\(view)" }
        if let cursor { query += "&cursor=\(cursor)" }
        return try await get("/v1/purposes/\(purpose)/records?" + query)
    }

    /// Follows a pull to its end: a current picture until its snapshot is complete, changes until
    /// a page is empty. `page` gets each page's answer; returns the cursor to continue with (a
    /// changes cursor) or the refusal's answer.
    package func pullAll(
        purpose: String,
        view: String? = nil,
        cursor: String? = nil,
        limit: Int = 1000,
        format: String = "ndjson",
        page: (Answer) async throws -> Void
    ) async throws -> Result<String, PullFailure> {
        var cursor = cursor
        var first = true
        while true {
            let answer = try await pull(
                purpose: purpose,
                view: first ? view : nil,
                cursor: cursor,
                limit: limit,
                format: format
            )
            first = false
            guard answer.status == 200, let next = answer.headers["vangnet-next-cursor"] else {
                return .failure(PullFailure(answer: answer))
            }
            try await page(answer)
            cursor = next
            let empty = answer.body.isEmpty || (format == "csv" && answer.body.split(separator: "\n").count <= 1)
            if answer.headers["vangnet-view"] == "changes" ? empty : answer.headers["vangnet-complete"] == "true" {
                return .success(next)
            }
        }
    }

    /// A pull the gateway refused.
    package struct PullFailure: Error, Sendable {
        package let answer: Answer
    }

    /// A POST of a JSON body to any path (the re-identification routes).
    package func post(_ path: String, json: some Encodable) async throws -> Answer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try await post(path, body: Array(try encoder.encode(json)))
    }

    /// A POST of `body` (JSON) to any path.
    package func post(_ path: String, body: [UInt8]) async throws -> Answer {
        try await transport.send(.POST, path, headers: [("Content-Type", "application/json")], body: .bytes(body))
    }

    /// A GET of any path, with extra `headers`.
    package func get(_ path: String, headers: [(String, String)] = []) async throws -> Answer {
        try await transport.send(.GET, path, headers: headers, body: nil)
    }
}

/// How a ``GatewayClient`` reaches the gateway: one request, its whole answer.
package protocol GatewayTransport: Sendable {
    func send(
        _ method: HTTPMethod,
        _ path: String,
        headers: [(String, String)],
        body: HTTPClientRequest.Body?
    ) async throws -> GatewayClient.Answer
    func shutdown() async throws
}

/// The gateway's API over TLS 1.3 with a client certificate (AsyncHTTPClient).
package struct MutualTLSTransport: GatewayTransport {
    private let http: HTTPClient
    private let baseURL: String

    package init(
        baseURL: String,
        certificate: URL?,
        privateKey: URL?,
        trustedCA: URL,
        connectTimeout: Duration = .seconds(10)
    ) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv13
        tls.trustRoots = .file(trustedCA.path)
        if let certificate, let privateKey {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate.path).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: privateKey.path, format: .pem))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        let (seconds, attoseconds) = connectTimeout.components
        configuration.timeout = .init(
            connect: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000),
            read: .seconds(300)
        )
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
    }

    package func shutdown() async throws { try await http.shutdown() }

    package func send(
        _ method: HTTPMethod,
        _ path: String,
        headers: [(String, String)],
        body: HTTPClientRequest.Body?
    ) async throws -> GatewayClient.Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = body }
        let response = try await http.execute(request, timeout: .seconds(300))
        let collected = try await response.body.collect(upTo: 512 * 1024 * 1024)
        var answerHeaders: [String: String] = [:]
        for header in response.headers where GatewayClient.Answer.keeps(header.name) {
            answerHeaders[header.name.lowercased()] = header.value
        }
        return GatewayClient.Answer(
            status: Int(response.status.code),
            body: String(buffer: collected),
            headers: answerHeaders
        )
    }
}

/// A file read as a sequence of byte buffers, for streaming uploads.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let url: URL
    var chunkSize = 256 * 1024
    var progress: (@Sendable (Int64) -> Void)?

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?
        let chunkSize: Int
        let progress: (@Sendable (Int64) -> Void)?
        var sent: Int64 = 0
        mutating func next() async throws -> ByteBuffer? {
            guard let handle, let data = try handle.read(upToCount: chunkSize), !data.isEmpty else {
                try? handle?.close()
                return nil
            }
            sent += Int64(data.count)
            progress?(sent)
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(handle: try? FileHandle(forReadingFrom: url), chunkSize: chunkSize, progress: progress)
    }
}
