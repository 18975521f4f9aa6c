import AuditLog
import Crypto
import Foundation
import Gateway
import SwiftASN1
import Testing
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
        try await TestGateway.with(limits: .init(headerTimeoutSeconds: 10, handshakeTimeoutSeconds: 1)) { gw in
            let started = ContinuousClock.now
            let silent = try ResourceLimitTests.RawConnection(port: gw.port, receiveTimeoutSeconds: 5)
            #expect(silent.closedByServer(), "a connection that sends no ClientHello is closed at the handshake deadline")
            let elapsed = ContinuousClock.now - started
            #expect(elapsed < .seconds(4), "\(elapsed)")
            #expect(try await eventually { refusals(try await entries(gw, .limit, "tls_handshake_too_slow")) == 1 })
        }
    }

    @Test func silentConnectionsDoNotTakeAnAuthenticatedCallersPlace() async throws {
        try await TestGateway.with(limits: .init(maxHandshakes: 4, maxConnections: 4)) { gw in
            // Eight silent connections from one address: the handshake table holds four of them.
            let silent = (0..<8).map { _ in SilentFlood.connect(port: gw.port, from: "127.0.0.2") }
            defer { for socket in silent where socket >= 0 { close(socket) } }
            try await Task.sleep(for: .milliseconds(300))
            // Callers from another address still get through.
            for name in ["region-utrecht", "region-amsterdam", "auditor"] {
                #expect(try await gw.using(name) { try await $0.get("/v1/me") }.status == 200, "\(name)")
            }
            // The first caller found the table full and evicted a silent handshake; the others found room.
            #expect(try await eventually { refusals(try await entries(gw, .limit, "handshake_evicted")) >= 1 })
            #expect(try await eventually { refusals(try await entries(gw, .limit, "too_many_handshakes")) >= 1 },
                    "a flooding address may not evict its own handshakes: its newcomers are refused")
        }
    }

    /// The goal of the finding: with 2,000 silent connections from 20 addresses held and renewed,
    /// at least 99% of authenticated callers' requests succeed. Each request opens a connection
    /// of its own, so every one of them must get its handshake through the flood.
    @Test func twoThousandSilentConnectionsFromTwentyAddressesDoNotLockCallersOut() async throws {
        let requests = Int(ProcessInfo.processInfo.environment["VANGNET_FLOOD_REQUESTS"] ?? "") ?? 100
        try await TestGateway.with { gw in
            let flood = SilentFlood(port: gw.port, addresses: 20, perAddress: 100)
            #expect(try await eventually { flood.opened >= 2000 }, "the flood opened \(flood.opened)")
            var served = 0
            for index in 0..<requests {
                let name = index.isMultiple(of: 2) ? "region-utrecht" : "region-amsterdam"
                let status = (try? await gw.using(name) { try await $0.get("/v1/me") })?.status
                if status == 200 { served += 1 }
            }
            let opened = flood.opened, closed = flood.closedByGateway
            await flood.stop()
            #expect(served * 100 >= requests * 99, "\(served) of \(requests) served while the flood opened \(opened) connections")
            #expect(closed > 0, "the gateway closed silent connections")
            // The flood is summarised: a handful of audit entries per second, not one per connection.
            let limitEntries = try await gw.store.auditEvents().filter { $0.action == .limit }.count
            #expect(limitEntries < 200, "\(limitEntries) limit entries for \(opened) connections")
        }
    }

    @Test func refusedHandshakesAreSummarisedWithExactCountsNotWrittenOneByOne() async throws {
        try await TestGateway.with { gw in
            let handshakes = 300
            var refused = 0
            for _ in 0..<handshakes {
                let connection = try await TLSOnlyConnection(port: gw.port, certificate: nil, in: gw.certs)
                let completed = (try? await connection.handshakeCompleted()) != nil
                let closed = await connection.closedByServer(within: .seconds(2))
                if !completed || closed { refused += 1 }
                await connection.close()
            }
            #expect(refused == handshakes)
            #expect(try await eventually { refusals(try await entries(gw, .tlsHandshake, "tls_no_certificate")) == handshakes },
                    "every refusal is counted")
            let written = try await entries(gw, .tlsHandshake, "tls_no_certificate").count
            #expect(written < 60, "\(written) audit entries for \(handshakes) refused handshakes: one per second at most")
        }
    }

    @Test func aCertificateWithTwoOINsIsRefusedAndAudited() async throws {
        try await TestGateway.with { gw in
            // Issued by the gateway's own client CA: Amsterdam's OIN first, Utrecht's second.
            try TestCertificates.issue(in: gw.certs, fileName: "two-oins", serialNumbers: ["00000099000000000221", "00000099000000000219"])
            let answer = try await gw.using("two-oins") { try await $0.get("/v1/me") }
            #expect(answer.status == 403)
            #expect(answer.refusal?.code == "no_oin")
            #expect(answer.refusal?.message.contains("exactly one OIN") == true)
            #expect(try await gw.store.auditEvents().contains { $0.action == .identity && $0.reason == "no_oin" })
            // The same CA's certificate with one OIN is served.
            #expect(try await gw.using("region-amsterdam") { try await $0.get("/v1/me") }.status == 200)
        }
    }
}

/// Certificates that the development PKI does not make, issued by a test directory's CA.
enum TestCertificates {
    /// Writes `<fileName>.pem`/`.key`: a client certificate of `directory`'s CA whose subject holds
    /// one serialNumber attribute per entry of `serialNumbers`.
    static func issue(in directory: URL, fileName: String, serialNumbers: [String], now: Date = Date()) throws {
        let ca = try Certificate(pemEncoded: String(contentsOf: directory.appendingPathComponent("ca.pem"), encoding: .utf8))
        let caKey = try Certificate.PrivateKey(pemEncoded: String(contentsOf: directory.appendingPathComponent("ca.key"), encoding: .utf8))
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        var attributes: [RelativeDistinguishedName] = [RelativeDistinguishedName(try .init(type: .RDNAttributeType.countryName, printableString: "NL"))]
        for serial in serialNumbers { attributes.append(RelativeDistinguishedName(try RelativeDistinguishedName.Attribute(type: [2, 5, 4, 5], printableString: serial))) }
        attributes.append(RelativeDistinguishedName(try .init(type: .RDNAttributeType.commonName, utf8String: fileName)))
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(86400),
            issuer: ca.subject, subject: DistinguishedName(attributes), signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.clientAuth])
            },
            issuerPrivateKey: caKey)
        try certificate.serializeAsPEM().pemString.write(to: directory.appendingPathComponent("\(fileName).pem"), atomically: true, encoding: .utf8)
        try KeyFile.writeText(key.serializeAsPEM().pemString, to: directory.appendingPathComponent("\(fileName).key"))
    }
}
