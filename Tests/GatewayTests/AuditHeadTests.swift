import AuditLog
import Foundation
import Gateway
import Storage
import StoreSelection
import Testing
import VangnetCore

/// The audit head kept outside the store: a start that finds the chain cut short below, or
/// rewritten at, the checkpoint the gateway last signed refuses to run until an operator records
/// a decision; sequence numbers of the lost entries are not silently reused.
@Suite struct AuditHeadTests {
    /// Starts and stops a gateway on `directory`'s configuration; returns the chain's length after.
    func startAndStop(_ configuration: GatewayConfiguration) async throws -> Int64 {
        let gateway = try await Gateway(configuration: configuration)
        try await gateway.store.appendAudit(
            AuditEvent(time: Date(), actor: nil, role: nil, action: .pull, object: "test", outcome: .success)
        )
        let count = try await gateway.store.auditHead()
        await gateway.store.close()
        return count
    }

    func withSetup(_ body: (GatewayConfiguration) async throws -> Void) async throws {
        let directory = try PolicyToolTests.developmentSetup()
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(try GatewayConfiguration.load(from: directory.appendingPathComponent("vangnet.json")))
    }

    func tamper(_ configuration: GatewayConfiguration, _ sql: String) async throws {
        try await GatewayConfiguration.withStore(configuration.databaseLocation) { try await $0.tamper(sql) }
    }

    @Test func aStartRefusesAChainCutShortBelowItsSignedHeadUntilAnOperatorAcceptsIt() async throws {
        try await withSetup { configuration in
            let first = try await startAndStop(configuration)  // config.load (1), checkpoint at 1, a pull (2)
            let second = try await startAndStop(configuration)  // the head file now names entry 3
            #expect(second == first + 2)
            // With the gateway stopped, the last two entries are deleted.
            try await tamper(configuration, "DELETE FROM audit WHERE seq >= \(second - 1)")
            let refused = await #expect(throws: AuditHead.Mismatch.self) {
                _ = try await Gateway(configuration: configuration)
            }
            #expect(refused?.rewritten == false)
            #expect(refused?.description.contains("cut short") == true)
            #expect(refused?.description.contains("vangnet audit accept-head") == true)
            let chainAfterRefusal = try await GatewayConfiguration.withStore(configuration.databaseLocation) {
                try await $0.auditHead()
            }
            #expect(
                chainAfterRefusal == second - 2,
                "the refused start appended nothing: the lost numbers are not reused"
            )

            let accepted = try await configuration.withOperatorStore { store in
                try await AuditHead.accept(
                    configuration: configuration,
                    store: store,
                    reason: "restored from backup, case SEC-17",
                    at: Date()
                )
            }
            #expect(accepted?.head.sequence == Int64(second - 1))
            let gateway = try await Gateway(configuration: configuration)
            let events = try await gateway.store.auditEvents()
            let decision = events.first { $0.object.hasPrefix("cli:audit accept-head") }
            #expect(decision?.reason == "audit_head_cut_short")
            #expect(decision?.counts == ["signedHead": Int(second - 1), "chainEnd": Int(second - 2)])
            guard case .intact = try await gateway.store.verifyAudit(held: [], key: gateway.keys.audit.publicKey) else {
                Issue.record("the accepted chain does not verify")
                return
            }
            await gateway.store.close()
        }
    }

    @Test func aStartRefusesAChainRewrittenAtItsSignedHead() async throws {
        try await withSetup { configuration in
            _ = try await startAndStop(configuration)
            let head = try JSONDecoder().decode(
                AuditCheckpoint.self,
                from: Data(contentsOf: AuditHead.file(configuration))
            )
            try await tamper(configuration, "UPDATE audit SET hash = zeroblob(32) WHERE seq = \(head.sequence)")
            let refused = await #expect(throws: AuditHead.Mismatch.self) {
                _ = try await Gateway(configuration: configuration)
            }
            #expect(refused?.rewritten == true)
        }
    }

    @Test func aForgedHeadFileIsRefused() async throws {
        try await withSetup { configuration in
            _ = try await startAndStop(configuration)
            let file = AuditHead.file(configuration)
            let text = try String(contentsOf: file, encoding: .utf8)
            try text.replacingOccurrences(of: #""sequence":"#, with: #""sequence":9"#).write(
                to: file,
                atomically: true,
                encoding: .utf8
            )
            let refused = await #expect(throws: ConfigurationError.self) {
                _ = try await Gateway(configuration: configuration)
            }
            #expect(refused?.description.contains("not signed by the audit key") == true)
        }
    }
}
