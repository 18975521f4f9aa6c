import ArgumentParser
import Foundation
import Gateway
import Logging

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway (mTLS) until SIGTERM or SIGINT."
    )

    @Option(help: "Configuration file (JSON, see docs/configuration.md).")
    var config: String

    func run() async throws {
        let configuration = try GatewayConfiguration.load(from: URL(fileURLWithPath: config))
        let gateway = try Gateway(configuration: configuration)
        try await gateway.runUntilSignalled { port in
            FileHandle.standardOutput.write(Data("vangnet: listening on https://\(configuration.gateway.listen.host):\(port) (mTLS, TLS 1.3)\n".utf8))
        }
    }
}
