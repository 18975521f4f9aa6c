import ArgumentParser
import AuditLog
import Foundation
import Gateway
import Storage
import StoreSelection

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Gateway and source keys.",
        subcommands: [Init.self, Rotate.self]
    )

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Make the gateway's keys (receipt signing, payload sealing, pseudonym root) and, optionally, source signing keys.",
            discussion:
                "Secret key files are written with mode 0600; the gateway refuses to start on looser ones. Existing gateway keys are never overwritten."
        )

        @Option(help: "Directory to write the keys to.")
        var dir = "keys"

        @Option(help: "Comma-separated source names to make Ed25519 signing keys for (for example duo,uwv).")
        var sources = ""

        @Flag(help: "Only make the source signing keys.")
        var sourcesOnly = false

        func run() throws {
            let directory = URL(fileURLWithPath: dir)
            if !sourcesOnly {
                let keys = try GatewayKeys.create(in: directory)
                print(
                    "gateway keys in \(directory.path): signing \(keys.signing.publicKey.keyID), sealing \(keys.box.publicKey.keyID)"
                )
            }
            for name in sources.split(separator: ",").map(String.init) where !name.isEmpty {
                let pair = try GatewayKeys.createSigningKey(named: name, in: directory)
                print(
                    "\(name)-signing.key: key id \(pair.publicKey.keyID), public key (for the policy) \(Data(pair.publicKey.bytes).base64EncodedString())"
                )
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a new pseudonym key epoch: a fresh root key, taken into use by the configuration.",
            discussion: """
                Writes pseudonym-root.e<N+1>.key (mode 0600) beside the newest epoch's key and sets \
                gateway.pseudonymEpoch in the configuration file to N+1. A running gateway takes it into \
                use on SIGHUP (audited as key.epoch). From then on records are stored and delivered under \
                the new epoch: regions receive new, unlinkable pseudonyms (vp1.e<N+1>...). Records of \
                earlier epochs stay deliverable under their own pseudonyms while their key files exist; \
                delete an old epoch's key file once retention has removed its records (see docs/operations.md).
                """
        )

        @Option(help: "Configuration file.") var config: String

        func run() async throws {
            let url = URL(fileURLWithPath: config)
            var configuration = try GatewayConfiguration.load(from: url)
            let directory = configuration.resolve(configuration.gateway.keyDirectory)
            let epoch = try GatewayKeys.rotatePseudonymRoot(in: directory)
            configuration.gateway.pseudonymEpoch = epoch
            try configuration.write(to: url)
            if configuration.usesPostgres || FileManager.default.fileExists(atPath: configuration.databaseLocation) {
                try await configuration.withOperatorStore { store in
                    try await store.appendAudit(
                        AuditEvent(
                            time: Date(),
                            actor: nil,
                            role: nil,
                            action: .operatorCommand,
                            object: "cli:keys rotate",
                            outcome: .success,
                            counts: ["pseudonymEpoch": Int(epoch)]
                        )
                    )
                }
            }
            print(
                "pseudonym epoch \(epoch): key \(directory.appendingPathComponent("pseudonym-root.e\(epoch).key").path); \(url.path) now names epoch \(epoch). Reload a running gateway: kill -HUP <pid>"
            )
        }
    }
}
