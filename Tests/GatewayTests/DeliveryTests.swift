import AccessPolicy
import AuditLog
import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import Records
import Storage
import StoreSelection
import Testing
import VangnetCore
import VangnetCrypto

/// Delivery as a region meets it: complete pictures and changes, identifiers and cursors that
/// reveal and link nothing, and the refusals of a cursor that is not this pull's.
@Suite struct DeliveryTests {
    let population = Population()

    /// Every line of a pull followed to its end, and the cursor to continue with.
    func pullAll(
        _ gw: TestGateway,
        _ name: String,
        _ purpose: String,
        view: String? = "current",
        cursor: String? = nil,
        limit: Int = 3
    ) async throws -> (lines: [[String: Any]], bodies: [String], headers: [[String: String]], next: String) {
        try await gw.using(name) { client in
            var lines: [[String: Any]] = []
            var bodies: [String] = []
            var headers: [[String: String]] = []
            let result = try await client.pullAll(purpose: purpose, view: view, cursor: cursor, limit: limit) {
                answer in
                bodies.append(answer.body)
                headers.append(answer.headers)
                lines += answer.body.split(separator: "\n").map {
                    try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
                }
            }
            guard case .success(let next) = result else { throw ConfigurationError("the pull was refused") }
            return (lines, bodies, headers, next)
        }
    }

    func push(_ gw: TestGateway, _ lines: [String], as source: String, mode: BatchMode) async throws -> ReceiptBody {
        let oin = source == "duo" ? DevelopmentSetup.duo : DevelopmentSetup.uwv
        let envelope = try EnvelopeSealer(source: oin, signingKey: gw.signingKey(source), recipient: gw.gatewayBoxKey)
            .seal(
                payload: Array((lines.joined(separator: "\n") + "\n").utf8),
                batchId: BatchID(),
                dataset: source == "duo" ? "duo.onderwijsdeelname" : "uwv.inkomstenverhoudingen",
                createdAt: TestGateway.now,
                recordCount: lines.count,
                mode: mode
            )
        let answer = try await gw.using(source) { try await $0.push(envelope: envelope) }
        guard answer.status == 201 else { throw ConfigurationError("push answered \(answer.status): \(answer.body)") }
        return try JSONDecoder().decode(SignedReceipt.self, from: Data(answer.body.utf8)).verified(
            with: gw.gatewaySigningKey
        )
    }

    @Test func aCompletePictureWithdrawsWhatItNoLongerHoldsAndRegionsSeeItAsChanges() async throws {
        try await TestGateway.with { gw in
            _ = try await push(gw, population.duoLines, as: "duo", mode: .full)
            let utrecht = try await pullAll(gw, "region-utrecht", "vsv-opvolging")
            let amsterdam = try await pullAll(gw, "region-amsterdam", "vsv-opvolging")
            #expect(utrecht.lines.count == 10 && amsterdam.lines.count == 8)
            // Next month: two Utrecht leavers are no longer reported, one moved to Amsterdam.
            var next = population.duoLines
            let moved = population.utrechtLeavers[2]
            next[2] = Population.duo(moved, leaver: true, municipality: "GM0363")
            next.removeFirst(2)
            let receipt = try await push(gw, next, as: "duo", mode: .full)
            #expect(receipt.accepted == 20)
            let lastPush = try await gw.store.auditEvents().last { $0.action == .batchPush }
            let pushed = try #require(lastPush)
            #expect(
                pushed.counts["withdrawn"] == 2 && pushed.counts["changed"] == 1 && pushed.counts["unchanged"] == 19
                    && pushed.counts["added"] == 0
            )
            let utrechtChanges = try await pullAll(
                gw,
                "region-utrecht",
                "vsv-opvolging",
                view: nil,
                cursor: utrecht.next
            )
            do {
                let holds =
                    utrechtChanges.lines.count == 3
                    && utrechtChanges.lines.allSatisfy { $0["change"] as? String == "withdraw" && $0.count == 2 }
                #expect(holds)
            }
            do {
                let holds = Set(utrechtChanges.lines.map { $0["id"] as! String }).isSubset(
                    of: Set(utrecht.lines.map { $0["id"] as! String })
                )
                #expect(holds)
            }
            let amsterdamChanges = try await pullAll(
                gw,
                "region-amsterdam",
                "vsv-opvolging",
                view: nil,
                cursor: amsterdam.next
            )
            #expect(amsterdamChanges.lines.count == 1 && amsterdamChanges.lines.first?["change"] as? String == "upsert")
            #expect(amsterdamChanges.lines.first?["gemeentecode"] as? String == "GM0363")
            // Nothing more since: an empty page, and the same cursor state.
            let again = try await pullAll(gw, "region-utrecht", "vsv-opvolging", view: nil, cursor: utrechtChanges.next)
            #expect(again.lines.isEmpty)
            #expect(try await gw.store.counts().records == 20)
        }
    }

    @Test func aChangesBatchWithdrawsByKeyAndRefusesAWithdrawalWithFieldsOrARepeat() async throws {
        try await TestGateway.with { gw in
            _ = try await push(gw, population.duoLines, as: "duo", mode: .changes)
            let before = try await pullAll(gw, "region-utrecht", "vsv-opvolging")
            let gone = population.utrechtLeavers[0]
            let other = population.utrechtLeavers[1]
            let withdrawal = #"{"bsn":"\#(gone.bsn)","brin":"25LP","inschrijvingsdatum":"2024-08-20","withdrawn":true}"#
            let withFields =
                #"{"bsn":"\#(other.bsn)","brin":"25LP","inschrijvingsdatum":"2024-08-20","vsv":true,"withdrawn":true}"#
            let unknown = #"{"bsn":"\#(other.bsn)","brin":"99ZZ","inschrijvingsdatum":"2024-08-20","withdrawn":true}"#
            let repeated = Population.duo(population.utrechtLeavers[3], leaver: true)
            let receipt = try await push(
                gw,
                [withdrawal, withFields, unknown, repeated, repeated],
                as: "duo",
                mode: .changes
            )
            #expect(receipt.accepted == 3)
            #expect(receipt.rejections.map(\.reason) == [.withdrawalWithFields, .duplicateRecord])
            #expect(receipt.rejections.map(\.line) == [2, 5])
            let lastPush = try await gw.store.auditEvents().last { $0.action == .batchPush }
            let pushed = try #require(lastPush)
            #expect(
                pushed.counts["withdrawn"] == 1 && pushed.counts["withdrawn.unknown"] == 1
                    && pushed.counts["unchanged"] == 1
            )
            let changes = try await pullAll(gw, "region-utrecht", "vsv-opvolging", view: nil, cursor: before.next)
            #expect(changes.lines.count == 1 && changes.lines.first?["change"] as? String == "withdraw")
            // A withdrawal in a complete picture is refused: a picture states what is, not what went.
            let full = try await push(gw, [Population.duo(other, leaver: true), withdrawal], as: "duo", mode: .full)
            #expect(full.rejections.map(\.reason) == [.withdrawalNotAllowed])
        }
    }

    @Test func identifiersPseudonymsCursorsAndOrderLinkNoTwoRegionsOrPurposesAndCarryNoWithheldField() async throws {
        try await TestGateway.with { gw in
            _ = try await push(gw, population.duoLines, as: "duo", mode: .full)
            _ = try await push(gw, population.uwvLines, as: "uwv", mode: .changes)
            let opvolging = try await pullAll(gw, "region-utrecht", "vsv-opvolging")
            let jaarLater = try await pullAll(gw, "region-utrecht", "vsv-een-jaar-later")
            let amsterdam = try await pullAll(gw, "region-amsterdam", "vsv-een-jaar-later")
            func ids(
                _ pull: (lines: [[String: Any]], bodies: [String], headers: [[String: String]], next: String)
            ) -> [String] {
                pull.lines.map { $0["id"] as! String }
            }
            #expect(Set(ids(opvolging)).isDisjoint(with: ids(jaarLater)), "one record, two purposes: two identifiers")
            #expect(Set(ids(jaarLater)).isDisjoint(with: ids(amsterdam)))
            let pseudonyms = {
                (pull: (lines: [[String: Any]], bodies: [String], headers: [[String: String]], next: String)) in
                Set(pull.lines.map { $0["pseudonym"] as! String })
            }
            #expect(
                pseudonyms(opvolging).isDisjoint(with: pseudonyms(jaarLater))
                    && pseudonyms(jaarLater).isDisjoint(with: pseudonyms(amsterdam))
            )
            do {
                let holds = ids(opvolging).allSatisfy { $0.hasPrefix("vr1.") && $0.count == 36 }
                #expect(holds)
            }
            // The order is the identifiers' (keyed per region and purpose), not the people's or the batch's.
            #expect(ids(opvolging) == ids(opvolging).sorted())
            // Utrecht's leaver whose UWV record names an Amsterdam municipality: the record reaches
            // Utrecht without its municipality, and nothing in the answer names it.
            let withheld = "GM0363"
            let everything =
                jaarLater.bodies.joined() + jaarLater.headers.flatMap { $0.map { "\($0.key): \($0.value)" } }.joined()
            do {
                let actual = jaarLater.lines.filter { $0["dataset"] as? String == "uwv.inkomstenverhoudingen" }.count
                #expect(actual == 6)
            }
            #expect(!everything.contains(withheld))
            // Cursors are sealed: nothing in them repeats, and the same position reads differently each time.
            let cursors = jaarLater.headers.compactMap { $0["vangnet-next-cursor"] }
            do {
                let holds = Set(cursors).count == cursors.count && cursors.allSatisfy { $0.hasPrefix("vc1.e1.") }
                #expect(holds)
            }
            let twice = try await gw.using("region-utrecht") { client in
                [
                    try await client.pull(purpose: "vsv-opvolging", limit: 2),
                    try await client.pull(purpose: "vsv-opvolging", limit: 2),
                ]
            }
            #expect(
                twice[0].body == twice[1].body
                    && twice[0].headers["vangnet-next-cursor"] != twice[1].headers["vangnet-next-cursor"]
            )
        }
    }

    @Test func aCursorThatIsNotThisPullsIsRefusedAndAudited() async throws {
        try await TestGateway.with { gw in
            _ = try await push(gw, population.duoLines, as: "duo", mode: .full)
            let page = try await gw.using("region-utrecht") { try await $0.pull(purpose: "vsv-opvolging", limit: 2) }
            let cursor = try #require(page.headers["vangnet-next-cursor"])
            var tampered = Array(cursor)
            tampered[tampered.count - 3] = tampered[tampered.count - 3] == "A" ? "B" : "A"
            let cases: [(String, String, String?, String?)] = [
                ("region-amsterdam", "vsv-opvolging", cursor, nil),  // another region's
                ("region-utrecht", "kwetsbare-jongeren", cursor, nil),  // another purpose's
                ("region-utrecht", "vsv-opvolging", String(tampered), nil),  // altered
                ("region-utrecht", "vsv-opvolging", "1.19.3", nil),  // the old format
                ("region-utrecht", "vsv-opvolging", "vc1.e9.AAAA", nil),  // an epoch the gateway never had
                ("region-utrecht", "vsv-opvolging", cursor, "changes"),  // a snapshot cursor as changes
            ]
            for (name, purpose, cursor, view) in cases {
                let answer = try await gw.using(name) {
                    try await $0.pull(purpose: purpose, view: view, cursor: cursor)
                }
                #expect(
                    answer.refusal?.status == 400 && answer.refusal?.code == "invalid_cursor",
                    "\(name) \(purpose) \(cursor ?? "-") \(view ?? "-")"
                )
            }
            let bad = try await gw.using("region-utrecht") {
                try await $0.pull(purpose: "vsv-opvolging", view: "everything")
            }
            #expect(bad.refusal?.code == "invalid_query")
            let refusals = try await gw.store.auditEvents().filter { $0.action == .pull && $0.outcome == .refused }
            do {
                let actual = refusals.filter { $0.reason == "invalid_cursor" }.count
                #expect(actual == cases.count)
            }
        }
    }

    @Test func aSnapshotOrCursorOlderThanWhatIsKeptIsAnsweredExpired() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-expiry-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = try DevelopmentSetup.create(in: directory, port: 0)
        configuration.gateway.delivery = .init(snapshotHours: 1, changesDays: 3)
        try configuration.write(to: directory.appendingPathComponent("vangnet.json"))
        let clock = SteppingClock(TestGateway.now)
        let gateway = try await Gateway(configuration: configuration, clock: clock)
        let keys = directory.appendingPathComponent("keys")
        let sealer = EnvelopeSealer(
            source: DevelopmentSetup.duo,
            signingKey: try SigningKeyPair(seed: KeyFile.readSecret(keys.appendingPathComponent("duo-signing.key"))),
            recipient: try BoxPublicKey(bytes: KeyFile.readPublic(keys.appendingPathComponent("gateway-box.pub")))
        )
        func push(_ lines: [String], mode: BatchMode) async throws {
            let envelope = try sealer.seal(
                payload: Array((lines.joined(separator: "\n") + "\n").utf8),
                batchId: BatchID(),
                dataset: "duo.onderwijsdeelname",
                createdAt: clock.now(),
                recordCount: lines.count,
                mode: mode
            )
            guard case .permit(.source(let duo)) = gateway.policy.identify(DevelopmentSetup.duo) else { return }
            _ = try await gateway.ingest.ingest(SlowBody(parts: [envelope], pause: .zero), caller: duo)
        }
        guard case .permit(.consumer(let utrecht)) = gateway.policy.identify(DevelopmentSetup.regionUtrecht) else {
            Issue.record("Utrecht unknown")
            return
        }
        func refusal(_ body: () async throws -> DeliveryPage) async -> GatewayRefusal? {
            do {
                _ = try await body()
                return nil
            } catch { return error as? GatewayRefusal }
        }
        try await push(population.duoLines, mode: .full)
        let first = try await gateway.delivery.pull(
            caller: utrecht,
            purpose: "vsv-opvolging",
            view: .current,
            cursor: nil,
            limit: 3
        )
        #expect(!first.complete)
        let whole = try await gateway.delivery.pull(
            caller: utrecht,
            purpose: "vsv-opvolging",
            view: .current,
            cursor: nil,
            limit: 100
        )
        // Every leaver's record changes (a new municipality in the region): the snapshot's versions are replaced.
        try await push(
            population.utrechtLeavers.map { Population.duo($0, leaver: true, municipality: "GM0356") },
            mode: .changes
        )
        // Within the hour the snapshot still reads as it was.
        let second = try await gateway.delivery.pull(
            caller: utrecht,
            purpose: "vsv-opvolging",
            view: nil,
            cursor: first.nextCursor,
            limit: 3
        )
        do {
            let holds = second.lines.allSatisfy { $0.record?.contains("GM0356") == false }
            #expect(holds)
        }
        clock.advance(days: 1)
        let expired = await refusal {
            try await gateway.delivery.pull(
                caller: utrecht,
                purpose: "vsv-opvolging",
                view: nil,
                cursor: second.nextCursor,
                limit: 3
            )
        }
        #expect(expired?.code == .snapshotExpired && expired?.status == .gone)
        // Withdrawals are kept for three days of changes; a cursor from before them is then too old.
        try await push(
            population.utrechtLeavers.map {
                #"{"bsn":"\#($0.bsn)","brin":"25LP","inschrijvingsdatum":"2024-08-20","withdrawn":true}"#
            },
            mode: .changes
        )
        let stillKept = try await gateway.delivery.pull(
            caller: utrecht,
            purpose: "vsv-opvolging",
            view: nil,
            cursor: whole.nextCursor,
            limit: 100
        )
        do {
            let holds = stillKept.lines.count == 10 && stillKept.lines.allSatisfy { $0.record == nil }
            #expect(holds)
        }
        clock.advance(days: 4)
        let old = await refusal {
            try await gateway.delivery.pull(
                caller: utrecht,
                purpose: "vsv-opvolging",
                view: nil,
                cursor: whole.nextCursor,
                limit: 100
            )
        }
        #expect(old?.code == .cursorExpired && old?.status == .gone)
        // A cursor taken after the withdrawals is still good: nothing is lost or repeated.
        let fresh = try await gateway.delivery.pull(
            caller: utrecht,
            purpose: "vsv-opvolging",
            view: nil,
            cursor: stillKept.nextCursor,
            limit: 100
        )
        #expect(fresh.lines.isEmpty)
        // The withdrawn come back after their withdrawals were compacted away: each is delivered
        // again once, and the picture holds every record once.
        try await push(population.utrechtLeavers.map { Population.duo($0, leaver: true) }, mode: .changes)
        let back = try await gateway.delivery.pull(
            caller: utrecht,
            purpose: "vsv-opvolging",
            view: nil,
            cursor: fresh.nextCursor,
            limit: 100
        )
        do {
            let holds = back.lines.count == 10 && back.lines.allSatisfy { $0.record != nil }
            #expect(holds)
        }
        let now = try await gateway.delivery.pull(
            caller: utrecht,
            purpose: "vsv-opvolging",
            view: .current,
            cursor: nil,
            limit: 100
        )
        let ids = now.lines.map(\.id)
        #expect(ids.count == whole.lines.count && Set(ids).count == ids.count)
    }
}

/// `vangnet pull` as a region's analyst runs it: the current picture to a file, then every night
/// `--mirror`, whose SQLite copy ends equal to the current picture.
@Suite struct PullCommandTests {
    let population = Population()

    @Test func theMirrorCommandKeepsARegionsCopyEqualToItsCurrentPicture() async throws {
        let executable = try #require(CrashTests.executable, "the vangnet executable is built with the tests")
        try await TestGateway.with(.tls) { gw in
            let tests = DeliveryTests()
            _ = try await tests.push(gw, population.duoLines, as: "duo", mode: .full)
            let certs = gw.certs.path
            let options = [
                "--gateway", "https://127.0.0.1:\(gw.port)", "--ca", certs + "/ca.pem", "--cert",
                certs + "/region-utrecht.pem",
                "--key", certs + "/region-utrecht.key", "--purpose", "vsv-opvolging",
            ]
            let mirror = gw.directory.appendingPathComponent("utrecht-mirror.sqlite").path
            let first = try await ChildProcess.run(
                executable,
                ["pull"] + options + ["--mirror", mirror, "--limit", "3"]
            )
            #expect(
                first.status == 0 && first.output.contains("10 upserted, 0 withdrawn, 10 records held"),
                "\(first.output) \(first.errors)"
            )
            // Next month two leavers are gone and one moved away: the next run applies only that.
            var next = population.duoLines
            next[2] = Population.duo(population.utrechtLeavers[2], leaver: true, municipality: "GM0363")
            next.removeFirst(2)
            _ = try await tests.push(gw, next, as: "duo", mode: .full)
            let second = try await ChildProcess.run(
                executable,
                ["pull"] + options + ["--mirror", mirror, "--limit", "3"]
            )
            #expect(
                second.status == 0 && second.output.contains("0 upserted, 3 withdrawn, 7 records held"),
                "\(second.output) \(second.errors)"
            )
            let held = try RegionMirror(path: mirror).records(purpose: "vsv-opvolging")
            let now = try await tests.pullAll(gw, "region-utrecht", "vsv-opvolging")
            let expected = Dictionary(
                uniqueKeysWithValues: now.lines.map { line in
                    (
                        line["id"] as! String,
                        String(
                            decoding: try! JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]),
                            as: UTF8.self
                        )
                    )
                }
            )
            #expect(held == expected)
            // The current picture to a file, in CSV, with the cursor to continue on standard error.
            let file = gw.directory.appendingPathComponent("picture.csv").path
            let csv = try await ChildProcess.run(
                executable,
                ["pull"] + options + ["--current", "--all", "--format", "csv", "--limit", "2", "--output", file]
            )
            #expect(csv.status == 0 && csv.errors.contains("next cursor: vc1."))
            let rows = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
            #expect(
                rows.count == 1 + 7 && rows[0].hasPrefix("id,pseudonym,dataset,"),
                "one header row, then the seven records"
            )
        }
    }
}
