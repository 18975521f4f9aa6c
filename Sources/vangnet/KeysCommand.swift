import ArgumentParser
import AuditLog
import Foundation
import Gateway
import Pseudonymisation
import Storage
import StoreSelection
import VangnetCrypto

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Gateway and source keys.",
        subcommands: [Init.self, Rotate.self, RotateReidentification.self, DestroyReidentification.self]
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

    /// Appends an operator entry, if the store exists.
    static func audit(_ configuration: GatewayConfiguration, object: String, counts: [String: Int]) async throws {
        guard configuration.usesPostgres || FileManager.default.fileExists(atPath: configuration.databaseLocation)
        else { return }
        try await configuration.withOperatorStore { store in
            try await store.appendAudit(
                AuditEvent(
                    time: Date(),
                    actor: nil,
                    role: nil,
                    action: .operatorCommand,
                    object: object,
                    outcome: .success,
                    counts: counts
                )
            )
        }
    }

    struct RotateReidentification: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-reidentification",
            abstract: "Start a new re-identification key epoch: a fresh key that seals the BSNs kept from now on.",
            discussion: """
                Writes reidentification.e<N+1>.key (mode 0600) beside the newest one. A running gateway                 takes it into use on SIGHUP. Identities sealed under earlier epochs stay releasable while                 their key files exist; a record sent again is sealed under the new epoch. Pseudonyms do                 not change.
                """
        )

        @Option(help: "Configuration file.") var config: String

        func run() async throws {
            let configuration = try GatewayConfiguration.load(from: URL(fileURLWithPath: config))
            let directory = configuration.resolve(configuration.gateway.keyDirectory)
            let epoch = try GatewayKeys.rotateIdentityRoot(in: directory)
            try await KeysCommand.audit(
                configuration,
                object: "cli:keys rotate-reidentification",
                counts: ["reidentificationEpoch": Int(epoch)]
            )
            print(
                "re-identification epoch \(epoch): key \(directory.appendingPathComponent("reidentification.e\(epoch).key").path). Reload a running gateway: kill -HUP <pid>"
            )
        }
    }

    struct DestroyReidentification: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "destroy-reidentification",
            abstract: "Destroy every re-identification key: no kept BSN can be released again, by anyone.",
            discussion: """
                Overwrites and removes every reidentification.e<N>.key. After a reload (SIGHUP) or                 restart the gateway keeps no new BSNs and refuses releases (reidentification_key_missing);                 pseudonyms, pulls and pushes are unaffected. What the store holds sealed under the                 destroyed keys can no longer be opened. Irreversible: give --yes.
                """
        )

        @Option(help: "Configuration file.") var config: String
        @Flag(help: "Confirm: the keys are gone for good.") var yes = false

        func run() async throws {
            guard yes else {
                throw ValidationError("destroying the re-identification keys cannot be undone: add --yes")
            }
            let configuration = try GatewayConfiguration.load(from: URL(fileURLWithPath: config))
            let epochs = try GatewayKeys.destroyIdentityRoots(
                in: configuration.resolve(configuration.gateway.keyDirectory)
            )
            try await KeysCommand.audit(
                configuration,
                object: "cli:keys destroy-reidentification",
                counts: ["epochsDestroyed": epochs.count]
            )
            print(
                "destroyed \(epochs.count) re-identification key(s)\(epochs.isEmpty ? "" : " (epochs \(epochs.map(String.init).joined(separator: ", ")))"). Reload a running gateway: kill -HUP <pid>"
            )
        }
    }

    struct Reveal: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reveal",
            abstract: "On the contactgemeente's side: open a release with the region's reveal key.",
            discussion: """
                Reads the JSON answer of POST /v1/reidentifications/{id}/release and writes one line                 per released person, `<pseudonym>,<BSN>` (CSV with a header), to --output (mode 0600)                 or standard output. Refuses a sealed value that does not open with the key, or that was                 sealed for another pseudonym than the one it is listed with.
                """
        )

        @Option(
            help:
                "The region's reveal secret key file (X25519, made with its .pub by `vangnet config init` or your own tooling)."
        )
        var key: String
        @Option(help: "The release JSON.") var input: String
        @Option(help: "Where to write the CSV (default: standard output).") var output: String?

        func run() throws {
            struct Release: Decodable {
                struct Sealed: Decodable {
                    let pseudonym: String
                    let sealed: String
                }
                let released: [Sealed]
            }
            let pair = try BoxKeyPair(secretKey: KeyFile.readSecret(URL(fileURLWithPath: key)))
            let release = try JSONDecoder().decode(Release.self, from: Data(contentsOf: URL(fileURLWithPath: input)))
            var csv = "pseudonym,bsn\n"
            for (i, entry) in release.released.enumerated() {
                guard let sealed = Data(base64Encoded: entry.sealed) else {
                    throw ValidationError("released[\(i)].sealed is not base64")
                }
                let line = try IdentityVault.reveal(Array(sealed), with: pair) { pseudonym, bsn -> String? in
                    guard pseudonym == entry.pseudonym else { return nil }
                    return bsn.withDigits { "\(pseudonym),\(String(decoding: $0, as: UTF8.self))\n" }
                }
                guard let line = line ?? nil else {
                    throw ValidationError("released[\(i)] was not sealed for the pseudonym it is listed with")
                }
                csv += line
            }
            if let output {
                let url = URL(fileURLWithPath: output)
                FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600])
                try Data(csv.utf8).write(to: url)
            } else {
                print(csv, terminator: "")
            }
        }
    }
}
