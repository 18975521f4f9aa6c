import AuditLog
import DevelopmentSupport
import Foundation
import Gateway
import StoreSelection
import SwiftASN1
import Testing
import VangnetCore
import X509

/// Certificate revocation: a CRL of the client CA, checked at the handshake and at every request,
/// read again when its file changes, so a revoked region is refused without a restart.
@Suite struct RevocationTests {
    static let utrecht = OIN("00000099000000000219")!

    /// A gateway reading `certs/ca.crl` (empty at start) every second.
    func withCRL(_ body: (TestGateway) async throws -> Void) async throws {
        try await TestGateway.with(
            .tls,
            settings: { settings, directory in
                try DevelopmentPKI.writeRevocationList(revoking: [], in: directory.appendingPathComponent("certs"))
                settings.tls.crl = "certs/ca.crl"
                settings.tls.crlCheckSeconds = 1
            },
            body
        )
    }

    @Test func aRevokedRegionIsRefusedWithoutARestartAndOthersAreNot() async throws {
        try await withCRL { gw in
            do {
                let actual = try await gw.using("region-utrecht") { try await $0.pull(purpose: "vsv-opvolging") }.status
                #expect(actual == 200)
            }
            let kept = try gw.client("region-utrecht")  // its connection stays open across the revocation
            #expect(try await kept.pull(purpose: "vsv-opvolging").status == 200)

            try DevelopmentPKI.writeRevocationList(
                revoking: [gw.certs.appendingPathComponent("region-utrecht.pem")],
                in: gw.certs
            )
            let refusedAtHandshake = try await eventually {
                let answer = try? await gw.using("region-utrecht") { try await $0.pull(purpose: "vsv-opvolging") }
                return answer == nil
            }
            #expect(refusedAtHandshake, "a new connection with the revoked certificate is closed at the handshake")
            let onKeptConnection = try? await kept.pull(purpose: "vsv-opvolging")
            #expect(
                onKeptConnection == nil || onKeptConnection?.refusal?.code == "certificate_revoked",
                "a connection opened before the revocation gets nothing more: \(onKeptConnection?.status ?? 0)"
            )
            try await kept.shutdown()
            do {
                let actual = try await gw.using("region-amsterdam") { try await $0.pull(purpose: "vsv-opvolging") }
                    .status
                #expect(actual == 200)
            }

            let events = try await gw.store.auditEvents()
            do {
                let holds = events.contains {
                    $0.action == .configLoad && $0.object.hasPrefix("crl:") && $0.counts["revokedCertificates"] == 1
                }
                #expect(holds)
            }
            // Handshake refusals are summarised each second.
            let revokedHandshakeAudited = try await eventually {
                try await gw.store.auditEvents().contains {
                    $0.action == .tlsHandshake && $0.reason == "tls_certificate_revoked" && $0.actor == Self.utrecht
                }
            }
            #expect(revokedHandshakeAudited)
        }
    }

    @Test func aBrokenOrForeignListIsRefusedAndTheListInForceStays() async throws {
        try await withCRL { gw in
            try DevelopmentPKI.writeRevocationList(
                revoking: [gw.certs.appendingPathComponent("region-utrecht.pem")],
                in: gw.certs
            )
            do {
                let holds = try await eventually {
                    (try? await gw.using("region-utrecht") { try await $0.pull(purpose: "vsv-opvolging") }) == nil
                }
                #expect(holds)
            }

            // Garbage, then a list signed by another CA: both refused and audited; Utrecht stays revoked.
            try Data("not a CRL".utf8).write(to: gw.certs.appendingPathComponent("ca.crl"))
            do {
                let holds = try await eventually {
                    try await gw.store.auditEvents().filter { $0.reason == "invalid_crl" }.count == 1
                }
                #expect(holds)
            }
            let rogue = gw.directory.appendingPathComponent("rogue")
            try DevelopmentPKI.writeRevocationList(revoking: [], in: rogue)
            try FileManager.default.removeItem(at: gw.certs.appendingPathComponent("ca.crl"))
            try FileManager.default.copyItem(
                at: rogue.appendingPathComponent("ca.crl"),
                to: gw.certs.appendingPathComponent("ca.crl")
            )
            do {
                let holds = try await eventually {
                    try await gw.store.auditEvents().filter { $0.reason == "invalid_crl" }.count == 2
                }
                #expect(holds)
            }
            do {
                let actual = (try? await gw.using("region-utrecht") { try await $0.pull(purpose: "vsv-opvolging") })
                #expect(actual == nil, "the list in force stays")
            }
        }
    }

    /// CRL rollback: a list the CA signed earlier (older thisUpdate, or a lower CRL number) that
    /// does not name the revoked certificate must not un-revoke it.
    @Test(arguments: ["an earlier thisUpdate", "a lower CRL number"])
    func anOlderListIsRefusedAndTheRevokedCertificateStaysRevoked(older: String) async throws {
        try await withCRL { gw in
            let utrecht = gw.certs.appendingPathComponent("region-utrecht.pem")
            try DevelopmentPKI.writeRevocationList(revoking: [utrecht], in: gw.certs, number: 10)
            do {
                let holds = try await eventually {
                    (try? await gw.using("region-utrecht") { try await $0.get("/v1/me") }) == nil
                }
                #expect(holds)
            }
            if older == "an earlier thisUpdate" {
                // Dated two days earlier, with the same number (a CA's re-issue cannot roll back either).
                try DevelopmentPKI.writeRevocationList(
                    revoking: [],
                    in: gw.certs,
                    now: Date().addingTimeInterval(-2 * 86_400),
                    number: 10
                )
            } else {
                try DevelopmentPKI.writeRevocationList(
                    revoking: [],
                    in: gw.certs,
                    now: Date().addingTimeInterval(60),
                    number: 9
                )
            }
            let rollbackAudited = try await eventually {
                try await gw.store.auditEvents().contains { $0.reason == "crl_rollback" }
            }
            #expect(rollbackAudited, "refused and audited")
            do {
                let actual = (try? await gw.using("region-utrecht") { try await $0.get("/v1/me") })
                #expect(actual == nil, "still revoked")
            }
            // A newer list is taken into use as before.
            try DevelopmentPKI.writeRevocationList(
                revoking: [],
                in: gw.certs,
                now: Date().addingTimeInterval(120),
                number: 11
            )
            do {
                let holds = try await eventually {
                    (try? await gw.using("region-utrecht") { try await $0.get("/v1/me") })?.status == 200
                }
                #expect(holds)
            }
        }
    }

    /// A list past its nextUpdate: audited and logged; with `tls.crlFailClosed` every client is refused.
    @Test(arguments: [false, true])
    func aListPastItsNextUpdateIsAuditedAndFailsClosedWhenConfigured(failClosed: Bool) async throws {
        try await TestGateway.with(
            .tls,
            settings: { settings, directory in
                // Issued ten days before the gateway's clock, valid for one: expired.
                try DevelopmentPKI.writeRevocationList(
                    revoking: [],
                    in: directory.appendingPathComponent("certs"),
                    now: TestGateway.now.addingTimeInterval(-10 * 86_400),
                    validity: 86_400
                )
                settings.tls.crl = "certs/ca.crl"
                settings.tls.crlCheckSeconds = 1
                settings.tls.crlFailClosed = failClosed
            }
        ) { gw in
            let expiryAudited = try await eventually {
                try await gw.store.auditEvents().contains { $0.reason == "crl_expired" && $0.outcome == .failed }
            }
            #expect(expiryAudited)
            let answer = try? await gw.using("region-amsterdam") { try await $0.get("/v1/me") }
            if failClosed {
                #expect(answer == nil, "refused at the handshake: \(answer?.status ?? 0)")
                let handshakeAudited = try await eventually {
                    try await gw.store.auditEvents().contains {
                        $0.action == .tlsHandshake && $0.reason == "tls_crl_expired"
                    }
                }
                #expect(handshakeAudited)
            } else {
                #expect(answer?.status == 200, "served, with the warning audited")
            }
            do {
                let holds = gw.logs.all.contains { $0.contains("past its nextUpdate") }
                #expect(holds)
            }
        }
    }

    @Test func theGatewayRefusesToStartWithAListItCannotTrust() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-crl-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = try DevelopmentSetup.create(in: directory, port: 0)
        try DevelopmentPKI.create(
            in: directory.appendingPathComponent("other"),
            gatewayOIN: DevelopmentSetup.gatewayOIN,
            clients: []
        )
        try DevelopmentPKI.writeRevocationList(revoking: [], in: directory.appendingPathComponent("other"))
        configuration.gateway.tls.crl = "other/ca.crl"
        let error = try await #require(throws: ConfigurationError.self) {
            try await Gateway(configuration: configuration)
        }
        #expect(
            error.description.contains("gateway.tls.crl: the CRL is not signed by the client CA"),
            "\(error.description)"
        )
    }
}

/// The CRL reader on its own.
@Suite struct RevocationListTests {
    @Test func aListNamesExactlyTheRevokedSerialsAndChecksItsSignature() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-crllist-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        try DevelopmentSetup.create(in: directory, port: 0)
        let certs = directory.appendingPathComponent("certs")
        func certificate(_ name: String) throws -> Certificate {
            try Certificate(
                pemEncoded: String(contentsOf: certs.appendingPathComponent("\(name).pem"), encoding: .utf8)
            )
        }
        let ca = try certificate("ca")
        let file = try DevelopmentPKI.writeRevocationList(
            revoking: [certs.appendingPathComponent("region-utrecht.pem")],
            in: certs,
            now: Date(timeIntervalSince1970: 1_795_435_200)
        )
        let list = try RevocationList(contentsOf: file, issuer: ca)
        #expect(list.revokes(try certificate("region-utrecht")))
        #expect(!list.revokes(try certificate("region-amsterdam")))
        #expect(list.thisUpdate == Date(timeIntervalSince1970: 1_795_435_200))
        #expect(list.nextUpdate == Date(timeIntervalSince1970: 1_795_435_200 + 7 * 86_400))

        // The same list as DER reads the same; one changed byte in the list breaks the signature.
        let der = try PEMDocument(pemString: String(contentsOf: file, encoding: .utf8)).derBytes
        #expect(try RevocationList(bytes: der, issuer: ca) == list)
        var tampered = der
        tampered[tampered.count / 3] ^= 0x01
        #expect(throws: (any Error).self) { try RevocationList(bytes: tampered, issuer: ca) }

        #expect(list.number == [1], "the first list the development CA writes has CRL number 1")
        let next = try RevocationList(
            contentsOf: try DevelopmentPKI.writeRevocationList(revoking: [], in: certs),
            issuer: ca
        )
        #expect(next.number == [2], "vangnet pki revoke numbers each list one above the last")
        #expect(list.isOlder(than: next) && !next.isOlder(than: list))
        // And a list is only trusted from the CA it names: another certificate's key does not verify it.
        #expect(throws: RevocationList.Failure.self) {
            try RevocationList(bytes: der, issuer: try certificate("gateway"))
        }
    }
}
