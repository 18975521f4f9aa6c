import AccessPolicy
import ArgumentParser
import Foundation
import Gateway
import Storage
import StoreSelection

struct RetentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Records past their purposes' retention.",
        subcommands: [Purge.self]
    )

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Remove the records no purpose may keep any longer (the gateway also does this every purgeEverySeconds).",
            discussion:
                "A record is kept for the longest retentionDays of the purposes that deliver its dataset, counted from when its source last stated it (the commit of its version, or of a later complete picture that held it). The purge is audited (retention.purge), and the regions see the records leave their pictures as withdrawals."
        )

        @Option(help: "Gateway configuration file.") var config: String

        func run() async throws {
            let configuration = try GatewayConfiguration.load(from: URL(fileURLWithPath: config))
            let active = try ActivePolicy.load(configuration)
            let result = try await configuration.withOperatorStore { store in
                try await Retention.purge(store: store, active: active, now: Date(), actor: nil, trigger: "cli")
            }
            let total = result.records.values.reduce(0, +)
            print(
                "retention purge: \(total) records removed from \(result.batches.values.reduce(0, +)) batches"
                    + (result.records.isEmpty
                        ? ""
                        : " ("
                            + result.records.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
                                separator: ", "
                            ) + ")")
            )
        }
    }
}
