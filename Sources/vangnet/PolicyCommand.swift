import AccessPolicy
import ArgumentParser
import Foundation
import Gateway
import VangnetCore

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check and explain the access policy (for security officers).",
        discussion:
            "A running gateway takes a changed policy into use on SIGHUP (kill -HUP <pid>), after the same checks; see docs/operations.md.",
        subcommands: [Check.self, Explain.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the policy of a configuration file: every problem, with its line and place.",
            discussion: """
                Checks that every municipality of the CBS list is in exactly one of the 40 regions, that \
                every dataset, field, purpose, region and OIN named exists, that conditions fit their \
                fields, and that every grant names purposes. Exit status 1 if anything must be fixed; \
                warnings (a purpose nobody holds, regions without a contactgemeente) do not fail the check.
                """
        )

        @Option(help: "Configuration file.") var config: String

        func run() throws {
            let configuration = try GatewayConfiguration.load(from: URL(fileURLWithPath: config))
            do {
                let policy = try Policy(document: configuration.policy, datasets: try configuration.loadDatasets())
                for line in configuration.describe(policy.warnings) { print(line) }
                let d = policy.document
                print(
                    "policy \(policy.fingerprint): valid; \(d.regions.count) regions, \(d.organisations.count) organisations, "
                        + "\(d.purposes.count) purposes, \(d.grants.count) grants, \(policy.warnings.count) warning(s)"
                )
            } catch let error as PolicyError {
                for line in configuration.describe(error.problems) { print(line) }
                print("policy: \(error.errors.count) error(s) to fix")
                throw ExitCode(1)
            }
        }
    }

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "What a consumer receives for a purpose, and for every field and record it does not receive, why.",
            discussion:
                "Without --purpose: every purpose of the policy. --json prints the same value GET /v1/policy/explain returns."
        )

        @Option(help: "Configuration file.") var config: String
        @Option(help: "The consumer's OIN.") var consumer: String
        @Option(help: "The purpose id (default: every purpose).") var purpose: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let configuration = try GatewayConfiguration.load(from: URL(fileURLWithPath: config))
            let policy = try Policy(document: configuration.policy, datasets: try configuration.loadDatasets())
            guard let oin = OIN(consumer) else { throw ValidationError("--consumer must be an OIN (20 digits)") }
            let purposes = purpose.map { [PurposeID($0)] } ?? policy.purposeIDs
            let explanations = purposes.map { policy.explain(consumer: oin, purpose: $0) }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(
                    String(
                        decoding: try encoder.encode(
                            purpose == nil ? AnyEncodable(explanations) : AnyEncodable(explanations[0])
                        ),
                        as: UTF8.self
                    )
                )
            } else {
                print(
                    explanations.map(\.text).joined(separator: "\n" + String(repeating: "-", count: 72) + "\n\n"),
                    terminator: ""
                )
            }
        }
    }
}

/// An encodable of either shape, for printing.
private struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}
