import ArgumentParser
import Foundation
import Gateway
import VangnetClient

/// How a client reaches the gateway: its URL, the caller's certificate and the CA to trust.
struct ClientOptions: ParsableArguments {
    @Option(help: "Gateway base URL.")
    var gateway = "https://127.0.0.1:8443"

    @Option(help: "PEM client certificate (carries the caller's OIN).")
    var cert: String

    @Option(help: "PEM private key of the client certificate.")
    var key: String

    @Option(help: "PEM CA certificate that signed the gateway's server certificate.")
    var ca: String

    @Option(help: "Seconds to keep trying to connect before an attempt fails.")
    var connectTimeout = 10.0

    func client() throws -> GatewayClient {
        try GatewayClient(
            baseURL: gateway,
            certificate: URL(fileURLWithPath: cert),
            privateKey: URL(fileURLWithPath: key),
            trustedCA: URL(fileURLWithPath: ca),
            connectTimeout: .milliseconds(Int64(connectTimeout * 1000))
        )
    }
}

/// Fails a command with a message and a non-zero exit.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
