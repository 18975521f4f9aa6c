import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import Records
import Storage
import Testing
import VangnetClient
import VangnetCore
import VangnetCrypto

/// Kills a real `vangnet serve` process with SIGKILL at random moments during ingests, restarts
/// it, and checks that every batch is wholly present or wholly absent, that the audit chain
/// verifies, and that a retry then commits exactly once.
///
/// 20 kill points by default; `VANGNET_CRASH_POINTS=200` for the long version.
@Suite(.serialized) struct CrashTests {
    static var points: Int { Int(ProcessInfo.processInfo.environment["VANGNET_CRASH_POINTS"] ?? "") ?? 20 }
    static let recordsPerBatch = 6000

    /// The `vangnet` executable built beside the test bundle.
    static var executable: URL? {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("vangnet")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }

    @Test func killedGatewayLeavesEveryBatchWholeOrAbsent() async throws {
        let executable = try #require(Self.executable, "the vangnet executable is built with the tests")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-crash-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        try DevelopmentSetup.create(in: directory, port: 0)
        let config = directory.appendingPathComponent("vangnet.json")
        let certs = directory.appendingPathComponent("certs")
        let keys = directory.appendingPathComponent("keys")
        let sealer = EnvelopeSealer(
            source: DevelopmentSetup.duo,
            signingKey: try SigningKeyPair(seed: KeyFile.readSecret(keys.appendingPathComponent("duo-signing.key"))),
            recipient: try BoxPublicKey(bytes: KeyFile.readPublic(keys.appendingPathComponent("gateway-box.pub"))),
            chunkSize: 16 * 1024
        )
        var synth = SyntheticRecords(seed: 99)
        // Each batch is about other young people, so each adds its own records.
        func envelope() throws -> [UInt8] {
            let people = synth.people(Self.recordsPerBatch)
            let payload = Array(people.map { synth.duoLine(for: $0, earlyLeaver: true) }.joined(separator: "\n").utf8)
            return try sealer.seal(
                payload: payload,
                batchId: BatchID(),
                dataset: "duo.onderwijsdeelname",
                createdAt: Date(),
                recordCount: people.count
            )
        }
        func push(_ envelope: [UInt8], port: Int) async throws -> Int {
            let client = try GatewayClient(
                baseURL: "https://127.0.0.1:\(port)",
                certificate: certs.appendingPathComponent("duo.pem"),
                privateKey: certs.appendingPathComponent("duo.key"),
                trustedCA: certs.appendingPathComponent("ca.pem")
            )
            do {
                let status = try await client.push(envelope: envelope).status
                try? await client.shutdown()
                return status
            } catch {
                try? await client.shutdown()
                throw error
            }
        }

        // Measure one uninterrupted push, to spread the kill points over its duration.
        var server = try await ServeProcess(executable: executable, config: config)
        let started = ContinuousClock.now
        #expect(try await push(try envelope(), port: server.port) == 201)
        let pushDuration = ContinuousClock.now - started

        var killedDuringPush = 0
        for point in 0..<Self.points {
            let batch = try envelope()
            let port = server.port
            async let inFlight = try? push(batch, port: port)
            try await Task.sleep(for: pushDuration * Double.random(in: 0...1.2))
            try await server.kill()
            if await inFlight == nil { killedDuringPush += 1 }

            // Restart: the store must be consistent before any retry.
            server = try await ServeProcess(executable: executable, config: config)
            let store = try SQLiteStore(path: directory.appendingPathComponent("vangnet.sqlite").path)
            for committed in try store.committedBatches() {
                #expect(
                    committed.records == committed.accepted,
                    "kill point \(point): batch \(committed.batchId) is partly present"
                )
            }
            #expect(
                try store.storedRecordRows() == store.counts().records,
                "kill point \(point): staged records survived a restart"
            )
            guard case .intact = try store.verifyAudit() else {
                Issue.record("kill point \(point): audit chain broken")
                break
            }

            // The source retries: exactly one commit, whatever the kill interrupted.
            let before = try store.counts().batches
            let status = try await push(batch, port: server.port)
            #expect(status == 201 || status == 200, "kill point \(point): retry answered \(status)")
            #expect(try store.counts().batches == before + (status == 201 ? 1 : 0))
        }
        try await server.kill()

        let store = try SQLiteStore(path: directory.appendingPathComponent("vangnet.sqlite").path)
        #expect(try store.counts() == (batches: Self.points + 1, records: (Self.points + 1) * Self.recordsPerBatch))
        #expect(killedDuringPush > 0, "at least one kill hit a push in flight")
        guard case .intact = try store.verifyAudit() else {
            Issue.record("audit chain broken at the end")
            return
        }
    }
}
