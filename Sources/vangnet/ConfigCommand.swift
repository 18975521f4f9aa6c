import AccessPolicy
import ArgumentParser
import DevelopmentSupport
import Foundation
import Gateway
import PostgresStorage
import Records

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Gateway configuration.",
        subcommands: [Init.self, Check.self, Schemas.self]
    )

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Make a complete development setup in one directory: PKI (certs/), keys (keys/) and vangnet.json.",
            discussion:
                "The policy names test organisations (OIN prefix 00000099): DUO, UWV, the contactgemeenten of regions 19 (Utrecht) and 21 (Agglomeratie Amsterdam), and an auditor."
        )

        @Option(help: "Directory to create.") var dir = "dev"
        @Option(help: "Port to listen on.") var port = 8443
        @Option(
            help: ArgumentHelp(
                "Answer the envelope test vectors (docs/test-vectors/envelope-v1.json): use their test-only keys.",
                discussion:
                    "The gateway's box and signing keys and DUO's signing key become the vectors' keys, and the creation window reaches back to their createdAt. Never for anything real.",
                valueName: "file"
            )
        )
        var testVectors: String?

        func run() throws {
            let directory = URL(fileURLWithPath: dir)
            guard !FileManager.default.fileExists(atPath: directory.appendingPathComponent("vangnet.json").path) else {
                throw CommandFailure("\(directory.path) already holds a configuration")
            }
            if let testVectors {
                try DevelopmentSetup.createForTestVectors(
                    in: directory,
                    vectors: URL(fileURLWithPath: testVectors),
                    port: port
                )
            } else {
                try DevelopmentSetup.create(in: directory, port: port)
            }
            print(
                "wrote \(directory.path)/vangnet.json with certs/ and keys/; start with: vangnet serve --config \(directory.path)/vangnet.json"
            )
        }
    }

    struct Schemas: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write each dataset's JSON Schema (draft 2020-12), as GET /v1/datasets/{id}/schema serves it.",
            discussion:
                "Writes DIR/<dataset>.v<version>.schema.json, made from the definition the gateway validates records with; docs/schemas/ holds the same files."
        )

        @Option(help: "Directory to write to.") var out = "."
        @Option(
            help: "Configuration file: write every version of the datasets it names; default: the shipped datasets."
        )
        var config: String?

        func run() throws {
            let directory = URL(fileURLWithPath: out)
            let catalog = try config.map {
                try GatewayConfiguration.load(from: URL(fileURLWithPath: $0)).loadDatasets()
            }
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for schema in (catalog ?? .shipped).all {
                let file = directory.appendingPathComponent(DatasetSchema.fileName(schema))
                try Data(schema.jsonSchema().rendered().utf8).write(to: file)
                print("wrote \(file.path)")
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Validate a configuration file: its dataset definitions, its policy (as vangnet policy check), its key files and TLS files.",
            discussion: "Prints every problem with its place; exit status 1 if the gateway would refuse to start."
        )

        @Option(help: "Configuration file.") var config: String

        func run() throws {
            let configuration = try GatewayConfiguration.load(from: URL(fileURLWithPath: config))
            var failed = false
            var policy: Policy?
            do {
                let datasets = try configuration.loadDatasets()
                print(
                    "datasets: "
                        + datasets.all.map { "\($0.id) v\($0.version)" }.joined(separator: ", ")
                        + (configuration.datasets == nil ? " (shipped)" : "")
                )
                do {
                    policy = try Policy(document: configuration.policy, datasets: datasets)
                    for line in configuration.describe(policy!.warnings) { print(line) }
                } catch let error as PolicyError {
                    for line in configuration.describe(error.problems) { print(line) }
                    failed = true
                }
            } catch let error as ConfigurationError {
                // Without its datasets the policy's fields cannot be checked: the files first.
                for line in error.description.split(separator: "\n").dropFirst() { print(line) }
                failed = true
            }
            let keyDirectory = configuration.resolve(configuration.gateway.keyDirectory)
            do {
                let keys = try GatewayKeys.load(from: keyDirectory)
                let pseudonymiser = try keys.pseudonymiser(
                    currentEpoch: configuration.gateway.pseudonymEpoch,
                    directory: keyDirectory
                )
                print(
                    "keys: \(keyDirectory.path): pseudonym epoch \(pseudonymiser.epoch) (held: \(pseudonymiser.heldEpochs.map(String.init).joined(separator: ", ")))"
                )
            } catch {
                print("error: keys: \(error)")
                failed = true
            }
            let tls = configuration.gateway.tls
            for (name, path) in [
                ("tls.certificate", tls.certificate), ("tls.privateKey", tls.privateKey),
                ("tls.clientCA", tls.clientCA),
            ]
            where !FileManager.default.isReadableFile(atPath: configuration.resolve(path).path) {
                print("error: gateway.\(name): cannot read \(configuration.resolve(path).path)")
                failed = true
            }
            if let problem = Self.databaseProblem(configuration) {
                print("error: gateway.database: \(problem)")
                failed = true
            }
            guard !failed, let policy else { throw ExitCode(1) }
            print(
                "database: "
                    + (configuration.usesPostgres
                        ? "PostgreSQL (not contacted by this check)" : configuration.databaseLocation)
            )
            print(
                "configuration valid: \(policy.document.organisations.count) organisations, \(policy.document.purposes.count) purposes, \(policy.document.grants.count) grants; policy \(policy.fingerprint)"
            )
        }

        /// What is wrong with `gateway.database` as far as can be seen without connecting.
        static func databaseProblem(_ configuration: GatewayConfiguration) -> String? {
            guard configuration.usesPostgres else {
                let directory = URL(fileURLWithPath: configuration.databaseLocation).deletingLastPathComponent().path
                return FileManager.default.isWritableFile(atPath: directory) ? nil : "cannot write in \(directory)"
            }
            do { _ = try PostgresStore.configuration(url: configuration.gateway.database) } catch { return "\(error)" }
            let url = URLComponents(string: configuration.gateway.database)
            if url?.password == nil && ProcessInfo.processInfo.environment["VANGNET_DATABASE_PASSWORD"] == nil {
                return
                    "no password: set VANGNET_DATABASE_PASSWORD (or trust authentication must be configured on the server)"
            }
            return nil
        }
    }
}
