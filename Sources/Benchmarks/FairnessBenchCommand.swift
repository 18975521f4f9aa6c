import ArgumentParser
import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import Records
import Synchronization
import VangnetClient
import VangnetCore
import VangnetCrypto

extension BenchCommand {
    struct Fairness: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fairness",
            abstract:
                "One region's small pulls while another pulls heavily in parallel: latency against the same pulls alone.",
            discussion: """
                A `vangnet serve` process holds --records DUO records of residents of Utrecht's and Amsterdam's regions. \
                Amsterdam pulls pages of 100 records one after another, first alone (the baseline), then while Utrecht \
                pulls pages of 10,000 with --threads connections at once; the figure is the ratio of Amsterdam's median \
                latencies, measured in the same run. Build with `swift build -c release` first.
                """
        )

        @Option(help: "Records in the store.") var records = 200_000
        @Option(help: "Utrecht's parallel connections.") var threads = 4
        @Option(help: "Amsterdam's pulls per measurement.") var pulls = 40

        func run() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "vangnet-fairness-\(UUID().uuidString.prefix(8))"
            )
            defer { try? FileManager.default.removeItem(at: directory) }
            var configuration = try DevelopmentSetup.create(in: directory, port: 0)
            configuration.gateway.limits.requestsPerMinute = 1_000_000
            configuration.gateway.limits.maxRecords = records + 1
            let configFile = directory.appendingPathComponent("vangnet.json")
            try configuration.write(to: configFile)
            print(
                "vangnet bench fairness --records \(records) --threads \(threads) --pulls \(pulls)   (\(ProcessInfo.processInfo.activeProcessorCount) cores)"
            )
            try await load(configuration: configFile, directory: directory)
            print("  loaded \(records) records")

            let server = try await ServeProcess(
                executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath(),
                config: configFile
            )
            let alone: Double
            let loaded: Double
            do { alone = try await amsterdamMedian(port: server.port, directory: directory) } catch {
                throw BenchmarkFailure("alone: \(error)")
            }
            do { loaded = try await underLoad(port: server.port, directory: directory) } catch {
                throw BenchmarkFailure("beside Utrecht: \(error)")
            }
            try await server.stop()
            print(
                String(
                    format:
                        "  Amsterdam's median pull (100 records): alone %.1f ms, beside Utrecht's %d parallel pulls of 10,000: %.1f ms (%.2fx)",
                    alone * 1000,
                    threads,
                    loaded * 1000,
                    loaded / alone
                )
            )
        }

        /// Runs `body` with a client holding `name`'s certificate, and shuts the client down.
        func using<T>(
            _ name: String,
            port: Int,
            directory: URL,
            _ body: (GatewayClient) async throws -> T
        ) async throws -> T {
            let certs = directory.appendingPathComponent("certs")
            return try await GatewayClient(
                baseURL: "https://127.0.0.1:\(port)",
                certificate: certs.appendingPathComponent("\(name).pem"),
                privateKey: certs.appendingPathComponent("\(name).key"),
                trustedCA: certs.appendingPathComponent("ca.pem")
            )
            .shuttingDown(after: body)
        }

        /// Pushes the synthetic batch through a serve process.
        func load(configuration: URL, directory: URL) async throws {
            var synth = SyntheticRecords(seed: 3)
            let reference = ReferenceData.embedded
            let municipalities = reference.municipalities.keys.filter {
                [19, 21].contains(reference.region(of: $0)?.value)
            }.sorted { $0.description < $1.description }
            let lines = synth.people(records, in: municipalities).map { synth.duoLine(for: $0, earlyLeaver: true) }
            let keys = directory.appendingPathComponent("keys")
            let sealer = EnvelopeSealer(
                source: DevelopmentSetup.duo,
                signingKey: try SigningKeyPair(
                    seed: KeyFile.readSecret(keys.appendingPathComponent("duo-signing.key"))
                ),
                recipient: try BoxPublicKey(bytes: KeyFile.readPublic(keys.appendingPathComponent("gateway-box.pub")))
            )
            let envelope = try sealer.seal(
                payload: Array((lines.joined(separator: "\n") + "\n").utf8),
                batchId: BatchID(),
                dataset: "duo.onderwijsdeelname",
                createdAt: Date(),
                recordCount: lines.count
            )
            let server = try await ServeProcess(
                executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath(),
                config: configuration
            )
            let answer = try await using("duo", port: server.port, directory: directory) {
                try await $0.push(envelope: envelope)
            }
            try await server.stop()
            guard answer.status == 201 else {
                throw BenchmarkFailure(
                    "the batch was not committed: \(answer.refusal?.description ?? "status \(answer.status)")"
                )
            }
        }

        /// Amsterdam's median latency over `pulls` pages of 100.
        func amsterdamMedian(port: Int, directory: URL) async throws -> Double {
            try await using("region-amsterdam", port: port, directory: directory) { amsterdam in
                var cursor: String?
                var times: [Double] = []
                for _ in 0..<pulls {
                    let start = ContinuousClock.now
                    let answer = try await amsterdam.pull(
                        purpose: "vsv-opvolging",
                        view: cursor == nil ? "current" : nil,
                        cursor: cursor,
                        limit: 100
                    )
                    let elapsed = ContinuousClock.now - start
                    guard answer.status == 200 else {
                        throw BenchmarkFailure("Amsterdam's pull failed: \(answer.status)")
                    }
                    // Pages of the current picture; at its end, again from the start.
                    cursor = answer.headers["vangnet-complete"] == "true" ? nil : answer.headers["vangnet-next-cursor"]
                    times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                }
                return times.sorted()[times.count / 2]
            }
        }

        /// Amsterdam's median while Utrecht pulls pages of 10,000 on `threads` connections.
        func underLoad(port: Int, directory: URL) async throws -> Double {
            let stop = StopFlag()
            return try await withThrowingTaskGroup(of: Double?.self) { group in
                for _ in 0..<threads {
                    group.addTask {
                        try await using("region-utrecht", port: port, directory: directory) { utrecht in
                            var cursor: String?
                            while !stop.isSet {
                                let answer = try await utrecht.pull(
                                    purpose: "vsv-opvolging",
                                    view: cursor == nil ? "current" : nil,
                                    cursor: cursor,
                                    limit: 10_000
                                )
                                guard answer.status == 200 else {
                                    throw BenchmarkFailure("Utrecht's pull failed: \(answer.status)")
                                }
                                cursor =
                                    answer.headers["vangnet-complete"] == "true"
                                    ? nil : answer.headers["vangnet-next-cursor"]
                            }
                            return nil
                        }
                    }
                }
                try await Task.sleep(for: .milliseconds(500))
                let median = try await amsterdamMedian(port: port, directory: directory)
                stop.set()
                for try await _ in group {}
                return median
            }
        }
    }
}

/// A flag one task sets and others read.
final class StopFlag: Sendable {
    private let flag = Mutex(false)
    var isSet: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
}
