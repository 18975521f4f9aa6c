import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import Logging
import StoreSelection
import Testing
import VangnetCore

/// `vangnet push` as a source runs it: retries with backoff until the gateway answers, then
/// prints the receipt; refuses without retrying when the gateway refuses.
@Suite struct PushClientTests {
    /// Runs `vangnet push` to completion; returns its exit status and standard error.
    func push(_ executable: URL, _ arguments: [String]) async throws -> (status: Int32, messages: String) {
        let finished = try await ChildProcess.run(executable, ["push"] + arguments)
        return (finished.status, finished.errors)
    }

    @Test func pushRetriesUntilTheGatewayIsUp() async throws {
        let executable = try #require(CrashTests.executable)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-push-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = try DevelopmentSetup.create(in: directory, port: 0)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        // Find a free port, then leave it closed while the client starts trying.
        let port = try await Gateway(configuration: configuration, logger: logger).serving { $0 }

        let input = directory.appendingPathComponent("duo.ndjson")
        let envelope = directory.appendingPathComponent("duo.vgb")
        try (Population().duoLines.joined(separator: "\n") + "\n").write(to: input, atomically: true, encoding: .utf8)
        let seal = try await ChildProcess.run(
            executable,
            [
                "seal", "--input", input.path, "--output", envelope.path, "--dataset", "duo.onderwijsdeelname",
                "--source", DevelopmentSetup.duo.value, "--signing-key",
                directory.appendingPathComponent("keys/duo-signing.key").path,
                "--gateway-key", directory.appendingPathComponent("keys/gateway-box.pub").path,
            ]
        )
        #expect(seal.status == 0)

        let push = try ChildProcess(
            executable,
            [
                "push", "--gateway", "https://127.0.0.1:\(port)", "--ca",
                directory.appendingPathComponent("certs/ca.pem").path,
                "--cert", directory.appendingPathComponent("certs/duo.pem").path, "--key",
                directory.appendingPathComponent("certs/duo.key").path,
                "--envelope", envelope.path, "--retries", "8", "--backoff", "0.2", "--connect-timeout", "0.2",
            ]
        )
        try await Task.sleep(for: .milliseconds(800))

        configuration.gateway.listen.port = port
        let gateway = try await Gateway(configuration: configuration, logger: logger)
        let pushed = try await gateway.serving { _ in try await push.finished() }
        let messages = pushed.errors

        #expect(pushed.status == 0)
        #expect(messages.contains("retry 1 of 8"), "it did retry")
        #expect(!messages.contains("MiB"), "no progress line when standard error is not a terminal")
        let receipt = try JSONDecoder().decode(SignedReceipt.self, from: Data(pushed.output.utf8)).verified(
            with: gateway.keys.signing.publicKey
        )
        #expect(receipt.accepted == 22)
        #expect(try await gateway.store.counts() == (batches: 1, records: 22))
    }

    @Test func pushGivesUpAfterItsRetries() async throws {
        let executable = try #require(CrashTests.executable)
        try await TestGateway.with(.tls) { gw in
            let envelope = gw.directory.appendingPathComponent("duo.vgb")
            try Data(try gw.seal(Population().duoLines, as: "duo")).write(to: envelope)
            // Port 9 (discard) on loopback: nothing listens there.
            let (status, messages) = try await push(
                executable,
                [
                    "--gateway", "https://127.0.0.1:9", "--ca", gw.certs.appendingPathComponent("ca.pem").path,
                    "--cert", gw.certs.appendingPathComponent("duo.pem").path, "--key",
                    gw.certs.appendingPathComponent("duo.key").path,
                    "--envelope", envelope.path, "--retries", "2", "--backoff", "0.1", "--connect-timeout", "0.2",
                ]
            )
            #expect(status != 0)
            #expect(messages.contains("retry 2 of 2"))
            #expect(messages.contains("push failed after 3 attempts"))
        }
    }

    @Test func refusedPushIsNotRetried() async throws {
        let executable = try #require(CrashTests.executable)
        try await TestGateway.with(.tls) { gw in
            let envelope = gw.directory.appendingPathComponent("stale.vgb")
            try Data(
                try gw.seal(
                    Population().duoLines,
                    as: "duo",
                    createdAt: TestGateway.now.addingTimeInterval(-60 * 86400)
                )
            ).write(to: envelope)
            let (status, messages) = try await push(
                executable,
                [
                    "--gateway", "https://127.0.0.1:\(gw.port)", "--ca", gw.certs.appendingPathComponent("ca.pem").path,
                    "--cert", gw.certs.appendingPathComponent("duo.pem").path, "--key",
                    gw.certs.appendingPathComponent("duo.key").path,
                    "--envelope", envelope.path, "--backoff", "0.1",
                ]
            )
            #expect(status != 0)
            #expect(messages.contains("batch_outside_time_window"))
            #expect(!messages.contains("retry"))
        }
    }
}
