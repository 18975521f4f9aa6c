import ArgumentParser
import AuditLog
import Foundation
import Gateway
import Storage
import VangnetCrypto

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The audit log.",
        subcommands: [Verify.self]
    )

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the audit hash chain; exit non-zero if any entry was changed, removed, inserted or reordered."
        )

        @Option(help: "Gateway configuration file (the database is found from it).") var config: String?
        @Option(help: "SQLite database file (instead of --config).") var database: String?

        func run() throws {
            let path: String
            if let database { path = database } else if let config {
                let configuration = try GatewayConfiguration.load(from: URL(fileURLWithPath: config))
                path = configuration.resolve(configuration.gateway.database).path
            } else { throw CommandFailure("give --config or --database") }
            guard FileManager.default.fileExists(atPath: path) else { throw CommandFailure("no database at \(path)") }
            switch try SQLiteStore(path: path).verifyAudit() {
            case .intact(let count, let head):
                print("audit chain intact: \(count) entries, head \(Hex.encode(head))")
            case .broken(let sequence, let reason):
                throw CommandFailure("audit chain BROKEN at entry \(sequence): \(reason)")
            }
        }
    }
}
