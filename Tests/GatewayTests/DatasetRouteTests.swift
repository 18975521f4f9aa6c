import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import Records
import Testing
import VangnetCore

/// `GET /v1/datasets` and `GET /v1/datasets/{id}/schema`, and the field rules the schemas publish
/// as a push meets them.
@Suite struct DatasetRouteTests {
    static let schemas = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../docs/schemas"
    )

    @Test func everyKnownCallerReadsTheDatasetsAndTheSchemasDocsPublishes() async throws {
        try await TestGateway.with { gw in
            for name in ["duo", "uwv", "region-utrecht", "auditor", "monitor"] {
                let list = try await gw.using(name) { try await $0.get("/v1/datasets") }
                #expect(list.status == 200, "\(name)")
                #expect(
                    list.body
                        == #"{"datasets":[{"id":"duo.onderwijsdeelname","schema":"/v1/datasets/duo.onderwijsdeelname/schema?version=1","version":1},{"id":"mbo.niet-toelaatbaar","schema":"/v1/datasets/mbo.niet-toelaatbaar/schema?version=1","version":1},{"id":"uwv.inkomstenverhoudingen","schema":"/v1/datasets/uwv.inkomstenverhoudingen/schema?version=1","version":1}]}"#
                        + "\n"
                )
                for dataset in ["duo.onderwijsdeelname", "mbo.niet-toelaatbaar", "uwv.inkomstenverhoudingen"] {
                    let answer = try await gw.using(name) { try await $0.get("/v1/datasets/\(dataset)/schema") }
                    let published = try String(
                        contentsOf: Self.schemas.appendingPathComponent("\(dataset).v1.schema.json"),
                        encoding: .utf8
                    )
                    #expect(answer.status == 200)
                    #expect(answer.headers["content-type"] == "application/schema+json")
                    #expect(answer.body == published, "\(name) reads \(dataset)'s schema as docs/schemas has it")
                }
            }
        }
    }

    @Test func anUnknownDatasetIsNotFoundAndAStrangerReadsNothing() async throws {
        try await TestGateway.with { gw in
            let unknown = try await gw.using("region-utrecht") { try await $0.get("/v1/datasets/duo.adressen/schema") }
            #expect(unknown.refusal?.status == 404)
            #expect(unknown.refusal?.code == "not_found")
            for path in ["/v1/datasets", "/v1/datasets/duo.onderwijsdeelname/schema"] {
                let answer = try await gw.using("stranger") { try await $0.get(path) }
                #expect(answer.refusal?.status == 403)
                #expect(answer.refusal?.code == "unknown_organisation")
            }
        }
    }

    /// The date rules at a push: a birth date after the day the batch was made (in the
    /// Netherlands) and an exit before its entry are rejected by line; decimals of hours are stored
    /// in their shortest form.
    @Test func theDateRulesHoldAgainstTheDayInTheNetherlandsTheBatchWasMade() async throws {
        try await TestGateway.with { gw in
            let base =
                #"{"bsn":"123456782","gemeentecode":"GM0344","brin":"25LP","onderwijssoort":"mbo","startkwalificatie":false,"vsv":true"#
            let lines = [
                base
                    + #","geboortedatum":"2026-11-24","inschrijvingsdatum":"2026-11-24","uitschrijvingsdatum":"2026-11-24"}"#,
                base
                    + #","geboortedatum":"2008-03-14","inschrijvingsdatum":"2024-08-20","uitschrijvingsdatum":"2024-08-19"}"#,
                base
                    + #","geboortedatum":"2008-03-14","inschrijvingsdatum":"2024-08-21","uitschrijvingsdatum":"2024-08-21"}"#,
            ]
            // 12:00 UTC on 23 November is that day in the Netherlands; 23:30 UTC is already the 24th.
            let noon = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(lines, as: "duo")) }
            let receipt = try JSONDecoder().decode(SignedReceipt.self, from: Data(noon.body.utf8)).verified(
                with: try gw.gatewaySigningKey
            )
            #expect(receipt.accepted == 1)
            #expect(
                receipt.rejections == [
                    .init(line: 1, reason: .dateAfterCreation, field: "geboortedatum"),
                    .init(line: 2, reason: .datesOutOfOrder, field: "uitschrijvingsdatum"),
                ]
            )
            let lateEvening = TestGateway.now.addingTimeInterval(11.5 * 3600)
            let late = try await gw.using("duo") {
                try await $0.push(envelope: try gw.seal([lines[0]], as: "duo", createdAt: lateEvening))
            }
            let lateReceipt = try JSONDecoder().decode(SignedReceipt.self, from: Data(late.body.utf8)).verified(
                with: try gw.gatewaySigningKey
            )
            #expect(lateReceipt.accepted == 1 && lateReceipt.rejections.isEmpty)
        }
    }
}
