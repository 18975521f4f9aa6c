import ArgumentParser
import BatchEnvelope
import Foundation
import Gateway
import VangnetCrypto

struct ReceiptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipt",
        abstract: "Receipts.",
        subcommands: [Verify.self]
    )

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a receipt's signature with the gateway's public signing key and print it."
        )

        @Option(help: "Receipt file (the JSON `vangnet push` printed).") var receipt: String
        @Option(help: "The gateway's Ed25519 public key file (gateway-signing.pub).") var gatewayKey: String

        func run() throws {
            let signed = try JSONDecoder().decode(
                SignedReceipt.self,
                from: Data(contentsOf: URL(fileURLWithPath: receipt))
            )
            let key = try SigningPublicKey(bytes: KeyFile.readPublic(URL(fileURLWithPath: gatewayKey)))
            let body = try signed.verified(with: key)
            print(
                "receipt valid (gateway key \(key.keyID)): batch \(body.batchId) from \(body.source), \(body.accepted) accepted, \(body.rejected) rejected"
            )
            for rejection in body.rejections {
                print(
                    "  line \(rejection.line): \(rejection.reason.rawValue)\(rejection.field.map { " (\($0))" } ?? "")"
                )
            }
        }
    }
}
