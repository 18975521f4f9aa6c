import Crypto
import Foundation
import Gateway
import SwiftASN1
import VangnetCore
import X509

/// A development PKI: a CA, the gateway's server certificate and client certificates for the
/// organisations of the development configuration, each with its test OIN in the subject
/// `serialNumber`, as PKIoverheid certificates carry it.
///
/// - Warning: for development and tests only. Nothing real trusts these keys; production uses
///   PKIoverheid (or the agency's own) certificates.
package enum DevelopmentPKI {
    /// One certificate to issue.
    package struct Subject: Sendable {
        package let fileName: String
        package let commonName: String
        package let organisation: String
        package let oin: OIN

        package init(fileName: String, commonName: String, organisation: String, oin: OIN) {
            self.fileName = fileName
            self.commonName = commonName
            self.organisation = organisation
            self.oin = oin
        }
    }

    /// Writes `ca.pem`/`ca.key`, `gateway.pem`/`gateway.key` and `<fileName>.pem`/`.key` for every
    /// client into `directory`. Private keys are written with mode 0600.
    package static func create(
        in directory: URL,
        gatewayOIN: OIN,
        clients: [Subject],
        caName: String = "Vangnet Development CA",
        now: Date = Date()
    ) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let caKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let caName = try DistinguishedName {
            CountryName("NL")
            OrganizationName("Vangnet development")
            CommonName(caName)
        }
        let ca = try Certificate(
            version: .v3,
            serialNumber: .init(),
            publicKey: caKey.publicKey,
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(2 * 365 * 86400),
            issuer: caName,
            subject: caName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: caKey.publicKey)
            },
            issuerPrivateKey: caKey
        )
        try write(ca, key: caKey, name: "ca", in: directory)

        func issue(_ subject: Subject, server: Bool) throws {
            let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
            let name = try DistinguishedName {
                CountryName("NL")
                OrganizationName(subject.organisation)
                SerialNumberAttribute(value: subject.oin.value)
                CommonName(subject.commonName)
            }
            let certificate = try Certificate(
                version: .v3,
                serialNumber: .init(),
                publicKey: key.publicKey,
                notValidBefore: now.addingTimeInterval(-3600),
                notValidAfter: now.addingTimeInterval(365 * 86400),
                issuer: caName,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage(server ? [.serverAuth] : [.clientAuth])
                    if server {
                        SubjectAlternativeNames([
                            .dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                        ])
                    }
                },
                issuerPrivateKey: caKey
            )
            try write(certificate, key: key, name: subject.fileName, in: directory)
        }
        try issue(
            Subject(
                fileName: "gateway",
                commonName: "localhost",
                organisation: "Vangnet gateway (development)",
                oin: gatewayOIN
            ),
            server: true
        )
        for client in clients { try issue(client, server: false) }
    }

    /// Writes `ca.crl` (PEM) into `directory`: a revocation list of its CA naming `revoked` (paths
    /// of certificates it issued; none: an empty list).
    @discardableResult
    /// Numbered one above the list already in `directory` unless `number` says otherwise.
    package static func writeRevocationList(
        revoking revoked: [URL],
        in directory: URL,
        now: Date = Date(),
        validity: TimeInterval = 7 * 86_400,
        number: Int? = nil
    ) throws -> URL {
        let ca = try Certificate(
            pemEncoded: String(contentsOf: directory.appendingPathComponent("ca.pem"), encoding: .utf8)
        )
        let caKey = try Certificate.PrivateKey(
            pemEncoded: String(contentsOf: directory.appendingPathComponent("ca.key"), encoding: .utf8)
        )
        let serials = try revoked.map {
            try Certificate(pemEncoded: String(contentsOf: $0, encoding: .utf8)).serialNumber
        }
        let file = directory.appendingPathComponent("ca.crl")
        // Each list numbered one above the one it replaces (RFC 5280 §5.2.3).
        let previous =
            (try? RevocationList(contentsOf: file, issuer: ca))?.number.map { $0.reduce(0) { $0 << 8 | Int($1) } } ?? 0
        let der = try RevocationList.issue(
            revoking: serials,
            ca: ca,
            caKey: caKey,
            now: now,
            validity: validity,
            number: number ?? previous + 1
        )
        // Written whole, then renamed: a gateway checking the file never reads half of it.
        try PEMDocument(type: "X509 CRL", derBytes: der).pemString.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    private static func write(
        _ certificate: Certificate,
        key: Certificate.PrivateKey,
        name: String,
        in directory: URL
    ) throws {
        try certificate.serializeAsPEM().pemString.write(
            to: directory.appendingPathComponent("\(name).pem"),
            atomically: true,
            encoding: .utf8
        )
        try KeyFile.writeText(key.serializeAsPEM().pemString, to: directory.appendingPathComponent("\(name).key"))
    }
}

/// The subject attribute `serialNumber` (OID 2.5.4.5), where PKIoverheid puts the OIN.
struct SerialNumberAttribute: RelativeDistinguishedNameConvertible {
    let value: String
    func makeRDN() throws -> RelativeDistinguishedName {
        RelativeDistinguishedName(try .init(type: CallerIdentity.serialNumberOID, printableString: value))
    }
}
