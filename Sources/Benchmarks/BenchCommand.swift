import ArgumentParser
import BatchEnvelope
import DevelopmentSupport
import Foundation
import GRDB
import GRDBSQLite
import Gateway
import Logging
import Records
import VangnetClient
import VangnetCore
import VangnetCrypto

package struct BenchCommand: AsyncParsableCommand {
    package init() {}
    package static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks (not tests): figures as ratios against baselines measured in the same run.",
        subcommands: [Ingest.self, AuditBench.self, Fairness.self, Pull.self, Reidentify.self]
    )

    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Ingest throughput and gateway memory: push over mTLS until committed, against the bound and the status quo.",
            discussion: """
                pipeline:    `vangnet serve` in its own process; one envelope pushed over mTLS until the signed receipt \
                (decrypt, parse, validate, pseudonymise, stage, commit, keep the delivery index): a complete picture of \
                new records. Peak RSS is the server's VmHWM.
                next month:  then the next month's complete picture of the same records, 98% unchanged (2% replaced by \
                another enrolment of the same person), pushed to the same gateway: the comparison with what is held, \
                the withdrawals and the index's new versions.
                bound:       in this process, the same rows: secretstream decryption of the payload, keyed BLAKE2b of \
                each BSN, and one SQLite transaction inserting the rows with a prepared statement. Nothing else.
                status quo:  the same records as a GPG-signed and encrypted file: `gpg --decrypt` with signature check, \
                then a Python script that HMACs the BSNs and inserts into SQLite.
                Build with `swift build -c release` first; debug builds are several times slower.
                """
        )

        @Option(help: "Number of records.") var records = 1_000_000
        @Option(help: "Keep the work files here (default: a temporary directory, removed afterwards).") var workDir:
            String?
        @Flag(help: "Skip the GPG + Python status quo.") var skipStatusQuo = false
        @Flag(
            help:
                "Keep no BSN for re-identification: the gateway runs without its re-identification key (to compare with the default, which keeps DUO's BSNs sealed for vsv-opvolging)."
        ) var withoutIdentities = false

        func run() async throws {
            let keep = workDir != nil
            let dir =
                workDir.map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.temporaryDirectory.appendingPathComponent(
                    "vangnet-bench-\(UUID().uuidString.prefix(8))"
                )
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { if !keep { try? FileManager.default.removeItem(at: dir) } }
            let bench = IngestBenchmark(directory: dir, records: records, keepIdentities: !withoutIdentities)
            try await bench.run(statusQuo: !skipStatusQuo)
        }
    }
}

/// The ingest benchmark's steps; each prints one line.
struct IngestBenchmark {
    let directory: URL
    let records: Int
    var keepIdentities = true

    func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    func time(_ body: () async throws -> Void) async rethrows -> Double {
        let start = ContinuousClock.now
        try await body()
        return seconds(ContinuousClock.now - start)
    }

    func run(statusQuo: Bool) async throws {
        print("vangnet bench ingest --records \(records)   (\(ProcessInfo.processInfo.activeProcessorCount) cores)")
        var configuration = try DevelopmentSetup.create(in: directory.appendingPathComponent("gateway"), port: 0)
        configuration.gateway.limits.maxRecords = records + 1
        configuration.gateway.limits.maxEnvelopeBytes = 1 << 40
        let configFile = directory.appendingPathComponent("gateway/vangnet.json")
        try configuration.write(to: configFile)
        if !keepIdentities {
            _ = try GatewayKeys.destroyIdentityRoots(in: directory.appendingPathComponent("gateway/keys"))
        }
        print(
            "  BSNs kept for re-identification (sealed, DUO records of vsv-opvolging): \(keepIdentities ? "yes" : "no")"
        )

        // Synthetic records, written once; every contender reads the same ones. The next month's
        // picture holds the same lines but every 50th.
        let ndjson = directory.appendingPathComponent("batch.ndjson")
        let nextMonth = directory.appendingPathComponent("next-month.ndjson")
        var synth = SyntheticRecords(seed: 1)
        var bsns: [String] = []
        var regions: [Int] = []
        bsns.reserveCapacity(records)
        regions.reserveCapacity(records)
        FileManager.default.createFile(atPath: ndjson.path, contents: nil)
        FileManager.default.createFile(atPath: nextMonth.path, contents: nil)
        let out = try FileHandle(forWritingTo: ndjson)
        let next = try FileHandle(forWritingTo: nextMonth)
        var pending = ""
        var pendingNext = ""
        for (i, person) in synth.people(records).enumerated() {
            bsns.append(person.bsn)
            regions.append(ReferenceData.embedded.region(of: person.municipality)!.value)
            let line = synth.duoLine(for: person, earlyLeaver: i % 3 == 0)
            pending += line + "\n"
            pendingNext += (i % 50 == 25 ? synth.duoLine(for: person, earlyLeaver: true) : line) + "\n"
            if pending.utf8.count > 1 << 20 {
                try out.write(contentsOf: Data(pending.utf8))
                try next.write(contentsOf: Data(pendingNext.utf8))
                (pending, pendingNext) = ("", "")
            }
        }
        try out.write(contentsOf: Data(pending.utf8))
        try next.write(contentsOf: Data(pendingNext.utf8))
        try out.close()
        try next.close()
        let payloadBytes = try FileManager.default.attributesOfItem(atPath: ndjson.path)[.size] as? Int ?? 0

        let keys = directory.appendingPathComponent("gateway/keys")
        let certs = directory.appendingPathComponent("gateway/certs")
        let sealer = EnvelopeSealer(
            source: DevelopmentSetup.duo,
            signingKey: try SigningKeyPair(seed: KeyFile.readSecret(keys.appendingPathComponent("duo-signing.key"))),
            recipient: try BoxPublicKey(bytes: KeyFile.readPublic(keys.appendingPathComponent("gateway-box.pub")))
        )
        let envelope = directory.appendingPathComponent("batch.vgb")
        let nextEnvelope = directory.appendingPathComponent("next-month.vgb")
        let sealTime = try await time {
            _ = try sealer.sealFile(
                ndjson,
                to: envelope,
                batchId: BatchID(),
                dataset: "duo.onderwijsdeelname",
                createdAt: Date(),
                mode: .full
            )
            _ = try sealer.sealFile(
                nextMonth,
                to: nextEnvelope,
                batchId: BatchID(),
                dataset: "duo.onderwijsdeelname",
                createdAt: Date(),
                mode: .full
            )
        }
        let envelopeBytes = try FileManager.default.attributesOfItem(atPath: envelope.path)[.size] as? Int ?? 0
        print(
            String(
                format:
                    "  records: %d, payload %.1f MiB, envelope %.1f MiB; sealing both months took %.2f s (not counted below)",
                records,
                Double(payloadBytes) / 1_048_576,
                Double(envelopeBytes) / 1_048_576,
                sealTime
            )
        )

        let (times, peakRSS) = try await pipeline(
            config: configFile,
            certs: certs,
            envelopes: [envelope, nextEnvelope]
        )
        let (pipelineTime, nextMonthTime) = (times[0], times[1])
        let boundTime = try await bound(payload: ndjson, bsns: bsns, regions: regions)
        var rows: [(String, Double)] = [
            ("pipeline (push over mTLS until committed)", pipelineTime),
            ("next month's picture, 98% unchanged", nextMonthTime),
            ("bound (decrypt + keyed hash + SQLite insert)", boundTime),
        ]
        if statusQuo, let statusQuoTime = try await runStatusQuo(ndjson: ndjson) {
            rows.append(("status quo (gpg --decrypt + Python HMAC + SQLite)", statusQuoTime))
        }

        print("")
        for (name, t) in rows {
            print(
                "  " + name.padding(toLength: 52, withPad: " ", startingAt: 0)
                    + String(format: "%7.2f s  %10.0f records/s", t, Double(records) / t)
            )
        }
        print(String(format: "  gateway peak RSS during the push: %.0f MiB", Double(peakRSS) / 1024))
        print(String(format: "  pipeline / bound: %.0f%% of the bound's rate", 100 * boundTime / pipelineTime))
        print(String(format: "  next month / bound: %.0f%% of the bound's rate", 100 * boundTime / nextMonthTime))
        if rows.count == 4 { print(String(format: "  pipeline / status quo: %.1fx", rows[3].1 / pipelineTime)) }
    }

    /// Starts `vangnet serve`, pushes the envelopes one after the other, returns the time of each
    /// to its receipt and the server's peak RSS (KiB).
    func pipeline(config: URL, certs: URL, envelopes: [URL]) async throws -> ([Double], Int) {
        let server = try await ServeProcess(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath(),
            config: config
        )
        let client = try GatewayClient(
            baseURL: "https://127.0.0.1:\(server.port)",
            certificate: certs.appendingPathComponent("duo.pem"),
            privateKey: certs.appendingPathComponent("duo.key"),
            trustedCA: certs.appendingPathComponent("ca.pem")
        )
        var times: [Double] = []
        for envelope in envelopes {
            var answer: GatewayClient.Answer?
            times.append(try await time { answer = try await client.push(envelopeFile: envelope) })
            guard answer?.status == 201 else {
                try? await client.shutdown()
                throw BenchmarkFailure(
                    "push \(times.count) was not committed: \(answer?.refusal?.description ?? "no answer")"
                )
            }
            print(String(format: "  push %d: %.2f s", times.count, times.last!))
        }
        try await client.shutdown()
        let hwm = server.peakResidentKiB
        try await server.stop()
        return (times, hwm)
    }

    /// The least any ingest must do with these rows: decrypt them, hash each BSN with a key, insert
    /// them (the same rows, in the same table, as the gateway's store).
    func bound(payload: URL, bsns: [String], regions: [Int]) async throws -> Double {
        let plaintext = try Data(contentsOf: payload)
        let key = SecretBytes.random(count: SecretStream.keyLength)
        let encryptor = try SecretStreamEncryptor(key: key)
        let chunk = EnvelopeFormat.defaultChunkSize
        var frames: [[UInt8]] = []
        var offset = 0
        while offset < plaintext.count || frames.isEmpty {
            let end = min(plaintext.count, offset + chunk)
            frames.append(encryptor.encrypt(Array(plaintext[offset..<end]), isFinal: end == plaintext.count))
            offset = end
        }
        let hashKey = SecretBytes.random(count: 32)
        let digits = bsns.map { Array($0.utf8) }
        let fields =
            #"{"brin":"12AB","gemeentecode":"GM0344","geboortedatum":"2008-01-01","inschrijvingsdatum":"2024-08-20","onderwijssoort":"mbo","startkwalificatie":false,"vsv":true}"#
        let db = try DatabaseQueue(path: directory.appendingPathComponent("bound.sqlite").path)
        try await db.write { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(
                sql:
                    "CREATE TABLE records (batch INTEGER, region INTEGER, line INTEGER, person BLOB, fields TEXT, PRIMARY KEY (batch, region, line)) WITHOUT ROWID"
            )
        }
        let elapsed = try await time {
            let decryptor = try SecretStreamDecryptor(key: key, header: encryptor.header)
            var out: [UInt8] = []
            for frame in frames { try frame.withUnsafeBytes { try decryptor.decrypt($0, into: &out) } }
            try await db.write { db in
                // Bound with the C API, as the gateway's store does.
                let insert = try db.makeStatement(
                    sql: "INSERT INTO records (batch, region, line, person, fields) VALUES (1, ?, ?, ?, ?)"
                )
                let statement = insert.sqliteStatement
                var text = fields
                try text.withUTF8 { f in
                    for (line, bsn) in digits.enumerated() {
                        let person = GenericHash.keyedHash(bsn, key: hashKey)
                        let status = person.withUnsafeBytes { p in
                            sqlite3_bind_int64(statement, 1, Int64(regions[line]))
                            sqlite3_bind_int64(statement, 2, Int64(line + 1))
                            sqlite3_bind_blob(statement, 3, p.baseAddress, Int32(p.count), nil)
                            sqlite3_bind_text(
                                statement,
                                4,
                                UnsafeRawPointer(f.baseAddress!).assumingMemoryBound(to: CChar.self),
                                Int32(f.count),
                                nil
                            )
                            defer { sqlite3_reset(statement) }
                            return sqlite3_step(statement)
                        }
                        guard status == SQLITE_DONE else { throw BenchmarkFailure("bound insert failed (\(status))") }
                    }
                }
            }
        }
        print(String(format: "  bound: %.2f s", elapsed))
        return elapsed
    }

    /// GPG + Python, as a team without Vangnet would do it. `nil` if gpg is not installed.
    func runStatusQuo(ndjson: URL) async throws -> Double? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/gpg") else {
            print("  status quo: skipped (gpg is not installed)")
            return nil
        }
        let home = directory.appendingPathComponent("gnupg")
        try FileManager.default.createDirectory(
            at: home,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let env = ["GNUPGHOME": home.path]
        try await shell(
            [
                "gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key",
                "bench@vangnet.test", "ed25519", "sign,cert", "never",
            ],
            env: env
        )
        let fingerprint =
            try await shell(["gpg", "--batch", "--with-colons", "--list-keys", "bench@vangnet.test"], env: env)
            .split(separator: "\n").first { $0.hasPrefix("fpr:") }.map {
                String($0.split(separator: ":", omittingEmptySubsequences: false)[9])
            } ?? ""
        try await shell(
            [
                "gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-add-key", fingerprint,
                "cv25519", "encr", "never",
            ],
            env: env
        )
        let sealed = directory.appendingPathComponent("batch.ndjson.gpg")
        try await shell(
            [
                "gpg", "--batch", "--yes", "--trust-model", "always", "-r", "bench@vangnet.test", "-u",
                "bench@vangnet.test",
                "--encrypt", "--sign", "-o", sealed.path, ndjson.path,
            ],
            env: env
        )
        let script = directory.appendingPathComponent("statusquo.py")
        try Self.statusQuoScript.write(to: script, atomically: true, encoding: .utf8)
        let decrypted = directory.appendingPathComponent("statusquo.ndjson")
        let db = directory.appendingPathComponent("statusquo.sqlite")
        let elapsed = try await time {
            try await shell(["gpg", "--batch", "--yes", "--decrypt", "-o", decrypted.path, sealed.path], env: env)
            try await shell(["python3", script.path, decrypted.path, db.path])
        }
        print(String(format: "  status quo: %.2f s", elapsed))
        return elapsed
    }

    /// Runs a tool through /usr/bin/env; its output, or a failure naming it.
    @discardableResult
    func shell(_ arguments: [String], env: [String: String] = [:]) async throws -> String {
        let finished = try await ChildProcess.run(
            URL(fileURLWithPath: "/usr/bin/env"),
            arguments,
            environment: env,
            discardErrors: true
        )
        guard finished.status == 0 else {
            throw BenchmarkFailure("\(arguments.prefix(2).joined(separator: " ")) failed")
        }
        return finished.output
    }

    static let statusQuoScript = #"""
        # The status quo: parse each NDJSON line, HMAC the BSN, insert into SQLite in one transaction.
        import hashlib, hmac, json, os, sqlite3, sys
        key = os.urandom(32)
        db = sqlite3.connect(sys.argv[2])
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE IF NOT EXISTS records (id INTEGER PRIMARY KEY, person BLOB, municipality TEXT, fields TEXT)")
        def rows():
            with open(sys.argv[1], "rb") as f:
                for line in f:
                    record = json.loads(line)
                    bsn = record.pop("bsn")
                    yield (hmac.new(key, bsn.encode(), hashlib.sha256).digest(), record["gemeentecode"], json.dumps(record))
        with db:
            db.executemany("INSERT INTO records (person, municipality, fields) VALUES (?, ?, ?)", rows())
        """#
}

/// A benchmark that could not run (its setup failed, a baseline is missing): one sentence.
struct BenchmarkFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
