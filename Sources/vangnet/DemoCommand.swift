import AccessPolicy
import ArgumentParser
import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import Logging
import Pseudonymisation
import Records
import Storage
import StoreSelection
import VangnetClient
import VangnetCore
import VangnetCrypto

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the whole flow on the embedded default and print a summary.",
        discussion: """
            Makes a development PKI and keys, starts the gateway on 127.0.0.1 with mTLS and SQLite, pushes a \
            synthetic DUO and a synthetic UWV batch, lets two regions pull their data, has two mbo institutions \
            report applicants they cannot admit, and verifies the audit log. \
            Exits non-zero if any step fails.
            """
    )

    @Option(help: "Keep everything in this directory (default: a new temporary one, removed afterwards).")
    var dataDir: String?

    @Option(help: "Young people per region in the synthetic data.")
    var people = 60

    func run() async throws {
        let keep = dataDir != nil
        let directory =
            dataDir.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent(
                "vangnet-demo-\(UUID().uuidString.prefix(8))"
            )
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent("vangnet.json").path) {
            throw CommandFailure("\(directory.path) already holds a gateway; pick an empty --data-dir")
        }
        defer { if !keep { try? FileManager.default.removeItem(at: directory) } }
        try await DemoRun(directory: directory, peoplePerRegion: people).run()
        if keep {
            print("\nEverything is kept in \(directory.path) (vangnet.json, certs/, keys/, vangnet.sqlite, batches).")
        }
    }
}

/// The steps of the demo, each printed as it completes.
struct DemoRun {
    let directory: URL
    let peoplePerRegion: Int

    func step(_ text: String) { print("  \u{2713} \(text)") }

    func run() async throws {
        print("Vangnet demo in \(directory.path)\n")
        // The file says 8443 (for `vangnet serve --config` later); the demo itself takes a free port.
        var configuration = try DevelopmentSetup.create(in: directory, port: 8443)
        configuration.gateway.listen.port = 0
        step(
            "development PKI (CA, gateway, DUO, UWV, 2 regions, an approver, auditor; test OINs 00000099...) and keys (mode 0600)"
        )

        var logger = Logger(label: "vangnet")
        logger.logLevel = .warning
        let gateway = try await Gateway(configuration: configuration, logger: logger)
        let rows = try await gateway.serving { port in try await exercise(gateway, url: "https://127.0.0.1:\(port)") }
        try await summarise(gateway, rows)
    }

    /// What one region received for one purpose.
    typealias PullRow = (region: String, purpose: String, duo: Int, uwv: Int, people: Int)

    func exercise(_ gateway: Gateway, url: String) async throws -> [PullRow] {
        let certs = directory.appendingPathComponent("certs")
        let keys = directory.appendingPathComponent("keys")
        step("gateway listening on \(url) (TLS 1.3, client certificate required)")

        // Synthetic young people: in region 19 (Utrecht), region 21 (Agglomeratie Amsterdam) and elsewhere.
        var synth = SyntheticRecords(seed: 2026, today: CalendarDate.inAmsterdam(Date()))
        let utrecht = ["GM0344", "GM0355", "GM0356", "GM0321"].compactMap { MunicipalityCode($0) }
        let amsterdam = ["GM0363", "GM0362", "GM0479"].compactMap { MunicipalityCode($0) }
        let elsewhere = ["GM0599", "GM0518", "GM0014"].compactMap { MunicipalityCode($0) }
        let people =
            synth.people(peoplePerRegion, in: utrecht) + synth.people(peoplePerRegion, in: amsterdam)
            + synth.people(peoplePerRegion / 2, in: elsewhere)
        var duo = people.enumerated().map { synth.duoLine(for: $1, earlyLeaver: $0 % 3 != 2) }
        duo.append(
            #"{"bsn":"123456780","geboortedatum":"2008-01-01","gemeentecode":"GM0344","brin":"12AB","onderwijssoort":"vo","inschrijvingsdatum":"2024-08-20","startkwalificatie":false,"vsv":true}"#
        )
        duo.append(
            #"{"bsn":"111222333","geboortedatum":"2008-01-01","gemeentecode":"GM9999","brin":"12AB","onderwijssoort":"vo","inschrijvingsdatum":"2024-08-20","startkwalificatie":false,"vsv":true}"#
        )
        // UWV: income data for two thirds of these people and for residents who are in no population.
        let outsiders = synth.people(peoplePerRegion / 2, in: utrecht + amsterdam)
        let uwv =
            people.enumerated().filter { $0.offset % 3 != 1 }.map { synth.uwvLine(for: $0.element) }
            + outsiders.map { synth.uwvLine(for: $0) }
        step(
            "synthetic data: \(duo.count) DUO records (2 deliberately invalid), \(uwv.count) UWV records, elfproef-valid BSNs"
        )

        let gatewayBox = try BoxPublicKey(bytes: KeyFile.readPublic(keys.appendingPathComponent("gateway-box.pub")))
        let gatewaySigning = try SigningPublicKey(
            bytes: KeyFile.readPublic(keys.appendingPathComponent("gateway-signing.pub"))
        )
        func push(
            _ name: String,
            _ oin: OIN,
            _ dataset: DatasetID,
            _ lines: [String],
            mode: BatchMode,
            what: String
        ) async throws {
            let input = directory.appendingPathComponent("\(name).ndjson")
            let envelope = directory.appendingPathComponent("\(name).vgb")
            try (lines.joined(separator: "\n") + "\n").write(to: input, atomically: true, encoding: .utf8)
            let sealer = EnvelopeSealer(
                source: oin,
                signingKey: try SigningKeyPair(
                    seed: KeyFile.readSecret(keys.appendingPathComponent("\(name)-signing.key"))
                ),
                recipient: gatewayBox
            )
            let header = try sealer.sealFile(
                input,
                to: envelope,
                batchId: BatchID(),
                dataset: dataset,
                createdAt: Date(),
                mode: mode
            )
            try FileManager.default.removeItem(at: input)  // the plaintext with BSNs does not stay on disk
            let client = try Self.client(name, url: url, certs: certs)
            let answer = try await client.push(envelopeFile: envelope)
            try await client.shutdown()
            if let refusal = answer.refusal { throw CommandFailure("\(name) push refused: \(refusal)") }
            let receipt = try JSONDecoder().decode(SignedReceipt.self, from: Data(answer.body.utf8)).verified(
                with: gatewaySigning
            )
            let reasons = Dictionary(grouping: receipt.rejections, by: \.reason.rawValue).map {
                "\($0.key) x\($0.value.count)"
            }.sorted()
            step(
                "\(name.uppercased()) pushed \(what) (\(mode.rawValue)) as batch \(header.batchId): \(receipt.accepted) accepted, \(receipt.rejected) rejected\(reasons.isEmpty ? "" : " (\(reasons.joined(separator: ", ")))"); receipt signature verified"
            )
        }
        try await push(
            "duo",
            DevelopmentSetup.duo,
            "duo.onderwijsdeelname",
            duo,
            mode: .full,
            what: "its complete picture of enrolments"
        )
        try await push(
            "uwv",
            DevelopmentSetup.uwv,
            "uwv.inkomstenverhoudingen",
            uwv,
            mode: .changes,
            what: "this month's income relationships"
        )

        print("\nRegions pull their current pictures:")
        var rows: [PullRow] = []
        var cursors: [String: String] = [:]
        var utrechtCopy: [String: String] = [:]
        let pulls = [
            ("Utrecht (19)", "region-utrecht", "vsv-opvolging"),
            ("Utrecht (19)", "region-utrecht", "kwetsbare-jongeren"),
            ("Utrecht (19)", "region-utrecht", "vsv-een-jaar-later"),
            ("Amsterdam (21)", "region-amsterdam", "vsv-opvolging"),
            ("Amsterdam (21)", "region-amsterdam", "kwetsbare-jongeren"),
            ("Amsterdam (21)", "region-amsterdam", "vsv-een-jaar-later"),
        ]
        for (name, file, purpose) in pulls {
            let client = try Self.client(file, url: url, certs: certs)
            var lines: [[String: Any]] = []
            let pulled = try await client.pullAll(purpose: purpose, view: "current", limit: 50) { answer in
                lines += answer.body.split(separator: "\n").compactMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                }
            }
            switch pulled {
            case .success(let next):
                cursors[file + "/" + purpose] = next
                if file == "region-utrecht" && purpose == "vsv-opvolging" {
                    for line in lines {
                        var object = line
                        object["change"] = nil
                        if let id = object["id"] as? String,
                            let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                        {
                            utrechtCopy[id] = String(decoding: data, as: UTF8.self)
                        }
                    }
                }
            case .failure(let failure):
                guard let refusal = failure.answer.refusal, refusal.code == "no_grant" else {
                    throw CommandFailure(
                        "\(name) pull of \(purpose) failed: \(failure.answer.refusal.map(String.init(describing:)) ?? "HTTP \(failure.answer.status)")"
                    )
                }
                step("\(name) asks for \(purpose): refused (\(refusal.code): \(refusal.message))")
            }
            try await client.shutdown()
            guard !lines.isEmpty else { continue }
            let duoPseudonyms = Set(
                lines.filter { $0["dataset"] as? String == "duo.onderwijsdeelname" }.compactMap {
                    $0["pseudonym"] as? String
                }
            )
            let uwvLines = lines.filter { $0["dataset"] as? String == "uwv.inkomstenverhoudingen" }
            let linked = uwvLines.filter { duoPseudonyms.contains($0["pseudonym"] as? String ?? "") }.count
            guard linked == uwvLines.count else {
                throw CommandFailure("UWV records reached \(name) for people outside its population")
            }
            rows.append((name, purpose, lines.count - uwvLines.count, uwvLines.count, duoPseudonyms.count))
            let linkage =
                uwvLines.isEmpty
                ? "" : "; each UWV record carries the pseudonym of a young person in the region's DUO population"
            step(
                "\(name) pulled \(purpose): \(lines.count - uwvLines.count) DUO + \(uwvLines.count) UWV records about \(duoPseudonyms.count) young people\(linkage)"
            )
        }
        let newcomers = try await nextMonth(
            url: url,
            certs: certs,
            duo: duo,
            people: people,
            synth: &synth,
            copy: utrechtCopy,
            cursor: cursors["region-utrecht/vsv-opvolging"],
            push: push
        )
        try await institutionReports(url: url, certs: certs, in: utrecht, synth: &synth, push: push)
        // The people Utrecht may ask about: those of either month's picture.
        try await reidentify(url: url, certs: certs, keys: keys, people: people + newcomers)
        try await verifyAsAuditor(url: url, certs: certs)
        return rows
    }

    /// A client at `url` holding the certificate `<file>.pem` of `certs`.
    static func client(_ file: String, url: String, certs: URL) throws -> GatewayClient {
        try GatewayClient(
            baseURL: url,
            certificate: certs.appendingPathComponent("\(file).pem"),
            privateKey: certs.appendingPathComponent("\(file).key"),
            trustedCA: certs.appendingPathComponent("ca.pem")
        )
    }

    /// Utrecht asks who two young people of its vsv-opvolging population are, Utrecht's privacy
    /// officer approves, Utrecht collects the BSNs sealed to its own key and opens them there.
    func reidentify(url: String, certs: URL, keys: URL, people: [SyntheticRecords.Person]) async throws {
        print("\nControlled re-identification:")
        try await Self.client("region-utrecht", url: url, certs: certs).shuttingDown { region in
            try await Self.client("approver-utrecht", url: url, certs: certs).shuttingDown { approver in
                try await reidentify(region: region, approver: approver, keys: keys, people: people)
            }
        }
    }

    private func reidentify(
        region: GatewayClient,
        approver: GatewayClient,
        keys: URL,
        people: [SyntheticRecords.Person]
    ) async throws {
        func object(_ answer: GatewayClient.Answer) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]) ?? [:]
        }
        func expect(_ answer: GatewayClient.Answer, _ status: Int, _ what: String) throws {
            guard answer.status == status else {
                throw CommandFailure(
                    "\(what): HTTP \(answer.status) \(answer.refusal.map(String.init(describing:)) ?? "")"
                )
            }
        }
        struct Ask: Encodable { let purpose: String, pseudonyms: [String], reason: String, caseReference: String }
        struct Decision: Encodable { let decision: String, reason: String }
        let page = try await region.pull(purpose: "vsv-opvolging", view: "current", limit: 10)
        let pseudonyms = Array(
            NSOrderedSet(
                array: page.body.split(separator: "\n").compactMap {
                    (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["pseudonym"] as? String
                }
            ).array.compactMap { $0 as? String }.prefix(2)
        )
        let asked = try await region.post(
            "/v1/reidentifications",
            json: Ask(
                purpose: "vsv-opvolging",
                pseudonyms: pseudonyms,
                reason: "rmc-contactpoging",
                caseReference: "RMC-DEMO-0001"
            )
        )
        try expect(asked, 201, "the request")
        let id = object(asked)["id"] as? String ?? ""
        step(
            "Utrecht asks who \(pseudonyms.count) young people are (reason rmc-contactpoging, case RMC-DEMO-0001): waiting"
        )
        let selfApproved = try await region.post(
            "/v1/reidentifications/\(id)/decision",
            json: Decision(decision: "approve", reason: "zelf")
        )
        try expect(selfApproved, 403, "self-approval")
        step("Utrecht approving its own request: refused (\(selfApproved.refusal?.code ?? ""))")
        let approved = try await approver.post(
            "/v1/reidentifications/\(id)/decision",
            json: Decision(decision: "approve", reason: "contactpoging past in het trajectplan")
        )
        try expect(approved, 200, "the approval")
        step("Utrecht's privacy officer approves it")
        let released = try await region.post("/v1/reidentifications/\(id)/release", body: [])
        try expect(released, 200, "the release")
        let pair = try BoxKeyPair(
            secretKey: KeyFile.readSecret(keys.appendingPathComponent("region-utrecht-reveal.key"))
        )
        let known = Set(people.map(\.bsn))
        var opened = 0
        for entry in object(released)["released"] as? [[String: String]] ?? [] {
            guard let sealed = entry["sealed"].flatMap({ Data(base64Encoded: $0) }) else { continue }
            let matches = try IdentityVault.reveal(Array(sealed), with: pair) { pseudonym, bsn in
                pseudonym == entry["pseudonym"]
                    && bsn.withDigits { known.contains(String(decoding: $0, as: UTF8.self)) }
            }
            if matches == true { opened += 1 }
        }
        guard opened == pseudonyms.count else {
            throw CommandFailure("the release opened \(opened) of \(pseudonyms.count) BSNs with Utrecht's key")
        }
        step(
            "Utrecht collects \(opened) BSNs sealed to its own reveal key and opens them on its side (vangnet reveal); the gateway never answered one in the clear"
        )
    }

    /// A month later DUO sends its complete picture again: three Utrecht enrolments are gone, three
    /// people moved to Amsterdam, three moved within Utrecht, three are new. Utrecht pulls only the
    /// changes, applies them to its copy of the first picture, and the copy equals the current picture.
    /// Two mbo institutions report applicants from Utrecht they cannot admit; one line names the
    /// other institution's BRIN and is rejected. Utrecht finds the reports as changes in its feed
    /// of mbo-niet-toelaatbaar.
    func institutionReports(
        url: String,
        certs: URL,
        in utrecht: [MunicipalityCode],
        synth: inout SyntheticRecords,
        push: (String, OIN, DatasetID, [String], BatchMode, String) async throws -> Void
    ) async throws {
        print("\nmbo institutions report applicants they cannot admit:")
        let client = try Self.client("region-utrecht", url: url, certs: certs)
        try await client.shuttingDown { client in
            let before = try await client.pullAll(purpose: "mbo-niet-toelaatbaar", view: "changes") { _ in }
            guard case .success(let cursor) = before else { throw CommandFailure("Utrecht's mbo pull failed") }
            let own = synth.people(2, in: utrecht).map { synth.mboLine(for: $0, brin: ["91MB"]) }
            let wrong = synth.people(1, in: utrecht).map { synth.mboLine(for: $0, brin: ["92MB"]) }
            try await push(
                "mbo-utrecht",
                DevelopmentSetup.mboUtrecht,
                "mbo.niet-toelaatbaar",
                own + wrong,
                .changes,
                "its reports (one naming ROC Amsterdam's BRIN)"
            )
            let roc = synth.people(3, in: utrecht).map { synth.mboLine(for: $0, brin: ["92MB", "93MB"]) }
            try await push(
                "mbo-amsterdam",
                DevelopmentSetup.mboAmsterdam,
                "mbo.niet-toelaatbaar",
                roc,
                .changes,
                "its reports on applicants living in region 19"
            )
            var reasons: [String: Int] = [:]
            var reports = 0
            let changes = try await client.pullAll(purpose: "mbo-niet-toelaatbaar", cursor: cursor) { answer in
                for line in answer.body.split(separator: "\n") {
                    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                    reports += 1
                    reasons[object?["reden"] as? String ?? "?", default: 0] += 1
                }
            }
            guard case .success = changes, reports == own.count + roc.count else {
                throw CommandFailure("Utrecht did not receive the \(own.count + roc.count) reports as changes")
            }
            step(
                "Utrecht pulled \(reports) new reports as changes in its feed, about applicants living in its region, from both institutions (reasons: \(reasons.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }.joined(separator: ", ")))"
            )
        }
    }

    func nextMonth(
        url: String,
        certs: URL,
        duo: [String],
        people: [SyntheticRecords.Person],
        synth: inout SyntheticRecords,
        copy: [String: String],
        cursor: String?,
        push: (String, OIN, DatasetID, [String], BatchMode, String) async throws -> Void
    ) async throws -> [SyntheticRecords.Person] {
        guard let cursor else { throw CommandFailure("Utrecht has no cursor for vsv-opvolging") }
        print("\nA month later:")
        var next = duo
        for k in 3..<6 {
            next[k] = next[k].replacingOccurrences(
                of: "\"gemeentecode\":\"\(people[k].municipality)\"",
                with: "\"gemeentecode\":\"GM0363\""
            )
        }
        for k in 6..<9 {
            next[k] = next[k].replacingOccurrences(
                of: "\"gemeentecode\":\"\(people[k].municipality)\"",
                with: "\"gemeentecode\":\"GM0632\""
            )
        }
        next.removeFirst(3)
        let newcomers = synth.people(3, in: ["GM0344"].compactMap { MunicipalityCode($0) })
        next += newcomers.map { synth.duoLine(for: $0, earlyLeaver: true) }
        try await push(
            "duo",
            DevelopmentSetup.duo,
            "duo.onderwijsdeelname",
            next,
            .full,
            "next month's complete picture"
        )
        let client = try Self.client("region-utrecht", url: url, certs: certs)
        try await client.shuttingDown { client in
            var mirror = copy
            var upserts = 0
            var withdrawals = 0
            let changes = try await client.pullAll(purpose: "vsv-opvolging", cursor: cursor, limit: 100) { answer in
                for r in Self.records(answer.body) {
                    if r.change == "withdraw" {
                        mirror[r.id] = nil
                        withdrawals += 1
                    } else {
                        mirror[r.id] = r.line
                        upserts += 1
                    }
                }
            }
            guard case .success = changes else { throw CommandFailure("Utrecht's changes pull failed") }
            step(
                "Utrecht pulled only the changes since its last pull: \(upserts) records entered or changed, \(withdrawals) left its picture (moved away or no longer reported)"
            )
            var now: [String: String] = [:]
            _ = try await client.pullAll(purpose: "vsv-opvolging", view: "current", limit: 100) { answer in
                for r in Self.records(answer.body) { now[r.id] = r.line }
            }
            guard now == mirror else {
                throw CommandFailure("Utrecht's copy with the changes applied differs from the current picture")
            }
            step("Utrecht's copy with the changes applied equals its current picture: \(now.count) records")
        }
        return newcomers
    }

    /// The lines of an NDJSON page: identifier, change (if any), and the record without it (sorted keys).
    static func records(_ body: String) -> [(id: String, change: String?, line: String)] {
        body.split(separator: "\n").compactMap { line in
            guard var object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let id = object["id"] as? String
            else { return nil }
            let change = object.removeValue(forKey: "change") as? String
            let text =
                (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map {
                    String(decoding: $0, as: UTF8.self)
                } ?? ""
            return (id, change, text)
        }
    }

    func verifyAsAuditor(url: String, certs: URL) async throws {
        let auditorClient = try Self.client("auditor", url: url, certs: certs)
        let verify = try await auditorClient.get("/v1/audit/verify")
        let explain = try await auditorClient.get(
            "/v1/policy/explain?consumer=\(DevelopmentSetup.regionAmsterdam)&purpose=vsv-een-jaar-later"
        )
        try await auditorClient.shutdown()
        let explanation = try JSONDecoder().decode(Explanation.self, from: Data(explain.body.utf8))
        guard explain.status == 200, explanation.permitted,
            let uwv = explanation.datasets.first(where: { $0.dataset == "uwv.inkomstenverhoudingen" })
        else {
            throw CommandFailure("policy explanation over mTLS failed: \(explain.status)")
        }
        step(
            "security officer asked what Amsterdam receives for vsv-een-jaar-later: UWV \(uwv.delivered.joined(separator: ", ")) only, "
                + "\(uwv.withheld.count) UWV fields withheld with their reasons (GET /v1/policy/explain)"
        )
        guard verify.status == 200, verify.body.contains("\"intact\":true") else {
            throw CommandFailure("audit verification over mTLS failed: \(verify.body)")
        }
        step("security officer verified the audit log over mTLS")
    }

    func summarise(_ gateway: Gateway, _ rows: [PullRow]) async throws {
        let store = gateway.store
        guard case .intact(let entries, let head, _) = try await store.verifyAudit(key: gateway.keys.audit.publicKey)
        else { throw CommandFailure("the audit chain does not verify") }
        let events = try await store.auditEvents()
        step(
            "audit chain recomputed from the database after shutdown: \(entries) entries intact, head \(Hex.encode(head.prefix(8)))"
        )

        print("\nSummary")
        let counts = try await store.counts()
        print(
            "  stored: \(counts.batches) batches, \(counts.records) pseudonymised records (no BSN on disk in the clear; the DUO records that vsv-opvolging may re-identify keep theirs sealed)"
        )
        print(
            "  " + "region".padding(toLength: 16, withPad: " ", startingAt: 0)
                + "purpose".padding(toLength: 21, withPad: " ", startingAt: 0) + "DUO   UWV   people"
        )
        for (region, purpose, duoCount, uwvCount, persons) in rows {
            print(
                "  " + region.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + purpose.padding(toLength: 21, withPad: " ", startingAt: 0)
                    + String(duoCount).padding(toLength: 6, withPad: " ", startingAt: 0)
                    + String(uwvCount).padding(toLength: 6, withPad: " ", startingAt: 0) + String(persons)
            )
        }
        let byAction = Dictionary(grouping: events) { "\($0.action.rawValue)/\($0.outcome.rawValue)" }.map {
            "\($0.key) \($0.value.count)"
        }.sorted()
        print("  audit: " + byAction.joined(separator: ", "))
        print("\nDemo completed: every step succeeded.")
    }
}
