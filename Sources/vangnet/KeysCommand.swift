import ArgumentParser
import Foundation
import Gateway

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Gateway and source keys.",
        subcommands: [Init.self]
    )

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the gateway's keys (receipt signing, payload sealing, pseudonym root) and, optionally, source signing keys.",
            discussion: "Secret key files are written with mode 0600; the gateway refuses to start on looser ones. Existing gateway keys are never overwritten."
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
                print("gateway keys in \(directory.path): signing \(keys.signing.publicKey.keyID), sealing \(keys.box.publicKey.keyID)")
            }
            for name in sources.split(separator: ",").map(String.init) where !name.isEmpty {
                let pair = try GatewayKeys.createSigningKey(named: name, in: directory)
                print("\(name)-signing.key: key id \(pair.publicKey.keyID), public key (for the policy) \(Data(pair.publicKey.bytes).base64EncodedString())")
            }
        }
    }
}
