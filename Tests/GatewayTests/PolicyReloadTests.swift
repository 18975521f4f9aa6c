import AccessPolicy
import AuditLog
import DevelopmentSupport
import Foundation
import Gateway
import Testing
import VangnetClient
import VangnetCore

/// A changed policy takes effect without a restart, after the same checks as at start, audited
/// with its fingerprint; a policy with problems is refused and the one in force stays.
@Suite struct PolicyReloadTests {
    let population = Population()

    static func rewrite(_ file: URL, _ change: (inout GatewayConfiguration) -> Void) throws {
        var configuration = try GatewayConfiguration.load(from: file)
        change(&configuration)
        try configuration.write(to: file)
    }

    static func revokeAmsterdam(_ configuration: inout GatewayConfiguration) {
        let i = configuration.policy.grants.firstIndex { $0.consumer == DevelopmentSetup.regionAmsterdam }!
        configuration.policy.grants[i].purposes.removeAll { $0 == "vsv-opvolging" }
    }

    @Test func aRevokedGrantTakesEffectWithoutRestart() async throws {
        try await TestGateway.with { gw in
            _ = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo")) }
            let before = try await gw.using("region-amsterdam") { try await $0.pull(purpose: "vsv-opvolging") }
            #expect(before.status == 200)
            let oldVersion = try #require(before.headers["vangnet-policy-version"])
            #expect(oldVersion == gw.gateway.policy.fingerprint)

            try Self.rewrite(gw.configurationFile, Self.revokeAmsterdam)
            let active = try await gw.gateway.reload()
            #expect(active.policy.fingerprint != oldVersion)

            let after = try await gw.using("region-amsterdam") { try await $0.pull(purpose: "vsv-opvolging") }
            #expect(after.refusal?.status == 403 && after.refusal?.code == "no_grant")
            let utrecht = try await gw.using("region-utrecht") { try await $0.pull(purpose: "vsv-opvolging") }
            #expect(
                utrecht.headers["vangnet-policy-version"] == active.policy.fingerprint,
                "every delivery names the policy it was made under"
            )

            let loads = try await gw.store.auditEvents().filter { $0.action == .configLoad }
            #expect(loads.map(\.object) == ["policy:\(oldVersion)", "policy:\(active.policy.fingerprint)"])
            do {
                let holds = loads.allSatisfy { $0.outcome == .success }
                #expect(holds)
            }
            let pulls = try await gw.store.auditEvents().filter { $0.action == .pull }
            #expect(pulls.last?.object.hasSuffix("/policy:\(active.policy.fingerprint)") == true)
        }
    }

    @Test func aPolicyWithProblemsIsRefusedAndThePolicyInForceStays() async throws {
        try await TestGateway.with { gw in
            let version = gw.gateway.policy.fingerprint
            try Self.rewrite(gw.configurationFile) { configuration in
                Self.revokeAmsterdam(&configuration)
                configuration.policy.purposes[0].fields["duo.onderwijsdeelname"]!.append("adres")
            }
            let error = try await #require(throws: ConfigurationError.self) { try await gw.gateway.reload() }
            #expect(error.description.contains("unknown field adres"))
            #expect(
                error.description.contains("vangnet.json:"),
                "the message points into the file: \(error.description)"
            )
            #expect(gw.gateway.policy.fingerprint == version)
            let answer = try await gw.using("region-amsterdam") { try await $0.pull(purpose: "vsv-opvolging") }
            #expect(answer.status == 200, "the revocation in the refused file did not take effect")
            let refused = try await gw.store.auditEvents().last { $0.action == .configLoad }
            #expect(refused?.outcome == .refused && refused?.reason == "invalid_configuration")
            #expect(try await gw.store.verifyAudit().isIntact)
        }
    }

    @Test func aRunningProcessReloadsOnSIGHUP() async throws {
        let executable = try #require(CrashTests.executable, "the vangnet executable is built with the tests")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-hup-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        try DevelopmentSetup.create(in: directory, port: 0)
        let config = directory.appendingPathComponent("vangnet.json")
        let certs = directory.appendingPathComponent("certs")
        let server = try await ServeProcess(executable: executable, config: config)
        let client = try GatewayClient(
            baseURL: "https://127.0.0.1:\(server.port)",
            certificate: certs.appendingPathComponent("region-amsterdam.pem"),
            privateKey: certs.appendingPathComponent("region-amsterdam.key"),
            trustedCA: certs.appendingPathComponent("ca.pem")
        )
        #expect(try await client.pull(purpose: "vsv-opvolging").status == 200)

        try Self.rewrite(config, Self.revokeAmsterdam)
        kill(server.process.processIdentifier, SIGHUP)
        var status = 200
        for _ in 0..<50 where status == 200 {
            try await Task.sleep(for: .milliseconds(100))
            status = try await client.pull(purpose: "vsv-opvolging").status
        }
        #expect(status == 403, "the revoked grant applies after SIGHUP, without a restart")
        #expect(server.process.isRunning)
        try await client.shutdown()
        try await server.stop()
    }
}

extension AuditVerdict {
    var isIntact: Bool { if case .intact = self { true } else { false } }
}
