import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import Logging
import Records
import Storage
import Synchronization
import Testing
import VangnetClient
import VangnetCore
import VangnetCrypto

/// What a platform team runs the gateway with: metrics, health and readiness, JSON logs, and a
/// shutdown on SIGTERM that leaves nothing half-written.
@Suite struct OperationsTests {
    let population = Population()

    @Test func metricsCountRequestsBatchesRecordsPullsAndRefusals() async throws {
        try await TestGateway.with { gw in
            _ = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo")) }
            var invalid = population.uwvLines
            invalid.append(
                #"{"bsn":"123456789","gemeentecode":"GM0344","periode":"2026-09","soort":"WW","startdatum":"2026-01-01"}"#
            )
            _ = try await gw.using("uwv") { try await $0.push(envelope: try gw.seal(invalid, as: "uwv")) }
            _ = try await gw.using("region-utrecht") { try await $0.pull(purpose: "vsv-een-jaar-later") }
            _ = try await gw.using("region-amsterdam") { try await $0.pull(purpose: "kwetsbare-jongeren") }

            let answer = try await gw.using("monitor") { try await $0.get("/metrics") }
            #expect(answer.status == 200 && answer.headers["content-type"]?.hasPrefix("text/plain") == true)
            let text = answer.body
            func has(_ line: String) -> Bool { text.split(separator: "\n").contains { $0.hasPrefix(line) } }
            #expect(
                has(#"vangnet_batches_total{outcome="committed",dataset="duo.onderwijsdeelname"} 1"#),
                "\(text.prefix(2000))"
            )
            #expect(has(#"vangnet_records_accepted_total{dataset="uwv.inkomstenverhoudingen"} 11"#))
            #expect(has(#"vangnet_records_rejected_total{dataset="uwv.inkomstenverhoudingen",reason="invalid_bsn"} 1"#))
            #expect(has(#"vangnet_pulls_total{region="19",purpose="vsv-een-jaar-later"} 1"#))
            #expect(has(#"vangnet_records_delivered_total{region="19",purpose="vsv-een-jaar-later"} 16"#))
            #expect(has(#"vangnet_refusals_total{code="no_grant"} 1"#))
            #expect(has(#"vangnet_requests_total{route="/v1/batches",status="201"} 2"#))
            #expect(text.contains("vangnet_request_duration_seconds_bucket{route=\"/v1/purposes/{purpose}/records\""))
            do {
                let holds = !population.everyone.contains { text.contains($0.bsn) } && !text.contains("123456789")
                #expect(holds)
            }

            let consumer = try await gw.using("region-utrecht") { try await $0.get("/metrics") }
            #expect(consumer.refusal?.status == 403)
            do {
                let actual = try await gw.using("monitor") { try await $0.get("/v1/audit/entries") }.refusal?.code
                #expect(actual == "wrong_role", "the monitor reads metrics only")
            }
            do {
                let actual = try await gw.using("monitor") { try await $0.pull(purpose: "vsv-opvolging") }.refusal?.code
                #expect(actual == "wrong_role")
            }
        }
    }

    /// operations.md names the malloc settings every gateway process should run with; they are
    /// the ones the process sets itself and gives the gateways the benchmarks start.
    @Test func theMemorySettingsOperationsAdvisesAreTheProcesssOwn() throws {
        let doc = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
                "../../docs/operations.md"
            ),
            encoding: .utf8
        )
        let advised = ProcessMemory.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(
            separator: " "
        )
        #expect(advised == "MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=1048576")
        #expect(doc.contains("`\(advised)`"), "operations.md does not advise \(advised)")
    }

    @Test func healthAndReadiness() async throws {
        try await TestGateway.with { gw in
            let health = try await gw.using("monitor") { try await $0.get("/healthz") }
            let ready = try await gw.using("monitor") { try await $0.get("/readyz") }
            #expect(health.status == 200 && ready.status == 200 && ready.body == "ready\n")
        }
    }

    @Test func logsAreJSONObjectsWithoutPersonalData() throws {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "vangnet") {
            JSONLogHandler(label: $0) { line in lines.withLock { $0.append(line) } }
        }
        logger.info(
            "request refused",
            metadata: ["route": "/v1/batches", "code": "batch_id_conflict", "status": "409"]
        )
        logger.error("quote \" and newline \n in a message")
        let written = lines.withLock { $0 }
        do {
            let holds =
                written.count == 2 && written.allSatisfy { $0.hasSuffix("}\n") && $0.filter { $0 == "\n" }.count == 1 }
            #expect(holds)
        }
        let first = try JSONSerialization.jsonObject(with: Data(written[0].utf8)) as! [String: String]
        #expect(
            first["message"] == "request refused" && first["level"] == "info" && first["code"] == "batch_id_conflict"
                && first["label"] == "vangnet"
        )
        #expect(first["time"]?.hasSuffix("Z") == true)
        let second = try JSONSerialization.jsonObject(with: Data(written[1].utf8)) as! [String: String]
        #expect(second["message"] == "quote \" and newline \n in a message")
    }

    @Test func sigtermDuringAnUploadLeavesTheBatchWholeOrAbsent() async throws {
        let executable = try #require(CrashTests.executable)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-term-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        try DevelopmentSetup.create(in: directory, port: 0)
        let config = directory.appendingPathComponent("vangnet.json")
        let certs = directory.appendingPathComponent("certs")
        var synth = SyntheticRecords(seed: 5)
        let people = synth.people(20_000)
        let lines = people.map { synth.duoLine(for: $0, earlyLeaver: true) }
        let keys = directory.appendingPathComponent("keys")
        let envelope = try EnvelopeSealer(
            source: DevelopmentSetup.duo,
            signingKey: try SigningKeyPair(seed: KeyFile.readSecret(keys.appendingPathComponent("duo-signing.key"))),
            recipient: try BoxPublicKey(bytes: KeyFile.readPublic(keys.appendingPathComponent("gateway-box.pub"))),
            chunkSize: 16 * 1024
        ).seal(
            payload: Array((lines.joined(separator: "\n") + "\n").utf8),
            batchId: BatchID(),
            dataset: "duo.onderwijsdeelname",
            createdAt: Date(),
            recordCount: lines.count
        )

        let server = try await ServeProcess(executable: executable, config: config)
        let client = try GatewayClient(
            baseURL: "https://127.0.0.1:\(server.port)",
            certificate: certs.appendingPathComponent("duo.pem"),
            privateKey: certs.appendingPathComponent("duo.key"),
            trustedCA: certs.appendingPathComponent("ca.pem")
        )
        async let push = client.push(envelope: envelope).status
        try await Task.sleep(for: .milliseconds(150))
        server.process.terminate()  // SIGTERM
        let status = try? await push
        try await server.exited()
        try await client.shutdown()
        #expect(server.process.terminationStatus == 0, "a clean exit on SIGTERM")

        let store = try SQLiteStore(path: directory.appendingPathComponent("vangnet.sqlite").path)
        let counts = try store.counts()
        if status == 201 {
            #expect(counts == (batches: 1, records: lines.count), "finished before the shutdown: wholly committed")
        } else {
            #expect(counts.batches == 0, "refused or cut off: nothing committed")
        }
        #expect(try store.storedRecordRows() == counts.records, "no staged rows left behind")
        #expect(try store.verifyAudit().isIntact)
    }
}
