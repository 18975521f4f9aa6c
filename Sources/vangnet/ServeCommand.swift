import ArgumentParser
import Foundation
import Gateway
import Logging
import StoreSelection

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway (mTLS) until SIGTERM or SIGINT; SIGHUP reloads the policy and key epoch.",
        discussion:
            "On SIGHUP the configuration file is read and checked again; if it passes, its policy and pseudonym epoch apply to the requests that follow (audited as config.load), otherwise the policy in force stays and the problems are printed."
    )

    @Option(help: "Configuration file (JSON, see docs/configuration.md).")
    var config: String

    @Option(help: "Log format on standard error: json (one object per line) or text.")
    var logFormat: String = "json"

    func run() async throws {
        guard ["json", "text"].contains(logFormat) else { throw ValidationError("--log-format must be json or text") }
        if logFormat == "json" { LoggingSystem.bootstrap { JSONLogHandler(label: $0) } }
        let configuration = try GatewayConfiguration.load(from: URL(fileURLWithPath: config))
        let gateway = try await Gateway(configuration: configuration)
        // Until the reload service traps it, a SIGHUP must not end the process (its default).
        signal(SIGHUP, SIG_IGN)
        try await gateway.runUntilSignalled(
            onServerRunning: { port in
                FileHandle.standardOutput.write(
                    Data(
                        "vangnet: listening on https://\(configuration.gateway.listen.host):\(port) (mTLS, TLS 1.3)\n"
                            .utf8
                    )
                )
            },
            onReload: { outcome in
                switch outcome {
                case .success(let active):
                    FileHandle.standardOutput.write(
                        Data(
                            "vangnet: reloaded: policy \(active.policy.fingerprint), pseudonym epoch \(active.pseudonymiser.epoch)\n"
                                .utf8
                        )
                    )
                case .failure(let error):
                    FileHandle.standardError.write(
                        Data("vangnet: reload refused, the policy in force stays: \(error)\n".utf8)
                    )
                }
            }
        )
    }
}
