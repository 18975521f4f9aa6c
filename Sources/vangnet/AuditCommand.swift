import ArgumentParser
import AuditLog
import Foundation
import Gateway
import Storage
import StoreSelection
import VangnetCrypto

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The audit log: verify it (in the database or an exported copy) and export it.",
        subcommands: [Verify.self, Export.self, AcceptHead.self]
    )

    /// Where the database and the audit key are.
    struct Source: ParsableArguments {
        @Option(help: "Gateway configuration file (the database and audit key are found from it).") var config: String?
        @Option(help: "SQLite database file or postgres:// URL (instead of --config).") var database: String?
        @Option(help: "The gateway's audit public key (audit-signing.pub); found from --config if not given.")
        var auditKey: String?

        func configuration() throws -> GatewayConfiguration? {
            try config.map { try GatewayConfiguration.load(from: URL(fileURLWithPath: $0)) }
        }

        func databaseLocation() throws -> String {
            if let database { return database }
            guard let configuration = try configuration() else { throw CommandFailure("give --config or --database") }
            return configuration.databaseLocation
        }

        func key() throws -> SigningPublicKey? {
            if let auditKey { return try SigningPublicKey(bytes: KeyFile.readPublic(URL(fileURLWithPath: auditKey))) }
            guard let configuration = try configuration() else { return nil }
            let file = configuration.resolve(configuration.gateway.keyDirectory).appendingPathComponent(
                "audit-signing.pub"
            )
            return try SigningPublicKey(bytes: KeyFile.readPublic(file))
        }

        /// Opens the store. With --config (the live store) the operator's command is recorded in
        /// the audit log, signed with the gateway's audit key; a --database file is opened
        /// read-only and left unchanged (it may be a copy kept as evidence).
        func withStore<T>(recording command: String, _ body: (any RecordStore) async throws -> T) async throws -> T {
            guard let configuration = try configuration(), database == nil else {
                return try await GatewayConfiguration.withStore(try databaseLocation(), readOnly: true, body)
            }
            return try await configuration.withOperatorStore { store in
                try await store.appendAudit(
                    AuditEvent(
                        time: Date(),
                        actor: nil,
                        role: nil,
                        action: .operatorCommand,
                        object: "cli:\(command)",
                        outcome: .success
                    )
                )
                return try await body(store)
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Recompute the audit hash chain and check its signed checkpoints; exit non-zero if anything was changed, removed, inserted, reordered or cut short.",
            discussion: """
                Verifies the gateway's database (--config or --database) or an exported copy (--export FILE, \
                NDJSON or CSV from `vangnet audit export`). Give every checkpoint you kept earlier with \
                --checkpoint (JSON from GET /v1/audit/checkpoints or an export): the log must still reach it \
                with the same hash, so a log cut short and re-chained is caught.
                """
        )

        @OptionGroup var source: Source
        @Option(help: "Verify this exported file instead of the database.") var export: String?
        @Option(help: "A checkpoint you kept (JSON file); repeatable.") var checkpoint: [String] = []

        func run() async throws {
            let held = try checkpoint.map { file -> AuditCheckpoint in
                try JSONDecoder().decode(AuditCheckpoint.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
            }
            let key = try source.key()
            let verdict: AuditVerdict
            if let export {
                verdict = try AuditExport.verify(
                    String(contentsOf: URL(fileURLWithPath: export), encoding: .utf8),
                    held: held,
                    key: key
                )
            } else {
                // Verifying evidence must not change it: the store is opened read-only and nothing
                // is appended (the copy being checked may not be the live store).
                verdict = try await GatewayConfiguration.withStore(try source.databaseLocation(), readOnly: true) {
                    try await $0.verifyAudit(held: held, key: key)
                }
            }
            switch verdict {
            case .intact(let count, let head, let checkpoints):
                let signatures =
                    key == nil
                    ? " (SIGNATURES NOT CHECKED: no audit key given; a recomputed chain would pass)"
                    : ", every entry covered by the audit key's signature"
                print(
                    "audit chain intact: \(count) entries, \(checkpoints) signed checkpoint(s) matched\(signatures), head \(Hex.encode(head))"
                )
            case .broken(let sequence, let reason):
                throw CommandFailure("audit chain BROKEN at entry \(sequence): \(reason)")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Write the audit log with its signed checkpoints as NDJSON or CSV, for offline verification and review.",
            discussion:
                "The copy verifies with `vangnet audit verify --export FILE --audit-key audit-signing.pub`. The export itself is recorded in the audit log (operator.command)."
        )

        @OptionGroup var source: Source
        @Option(help: "ndjson or csv.") var format: String = "ndjson"
        @Option(help: "Output file (default: standard output).") var output: String?

        func run() async throws {
            guard let format = AuditExport.Format(rawValue: format) else {
                throw ValidationError("--format must be ndjson or csv")
            }
            var handle = FileHandle.standardOutput
            if let output {
                FileManager.default.createFile(atPath: output, contents: nil, attributes: [.posixPermissions: 0o600])
                handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            }
            defer { if output != nil { try? handle.close() } }
            var buffer = ""
            try await source.withStore(recording: "audit export") { store in
                try await store.exportAudit(format) { line in
                    buffer += line + "\n"
                    if buffer.utf8.count > 1 << 20 {
                        try handle.write(contentsOf: Data(buffer.utf8))
                        buffer = ""
                    }
                }
            }
            try handle.write(contentsOf: Data(buffer.utf8))
        }
    }

    struct AcceptHead: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "accept-head",
            abstract:
                "Accept an audit log that no longer reaches the head the gateway last signed, after investigating it.",
            discussion: """
                The gateway refuses to start when its store's audit chain is shorter than, or differs from, the \
                checkpoint it last signed (kept in the key directory as audit-head.json). After comparing with the \
                auditors' held checkpoints and the backups, this records the decision in the audit log (with the \
                head that is no longer reached and the chain's end) and lets the gateway start.
                """
        )

        @Option(help: "Gateway configuration file.") var config: String
        @Option(help: "Why the chain is accepted (recorded in the audit log; no personal data).") var reason: String

        func run() async throws {
            let configuration = try GatewayConfiguration.load(from: URL(fileURLWithPath: config))
            let accepted = try await configuration.withOperatorStore { store in
                try await AuditHead.accept(configuration: configuration, store: store, reason: reason, at: Date())
            }
            guard let accepted else {
                print("the audit log reaches the signed head: nothing to accept")
                return
            }
            print(
                "accepted and recorded: \(accepted.rewritten ? "a rewritten" : "a cut-short") chain (signed head entry \(accepted.head.sequence), chain ends at \(accepted.chainEnd))"
            )
        }
    }
}
