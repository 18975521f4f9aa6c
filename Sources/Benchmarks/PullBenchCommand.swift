import AccessPolicy
import ArgumentParser
import BatchEnvelope
import DevelopmentSupport
import Foundation
import GRDB
import GRDBSQLite
import Gateway
import Logging
import PostgresNIO
import PostgresStorage
import Records
import Storage
import Synchronization
import VangnetClient
import VangnetCore
import VangnetCrypto

extension BenchCommand {
    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pull",
            abstract:
                "Regions pulling their pictures from a store holding months of national deliveries: rate, page latency, memory.",
            discussion: """
                A `vangnet serve` process (SQLite, or PostgreSQL with --postgres) receives --months monthly DUO complete pictures of --records enrolments \
                (98% unchanged month to month) and as many monthly UWV deliveries (half about people in no population), \
                pushed over mTLS. Then, against baselines measured in the same run:
                stream:   the largest (region, purpose) current picture pulled in pages of 10,000, against reading the \
                same rows straight from the database (the SQLite C API; PostgresNIO on PostgreSQL);
                pages:    32 regions' contactgemeenten pulling pages of 1,000 of different (region, purpose) pictures at \
                once: first-page and page latencies, p50 and p99;
                growth:   one region's page of 1,000 after the first month and after the last, each once the log is copied \
                into the database and the dirty pages are on disk, medians of 45 pages (what is stored grows, the page should not);
                memory:   the gateway's peak RSS (VmHWM) over the whole run.
                Build with `swift build -c release` first.
                """
        )

        @Option(help: "Records per monthly batch (DUO and UWV each).") var records = 200_000
        @Option(help: "Months of deliveries.") var months = 3
        @Option(help: "Regions pulling at once.") var clients = 32
        @Option(help: "Pages each client pulls in the concurrent run.") var pages = 20
        @Option(help: "Times the largest picture is pulled (and read directly) for the stream rate.")
        var streamRepeats = 9
        @Option(
            help: ArgumentHelp(
                "Run on this PostgreSQL database instead of SQLite (a schema of its own, dropped afterwards).",
                valueName: "postgres://user@host/database"
            )
        ) var postgres: String?

        func run() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "vangnet-bench-pull-\(UUID().uuidString.prefix(8))"
            )
            defer { try? FileManager.default.removeItem(at: directory) }
            print(
                "vangnet bench pull --records \(records) --months \(months) --clients \(clients)   (\(ProcessInfo.processInfo.activeProcessorCount) cores)"
            )
            let consumers = Self.consumers(clients)
            var configuration = try DevelopmentSetup.create(
                in: directory,
                port: 0,
                extraClients: consumers.map(\.subject)
            )
            configuration.gateway.limits.requestsPerMinute = 10_000_000
            configuration.gateway.limits.maxRecords = records + 1
            configuration.gateway.limits.maxEnvelopeBytes = 1 << 40
            configuration.gateway.limits.maxPageSize = 10_000
            for consumer in consumers {
                let k = configuration.policy.regions.firstIndex { $0.number == consumer.region }!
                configuration.policy.regions[k].contactgemeente = .init(
                    name: consumer.subject.organisation,
                    oin: consumer.subject.oin
                )
                configuration.policy.organisations.append(
                    .init(oin: consumer.subject.oin, name: consumer.subject.organisation, role: .consumer)
                )
                configuration.policy.grants.append(
                    .init(
                        consumer: consumer.subject.oin,
                        purposes: ["vsv-opvolging", "kwetsbare-jongeren", "vsv-een-jaar-later"]
                    )
                )
            }
            let database: BenchDatabase
            if let postgres {
                let schema = "vangnet_bench_" + UUID().uuidString.prefix(8).lowercased()
                configuration.gateway.database = postgres + (postgres.contains("?") ? "&" : "?") + "schema=" + schema
                database = try await .postgres(url: postgres, schema: schema)
            } else {
                database = .sqlite(directory.appendingPathComponent("vangnet.sqlite"))
            }
            let configFile = directory.appendingPathComponent("vangnet.json")
            try configuration.write(to: configFile)
            do {
                let server = try await ServeProcess(
                    executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath(),
                    config: configFile
                )
                do {
                    try await measure(server: server, directory: directory, database: database, consumers: consumers)
                    try await server.stop()
                } catch {
                    try? await server.stop()
                    throw error
                }
                await database.close()
            } catch {
                await database.close()
                throw error
            }
        }

        struct Consumer {
            let subject: DevelopmentPKI.Subject
            let region: RegionNumber
            let purpose: String
        }

        /// One contactgemeente per region (Utrecht and Amsterdam have theirs), each pulling a purpose of its own.
        static func consumers(_ n: Int) -> [Consumer] {
            let purposes = ["vsv-opvolging", "kwetsbare-jongeren", "vsv-een-jaar-later"]
            return (1...40).filter { ![19, 21].contains($0) }.prefix(n).enumerated().map { k, number in
                let oin = OIN("00000099000000000" + String(format: "%03d", 300 + number))!
                return Consumer(
                    subject: .init(
                        fileName: "region-\(number)",
                        commonName: "RMC \(number)",
                        organisation: "Contactgemeente regio \(number) (bench)",
                        oin: oin
                    ),
                    region: RegionNumber(number)!,
                    purpose: purposes[k % purposes.count]
                )
            }
        }

        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

        func client(_ name: String, port: Int, directory: URL) throws -> GatewayClient {
            let certs = directory.appendingPathComponent("certs")
            return try GatewayClient(
                baseURL: "https://127.0.0.1:\(port)",
                certificate: certs.appendingPathComponent("\(name).pem"),
                privateKey: certs.appendingPathComponent("\(name).key"),
                trustedCA: certs.appendingPathComponent("ca.pem")
            )
        }

        func measure(server: ServeProcess, directory: URL, database: BenchDatabase, consumers: [Consumer]) async throws
        {
            let keys = directory.appendingPathComponent("keys")
            let box = try BoxPublicKey(bytes: KeyFile.readPublic(keys.appendingPathComponent("gateway-box.pub")))
            var synth = SyntheticRecords(seed: 12)
            let people = synth.people(records)
            let outsiders = synth.people(records / 2)
            var duo = people.enumerated().map { synth.duoLine(for: $1, earlyLeaver: $0 % 3 == 0) }
            var growth: [Double] = []
            let probe = consumers[0]
            // The gateway's peak RSS per phase, so that the phase that makes the run's peak is known.
            var peaks: [(phase: String, kib: Int)] = []
            func phase(_ name: String) { peaks.append((name, server.takePeakResidentKiB())) }
            phase("start")
            for month in 1...months {
                if month > 1 {
                    // 2% of enrolments change from one month to the next.
                    for k in stride(from: month, to: duo.count, by: 50) {
                        duo[k] = synth.duoLine(for: people[k], earlyLeaver: true)
                    }
                }
                let period = String(
                    CalendarDate.inAmsterdam(Date()).adding(days: -31 * (months - month)).description.prefix(7)
                )
                let uwv = (people.prefix(records / 2) + outsiders.prefix(records - records / 2)).map { person in
                    #"{"bsn":"\#(person.bsn)","gemeentecode":"\#(person.municipality)","periode":"\#(period)","soort":"dienstverband","uren_per_week":24,"startdatum":"2025-06-01"}"#
                }
                for (source, lines, mode) in [("duo", duo, BatchMode.full), ("uwv", uwv, BatchMode.changes)] {
                    let sealer = EnvelopeSealer(
                        source: source == "duo" ? DevelopmentSetup.duo : DevelopmentSetup.uwv,
                        signingKey: try SigningKeyPair(
                            seed: KeyFile.readSecret(keys.appendingPathComponent("\(source)-signing.key"))
                        ),
                        recipient: box
                    )
                    let envelope = try sealer.seal(
                        payload: Array((lines.joined(separator: "\n") + "\n").utf8),
                        batchId: BatchID(),
                        dataset: source == "duo" ? "duo.onderwijsdeelname" : "uwv.inkomstenverhoudingen",
                        createdAt: Date(),
                        recordCount: lines.count,
                        mode: mode
                    )
                    let start = ContinuousClock.now
                    let answer = try await client(source, port: server.port, directory: directory).shuttingDown {
                        try await $0.push(envelope: envelope)
                    }
                    guard answer.status == 201 else {
                        throw BenchmarkFailure(
                            "month \(month) \(source): \(answer.refusal?.description ?? "status \(answer.status)")"
                        )
                    }
                    let took = seconds(ContinuousClock.now - start)
                    phase("month \(month) \(source.uppercased())")
                    print(
                        String(
                            format:
                                "  month %d: %@ %@ batch of %d records committed in %.2f s (gateway peak RSS %.0f MiB)",
                            month,
                            source.uppercased(),
                            mode.rawValue,
                            lines.count,
                            took,
                            Double(peaks.last!.kib) / 1024
                        )
                    )
                }
                if month == 1 && months > 1 {
                    growth.append(
                        try await restingPageLatency(
                            probe,
                            server: server,
                            directory: directory,
                            database: database,
                            after: "month 1"
                        )
                    )
                    phase("page latency after month 1")
                }
            }
            let stored = try await database.storedCounts()
            print("  stored: \(stored.records) current records of \(stored.batches) batches" + database.fileSizes())

            // pages: many regions at once, right after the last batch (its log still being copied
            // into the database in the background); again below once the log is copied.
            try await regionsAtOnce(
                consumers,
                server: server,
                directory: directory,
                moment: database.hasLog ? "after the last batch" : "once",
                phase: phase
            )
            growth.append(
                try await restingPageLatency(
                    probe,
                    server: server,
                    directory: directory,
                    database: database,
                    after: "month \(months)"
                )
            )
            phase("page latency after month \(months)")

            // stream: the largest picture, over HTTP, against the database's own client on the same rows.
            // Each pull over HTTP is followed by the direct read, in turn, and the medians compared:
            // one pull of this picture takes tens of milliseconds, too short to time once.
            let (largest, rows) = try await database.largestStream(consumers)
            var overHTTP: [Double] = []
            var direct: [Double] = []
            var streamed = 0
            for _ in 0..<streamRepeats {
                let http = try await streamRate(largest, port: server.port, directory: directory)
                let read = try await database.directRead(stream: rows.stream)
                guard http.records == read.records else {
                    throw BenchmarkFailure(
                        "the pull gave \(http.records) records, the database holds \(read.records) for the stream"
                    )
                }
                overHTTP.append(http.seconds)
                direct.append(read.seconds)
                streamed = http.records
            }
            phase("stream")
            let (httpRate, directRate) = (
                Double(streamed) / overHTTP.sorted()[streamRepeats / 2],
                Double(streamed) / direct.sorted()[streamRepeats / 2]
            )
            print(
                String(
                    format:
                        "  stream: region %d %@, %d records: %.0f records/s over mTLS (pages of 10,000), %.0f records/s read with %@; %.0f%% of it (medians of %d)",
                    largest.region.value,
                    largest.purpose,
                    streamed,
                    httpRate,
                    directRate,
                    database.directClient,
                    100 * httpRate / directRate,
                    streamRepeats
                )
            )

            // (PostgreSQL has no such log: there the second run is a second sample.)
            try await regionsAtOnce(
                consumers,
                server: server,
                directory: directory,
                moment: database.hasLog ? "with the log copied" : "again",
                phase: phase
            )
            if growth.count == 2 {
                print(
                    String(
                        format:
                            "  growth: region %d's page of 1,000 took %.2f ms after month 1 and %.2f ms after month %d (%.2fx; medians of %d pages%@)",
                        probe.region.value,
                        growth[0] * 1000,
                        growth[1] * 1000,
                        months,
                        growth[1] / growth[0],
                        Self.growthSamples,
                        database.hasLog ? ", the log copied" : ""
                    )
                )
            }
            let peak = peaks.max { $0.kib < $1.kib }!
            print(
                String(
                    format: "  gateway peak RSS over the run: %.0f MiB, during %@",
                    Double(peak.kib) / 1024,
                    peak.phase
                )
            )
            print(
                "  gateway peak RSS per phase (MiB): "
                    + peaks.map { "\($0.phase) \($0.kib / 1024)" }.joined(separator: ", ")
            )
        }

        /// Pages in one region's growth figure, each time.
        static let growthSamples = 45

        /// One region's page time once what the batches wrote is at rest: the log copied into the
        /// database and the system's dirty pages on disk (a page read right after a large batch
        /// also pays for the copy and the writeback running beside it, whose fsyncs its audit
        /// append waits behind; the figures of 32 regions at once show that moment), then the
        /// median of ``growthSamples`` pages.
        func restingPageLatency(
            _ probe: Consumer,
            server: ServeProcess,
            directory: URL,
            database: BenchDatabase,
            after: String
        ) async throws -> Double {
            try await waitForLog(database)
            let syncing = ContinuousClock.now
            sync()
            print(
                String(
                    format: "  (the system's dirty pages were written in %.1f s)",
                    seconds(ContinuousClock.now - syncing)
                )
            )
            let latency = try await pageLatency(
                probe,
                port: server.port,
                directory: directory,
                samples: Self.growthSamples
            )
            print(
                String(
                    format:
                        "  region %d's page of 1,000 after %@: median %.2f ms, p99 %.2f ms (%d pages); its first page, with the TLS handshake, %.2f ms",
                    probe.region.value,
                    after,
                    latency.median * 1000,
                    latency.p99 * 1000,
                    Self.growthSamples,
                    latency.first * 1000
                )
            )
            return latency.median
        }

        func waitForLog(_ database: BenchDatabase) async throws {
            guard database.hasLog else { return }
            let waited = ContinuousClock.now
            let copied = try await database.waitForLogCopied()
            print(
                String(
                    format: copied
                        ? "  (the log was copied into the database %.1f s later)"
                        : "  (the log was still not copied after %.0f s)",
                    seconds(ContinuousClock.now - waited)
                )
            )
        }

        func regionsAtOnce(
            _ consumers: [Consumer],
            server: ServeProcess,
            directory: URL,
            moment: String,
            phase: (String) -> Void
        ) async throws {
            let all = try await concurrentPages(consumers, port: server.port, directory: directory)
            phase("\(consumers.count) regions at once, \(moment)")
            print(
                String(
                    format:
                        "  %d regions at once, %@, pages of 1,000: first page p50 %.1f ms, p99 %.1f ms; every page p50 %.1f ms, p99 %.1f ms (%d pages)",
                    consumers.count,
                    moment,
                    all.first.p50 * 1000,
                    all.first.p99 * 1000,
                    all.every.p50 * 1000,
                    all.every.p99 * 1000,
                    all.count
                )
            )
        }

        func streamRate(_ consumer: Consumer, port: Int, directory: URL) async throws -> (records: Int, seconds: Double)
        {
            let counted = Mutex(0)
            let start = ContinuousClock.now
            let result = try await client(consumer.subject.fileName, port: port, directory: directory).shuttingDown {
                client in
                try await client.pullAll(purpose: consumer.purpose, view: "current", limit: 10_000) { answer in
                    // What a region's client does with the bytes is its own; the count is kept cheap
                    // here (a loop over the bytes, not over a string's view) as it shares the cores.
                    var body = answer.body
                    let n = body.withUTF8 { bytes in bytes.reduce(0) { $0 &+ ($1 == 0x0A ? 1 : 0) } }
                    counted.withLock { $0 += n }
                }
            }
            guard case .success = result else { throw BenchmarkFailure("the stream pull was refused") }
            return (counted.withLock { $0 }, seconds(ContinuousClock.now - start))
        }

        /// A region's pages in order: the first (a new connection's TLS handshake and a new snapshot),
        /// and the median and p99 of all.
        struct Latencies {
            var first: Double
            var median: Double
            var p99: Double
        }

        func pageLatency(_ consumer: Consumer, port: Int, directory: URL, samples: Int) async throws -> Latencies {
            try await client(consumer.subject.fileName, port: port, directory: directory).shuttingDown { client in
                var times: [Double] = []
                var cursor: String?
                for _ in 0..<samples {
                    let start = ContinuousClock.now
                    let answer = try await client.pull(
                        purpose: consumer.purpose,
                        view: cursor == nil ? "current" : nil,
                        cursor: cursor,
                        limit: 1000
                    )
                    times.append(seconds(ContinuousClock.now - start))
                    guard answer.status == 200 else { throw BenchmarkFailure("page refused: \(answer.status)") }
                    cursor = answer.headers["vangnet-complete"] == "true" ? nil : answer.headers["vangnet-next-cursor"]
                }
                let first = times[0]
                times.sort()
                return Latencies(
                    first: first,
                    median: times[times.count / 2],
                    p99: times[min(times.count - 1, Int(Double(times.count) * 0.99))]
                )
            }
        }

        func concurrentPages(
            _ consumers: [Consumer],
            port: Int,
            directory: URL
        ) async throws -> (first: (p50: Double, p99: Double), every: (p50: Double, p99: Double), count: Int) {
            let pages = self.pages
            let results = try await withThrowingTaskGroup(of: [Double].self) { group in
                for consumer in consumers {
                    let c = try client(consumer.subject.fileName, port: port, directory: directory)
                    group.addTask {
                        try await c.shuttingDown { client in
                            var times: [Double] = []
                            var cursor: String?
                            for _ in 0..<pages {
                                let start = ContinuousClock.now
                                let answer = try await client.pull(
                                    purpose: consumer.purpose,
                                    view: cursor == nil ? "current" : nil,
                                    cursor: cursor,
                                    limit: 1000
                                )
                                let elapsed = ContinuousClock.now - start
                                guard answer.status == 200 else {
                                    throw BenchmarkFailure("page refused: \(answer.status)")
                                }
                                times.append(
                                    Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                                )
                                cursor =
                                    answer.headers["vangnet-complete"] == "true"
                                    ? nil : answer.headers["vangnet-next-cursor"]
                            }
                            return times
                        }
                    }
                }
                return try await group.reduce(into: [[Double]]()) { $0.append($1) }
            }
            func percentiles(_ xs: [Double]) -> (Double, Double) {
                let s = xs.sorted()
                return (s[s.count / 2], s[min(s.count - 1, Int(Double(s.count) * 0.99))])
            }
            return (
                percentiles(results.map { $0[0] }), percentiles(results.flatMap { $0 }),
                results.reduce(0) { $0 + $1.count }
            )
        }
    }
}

/// The benchmark's own look into the gateway's database, beside the gateway: what is stored, which
/// stream is largest, and the baseline read of a stream's rows with the database's own client.
enum BenchDatabase {
    case sqlite(URL)
    case postgres(PostgresClient, runner: Task<Void, Never>, schema: String)

    static let pictureRows =
        "SELECT line FROM deliveries WHERE stream = $1 AND line IS NOT NULL AND superseded IS NULL ORDER BY item"
    static let liveCount =
        "SELECT COUNT(*) FROM deliveries WHERE stream = $1 AND superseded IS NULL AND line IS NOT NULL"

    static func postgres(url: String, schema: String) async throws -> BenchDatabase {
        var configuration = try PostgresStore.configuration(url: url)
        let direct = PostgresConnection.Configuration(
            host: configuration.host ?? "localhost",
            port: configuration.port ?? 5432,
            username: configuration.username,
            password: configuration.password,
            database: configuration.database,
            tls: .disable
        )
        let admin = try await PostgresConnection.connect(
            configuration: direct,
            id: 1,
            logger: Logger(label: "vangnet.bench")
        )
        do {
            try await admin.query(
                PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"),
                logger: Logger(label: "vangnet.bench")
            )
            try await admin.close()
        } catch {
            try? await admin.close()
            throw error
        }
        configuration.options.additionalStartupParameters = [("search_path", schema)]
        let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "vangnet.bench"))
        return .postgres(client, runner: Task { await client.run() }, schema: schema)
    }

    /// Whether the gateway's database has a write-ahead log file of its own to copy (SQLite).
    var hasLog: Bool {
        if case .sqlite = self { return true }
        return false
    }

    var directClient: String {
        switch self {
        case .sqlite: "the SQLite C API"
        case .postgres: "PostgresNIO"
        }
    }

    func close() async {
        guard case .postgres(let client, let runner, let schema) = self else { return }
        _ = try? await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"))
        runner.cancel()
    }

    func storedCounts() async throws -> (batches: Int, records: Int) {
        switch self {
        case .sqlite(let file): return try SQLiteStore(path: file.path, readOnly: true).counts()
        case .postgres(let client, _, _):
            for try await (b, r) in try await client.query(
                "SELECT (SELECT COUNT(*) FROM batches WHERE state = 'committed'), (SELECT COUNT(*) FROM current)"
            )
            .decode((Int64, Int64).self) { return (Int(b), Int(r)) }
            return (0, 0)
        }
    }

    /// The (region, purpose) with the most current records among the consumers', and its store number.
    func largestStream(
        _ consumers: [BenchCommand.Pull.Consumer]
    ) async throws -> (BenchCommand.Pull.Consumer, (stream: Int64, count: Int)) {
        var best: (BenchCommand.Pull.Consumer, (stream: Int64, count: Int))?
        for consumer in consumers {
            guard let (id, n) = try await streamSize(region: consumer.region.value, purpose: consumer.purpose) else {
                continue
            }
            if n > (best?.1.count ?? -1) { best = (consumer, (id, n)) }
        }
        guard let best else { throw BenchmarkFailure("no region received anything") }
        return best
    }

    private func streamSize(region: Int, purpose: String) async throws -> (Int64, Int)? {
        switch self {
        case .sqlite(let file):
            let db = try DatabaseQueue(
                path: file.path,
                configuration: {
                    var c = Configuration()
                    c.readonly = true
                    return c
                }()
            )
            return try await db.read { db in
                guard
                    let id = try Int64.fetchOne(
                        db,
                        sql: "SELECT id FROM streams WHERE region = ? AND purpose = ?",
                        arguments: [region, purpose]
                    )
                else { return nil }
                return (
                    id,
                    try Int.fetchOne(db, sql: Self.liveCount.replacingOccurrences(of: "$1", with: "?"), arguments: [id])
                        ?? 0
                )
            }
        case .postgres(let client, _, _):
            for try await id in try await client.query(
                "SELECT id FROM streams WHERE region = \(Int64(region)) AND purpose = \(purpose)"
            ).decode(Int64.self) {
                for try await n in try await client.query(
                    PostgresQuery(
                        unsafeSQL: Self.liveCount,
                        binds: {
                            var b = PostgresBindings()
                            b.append(id)
                            return b
                        }()
                    )
                )
                .decode(Int64.self) { return (id, Int(n)) }
            }
            return nil
        }
    }

    /// The sizes of the database file and its log (SQLite), for the disk an operator plans.
    func fileSizes() -> String {
        guard case .sqlite(let file) = self else { return "" }
        func gib(_ path: String) -> Double {
            Double((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) / Double(1 << 30)
        }
        return String(format: " (database file %.2f GiB, its log %.2f GiB)", gib(file.path), gib(file.path + "-wal"))
    }

    /// Waits until the gateway's write-ahead log is wholly copied into the database (SQLite; at
    /// once on PostgreSQL): passive checkpoints from here until one finds nothing left to copy
    /// (busy while the gateway's own checkpoint runs), for at most two minutes. Whether it was.
    func waitForLogCopied() async throws -> Bool {
        guard case .sqlite(let file) = self else { return true }
        var db: OpaquePointer?
        guard sqlite3_open_v2(file.path, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK else {
            throw BenchmarkFailure("cannot open the store")
        }
        defer { sqlite3_close(db) }
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            var log: Int32 = 0
            var copied: Int32 = 0
            if sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) == SQLITE_OK, log == copied
            {
                return true
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// The same rows read straight from the database: the picture's lines of one stream, in order.
    func directRead(stream: Int64) async throws -> (records: Int, seconds: Double) {
        let start = ContinuousClock.now
        var n = 0
        var bytes = 0
        switch self {
        case .sqlite(let file):
            var db: OpaquePointer?
            guard sqlite3_open_v2(file.path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else {
                throw BenchmarkFailure("cannot open the store")
            }
            defer { sqlite3_close(db) }
            var statement: OpaquePointer?
            sqlite3_prepare_v2(db, Self.pictureRows.replacingOccurrences(of: "$1", with: "?"), -1, &statement, nil)
            defer { sqlite3_finalize(statement) }
            sqlite3_bind_int64(statement, 1, stream)
            while sqlite3_step(statement) == SQLITE_ROW {
                bytes += Int(sqlite3_column_bytes(statement, 0))
                _ = sqlite3_column_text(statement, 0)
                n += 1
            }
        case .postgres(let client, _, _):
            var binds = PostgresBindings()
            binds.append(stream)
            for try await line in try await client.query(PostgresQuery(unsafeSQL: Self.pictureRows, binds: binds))
                .decode(ByteBuffer.self)
            {
                bytes += line.readableBytes
                n += 1
            }
        }
        let elapsed = ContinuousClock.now - start
        return (n, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
