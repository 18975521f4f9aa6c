import AccessPolicy
import ArgumentParser
import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import Pseudonymisation
import Records
import VangnetClient
import VangnetCore
import VangnetCrypto

extension BenchCommand {
    struct Reidentify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reidentify",
            abstract:
                "Releasing an approved re-identification request of --people pseudonyms, from a store of --records.",
            discussion: """
                A `vangnet serve` process (SQLite) receives one DUO complete picture of --records enrolments, of \
                which some 1.5 x --people early school leavers in region 19, pushed over mTLS; the policy lets \
                vsv-opvolging re-identify --people at a time. Region 19 pulls its vsv-opvolging picture in pages of \
                10,000 until it holds --people pseudonyms (the baseline: reading the same people), asks for them, the \
                security officer approves, and region 19 collects the release; it is opened with region 19's key. \
                Also in this process, the cryptography alone: --people BSNs opened from their seal and sealed to \
                the region's key. Build with `swift build -c release` first.
                """
        )

        @Option(help: "Records in the store.") var records = 200_000
        @Option(help: "Pseudonyms released in one request (at most 10,000, a request's limit).") var people = 10_000

        func run() async throws {
            guard (1...10_000).contains(people), records >= people * 3 / 2 else {
                throw ValidationError("--people is 1 to 10000, and --records at least 1.5 x --people")
            }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "vangnet-bench-reidentify-\(UUID().uuidString.prefix(8))"
            )
            defer { try? FileManager.default.removeItem(at: directory) }
            print(
                "vangnet bench reidentify --records \(records) --people \(people)   (\(ProcessInfo.processInfo.activeProcessorCount) cores)"
            )
            try await ReidentifyBenchmark(directory: directory, records: records, people: people).run()
        }
    }
}

struct ReidentifyBenchmark {
    let directory: URL
    let records: Int
    let people: Int

    func time<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
        let start = ContinuousClock.now
        let value = try await body()
        let d = ContinuousClock.now - start
        return (value, Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }

    func run() async throws {
        let root = directory.appendingPathComponent("gateway")
        var configuration = try DevelopmentSetup.create(in: root, port: 0)
        configuration.gateway.limits.maxRecords = records + 1
        configuration.gateway.limits.maxEnvelopeBytes = 1 << 40
        configuration.gateway.limits.requestsPerMinute = 100_000
        configuration.policy.purposes[0].reidentification?.maxPerRequest = people
        configuration.policy.purposes[0].reidentification?.monthlyQuota = people
        let file = root.appendingPathComponent("vangnet.json")
        try configuration.write(to: file)

        // Early school leavers in region 19 (about two in three are of the programme's ages), the rest anywhere.
        var synth = SyntheticRecords(seed: 15)
        let utrecht = ["GM0344", "GM0355", "GM0356", "GM0321"].compactMap { MunicipalityCode($0) }
        let leavers = people * 3 / 2
        var payload = ""
        for person in synth.people(leavers, in: utrecht) {
            payload += synth.duoLine(for: person, earlyLeaver: true) + "\n"
        }
        for person in synth.people(records - leavers) {
            payload += synth.duoLine(for: person, earlyLeaver: false) + "\n"
        }
        let keys = root.appendingPathComponent("keys")
        let certs = root.appendingPathComponent("certs")
        let envelope = try EnvelopeSealer(
            source: DevelopmentSetup.duo,
            signingKey: try SigningKeyPair(seed: KeyFile.readSecret(keys.appendingPathComponent("duo-signing.key"))),
            recipient: try BoxPublicKey(bytes: KeyFile.readPublic(keys.appendingPathComponent("gateway-box.pub")))
        )
        .seal(
            payload: Array(payload.utf8),
            batchId: BatchID(),
            dataset: "duo.onderwijsdeelname",
            createdAt: Date(),
            recordCount: records
        )
        payload = ""

        let server = try await ServeProcess(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath(),
            config: file
        )
        func client(_ name: String) throws -> GatewayClient {
            try GatewayClient(
                baseURL: "https://127.0.0.1:\(server.port)",
                certificate: certs.appendingPathComponent("\(name).pem"),
                privateKey: certs.appendingPathComponent("\(name).key"),
                trustedCA: certs.appendingPathComponent("ca.pem")
            )
        }
        do {
            let (pushed, pushTime) = try await time {
                try await client("duo").shuttingDown { try await $0.push(envelope: envelope) }
            }
            guard pushed.status == 201 else { throw BenchmarkFailure("the push was refused: \(pushed.status)") }
            print(String(format: "  push of %d records: %.2f s", records, pushTime))
            try await client("region-utrecht").shuttingDown { region in
                try await client("auditor").shuttingDown { auditor in
                    try await measure(region: region, auditor: auditor, keys: keys)
                }
            }
        } catch {
            try? await server.stop()
            throw error
        }
        try await server.stop()
    }

    private func measure(region: GatewayClient, auditor: GatewayClient, keys: URL) async throws {
        struct Ask: Encodable { let purpose: String, pseudonyms: [String], reason: String, caseReference: String }
        struct Decision: Encodable { let decision: String, reason: String }
        func object(_ answer: GatewayClient.Answer) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]) ?? [:]
        }
        // Baseline: region 19 reads the records of the same people.
        let (pseudonyms, pullTime) = try await time { () async throws -> [String] in
            var seen = Set<String>()
            var ordered: [String] = []
            _ = try await region.pullAll(purpose: "vsv-opvolging", view: "current", limit: 10_000) { page in
                for line in page.body.split(separator: "\n") where ordered.count < people {
                    guard let range = line.range(of: "\"pseudonym\":\"") else { continue }
                    let pseudonym = String(line[range.upperBound...].prefix { $0 != "\"" })
                    if seen.insert(pseudonym).inserted { ordered.append(pseudonym) }
                }
            }
            return ordered
        }
        guard pseudonyms.count == people else {
            throw BenchmarkFailure("region 19 receives \(pseudonyms.count) people, fewer than \(people)")
        }
        let (asked, askTime) = try await time {
            try await region.post(
                "/v1/reidentifications",
                json: Ask(
                    purpose: "vsv-opvolging",
                    pseudonyms: pseudonyms,
                    reason: "rmc-contactpoging",
                    caseReference: "BENCH-1"
                )
            )
        }
        guard asked.status == 201, let id = object(asked)["id"] as? String else {
            throw BenchmarkFailure("the request was refused: \(asked.status) \(asked.refusal.map { "\($0)" } ?? "")")
        }
        let approved = try await auditor.post(
            "/v1/reidentifications/\(id)/decision",
            json: Decision(decision: "approve", reason: "benchmark")
        )
        guard approved.status == 200 else { throw BenchmarkFailure("the approval was refused: \(approved.status)") }
        let (released, releaseTime) = try await time {
            try await region.post("/v1/reidentifications/\(id)/release", body: [])
        }
        guard released.status == 200 else { throw BenchmarkFailure("the release was refused: \(released.status)") }
        let pair = try BoxKeyPair(
            secretKey: KeyFile.readSecret(keys.appendingPathComponent("region-utrecht-reveal.key"))
        )
        let entries = object(released)["released"] as? [[String: String]] ?? []
        let (opened, openTime) = try await time { () throws -> Int in
            var opened = 0
            for entry in entries {
                guard let sealed = entry["sealed"].flatMap({ Data(base64Encoded: $0) }) else { continue }
                let ok = try IdentityVault.reveal(Array(sealed), with: pair) { pseudonym, _ in
                    pseudonym == entry["pseudonym"]
                }
                if ok == true { opened += 1 }
            }
            return opened
        }
        guard opened == people else {
            throw BenchmarkFailure("\(opened) of \(people) BSNs opened with region 19's key")
        }

        // The cryptography alone: open each seal, seal each BSN to the region's key.
        var synth = SyntheticRecords(seed: 16)
        let vault = IdentityVault(current: try IdentityKeys(root: .random(count: 32), epoch: 1))
        let synthetic = synth.people(self.people)
        var subjects: [(BSN, InternalPseudonym)] = []
        for (i, person) in synthetic.enumerated() {
            subjects.append(
                (BSN(person.bsn)!, InternalPseudonym(storedBytes: GenericHash.hash(Array("\(i)".utf8)), epoch: 1))
            )
        }
        // What ingest adds per record it keeps the BSN of: its stored fields with the seal, 200,000 times.
        let fields =
            #"{"brin":"12AB","gemeentecode":"GM0344","geboortedatum":"2008-01-01","onderwijssoort":"mbo","vsv":true}"#
        let (_, keepTime) = try await time {
            (0..<200_000).reduce(0) { n, i in
                let (bsn, who) = subjects[i % subjects.count]
                return n + vault.storedFields(fields, keeping: bsn, of: who).utf8.count
            }
        }
        let sealed = subjects.map { (vault.seal($0.0, of: $0.1), $0.1) }
        let (_, cryptoTime) = try await time { () -> Int in
            sealed.reduce(0) { n, item in
                (try? vault.release(item.0, of: item.1, as: pseudonyms[0], to: pair.publicKey).get()).map { _ in n + 1 }
                    ?? n
            }
        }

        print("")
        let rows: [(String, Double)] = [
            ("region 19 pulls the records of the \(people) people", pullTime),
            ("request naming them (checked against the population)", askTime),
            ("release of the approved request (goal: at most 2 s)", releaseTime),
            ("opening the release with region 19's key", openTime),
            ("cryptography alone: open + seal \(people) BSNs", cryptoTime),
            ("ingest's share: 200,000 records' fields with their BSN sealed", keepTime),
        ]
        for (name, t) in rows {
            print("  " + name.padding(toLength: 58, withPad: " ", startingAt: 0) + String(format: "%7.3f s", t))
        }
        print(String(format: "  release / pull of the same people: %.2fx", releaseTime / pullTime))
        print(String(format: "  release / cryptography alone: %.2fx", releaseTime / cryptoTime))
        print("  release within 2 s: \(releaseTime <= 2 ? "yes" : "NO")")
    }
}
