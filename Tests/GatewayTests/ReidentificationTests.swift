import AccessPolicy
import AuditLog
import DevelopmentSupport
import Foundation
import Gateway
import Pseudonymisation
import Storage
import Testing
import VangnetClient
import VangnetCore
import VangnetCrypto

/// Controlled re-identification through the router: a region asks, an approver decides, the region
/// receives BSNs sealed to its own key; every refusal has its code and its audit entry.
@Suite struct ReidentificationTests {
    let population = Population()

    struct Ask: Encodable {
        var purpose = "vsv-opvolging"
        var pseudonyms: [String]
        var reason = "rmc-contactpoging"
        var caseReference = "RMC-2026-0042"
    }

    struct Decision: Encodable {
        var decision = "approve"
        var reason = "contactpoging past bij het trajectplan"
    }

    /// Pushes the DUO population and returns the pseudonyms `region` receives for `purpose`.
    static func pseudonyms(
        _ gw: TestGateway,
        _ population: Population,
        region: String = "region-utrecht",
        purpose: String = "vsv-opvolging"
    ) async throws -> [String] {
        let pushed = try await gw.using("duo") {
            try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo"))
        }
        guard pushed.status == 201 else { throw TestFailure("the push was refused: \(pushed.status)") }
        let page = try await gw.using(region) { try await $0.pull(purpose: purpose, limit: 1000) }
        var out: [String] = []
        for line in page.body.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            if let pseudonym = object?["pseudonym"] as? String, !out.contains(pseudonym) { out.append(pseudonym) }
        }
        return out
    }

    static func id(_ answer: GatewayClient.Answer) throws -> String {
        let object = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
        guard let id = object?["id"] as? String else { throw TestFailure("no id in \(answer.status)") }
        return id
    }

    static func error(_ answer: GatewayClient.Answer) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
        return object?["error"] as? String
    }

    /// The BSNs a release holds, opened with `keyFile`'s key (each checked to be for its pseudonym).
    static func reveal(_ answer: GatewayClient.Answer, keyFile: URL) throws -> Set<String> {
        let pair = try BoxKeyPair(secretKey: KeyFile.readSecret(keyFile))
        let object = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
        let released = object?["released"] as? [[String: String]] ?? []
        var bsns = Set<String>()
        for entry in released {
            guard let sealed = entry["sealed"].flatMap({ Data(base64Encoded: $0) }), let pseudonym = entry["pseudonym"]
            else { throw TestFailure("a released entry lacks its members") }
            let bsn = try IdentityVault.reveal(Array(sealed), with: pair) { sealedFor, bsn -> String? in
                guard sealedFor == pseudonym else { return nil }
                return bsn.withDigits { String(decoding: $0, as: UTF8.self) }
            }
            guard let bsn = bsn ?? nil else { throw TestFailure("a sealed BSN names another pseudonym") }
            bsns.insert(bsn)
        }
        return bsns
    }

    static func audited(_ gw: TestGateway, _ action: AuditEvent.Action) async throws -> [AuditEvent] {
        try await gw.store.auditEvents().filter { $0.action == action }
    }

    /// The whole cycle, then a search of the database files, logs, audit export and every
    /// response for each BSN pushed: none in the clear.
    static func cycle(database: String?) async throws {
        let population = Population()
        try await TestGateway.with(database: database) { gw in
            var responses: [String] = []
            let pseudonyms = try await Self.pseudonyms(gw, population)
            #expect(pseudonyms.count == population.utrechtLeavers.count, "region 19 receives its 10 leavers")
            let asked = try await gw.using("region-utrecht") {
                try await $0.post("/v1/reidentifications", json: Ask(pseudonyms: Array(pseudonyms.prefix(3))))
            }
            responses.append(asked.body)
            #expect(asked.status == 201)
            let id = try Self.id(asked)
            #expect(asked.body.contains("\"state\":\"pending\"") && asked.body.contains("\"people\":3"))
            #expect(!asked.body.contains(pseudonyms[0]), "a request as shown names no pseudonym")

            let waiting = try await gw.using("approver-utrecht") {
                try await $0.get("/v1/reidentifications?state=pending")
            }
            responses.append(waiting.body)
            #expect(waiting.status == 200 && waiting.body.contains(id) && waiting.body.contains("RMC-2026-0042"))

            let early = try await gw.using("region-utrecht") {
                try await $0.post("/v1/reidentifications/\(id)/release", body: [])
            }
            responses.append(early.body)
            #expect(early.status == 409 && Self.error(early) == "not_approved")

            let approved = try await gw.using("approver-utrecht") {
                try await $0.post("/v1/reidentifications/\(id)/decision", json: Decision())
            }
            responses.append(approved.body)
            #expect(approved.status == 200 && approved.body.contains("\"state\":\"approved\""))

            let released = try await gw.using("region-utrecht") {
                try await $0.post("/v1/reidentifications/\(id)/release", body: [])
            }
            responses.append(released.body)
            #expect(released.status == 200)
            let bsns = try Self.reveal(released, keyFile: gw.keys.appendingPathComponent("region-utrecht-reveal.key"))
            let leavers = Set(population.utrechtLeavers.map(\.bsn))
            #expect(bsns.count == 3 && bsns.isSubset(of: leavers), "three Utrecht leavers are identified")

            // Only Utrecht's key opens it.
            let amsterdamKey = gw.keys.appendingPathComponent("region-amsterdam-reveal.key")
            let openedByAnother = (try? Self.reveal(released, keyFile: amsterdamKey)) != nil
            #expect(!openedByAnother, "another region's key opens nothing")

            let again = try await gw.using("region-utrecht") {
                try await $0.post("/v1/reidentifications/\(id)/release", body: [])
            }
            responses.append(again.body)
            #expect(again.status == 409 && Self.error(again) == "already_released")

            let shown = try await gw.using("region-utrecht") { try await $0.get("/v1/reidentifications/\(id)") }
            responses.append(shown.body)
            #expect(shown.body.contains("\"state\":\"released\""))

            let tallies = try await gw.using("auditor") { try await $0.get("/v1/audit/reidentifications") }
            responses.append(tallies.body)
            #expect(
                tallies.status == 200 && tallies.body.contains("\"state\":\"released\"")
                    && tallies.body.contains("\"people\":3")
            )
            let review = try await gw.using("auditor") { try await $0.get("/review") }
            responses.append(review.body)
            #expect(review.body.contains("Re-identification"), "the review page shows it")

            let events = try await gw.store.auditEvents()
            let actions = events.map(\.action)
            #expect(
                actions.contains(.reidentificationRequest) && actions.contains(.reidentificationDecision)
                    && actions.contains(.reidentificationRelease)
            )
            let objects = events.filter { $0.action == .reidentificationRequest }.map(\.object).joined()
            #expect(
                objects.contains("/case:") && !objects.contains("RMC-2026-0042"),
                "the audit holds the case's hash only"
            )
            let export = try await gw.store.exportAudit(.ndjson).joined(separator: "\n")

            var leaks: [String] = []
            let files = database == nil ? try gw.databaseFiles() : []
            let logs = gw.logs.all.joined(separator: "\n")
            for (index, person) in population.everyone.enumerated() {
                for (path, bytes) in files where bytes.range(of: Data(person.bsn.utf8)) != nil {
                    leaks.append("person \(index) in \(URL(fileURLWithPath: path).lastPathComponent)")
                }
                if logs.contains(person.bsn) { leaks.append("person \(index) in the logs") }
                if export.contains(person.bsn) { leaks.append("person \(index) in the audit export") }
                if responses.contains(where: { $0.contains(person.bsn) }) {
                    leaks.append("person \(index) in a response")
                }
            }
            #expect(leaks.isEmpty, "BSNs in the clear: \(leaks)")
        }
    }

    @Test func aRequestApprovedByAnotherIsReleasedSealedToTheRegionAloneAndNoBSNIsLeftInTheClear() async throws {
        try await Self.cycle(database: nil)
    }

    @Test func theCycleWorksTheSameOnPostgreSQL() async throws {
        try await Self.cycle(database: try await SharedPostgresTests.database())
    }

    @Test func requestsOutsideTheRulesAreRefusedWithTheirCodesAndAudited() async throws {
        try await TestGateway.with { gw in
            let pseudonyms = try await Self.pseudonyms(gw, population)
            let amsterdam = try await gw.using("region-amsterdam") { try await $0.pull(purpose: "vsv-opvolging") }
            let amsterdamPseudonym =
                amsterdam.body.split(separator: "\"").drop { $0 != "pseudonym" }.dropFirst(2).first
                .map(String.init) ?? ""
            let cases: [(String, Ask, Int, String)] = [
                (
                    "a purpose without re-identification",
                    Ask(purpose: "kwetsbare-jongeren", pseudonyms: [pseudonyms[0]]), 403, "reidentification_not_allowed"
                ),
                ("an unknown purpose", Ask(purpose: "nope", pseudonyms: [pseudonyms[0]]), 403, "unknown_purpose"),
                (
                    "a reason the purpose does not list", Ask(pseudonyms: [pseudonyms[0]], reason: "nieuwsgierigheid"),
                    422, "unknown_reason"
                ),
                (
                    "a BSN-like case reference", Ask(pseudonyms: [pseudonyms[0]], caseReference: "dossier 1234.56.782"),
                    422, "case_reference_refused"
                ),
                (
                    "an empty case reference", Ask(pseudonyms: [pseudonyms[0]], caseReference: " "), 422,
                    "case_reference_refused"
                ),
                (
                    "more pseudonyms than a request may name",
                    Ask(pseudonyms: (0..<51).map { String(format: "vp1.e1.%032x", $0) }), 422, "too_many_pseudonyms"
                ),
                (
                    "another region's pseudonym", Ask(pseudonyms: [pseudonyms[0], amsterdamPseudonym]), 422,
                    "not_in_population"
                ),
                (
                    "a pseudonym nobody has", Ask(pseudonyms: ["vp1.e1." + String(repeating: "0", count: 32)]), 422,
                    "not_in_population"
                ),
                ("no pseudonym at all", Ask(pseudonyms: []), 400, "body_malformed"),
                ("a pseudonym twice", Ask(pseudonyms: [pseudonyms[0], pseudonyms[0]]), 400, "body_malformed"),
            ]
            var wrong: [String] = []
            for (name, ask, status, code) in cases {
                let answer = try await gw.using("region-utrecht") {
                    try await $0.post("/v1/reidentifications", json: ask)
                }
                if answer.status != status || Self.error(answer) != code {
                    wrong.append("\(name): \(answer.status) \(Self.error(answer) ?? "-")")
                }
            }
            #expect(wrong.isEmpty, "\(wrong)")
            let refused = try await Self.audited(gw, .reidentificationRequest).filter { $0.outcome == .refused }
            let codes = refused.compactMap(\.reason)
            #expect(codes == cases.map(\.3), "every refusal is audited with its code")
            let notJSON = try await gw.using("region-utrecht") {
                try await $0.post("/v1/reidentifications", body: Array("nope".utf8))
            }
            #expect(notJSON.status == 400 && Self.error(notJSON) == "body_malformed")
            let bySource = try await gw.using("duo") {
                try await $0.post("/v1/reidentifications", json: Ask(pseudonyms: [pseudonyms[0]]))
            }
            #expect(bySource.status == 403 && Self.error(bySource) == "wrong_role")
            let stored = try await gw.store.reidentifications(state: nil, region: nil, limit: 10)
            #expect(stored.isEmpty, "a refused request stores nothing")
        }
    }

    @Test func onlyAnApproverOtherThanTheRequesterDecidesAndOnlyTheRequesterReleases() async throws {
        try await TestGateway.with { gw in
            let pseudonyms = try await Self.pseudonyms(gw, population)
            let asked = try await gw.using("region-utrecht") {
                try await $0.post("/v1/reidentifications", json: Ask(pseudonyms: [pseudonyms[0]]))
            }
            let id = try Self.id(asked)
            let selfApproved = try await gw.using("region-utrecht") {
                try await $0.post("/v1/reidentifications/\(id)/decision", json: Decision())
            }
            #expect(selfApproved.status == 403 && Self.error(selfApproved) == "self_approval")
            let byAnotherRegion = try await gw.using("region-amsterdam") {
                try await $0.post("/v1/reidentifications/\(id)/decision", json: Decision())
            }
            #expect(byAnotherRegion.status == 403 && Self.error(byAnotherRegion) == "not_an_approver")
            let bySource = try await gw.using("duo") {
                try await $0.post("/v1/reidentifications/\(id)/decision", json: Decision())
            }
            #expect(bySource.status == 403 && Self.error(bySource) == "not_an_approver")
            let seenByAnother = try await gw.using("region-amsterdam") {
                try await $0.get("/v1/reidentifications/\(id)")
            }
            #expect(seenByAnother.status == 404, "another region does not learn the request exists")
            let releasedToAnother = try await gw.using("region-amsterdam") {
                try await $0.post("/v1/reidentifications/\(id)/release", body: [])
            }
            #expect(releasedToAnother.status == 404)
            let refused = try await gw.using("auditor") {
                try await $0.post(
                    "/v1/reidentifications/\(id)/decision",
                    json: Decision(decision: "refuse", reason: "geen traject")
                )
            }
            #expect(
                refused.status == 200 && refused.body.contains("\"state\":\"refused\""),
                "the security officer may decide"
            )
            let decidedTwice = try await gw.using("approver-utrecht") {
                try await $0.post("/v1/reidentifications/\(id)/decision", json: Decision())
            }
            #expect(decidedTwice.status == 409 && Self.error(decidedTwice) == "request_decided")
            let releaseRefused = try await gw.using("region-utrecht") {
                try await $0.post("/v1/reidentifications/\(id)/release", body: [])
            }
            #expect(releaseRefused.status == 409 && Self.error(releaseRefused) == "not_approved")

            // An approver bound to region 19 cannot decide on region 21's requests.
            let amsterdamPseudonyms = try await gw.using("region-amsterdam") {
                try await $0.pull(purpose: "vsv-opvolging")
            }
            let first =
                amsterdamPseudonyms.body.split(separator: "\"").drop { $0 != "pseudonym" }.dropFirst(2).first.map(
                    String.init
                ) ?? ""
            let amsterdamAsked = try await gw.using("region-amsterdam") {
                try await $0.post("/v1/reidentifications", json: Ask(pseudonyms: [first]))
            }
            #expect(amsterdamAsked.status == 201)
            let outOfRegion = try await gw.using("approver-utrecht") {
                try await $0.post("/v1/reidentifications/\(try Self.id(amsterdamAsked))/decision", json: Decision())
            }
            #expect(outOfRegion.status == 403 && Self.error(outOfRegion) == "not_an_approver")

            let decisions = try await Self.audited(gw, .reidentificationDecision)
            let codes = decisions.map { "\($0.outcome.rawValue):\($0.reason ?? "")" }
            #expect(
                codes == [
                    "refused:self_approval", "refused:not_an_approver", "refused:not_an_approver", "success:refused",
                    "refused:request_decided", "refused:not_an_approver",
                ],
                "every decision and every refused one is audited"
            )
        }
    }

    @Test func anExpiredRequestCanNeitherBeDecidedNorReleasedAndItsExpiryIsAudited() async throws {
        try await TestGateway.with { gw in
            let pseudonyms = try await Self.pseudonyms(gw, population)
            let waiting = try Self.id(
                try await gw.using("region-utrecht") {
                    try await $0.post("/v1/reidentifications", json: Ask(pseudonyms: [pseudonyms[0]]))
                }
            )
            let approved = try Self.id(
                try await gw.using("region-utrecht") {
                    try await $0.post("/v1/reidentifications", json: Ask(pseudonyms: [pseudonyms[1]]))
                }
            )
            _ = try await gw.using("approver-utrecht") {
                try await $0.post("/v1/reidentifications/\(approved)/decision", json: Decision())
            }
            try await gw.store.tamper("UPDATE reidentifications SET expires_at = 0")
            let decided = try await gw.using("approver-utrecht") {
                try await $0.post("/v1/reidentifications/\(waiting)/decision", json: Decision())
            }
            #expect(decided.status == 410 && Self.error(decided) == "request_expired")
            let released = try await gw.using("region-utrecht") {
                try await $0.post("/v1/reidentifications/\(approved)/release", body: [])
            }
            #expect(released.status == 410 && Self.error(released) == "request_expired")
            let expiries = try await Self.audited(gw, .reidentificationExpiry).compactMap(\.reason).sorted()
            #expect(expiries == ["not_decided", "not_released"])
            let states = try await gw.store.reidentifications(state: .expired, region: nil, limit: 10).count
            #expect(states == 2)
        }
    }

    @Test func aRegionAtItsQuotaIsRefusedUntilARefusalFreesIt() async throws {
        try await TestGateway.with(policy: { policy in
            policy.purposes[0].reidentification?.monthlyQuota = 3
            policy.purposes[0].reidentification?.maxPerRequest = 3
        }) { gw in
            let pseudonyms = try await Self.pseudonyms(gw, population)
            let first = try await gw.using("region-utrecht") {
                try await $0.post("/v1/reidentifications", json: Ask(pseudonyms: Array(pseudonyms[0..<3])))
            }
            #expect(first.status == 201)
            let over = try await gw.using("region-utrecht") {
                try await $0.post("/v1/reidentifications", json: Ask(pseudonyms: [pseudonyms[3]]))
            }
            #expect(over.status == 429 && Self.error(over) == "quota_exceeded")
            let retryAfter = Int(over.headers["retry-after"] ?? "") ?? 0
            // 2026-11-23T12:00Z to 2026-12-01T00:00 in Amsterdam (23:00Z).
            #expect(retryAfter == 7 * 86_400 + 11 * 3600, "Retry-After is the start of next month")
            let audited = try await Self.audited(gw, .reidentificationRequest).last
            #expect(
                audited?.reason == "quota_exceeded" && audited?.counts["used"] == 3 && audited?.counts["quota"] == 3
            )
            _ = try await gw.using("approver-utrecht") {
                try await $0.post(
                    "/v1/reidentifications/\(try Self.id(first))/decision",
                    json: Decision(decision: "refuse", reason: "te breed")
                )
            }
            let afterRefusal = try await gw.using("region-utrecht") {
                try await $0.post("/v1/reidentifications", json: Ask(pseudonyms: [pseudonyms[3]]))
            }
            #expect(afterRefusal.status == 201, "a refused request no longer counts")
        }
    }

    @Test func withTheKeyDestroyedReleasesAreRefusedAndPullsAndPushesGoOn() async throws {
        try await TestGateway.with { gw in
            let pseudonyms = try await Self.pseudonyms(gw, population)
            let id = try Self.id(
                try await gw.using("region-utrecht") {
                    try await $0.post("/v1/reidentifications", json: Ask(pseudonyms: [pseudonyms[0]]))
                }
            )
            _ = try await gw.using("approver-utrecht") {
                try await $0.post("/v1/reidentifications/\(id)/decision", json: Decision())
            }
            let destroyed = try GatewayKeys.destroyIdentityRoots(in: gw.keys)
            #expect(destroyed == [1])
            let active = try await gw.gateway.reload()
            #expect(active.identities == nil)
            let released = try await gw.using("region-utrecht") {
                try await $0.post("/v1/reidentifications/\(id)/release", body: [])
            }
            #expect(released.status == 503 && Self.error(released) == "reidentification_key_missing")
            let audited = try await Self.audited(gw, .reidentificationRelease).last?.reason
            #expect(audited == "reidentification_key_missing")
            let pushed = try await gw.using("duo") {
                try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo"))
            }
            #expect(pushed.status == 201)
            let pulled = try await gw.using("region-utrecht") { try await $0.pull(purpose: "vsv-opvolging") }
            #expect(pulled.status == 200 && pulled.body.contains(pseudonyms[0]), "the same pseudonyms, still delivered")
        }
    }

    @Test func theIdentityIsKeptOnlyForDatasetsAReidentifyingPurposeDelivers() async throws {
        try await TestGateway.with { gw in
            _ = try await Self.pseudonyms(gw, population)
            _ = try await gw.using("uwv") { try await $0.push(envelope: try gw.seal(population.uwvLines, as: "uwv")) }
            let duo = try await gw.store.currentRecords(dataset: "duo.onderwijsdeelname", region: RegionNumber(19)!)
            let uwv = try await gw.store.currentRecords(dataset: "uwv.inkomstenverhoudingen", region: RegionNumber(19)!)
            let duoKept = duo.filter { $0.fields[IdentityVault.storedField] != nil }.count
            let uwvKept = uwv.filter { $0.fields[IdentityVault.storedField] != nil }.count
            #expect(duoKept == duo.count && !duo.isEmpty, "DUO records, which vsv-opvolging delivers, keep it sealed")
            #expect(uwvKept == 0 && !uwv.isEmpty, "UWV records, which no re-identifying purpose delivers, do not")
            // Sent again unchanged, a record stays unchanged: its sealed identity is the same text.
            let again = try await gw.using("duo") {
                try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo"))
            }
            let unchanged = try await Self.audited(gw, .batchPush).last?.counts["unchanged"]
            #expect(again.status == 201 && unchanged == 22)
        }
    }
}

extension ReidentificationTests {
    /// The identity goes when the re-identifying purposes' retention ends, though a purpose that
    /// keeps the record longer still delivers it; the removal is audited.
    @Test(arguments: ["sqlite", "postgresql"])
    func aKeptIdentityEndsWithTheReidentifyingPurposesRetention(store: String) async throws {
        let database = store == "sqlite" ? nil : try await SharedPostgresTests.database()
        try await TestGateway.with(database: database) { gw in
            let pseudonyms = try await Self.pseudonyms(gw, population)
            // vsv-opvolging (re-identifying) keeps records 730 days, kwetsbare-jongeren 1,095: move
            // the commit back 800 days.
            try await gw.store.tamper("UPDATE current SET changed_at = changed_at - 800 * 86400")
            try await gw.gateway.purgeExpiredRecords()
            let duo = try await gw.store.currentRecords(dataset: "duo.onderwijsdeelname", region: RegionNumber(19)!)
            let kept = duo.filter { $0.fields[IdentityVault.storedField] != nil }.count
            #expect(!duo.isEmpty && kept == 0, "the records stay, their identities are gone")
            let events = try await gw.store.auditEvents().filter { $0.object.contains("/identities/") }
            #expect(events.first?.counts["identities"] == population.everyone.count)
            let unchangedFields = duo.allSatisfy { $0.fields["brin"] == .text("25LP") }
            #expect(unchangedFields, "the other fields are as they were")
            _ = pseudonyms
        }
    }
}

extension ReidentificationTests {
    @Test func aCaseReferenceThatCouldHoldABSNIsRefused() {
        let cases: [(String, Bool)] = [
            ("RMC-2026-0042", true), ("dossier 2026-11-23", true), ("zaak 1234567", true),
            ("12345678", false), ("dossier 123456782", false), ("1234.56.782", false), ("123 456 782", false),
            ("12-34-56-78-2", false), ("", false), ("   ", false), (String(repeating: "a", count: 101), false),
            (String(repeating: "a", count: 100), true), ("regel\neen", false),
        ]
        // Positions only in the failure text: some cases are BSN-like on purpose.
        let wrong = cases.indices.filter {
            (ReidentificationPipeline.caseReferenceProblem(cases[$0].0) == nil) != cases[$0].1
        }
        #expect(wrong.isEmpty, "case references judged wrongly at positions \(wrong)")
    }

    @Test func twoRequestsAtOnceCannotBothTakeTheLastOfAQuota() async throws {
        try await TestGateway.with(policy: { policy in
            policy.purposes[0].reidentification?.monthlyQuota = 3
            policy.purposes[0].reidentification?.maxPerRequest = 2
        }) { gw in
            let pseudonyms = try await Self.pseudonyms(gw, population)
            async let first = gw.using("region-utrecht") {
                try await $0.post("/v1/reidentifications", json: Ask(pseudonyms: Array(pseudonyms[0..<2])))
            }
            async let second = gw.using("region-utrecht") {
                try await $0.post("/v1/reidentifications", json: Ask(pseudonyms: Array(pseudonyms[2..<4])))
            }
            let statuses = try await [first.status, second.status].sorted()
            #expect(statuses == [201, 429])
        }
    }
}
