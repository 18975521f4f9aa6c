import AuditLog
import Crypto
import DevelopmentSupport
import Foundation
import Gateway
import SwiftASN1
import Testing
import VangnetClient
import VangnetCore
import X509

/// The outside security test's findings on availability and identity: unauthenticated peers can
/// neither lock authenticated callers out nor flood the audit log, and a certificate must name
/// exactly one OIN.
@Suite struct HostileNetworkTests {
    func entries(_ gw: TestGateway, _ action: AuditEvent.Action, _ reason: String) async throws -> [AuditEvent] {
        try await gw.store.auditEvents().filter { $0.action == action && $0.reason == reason }
    }

    func refusals(_ events: [AuditEvent]) -> Int { events.reduce(0) { $0 + ($1.counts["refusals"] ?? 0) } }

    @Test func aSilentConnectionIsClosedAtTheHandshakeDeadlineLongBeforeTheHeaderDeadline() async throws {
        try await TestGateway.with(.tls, limits: .init(headerTimeoutSeconds: 10, handshakeTimeoutSeconds: 1)) { gw in
            let started = ContinuousClock.now
            let silent = try ResourceLimitTests.RawConnection(port: gw.port, receiveTimeoutSeconds: 5)
            #expect(
                silent.closedByServer(),
                "a connection that sends no ClientHello is closed at the handshake deadline"
            )
            let elapsed = ContinuousClock.now - started
            #expect(elapsed < .seconds(4), "\(elapsed)")
            do {
                let holds = try await eventually {
                    refusals(try await entries(gw, .limit, "tls_handshake_too_slow")) == 1
                }
                #expect(holds)
            }
        }
    }

    @Test func silentConnectionsDoNotTakeAnAuthenticatedCallersPlace() async throws {
        try await TestGateway.with(.tls, limits: .init(maxHandshakes: 4, maxConnections: 4)) { gw in
            // Eight silent connections from one address: the handshake table holds four of them.
            let silent = (0..<8).map { _ in SilentFlood.connect(port: gw.port, from: "127.0.0.2") }
            defer { for socket in silent where socket >= 0 { close(socket) } }
            try await Task.sleep(for: .milliseconds(300))
            // Callers from another address still get through.
            for name in ["region-utrecht", "region-amsterdam", "auditor"] {
                do {
                    let actual = try await gw.using(name) { try await $0.get("/v1/me") }.status
                    #expect(actual == 200, "\(name)")
                }
            }
            // The first caller found the table full and evicted a silent handshake; the others found room.
            do {
                let holds = try await eventually { refusals(try await entries(gw, .limit, "handshake_evicted")) >= 1 }
                #expect(holds)
            }
            do {
                let holds = try await eventually { refusals(try await entries(gw, .limit, "too_many_handshakes")) >= 1 }
                #expect(
                    holds,
                    "a flooding address may not evict its own handshakes: its newcomers are refused"
                )
            }
        }
    }

    /// The goal of the finding: with 2,000 silent connections from 20 addresses held and renewed,
    /// at least 99% of authenticated callers' requests succeed. Each request opens a connection
    /// of its own, so every one of them must get its handshake through the flood.
    @Test func twoThousandSilentConnectionsFromTwentyAddressesDoNotLockCallersOut() async throws {
        let requests = Int(ProcessInfo.processInfo.environment["VANGNET_FLOOD_REQUESTS"] ?? "") ?? 100
        try await TestGateway.with(.tls) { gw in
            let flood = SilentFlood(port: gw.port, addresses: 20, perAddress: 100)
            do {
                let holds = try await eventually { flood.opened >= 2000 }
                #expect(holds, "the flood opened \(flood.opened)")
            }
            var served = 0
            for index in 0..<requests {
                let name = index.isMultiple(of: 2) ? "region-utrecht" : "region-amsterdam"
                let status = (try? await gw.using(name) { try await $0.get("/v1/me") })?.status
                if status == 200 { served += 1 }
            }
            let opened = flood.opened
            let closed = flood.closedByGateway
            await flood.stop()
            #expect(
                served * 100 >= requests * 99,
                "\(served) of \(requests) served while the flood opened \(opened) connections"
            )
            #expect(closed > 0, "the gateway closed silent connections")
            // The flood is summarised: a handful of audit entries per second (per reason), not one
            // per connection, however long the run takes on this machine.
            let limitEntries = try await gw.store.auditEvents().filter { $0.action == .limit }.count
            #expect(limitEntries * 5 < opened, "\(limitEntries) limit entries for \(opened) connections")
        }
    }

    @Test func refusedHandshakesAreSummarisedWithExactCountsNotWrittenOneByOne() async throws {
        try await TestGateway.with(.tls) { gw in
            let handshakes = 300
            let started = ContinuousClock.now
            var refused = 0
            for _ in 0..<handshakes {
                let connection = try await TLSOnlyConnection(port: gw.port, certificate: nil, in: gw.certs)
                let completed = (try? await connection.handshakeCompleted()) != nil
                let closed = await connection.closedByServer(within: .seconds(2))
                if !completed || closed { refused += 1 }
                await connection.close()
            }
            #expect(refused == handshakes)
            do {
                let holds = try await eventually {
                    refusals(try await entries(gw, .tlsHandshake, "tls_no_certificate")) == handshakes
                }
                #expect(
                    holds,
                    "every refusal is counted"
                )
            }
            let written = try await entries(gw, .tlsHandshake, "tls_no_certificate").count
            let seconds = Int((ContinuousClock.now - started).components.seconds) + 1
            #expect(
                written <= seconds && written < handshakes / 2,
                "\(written) audit entries for \(handshakes) refused handshakes in \(seconds) s: one per second at most"
            )
        }
    }

    static let amsterdam = "00000099000000000221"

    /// RFC 5280 constraints along the client chain, each refused at the handshake (with the alert
    /// `certificate_unknown`) and audited with its reason, while the CA's own clients are served.
    /// The client CA bundle also holds a second root without a path length constraint.
    @Test(arguments: [
        "an intermediate under a pathlen:0 CA", "an intermediate that may not sign certificates",
        "a leaf for servers only", "a leaf not yet valid", "an expired leaf", "a CA certificate as the leaf",
        "an intermediate under the second root (accepted)",
    ])
    func aChainThatBreaksAnRFC5280ConstraintIsRefusedAtTheHandshake(fault: String) async throws {
        try await TestGateway.with(
            .tls,
            settings: { _, directory in
                let certs = directory.appendingPathComponent("certs")
                let root = try TestCertificates.root(named: "Vangnet Test Root 2")
                let bundle =
                    try String(contentsOf: certs.appendingPathComponent("ca.pem"), encoding: .utf8) + "\n"
                    + root.certificate.serializeAsPEM().pemString
                try bundle.write(to: certs.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
                try root.certificate.serializeAsPEM().pemString.write(
                    to: certs.appendingPathComponent("root2.pem"),
                    atomically: true,
                    encoding: .utf8
                )
                try KeyFile.writeText(
                    root.key.serializeAsPEM().pemString,
                    to: certs.appendingPathComponent("root2.key")
                )
            }
        ) { gw in
            let root2 = (
                try Certificate(
                    pemEncoded: String(contentsOf: gw.certs.appendingPathComponent("root2.pem"), encoding: .utf8)
                ),
                try Certificate.PrivateKey(
                    pemEncoded: String(contentsOf: gw.certs.appendingPathComponent("root2.key"), encoding: .utf8)
                )
            )
            func viaIntermediate(under issuer: TestCertificates.Issuer?, keyUsage: KeyUsage) throws {
                let intermediate = try TestCertificates.issue(
                    in: gw.certs,
                    fileName: "intermediate",
                    serialNumbers: [],
                    issuer: issuer,
                    isCA: true,
                    keyUsage: keyUsage,
                    purposes: nil
                )
                try TestCertificates.issue(
                    in: gw.certs,
                    fileName: "faulty",
                    serialNumbers: [Self.amsterdam],
                    issuer: intermediate,
                    chain: [intermediate.certificate]
                )
            }
            var reason: String? = "tls_untrusted_certificate"
            switch fault {
            case "an intermediate under a pathlen:0 CA":
                // The development CA is pathLenConstraint 0; a CA:TRUE certificate it signed issues Amsterdam's.
                try viaIntermediate(under: nil, keyUsage: KeyUsage(keyCertSign: true, cRLSign: true))
            case "an intermediate that may not sign certificates":
                try viaIntermediate(under: root2, keyUsage: KeyUsage(digitalSignature: true))
            case "an intermediate under the second root (accepted)":
                try viaIntermediate(under: root2, keyUsage: KeyUsage(keyCertSign: true, cRLSign: true))
                reason = nil
            case "a leaf for servers only":
                try TestCertificates.issue(
                    in: gw.certs,
                    fileName: "faulty",
                    serialNumbers: [Self.amsterdam],
                    purposes: [.serverAuth]
                )
            case "a leaf not yet valid":
                try TestCertificates.issue(
                    in: gw.certs,
                    fileName: "faulty",
                    serialNumbers: [Self.amsterdam],
                    notBefore: Date().addingTimeInterval(86400),
                    notAfter: Date().addingTimeInterval(2 * 86400)
                )
                reason = "tls_certificate_not_yet_valid"
            case "an expired leaf":
                try TestCertificates.issue(
                    in: gw.certs,
                    fileName: "faulty",
                    serialNumbers: [Self.amsterdam],
                    notBefore: Date().addingTimeInterval(-2 * 86400),
                    notAfter: Date().addingTimeInterval(-86400)
                )
                reason = "tls_certificate_expired"
            default:
                try TestCertificates.issue(
                    in: gw.certs,
                    fileName: "faulty",
                    serialNumbers: [Self.amsterdam],
                    isCA: true,
                    keyUsage: KeyUsage(digitalSignature: true, keyCertSign: true)
                )
            }
            let answer: Result<GatewayClient.Answer, any Error>
            do { answer = .success(try await gw.using("faulty") { try await $0.get("/v1/me") }) } catch {
                answer = .failure(error)
            }
            guard let reason else {
                #expect((try? answer.get())?.status == 200, "a chain that keeps every constraint is served: \(answer)")
                return
            }
            #expect(String(describing: answer).contains("CERTIFICATE_UNKNOWN"), "\(fault): \(answer)")
            let audited = try await eventually {
                try await gw.store.auditEvents().contains { $0.action == .tlsHandshake && $0.reason == reason }
            }
            #expect(audited, "\(fault): audited as \(reason)")
            do {
                let actual = try await gw.using("region-amsterdam") { try await $0.get("/v1/me") }.status
                #expect(actual == 200)
            }
        }
    }

    @Test func aRevokedCertificateIsRefusedWithAnAlert() async throws {
        try await TestGateway.with(
            .tls,
            settings: { settings, directory in
                try DevelopmentPKI.writeRevocationList(
                    revoking: [directory.appendingPathComponent("certs/region-utrecht.pem")],
                    in: directory.appendingPathComponent("certs")
                )
                settings.tls.crl = "certs/ca.crl"
            }
        ) { gw in
            // TLS 1.3: the client's side of the handshake completes before the server has checked
            // its certificate; the refusal arrives as an alert, not as a bare close.
            let answer: Result<GatewayClient.Answer, any Error>
            do { answer = .success(try await gw.using("region-utrecht") { try await $0.get("/v1/me") }) } catch {
                answer = .failure(error)
            }
            #expect(String(describing: answer).contains("CERTIFICATE_UNKNOWN"), "\(answer)")
            let audited = try await eventually {
                try await gw.store.auditEvents().contains {
                    $0.reason == "tls_certificate_revoked" && $0.actor?.value == "00000099000000000219"
                }
            }
            #expect(audited)
        }
    }

    @Test func aCertificateWithTwoOINsIsRefusedAndAudited() async throws {
        try await TestGateway.with(.tls) { gw in
            // Issued by the gateway's own client CA: Amsterdam's OIN first, Utrecht's second.
            try TestCertificates.issue(
                in: gw.certs,
                fileName: "two-oins",
                serialNumbers: ["00000099000000000221", "00000099000000000219"]
            )
            let answer = try await gw.using("two-oins") { try await $0.get("/v1/me") }
            #expect(answer.status == 403)
            #expect(answer.refusal?.code == "no_oin")
            #expect(answer.refusal?.message.contains("exactly one OIN") == true)
            do {
                let holds = try await gw.store.auditEvents().contains {
                    $0.action == .identity && $0.reason == "no_oin"
                }
                #expect(holds)
            }
            // The same CA's certificate with one OIN is served.
            do {
                let actual = try await gw.using("region-amsterdam") { try await $0.get("/v1/me") }.status
                #expect(actual == 200)
            }
        }
    }
}

/// Certificates that the development PKI does not make, issued by a test directory's CA (or by
/// another certificate made here).
enum TestCertificates {
    typealias Issuer = (certificate: Certificate, key: Certificate.PrivateKey)

    /// A self-signed CA without a path length constraint.
    static func root(named name: String) throws -> Issuer {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let subject = try DistinguishedName {
            CountryName("NL")
            CommonName(name)
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: .init(),
            publicKey: key.publicKey,
            notValidBefore: Date().addingTimeInterval(-3600),
            notValidAfter: Date().addingTimeInterval(86400),
            issuer: subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: key
        )
        return (certificate, key)
    }

    static func ca(in directory: URL) throws -> Issuer {
        (
            try Certificate(
                derEncoded: PEMDocument.parseMultiple(
                    pemString: String(contentsOf: directory.appendingPathComponent("ca.pem"), encoding: .utf8)
                )[0].derBytes
            ),
            try Certificate.PrivateKey(
                pemEncoded: String(contentsOf: directory.appendingPathComponent("ca.key"), encoding: .utf8)
            )
        )
    }

    /// Writes `<fileName>.pem` (the certificate, then `chain`) and `<fileName>.key`: a certificate
    /// whose subject holds one serialNumber attribute per entry of `serialNumbers`.
    @discardableResult
    static func issue(
        in directory: URL,
        fileName: String,
        serialNumbers: [String],
        issuer: Issuer? = nil,
        isCA: Bool = false,
        keyUsage: KeyUsage = KeyUsage(digitalSignature: true),
        purposes: [ExtendedKeyUsage.Usage]? = [.clientAuth],
        notBefore: Date = Date().addingTimeInterval(-3600),
        notAfter: Date = Date().addingTimeInterval(86400),
        chain: [Certificate] = []
    ) throws -> Issuer {
        let issuer = try issuer ?? ca(in: directory)
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        var attributes: [RelativeDistinguishedName] = [
            RelativeDistinguishedName(try .init(type: .RDNAttributeType.countryName, printableString: "NL"))
        ]
        for serial in serialNumbers {
            attributes.append(
                RelativeDistinguishedName(
                    try RelativeDistinguishedName.Attribute(type: [2, 5, 4, 5], printableString: serial)
                )
            )
        }
        attributes.append(
            RelativeDistinguishedName(try .init(type: .RDNAttributeType.commonName, utf8String: fileName))
        )
        let certificate = try Certificate(
            version: .v3,
            serialNumber: .init(),
            publicKey: key.publicKey,
            notValidBefore: notBefore,
            notValidAfter: notAfter,
            issuer: issuer.certificate.subject,
            subject: DistinguishedName(attributes),
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(
                    isCA
                        ? BasicConstraints.isCertificateAuthority(maxPathLength: nil)
                        : BasicConstraints.notCertificateAuthority
                )
                Critical(keyUsage)
                if let purposes { try ExtendedKeyUsage(purposes) }
            },
            issuerPrivateKey: issuer.key
        )
        let pem = try ([certificate] + chain).map { try $0.serializeAsPEM().pemString }.joined(separator: "\n")
        try pem.write(to: directory.appendingPathComponent("\(fileName).pem"), atomically: true, encoding: .utf8)
        try KeyFile.writeText(key.serializeAsPEM().pemString, to: directory.appendingPathComponent("\(fileName).key"))
        return (certificate, key)
    }
}
