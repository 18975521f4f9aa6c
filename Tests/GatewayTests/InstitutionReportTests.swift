import AccessPolicy
import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import Records
import Testing
import VangnetCore

/// The mbo report (`mbo.niet-toelaatbaar`): institutions report the applicants they cannot admit,
/// only for their own BRIN numbers, and the report reaches the contactgemeente of the applicant's
/// region as a change in its feed.
@Suite struct InstitutionReportTests {
    /// A report of `brin` about the applicant with `bsn` living in `municipality`.
    static func report(
        bsn: String = "123456782",
        brin: String,
        municipality: String = "GM0344",
        crebo: String = "25655",
        reden: String = "vooropleiding"
    ) -> String {
        #"{"bsn":"\#(bsn)","geboortedatum":"2009-05-02","gemeentecode":"\#(municipality)","brin":"\#(brin)","crebo":"\#(crebo)","niveau":"2","aanmelddatum":"2026-03-28","besluitdatum":"2026-06-15","reden":"\#(reden)"}"#
    }

    static func push(_ gw: TestGateway, _ lines: [String], as institution: String) async throws -> ReceiptBody {
        let answer = try await gw.using(institution) {
            try await $0.push(envelope: try gw.seal(lines, as: institution))
        }
        guard answer.status == 201 else { throw TestFailure("push answered \(answer.status): \(answer.body)") }
        return try JSONDecoder().decode(SignedReceipt.self, from: Data(answer.body.utf8)).verified(
            with: gw.gatewaySigningKey
        )
    }

    /// ROC Amsterdam reports an applicant who lives in Utrecht: the report reaches Utrecht (the
    /// applicant's region), not Amsterdam (the institution's), with the purpose's fields only.
    @Test func aReportReachesTheRegionOfTheApplicantAsAChange() async throws {
        try await TestGateway.with { gw in
            let cursor = try await gw.using("region-utrecht") { client in
                try await client.pullAll(purpose: "mbo-niet-toelaatbaar", view: "changes") { _ in }
            }
            guard case .success(let start) = cursor else { throw TestFailure("the first pull was refused") }

            let receipt = try await Self.push(
                gw,
                [
                    Self.report(brin: "92MB", municipality: "GM0344"),
                    Self.report(bsn: "111222333", brin: "93MB", municipality: "GM0363", reden: "capaciteit"),
                ],
                as: "mbo-amsterdam"
            )
            #expect(receipt.accepted == 2 && receipt.rejected == 0)

            var utrecht: [[String: Any]] = []
            _ = try await gw.using("region-utrecht") { client in
                try await client.pullAll(purpose: "mbo-niet-toelaatbaar", cursor: start) { page in
                    utrecht += page.body.split(separator: "\n").map {
                        try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
                    }
                }
            }
            #expect(utrecht.count == 1)
            let change = utrecht.first ?? [:]
            #expect(change["change"] as? String == "upsert")
            #expect(change["dataset"] as? String == "mbo.niet-toelaatbaar")
            #expect(change["brin"] as? String == "92MB" && change["reden"] as? String == "vooropleiding")
            #expect(
                Set(change.keys) == [
                    "change", "id", "pseudonym", "dataset", "gemeentecode", "brin", "crebo", "niveau",
                    "aanmelddatum", "besluitdatum", "reden",
                ],
                "the purpose's fields and nothing else: no date of birth"
            )
            let amsterdam = try await EndToEndTests().pullAll(gw, "region-amsterdam", "mbo-niet-toelaatbaar")
            #expect(amsterdam.count == 1)
            #expect(amsterdam.first?["gemeentecode"] as? String == "GM0363")
        }
    }

    /// A record naming another institution's BRIN is rejected by line as `institution_mismatch`,
    /// naming the field, and the batch's other records go on; so is a withdrawal.
    @Test func aReportForAnotherInstitutionsBRINIsRejected() async throws {
        try await TestGateway.with { gw in
            let receipt = try await Self.push(
                gw,
                [
                    Self.report(brin: "91MB"),
                    Self.report(brin: "92MB", crebo: "25656"),
                    Self.report(brin: "25LP", crebo: "25657"),
                ],
                as: "mbo-utrecht"
            )
            #expect(receipt.accepted == 1)
            #expect(
                receipt.rejections == [
                    RecordRejection(line: 2, reason: .institutionMismatch, field: "brin"),
                    RecordRejection(line: 3, reason: .institutionMismatch, field: "brin"),
                ]
            )
            let withdrawal = try EnvelopeSealer(
                source: DevelopmentSetup.mboAmsterdam,
                signingKey: gw.signingKey("mbo-amsterdam"),
                recipient: gw.gatewayBoxKey
            )
            .seal(
                payload: Array(
                    #"{"bsn":"123456782","brin":"91MB","crebo":"25655","aanmelddatum":"2026-03-28","withdrawn":true}"#
                        .utf8
                ) + [0x0A],
                batchId: BatchID(),
                dataset: "mbo.niet-toelaatbaar",
                createdAt: TestGateway.now,
                recordCount: 1,
                mode: .changes
            )
            let answer = try await gw.using("mbo-amsterdam") { try await $0.push(envelope: withdrawal) }
            let withdrawn = try JSONDecoder().decode(SignedReceipt.self, from: Data(answer.body.utf8)).verified(
                with: gw.gatewaySigningKey
            )
            #expect(withdrawn.rejections == [RecordRejection(line: 1, reason: .institutionMismatch, field: "brin")])
            let utrecht = try await EndToEndTests().pullAll(gw, "region-utrecht", "mbo-niet-toelaatbaar")
            #expect(utrecht.count == 1, "Utrecht's own report stays")
        }
    }

    /// A report the region has not pulled within five working days is overdue: counted per region
    /// (metric, audit `delivery.overdue`), and no longer once the region pulls its changes. On both
    /// stores.
    @Test(arguments: ["sqlite", "postgresql"])
    func aReportNotCollectedInFiveWorkingDaysIsOverdueUntilItIsPulled(store: String) async throws {
        let database = store == "sqlite" ? nil : try await SharedPostgresTests.database()
        try await TestGateway.with(database: database) { gw in
            // Monday 23 November 2026: one report for Utrecht, one for Amsterdam.
            _ = try await Self.push(
                gw,
                [
                    Self.report(brin: "92MB", municipality: "GM0344"),
                    Self.report(bsn: "111222333", brin: "93MB", municipality: "GM0363"),
                ],
                as: "mbo-amsterdam"
            )
            _ = try await EndToEndTests().pullAll(gw, "region-amsterdam", "mbo-niet-toelaatbaar")
            let monday = TestGateway.now
            let nextMonday = monday.addingTimeInterval(7 * 86_400)
            let tuesday = monday.addingTimeInterval(8 * 86_400)
            #expect(try await gw.gateway.checkCollections(at: monday).isEmpty)
            // Four working days (24-27 November, 30 November) have not all passed on Monday the 30th.
            #expect(try await gw.gateway.checkCollections(at: nextMonday).isEmpty)
            let overdue = try await gw.gateway.checkCollections(at: tuesday)
            #expect(overdue.map(\.region) == [RegionNumber(19)!], "Amsterdam pulled its report; Utrecht did not")
            #expect(overdue.first?.records == 1 && overdue.first?.purpose == "mbo-niet-toelaatbaar")
            let metrics = gw.gateway.metrics.exposition()
            #expect(metrics.contains(#"vangnet_overdue_records{region="19",purpose="mbo-niet-toelaatbaar"} 1"#))
            var entries = try await gw.store.auditEvents().filter { $0.action == .deliveryOverdue }
            #expect(entries.map(\.object) == ["purpose:mbo-niet-toelaatbaar/region:19"])
            #expect(entries.last?.counts["records"] == 1 && entries.last?.counts["workingDays"] == 5)
            // The same count again is not audited again.
            _ = try await gw.gateway.checkCollections(at: tuesday)
            entries = try await gw.store.auditEvents().filter { $0.action == .deliveryOverdue }
            #expect(entries.count == 1)

            _ = try await EndToEndTests().pullAll(gw, "region-utrecht", "mbo-niet-toelaatbaar")
            #expect(try await gw.gateway.checkCollections(at: tuesday).isEmpty)
            entries = try await gw.store.auditEvents().filter { $0.action == .deliveryOverdue }
            #expect(entries.count == 2 && entries.last?.counts["records"] == 0, "the region caught up")
            #expect(
                gw.gateway.metrics.exposition().contains(
                    #"vangnet_overdue_records{region="19",purpose="mbo-niet-toelaatbaar"} 0"#
                )
            )
            #expect(try await gw.store.verifyAudit().isIntact)
        }
    }

    /// The security officer's review page lists the region that has not collected in time.
    @Test func theReviewPageShowsWhatARegionDidNotCollectInTime() async throws {
        try await TestGateway.with { gw in
            let before = try await gw.using("auditor") { try await $0.get("/review") }
            #expect(before.body.contains("Every region collected in time."))
            _ = try await Self.push(gw, [Self.report(brin: "91MB")], as: "mbo-utrecht")
            // Delivered ten days before the gateway's clock: past five working days.
            try await gw.store.tamper("UPDATE deliveries SET at = at - 10 * 86400")
            let page = try await gw.using("auditor") { try await $0.get("/review") }
            #expect(page.status == 200)
            #expect(page.body.contains("<h2>Not collected in time</h2>"))
            #expect(
                page.body.contains(
                    #"<tr class="refused"><td>19 Utrecht</td><td>mbo-niet-toelaatbaar</td><td class="num">1</td>"#
                ),
                "\(page.body.components(separatedBy: "id=\"overdue\"").last?.prefix(900) ?? "")"
            )
        }
    }

    /// An institution pushes its own dataset only.
    @Test func anInstitutionMayNotPushDUOsDataset() async throws {
        try await TestGateway.with { gw in
            let envelope = try EnvelopeSealer(
                source: DevelopmentSetup.mboUtrecht,
                signingKey: gw.signingKey("mbo-utrecht"),
                recipient: gw.gatewayBoxKey
            )
            .seal(
                payload: Array(Self.report(brin: "91MB").utf8) + [0x0A],
                batchId: BatchID(),
                dataset: "duo.onderwijsdeelname",
                createdAt: TestGateway.now,
                recordCount: 1
            )
            let answer = try await gw.using("mbo-utrecht") { try await $0.push(envelope: envelope) }
            #expect(answer.refusal?.status == 403 && answer.refusal?.code == "dataset_not_allowed")
        }
    }
}
