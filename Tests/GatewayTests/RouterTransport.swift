import AsyncHTTPClient
import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Synchronization
import VangnetClient
import X509

/// Requests straight into the gateway's router, as Hummingbird's router test framework sends them:
/// no socket and no TLS, the same middleware, routes, pipelines and store. For tests whose
/// subject is routing, identity, roles or a pipeline; what TLS does is tested live.
///
/// Each client is one connection: a channel of its own, to which its certificate is attached as a
/// TLS handshake would attach it (``ConnectionCertificates``). The gateway's ``PeerCertificate``
/// reads it from there, and then identifies the caller exactly as it does over TLS (OIN,
/// revocation, policy, rate limit).
struct RouterTransport: GatewayTransport {
    let responder: any HTTPResponder<GatewayRequestContext>
    let channel: NIOAsyncTestingChannel
    let logger: Logger

    func send(
        _ method: HTTPMethod,
        _ path: String,
        headers: [(String, String)],
        body: HTTPClientRequest.Body?
    ) async throws -> GatewayClient.Answer {
        var fields = HTTPFields()
        for (name, value) in headers {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        var bytes = ByteBuffer()
        if let body {
            for try await part in body { bytes.writeImmutableBuffer(part) }
        }
        if method == .POST { fields[.contentLength] = String(bytes.readableBytes) }
        let request = Request(
            head: HTTPRequest(
                method: HTTPRequest.Method(method.rawValue)!,
                scheme: "https",
                authority: "gateway",
                path: path,
                headerFields: fields
            ),
            body: RequestBody(buffer: bytes)
        )
        let context = GatewayRequestContext(source: .init(channel: channel, logger: logger))
        let response: Response
        do {
            response = try await responder.respond(to: request, context: context)
        } catch let error as any HTTPResponseError {
            // What Hummingbird's server does with an error no middleware answered.
            response = try error.response(from: request, context: context)
        } catch {
            response = Response(status: .internalServerError)
        }
        let writer = CollectingWriter()
        try await response.body.write(writer)
        var kept: [String: String] = [:]
        for field in response.headers where GatewayClient.Answer.keeps(field.name.rawName) {
            kept[field.name.rawName.lowercased()] = field.value
        }
        return GatewayClient.Answer(
            status: Int(response.status.code),
            body: String(buffer: writer.collected.buffer.withLock { $0 }),
            headers: kept
        )
    }

    func shutdown() async throws {}

    private struct CollectingWriter: ResponseBodyWriter {
        final class Bytes: Sendable {
            let buffer = Mutex(ByteBuffer())
        }
        let collected = Bytes()
        func write(_ buffer: ByteBuffer) async throws { collected.buffer.withLock { $0.writeImmutableBuffer(buffer) } }
        func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}

/// The certificates of the router transport's connections, by channel: what TLS would have
/// verified for each.
final class ConnectionCertificates: Sendable {
    private let certificates = Mutex<[ObjectIdentifier: Certificate]>([:])

    func attach(_ certificate: Certificate, to channel: any Channel) {
        certificates.withLock { $0[ObjectIdentifier(channel)] = certificate }
    }

    /// The gateway's ``PeerCertificate`` for router-level tests: the certificate attached to the
    /// request's connection, or none (as a connection without a client certificate).
    var peerCertificate: PeerCertificate {
        { [self] _, context in
            guard let certificate = certificates.withLock({ $0[ObjectIdentifier(context.channel)] }) else {
                throw CallerIdentity.Failure.noCertificate
            }
            return certificate
        }
    }
}
