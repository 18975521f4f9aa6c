import ArgumentParser
import DevelopmentSupport
import Foundation
import Gateway

struct PKICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pki",
        abstract: "Development PKI.",
        subcommands: [Init.self, Revoke.self]
    )

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Make a development CA, a gateway server certificate and client certificates for DUO, UWV, two regions and an auditor (test OINs, prefix 00000099).",
            discussion:
                "Writes ca.pem/.key, gateway.pem/.key and one .pem/.key pair per client. Nothing real trusts these keys."
        )

        @Option(help: "Directory to write the certificates to.")
        var dir = "certs/dev"

        func run() throws {
            let directory = URL(fileURLWithPath: dir)
            try DevelopmentPKI.create(
                in: directory,
                gatewayOIN: DevelopmentSetup.gatewayOIN,
                clients: DevelopmentSetup.clients
            )
            print("wrote development PKI to \(directory.path):")
            print("  ca.pem, gateway.pem (\(DevelopmentSetup.gatewayOIN))")
            for client in DevelopmentSetup.clients {
                print("  \(client.fileName).pem  OIN \(client.oin)  \(client.organisation)")
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write ca.crl for the development CA, revoking the given certificates (none: an empty list).",
            discussion:
                "Point gateway.tls.crl at it; a running gateway reads a changed file within tls.crlCheckSeconds."
        )

        @Option(help: "Directory of the development PKI (ca.pem, ca.key).") var dir = "certs/dev"
        @Argument(help: "Certificates (PEM) to revoke.") var certificates: [String] = []

        func run() throws {
            let file = try DevelopmentPKI.writeRevocationList(
                revoking: certificates.map { URL(fileURLWithPath: $0) },
                in: URL(fileURLWithPath: dir)
            )
            print("wrote \(file.path): \(certificates.count) certificate(s) revoked")
        }
    }
}
