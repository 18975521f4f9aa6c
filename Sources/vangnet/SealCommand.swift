import ArgumentParser
import BatchEnvelope
import Foundation
import Gateway
import VangnetCore
import VangnetCrypto

struct SealCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seal",
        abstract: "Sign and encrypt an NDJSON file into a batch envelope (format v1, docs/envelope.md).",
        discussion: "Streams: memory stays at one chunk whatever the file size."
    )

    @Option(help: "NDJSON input file.") var input: String
    @Option(help: "Envelope output file.") var output: String
    @Option(help: "Dataset id, for example duo.onderwijsdeelname.") var dataset: String
    @Option(help: "The source's OIN (must match its client certificate).") var source: String
    @Option(help: "The source's Ed25519 signing key file (base64 seed, mode 0600).") var signingKey: String
    @Option(help: "The gateway's X25519 public key file (gateway-box.pub).") var gatewayKey: String
    @Option(help: "Batch id (UUID); default: a new one.") var batchId: String?
    @Option(help: "The version of the dataset the records follow (GET /v1/datasets lists those the gateway holds).")
    var schemaVersion = 1
    @Option(
        help:
            "full: the file is your complete current picture of the dataset (your records missing from it are withdrawn); changes: records added or changed, and withdrawals."
    )
    var mode: BatchMode = .changes

    func run() throws {
        guard let oin = OIN(source) else { throw CommandFailure("--source must be a 20-digit OIN") }
        let batch = try batchId.map { try BatchID($0).orThrow("--batch-id must be a UUID") } ?? BatchID()
        let sealer = EnvelopeSealer(
            source: oin,
            signingKey: try SigningKeyPair(seed: KeyFile.readSecret(URL(fileURLWithPath: signingKey))),
            recipient: try BoxPublicKey(bytes: KeyFile.readPublic(URL(fileURLWithPath: gatewayKey)))
        )
        let header = try sealer.sealFile(
            URL(fileURLWithPath: input),
            to: URL(fileURLWithPath: output),
            batchId: batch,
            dataset: DatasetID(dataset),
            schemaVersion: schemaVersion,
            createdAt: Date(),
            mode: mode
        )
        print(
            "sealed \(header.recordCount) records of \(header.dataset) v\(header.schemaVersion) (\(mode.rawValue)) as batch \(header.batchId) into \(output)"
        )
    }
}

extension Optional {
    func orThrow(_ message: String) throws -> Wrapped {
        guard let self else { throw CommandFailure(message) }
        return self
    }
}

extension BatchMode: ExpressibleByArgument {}
