import AccessPolicy
import AuditLog
import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import Testing
import VangnetCore

/// The whole flow over real mTLS on loopback: DUO and UWV push, regions pull.
@Suite struct EndToEndTests {
    let population = Population()

    /// Pushes the population's DUO and UWV batches and returns their receipts.
    func pushBoth(_ gw: TestGateway) async throws -> (duo: ReceiptBody, uwv: ReceiptBody) {
        let duo = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo")) }
        let uwv = try await gw.using("uwv") { try await $0.push(envelope: try gw.seal(population.uwvLines, as: "uwv")) }
        #expect(duo.status == 201 && uwv.status == 201, "pushes: \(duo.status) \(uwv.status)")
        let key = try gw.gatewaySigningKey
        return (
            try JSONDecoder().decode(SignedReceipt.self, from: Data(duo.body.utf8)).verified(with: key),
            try JSONDecoder().decode(SignedReceipt.self, from: Data(uwv.body.utf8)).verified(with: key)
        )
    }

    /// All records of `purpose` for the region of certificate `name`, following the cursor in small pages.
    func pullAll(_ gw: TestGateway, _ name: String, _ purpose: String) async throws -> [[String: Any]] {
        try await gw.using(name) { client in
            var records: [[String: Any]] = []
            let pulled = try await client.pullAll(purpose: purpose, view: "current", limit: 4) { answer in
                records += answer.body.split(separator: "\n").map {
                    try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
                }
            }
            let succeeded = if case .success = pulled { true } else { false }
            #expect(succeeded)
            return records
        }
    }

    static func pseudonyms(_ records: [[String: Any]], _ dataset: String) -> [String] {
        records.filter { $0["dataset"] as? String == dataset }.map { $0["pseudonym"] as! String }
    }

    @Test func receiptsCountAcceptedRecords() async throws {
        try await TestGateway.with { gw in
            let (duo, uwv) = try await pushBoth(gw)
            #expect(duo.accepted == 22 && duo.rejected == 0)
            #expect(uwv.accepted == 11 && uwv.rejected == 0)
            #expect(try await gw.store.counts() == (batches: 2, records: 33))
        }
    }

    @Test func regionGetsOnlyItsOwnPopulationWithOnlyThePurposeFields() async throws {
        try await TestGateway.with { gw in
            _ = try await pushBoth(gw)
            let records = try await pullAll(gw, "region-utrecht", "vsv-een-jaar-later")
            let duo = Self.pseudonyms(records, "duo.onderwijsdeelname")
            let uwv = Self.pseudonyms(records, "uwv.inkomstenverhoudingen")
            #expect(duo.count == 10, "the 10 Utrecht early school leavers, not the 4 others, not Amsterdam's")
            #expect(uwv.count == 6, "5 leavers living in Utrecht, 1 whose UWV record names Amsterdam")
            let utrecht = ReferenceData.embedded.regions[RegionNumber(19)!]!.municipalities.map(\.value)
            for record in records where record["dataset"] as? String == "duo.onderwijsdeelname" {
                #expect(utrecht.contains(record["gemeentecode"] as! String))
                #expect(
                    Set(record.keys) == [
                        "id", "pseudonym", "dataset", "gemeentecode", "onderwijssoort", "niveau", "uitschrijvingsdatum",
                    ]
                )
            }
            for record in records where record["dataset"] as? String == "uwv.inkomstenverhoudingen" {
                #expect(Set(record.keys) == ["id", "pseudonym", "dataset", "periode", "soort"])
            }
        }
    }

    @Test func samePersonCarriesTheSamePseudonymInDUOAndUWVRecords() async throws {
        try await TestGateway.with { gw in
            _ = try await pushBoth(gw)
            let records = try await pullAll(gw, "region-utrecht", "vsv-een-jaar-later")
            let duo = Set(Self.pseudonyms(records, "duo.onderwijsdeelname"))
            let uwv = Self.pseudonyms(records, "uwv.inkomstenverhoudingen")
            #expect(duo.count == 10, "one pseudonym per young person")
            #expect(Set(uwv).count == 6)
            #expect(Set(uwv).isSubset(of: duo), "each UWV record links to its person's DUO record")
            do {
                let holds = duo.allSatisfy { $0.hasPrefix("vp1.e1.") }
                #expect(holds)
            }
        }
    }

    @Test func pseudonymIsStableAcrossBatches() async throws {
        try await TestGateway.with { gw in
            _ = try await pushBoth(gw)
            let first = try await pullAll(gw, "region-utrecht", "vsv-opvolging")
            // A second enrolment of the same young person (another day of enrolment: another record).
            let enrolment = Population.duo(population.utrechtLeavers[0], leaver: true).replacingOccurrences(
                of: "2024-08-20",
                with: "2025-01-06"
            )
            let later = try await gw.using("duo") { try await $0.push(envelope: try gw.seal([enrolment], as: "duo")) }
            #expect(later.status == 201)
            let second = try await pullAll(gw, "region-utrecht", "vsv-opvolging")
            let known = Set(first.map { $0["id"] as! String })
            let added = second.first { !known.contains($0["id"] as! String) }
            let newRecord = try #require(added)
            #expect(second.count == first.count + 1)
            #expect(Self.pseudonyms(first, "duo.onderwijsdeelname").contains(newRecord["pseudonym"] as! String))
        }
    }

    @Test func pseudonymsDifferAcrossPurposes() async throws {
        try await TestGateway.with { gw in
            _ = try await pushBoth(gw)
            let opvolging = Set(
                Self.pseudonyms(try await pullAll(gw, "region-utrecht", "vsv-opvolging"), "duo.onderwijsdeelname")
            )
            let jaarLater = Set(
                Self.pseudonyms(try await pullAll(gw, "region-utrecht", "vsv-een-jaar-later"), "duo.onderwijsdeelname")
            )
            #expect(opvolging.count == 10 && jaarLater.count == 10, "the same ten young people in both purposes")
            #expect(opvolging.isDisjoint(with: jaarLater), "one person, two purposes: two unlinkable pseudonyms")
        }
    }

    @Test func anAuditorAsksWhatAnyConsumerReceivesAndOthersMayNot() async throws {
        try await TestGateway.with { gw in
            let path = "/v1/policy/explain?consumer=\(DevelopmentSetup.regionAmsterdam)&purpose=kwetsbare-jongeren"
            let answer = try await gw.using("auditor") { try await $0.get(path) }
            #expect(answer.status == 200)
            let explanation = try JSONDecoder().decode(Explanation.self, from: Data(answer.body.utf8))
            #expect(explanation.refusal?.code == "no_grant" && explanation.consumer == DevelopmentSetup.regionAmsterdam)
            #expect(
                explanation
                    == gw.gateway.policy.explain(
                        consumer: DevelopmentSetup.regionAmsterdam,
                        purpose: "kwetsbare-jongeren"
                    )
            )
            let region = try await gw.using("region-utrecht") { try await $0.get(path) }
            #expect(region.refusal?.status == 403 && region.refusal?.code == "wrong_role")
            let bad = try await gw.using("auditor") {
                try await $0.get("/v1/policy/explain?consumer=123456782&purpose=x")
            }
            #expect(bad.refusal?.code == "invalid_query")
            // Both parameters are required; the role is checked first.
            for query in [
                "consumer=\(DevelopmentSetup.regionAmsterdam)", "consumer=\(DevelopmentSetup.regionAmsterdam)&purpose=",
                "",
            ] {
                let answer = try await gw.using("auditor") { try await $0.get("/v1/policy/explain?\(query)") }
                #expect(answer.refusal?.status == 400 && answer.refusal?.code == "invalid_query", "?\(query)")
            }
            let regionWithoutPurpose = try await gw.using("region-utrecht") {
                try await $0.get("/v1/policy/explain?consumer=\(DevelopmentSetup.regionAmsterdam)")
            }
            #expect(regionWithoutPurpose.refusal?.code == "wrong_role")
            let audited = try await gw.store.auditEvents()
            let events = audited.filter { $0.action == .policyExplain }
            #expect(events.map(\.outcome) == [.success])
            // The two refusals, at the edge: the route's template, the caller, the reason.
            let refused = audited.filter { $0.object == "route:GET /v1/policy/explain" }
            do {
                let holds =
                    refused.count == 2
                    && refused.allSatisfy {
                        $0.action == .identity && $0.outcome == .refused && $0.reason == "wrong_role"
                            && $0.actor == DevelopmentSetup.regionUtrecht && $0.role == .consumer
                    }
                #expect(holds)
            }
            #expect(
                events.first?.object
                    == "policy:explain/consumer:\(DevelopmentSetup.regionAmsterdam)/purpose:kwetsbare-jongeren"
            )
        }
    }

    @Test func otherRegionSeesNoneOfTheFirstRegionsRecords() async throws {
        try await TestGateway.with { gw in
            _ = try await pushBoth(gw)
            let utrecht = try await pullAll(gw, "region-utrecht", "vsv-een-jaar-later")
            let amsterdam = try await pullAll(gw, "region-amsterdam", "vsv-een-jaar-later")
            #expect(Self.pseudonyms(amsterdam, "duo.onderwijsdeelname").count == 8)
            #expect(
                Self.pseudonyms(amsterdam, "uwv.inkomstenverhoudingen").count == 3,
                "not the UWV record of the Utrecht leaver that names an Amsterdam municipality"
            )
            let utrechtIDs = Set(utrecht.map { $0["id"] as! String })
            let amsterdamIDs = Set(amsterdam.map { $0["id"] as! String })
            #expect(utrechtIDs.isDisjoint(with: amsterdamIDs), "no identifier links the two regions' deliveries")
            do {
                let holds = Set(amsterdam.map { $0["pseudonym"] as! String }).isDisjoint(
                    with: utrecht.map { $0["pseudonym"] as! String }
                )
                #expect(holds)
            }
        }
    }

    @Test func csvIsDeliveredOnRequest() async throws {
        try await TestGateway.with { gw in
            _ = try await pushBoth(gw)
            let answer = try await gw.using("region-utrecht") {
                try await $0.pull(purpose: "kwetsbare-jongeren", format: "csv")
            }
            let lines = answer.body.split(separator: "\n")
            #expect(answer.headers["content-type"]?.hasPrefix("text/csv") == true)
            #expect(
                lines.first
                    == "id,pseudonym,dataset,gemeentecode,brin,onderwijssoort,niveau,inschrijvingsdatum,uitschrijvingsdatum,diploma"
            )
            #expect(lines.count == 1 + 2, "the two Utrecht pupils in pro")
        }
    }

    @Test func identicalRetryReturnsTheFirstReceiptAndCommitsOnce() async throws {
        try await TestGateway.with { gw in
            let envelope = try gw.seal(population.duoLines, as: "duo")
            let (first, second) = try await gw.using("duo") { client in
                (try await client.push(envelope: envelope), try await client.push(envelope: envelope))
            }
            #expect(first.status == 201)
            #expect(second.status == 200)
            #expect(first.body == second.body)
            #expect(try await gw.store.counts() == (batches: 1, records: 22))
        }
    }

    @Test func concurrentPushesOfOneBatchCommitOnce() async throws {
        try await TestGateway.with { gw in
            let envelope = try gw.seal(population.duoLines, as: "duo")
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await gw.using("duo") { try await $0.push(envelope: envelope) }.status }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.sorted() == [200, 200, 200, 201])
            #expect(try await gw.store.counts() == (batches: 1, records: 22))
            #expect(try await gw.store.storedRecordRows() == 22)
        }
    }

    @Test func sameBatchIdWithOtherContentsIsAConflict() async throws {
        try await TestGateway.with { gw in
            let id = BatchID()
            let first = try await gw.using("duo") {
                try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo", batchId: id))
            }
            let second = try await gw.using("duo") {
                try await $0.push(envelope: try gw.seal(Array(population.duoLines.prefix(3)), as: "duo", batchId: id))
            }
            #expect(first.status == 201)
            #expect(second.refusal?.status == 409)
            #expect(second.refusal?.code == "batch_id_conflict")
            #expect(try await gw.store.counts() == (batches: 1, records: 22))
        }
    }

    @Test func invalidRecordsAreReportedByLineWithoutTheirValues() async throws {
        try await TestGateway.with { gw in
            var lines = Array(population.duoLines.prefix(3))
            lines.append(
                #"{"bsn":"123456789","geboortedatum":"2008-01-01","gemeentecode":"GM0344","brin":"12AB","onderwijssoort":"vo","inschrijvingsdatum":"2024-08-20","startkwalificatie":false,"vsv":true}"#
            )
            lines.append(Population.duo(population.utrechtLeavers[9], leaver: true, municipality: "GM9999"))
            let answer = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(lines, as: "duo")) }
            let receipt = try JSONDecoder().decode(SignedReceipt.self, from: Data(answer.body.utf8)).verified(
                with: try gw.gatewaySigningKey
            )
            #expect(receipt.accepted == 3)
            #expect(
                receipt.rejections == [
                    .init(line: 4, reason: .invalidBSN, field: "bsn"),
                    .init(line: 5, reason: .unknownMunicipality, field: "gemeentecode"),
                ]
            )
            #expect(
                !answer.body.contains("123456789") && !answer.body.contains(population.utrechtLeavers[9].bsn)
                    && !answer.body.contains("GM9999")
            )
        }
    }

    /// Blank lines (empty or whitespace, CRLF endings) are not records: a writer that does not
    /// count them gets its batch accepted, and rejections keep the payload's line numbers.
    @Test func blankLinesAreNotCountedAsRecordsButKeepTheLineNumbers() async throws {
        try await TestGateway.with { gw in
            let valid = Array(population.duoLines.prefix(3))
            let lines = [valid[0] + "\r", "", "  \t", valid[1], "\r", valid[2], "{}"]
            let answer = try await gw.using("duo") {
                try await $0.push(envelope: try gw.seal(lines, as: "duo", recordCount: 4))
            }
            #expect(answer.status == 201)
            let receipt = try JSONDecoder().decode(SignedReceipt.self, from: Data(answer.body.utf8)).verified(
                with: try gw.gatewaySigningKey
            )
            #expect(receipt.accepted == 3)
            #expect(receipt.rejections == [.init(line: 7, reason: .missingField, field: "bsn")])
        }
    }

    /// The receipt body as envelope.md describes it: sorted members without spaces, the batch id
    /// in lower case, `receivedAt` in whole UTC seconds, `gatewayKeyId` the signing key's id.
    @Test func aReceiptBodyIsWrittenAsTheDocumentSays() async throws {
        try await TestGateway.with { gw in
            let id = try #require(BatchID("6F1C2B4E-8D0A-4C7E-9B3F-2A1D5E6C7B80"))
            let answer = try await gw.using("duo") {
                try await $0.push(envelope: try gw.seal(Array(population.duoLines.prefix(2)), as: "duo", batchId: id))
            }
            let body = try JSONDecoder().decode(SignedReceipt.self, from: Data(answer.body.utf8)).body
            let object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            let members = [
                "accepted", "batchId", "dataset", "envelopeHash", "gatewayKeyId", "receivedAt", "rejected",
                "rejections", "source",
            ]
            #expect(object.keys.sorted() == members)
            let written = body.matches(of: /"([a-zA-Z]+)":/).map { String($0.output.1) }
            #expect(written == members, "no rejections here, so these are the top-level members, in the order written")
            #expect(!body.contains(" "))
            #expect(object["batchId"] as? String == "6f1c2b4e-8d0a-4c7e-9b3f-2a1d5e6c7b80")
            let receivedAt = try #require(object["receivedAt"] as? String)
            #expect(
                receivedAt.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/) != nil,
                "receivedAt \(receivedAt)"
            )
            #expect(object["gatewayKeyId"] as? String == (try gw.gatewaySigningKey).keyID)
            let hash = try #require(object["envelopeHash"] as? String)
            #expect(hash.wholeMatch(of: /[0-9a-f]{64}/) != nil)
        }
    }

    /// api.md's pull parameters: a limit above maxPageSize is cut to it (more follow, by the
    /// cursor), a limit below 1 and a format in another case are invalid_query.
    @Test func aPullsLimitIsCutAtMaxPageSizeAndItsFormatIsExact() async throws {
        var limits = GatewayConfiguration.Limits()
        limits.maxPageSize = 2
        try await TestGateway.with(limits: limits) { gw in
            _ = try await pushBoth(gw)
            let page = try await gw.using("region-utrecht") { try await $0.pull(purpose: "vsv-opvolging", limit: 500) }
            #expect(page.status == 200)
            #expect(page.body.split(separator: "\n").count == 2)
            #expect(page.headers["vangnet-complete"] == "false", "more records follow the cut page")
            for (limit, format) in [(0, "ndjson"), (-1, "ndjson"), (10, "CSV"), (10, "NDJSON"), (10, "json")] {
                let answer = try await gw.using("region-utrecht") {
                    try await $0.pull(purpose: "vsv-opvolging", limit: limit, format: format)
                }
                #expect(answer.refusal?.code == "invalid_query", "limit \(limit), format \(format)")
            }
        }
    }

    @Test func callerLearnsWhatItMayDo() async throws {
        try await TestGateway.with { gw in
            let me = try await gw.using("region-amsterdam") { try await $0.get("/v1/me") }
            #expect(me.status == 200)
            struct Me: Decodable {
                let purposes: [String]
                let region: Int
                let policyVersion: String
                let explanations: [Explanation]
            }
            let answer = try JSONDecoder().decode(Me.self, from: Data(me.body.utf8))
            #expect(answer.purposes == ["mbo-niet-toelaatbaar", "vsv-een-jaar-later", "vsv-opvolging"])
            #expect(answer.region == 21)
            #expect(answer.policyVersion == gw.gateway.policy.fingerprint)
            let why = Dictionary(uniqueKeysWithValues: answer.explanations.map { ($0.purpose.value, $0) })
            #expect(
                why["kwetsbare-jongeren"]?.refusal?.code == "no_grant",
                "a purpose it does not hold, with the reason"
            )
            #expect(why["vsv-opvolging"]?.permitted == true)
            do {
                let actual = why["vsv-opvolging"]?.datasets.first { $0.dataset == "duo.onderwijsdeelname" }?.delivered
                #expect(actual == ["gemeentecode", "brin", "onderwijssoort", "niveau", "uitschrijvingsdatum"])
            }
        }
    }

    @Test func auditLogRecordsEveryPushAndPullAndVerifies() async throws {
        try await TestGateway.with { gw in
            _ = try await pushBoth(gw)
            _ = try await pullAll(gw, "region-utrecht", "vsv-opvolging")
            let events = try await gw.store.auditEvents()
            do {
                let actual = events.filter { $0.action == .batchPush && $0.outcome == .success }.count
                #expect(actual == 2)
            }
            do {
                let actual = events.filter {
                    $0.action == .pull && $0.outcome == .success && $0.actor == DevelopmentSetup.regionUtrecht
                }.count
                #expect(actual >= 2)
            }
            let verdict = try await gw.using("auditor") { try await $0.get("/v1/audit/verify") }
            #expect(verdict.status == 200 && verdict.body.contains("\"intact\":true"))
            let denied = try await gw.using("region-utrecht") { try await $0.get("/v1/audit/verify") }
            #expect(denied.refusal?.code == "wrong_role")
        }
    }
}
