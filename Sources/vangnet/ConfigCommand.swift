import AccessPolicy
import ArgumentParser
import Foundation
import Gateway

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Gateway configuration.",
        subcommands: [Init.self, Check.self]
    )

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a complete development setup in one directory: PKI (certs/), keys (keys/) and vangnet.json.",
            discussion: "The policy names test organisations (OIN prefix 00000099): DUO, UWV, the contactgemeenten of regions 19 (Utrecht) and 21 (Agglomeratie Amsterdam), and an auditor."
        )

        @Option(help: "Directory to create.") var dir = "dev"
        @Option(help: "Port to listen on.") var port = 8443

        func run() throws {
            let directory = URL(fileURLWithPath: dir)
            guard !FileManager.default.fileExists(atPath: directory.appendingPathComponent("vangnet.json").path) else {
                throw CommandFailure("\(directory.path) already holds a configuration")
            }
            try DevelopmentSetup.create(in: directory, port: port)
            print("wrote \(directory.path)/vangnet.json with certs/ and keys/; start with: vangnet serve --config \(directory.path)/vangnet.json")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a configuration file and its policy; print what is wrong and where.")

        @Option(help: "Configuration file.") var config: String

        func run() throws {
            let configuration = try GatewayConfiguration.load(from: URL(fileURLWithPath: config))
            let policy = try Policy(document: configuration.policy)
            print("configuration valid: \(policy.document.organisations.count) organisations, \(policy.document.purposes.count) purposes, \(policy.document.grants.count) grants; policy \(policy.fingerprint)")
        }
    }
}
