import AccessPolicy
import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import Records
import Testing
import VangnetClient
import VangnetCore

/// Several versions of one dataset at once: a source pushes the version it follows, records keep
/// the version they came with, a later version's record replaces the earlier one with the same
/// key, and a purpose delivers per version the fields it names for it.
@Suite struct DatasetVersionTests {
    /// Version 2 of the test dataset: drops `uren`, adds `reden`; same BSN, municipality and key.
    static let verzuimV2 = ConfiguredDatasetTests.verzuim
        .replacingOccurrences(of: #""version": 1"#, with: #""version": 2"#)
        .replacingOccurrences(
            of: #"{ "name": "uren", "type": "integer", "minimum": 1, "maximum": 400, "required": false }"#,
            with: #"{ "name": "reden", "type": "enumeration", "values": ["ziekte", "spijbelen", "overig"] }"#
        )

    static func addBothVersions(_ configuration: inout GatewayConfiguration, _ directory: URL) throws {
        try ConfiguredDatasetTests.addVerzuim(&configuration, directory)
        try Data(verzuimV2.utf8).write(to: directory.appendingPathComponent("datasets/lpa.verzuim.v2.json"))
        configuration.datasets! += ["datasets/lpa.verzuim.v2.json"]
    }

    /// The purpose of ``ConfiguredDatasetTests`` delivering `reden` of version 2 records as well.
    static func policy(_ policy: inout PolicyDocument) {
        ConfiguredDatasetTests.verzuimPolicy(&policy)
        let purpose = policy.purposes.firstIndex { $0.id == "verzuim-opvolging" }!
        policy.purposes[purpose].fieldsByVersion = [
            "lpa.verzuim": ["2": ["gemeentecode", "melddatum", "soort", "reden"]]
        ]
    }

    static func push(_ gw: TestGateway, version: Int, _ lines: [String]) async throws -> GatewayClient.Answer {
        let envelope = try EnvelopeSealer(
            source: DevelopmentSetup.duo,
            signingKey: gw.signingKey("duo"),
            recipient: gw.gatewayBoxKey
        )
        .seal(
            payload: Array((lines.joined(separator: "\n") + "\n").utf8),
            batchId: BatchID(),
            dataset: "lpa.verzuim",
            schemaVersion: version,
            createdAt: TestGateway.now,
            recordCount: lines.count
        )
        return try await gw.using("duo") { try await $0.push(envelope: envelope) }
    }

    static func receipt(_ gw: TestGateway, _ answer: GatewayClient.Answer) throws -> ReceiptBody {
        try JSONDecoder().decode(SignedReceipt.self, from: Data(answer.body.utf8)).verified(with: gw.gatewaySigningKey)
    }

    static let first = [
        #"{"bsn":"123456782","geboortedatum":"2011-04-02","gemeentecode":"GM0344","melddatum":"2026-10-01","soort":"relatief","uren":16}"#,
        #"{"bsn":"111222333","geboortedatum":"2011-06-12","gemeentecode":"GM0344","melddatum":"2026-10-02","soort":"absoluut"}"#,
    ]
    static let second = [
        // The same absence as the first line of `first` (same person, melddatum and soort), now in version 2.
        #"{"bsn":"123456782","geboortedatum":"2011-04-02","gemeentecode":"GM0344","melddatum":"2026-10-01","soort":"relatief","reden":"ziekte"}"#,
        #"{"bsn":"100000009","geboortedatum":"2012-01-20","gemeentecode":"GM0344","melddatum":"2026-10-05","soort":"absoluut","reden":"spijbelen"}"#,
    ]

    @Test func recordsKeepTheirVersionAndDeliverThatVersionsFields() async throws {
        try await TestGateway.with(policy: Self.policy, configure: Self.addBothVersions) { gw in
            let one = try await Self.push(gw, version: 1, Self.first)
            #expect(one.status == 201, "\(one.body)")
            #expect(try Self.receipt(gw, one).accepted == 2)
            let two = try await Self.push(gw, version: 2, Self.second)
            #expect(two.status == 201, "\(two.body)")
            #expect(try Self.receipt(gw, two).accepted == 2)

            let stored = try await gw.store.currentRecords(dataset: "lpa.verzuim", region: RegionNumber(19)!)
            let versions = stored.map { DatasetSchema.version(of: $0.fields) }.sorted()
            // Three records, not four: the version 2 record replaced the version 1 one with its key.
            #expect(versions == [1, 2, 2])

            let records = try await EndToEndTests().pullAll(gw, "region-utrecht", "verzuim-opvolging")
            let shapes = records.map { Set($0.keys) }
            let common: Set<String> = ["id", "pseudonym", "dataset", "gemeentecode", "melddatum", "soort"]
            #expect(shapes.filter { $0 == common }.count == 1, "the version 1 record: fields")
            #expect(
                shapes.filter { $0 == common.union(["reden"]) }.count == 2,
                "version 2 records: its fieldsByVersion"
            )
            let replaced = records.first { $0["melddatum"] as? String == "2026-10-01" }
            #expect(replaced?["reden"] as? String == "ziekte")
            #expect(
                records.allSatisfy { $0["$version"] == nil && $0["uren"] == nil },
                "nothing the purpose does not name"
            )
        }
    }

    /// A CSV page has the columns of every version; a version 1 record's `reden` is empty.
    @Test func aCSVPageHasTheColumnsOfEveryVersion() async throws {
        try await TestGateway.with(policy: Self.policy, configure: Self.addBothVersions) { gw in
            _ = try await Self.push(gw, version: 1, [Self.first[1]])
            _ = try await Self.push(gw, version: 2, [Self.second[1]])
            let page = try await gw.using("region-utrecht") {
                try await $0.pull(purpose: "verzuim-opvolging", view: "current", format: "csv")
            }
            let rows = page.body.split(separator: "\n").map(String.init)
            #expect(rows.first == "id,pseudonym,dataset,gemeentecode,melddatum,soort,reden")
            let ends = rows.dropFirst().map {
                $0.split(separator: ",", omittingEmptySubsequences: false).suffix(2).joined(separator: ",")
            }
            #expect(ends.sorted() == ["absoluut,", "absoluut,spijbelen"])
        }
    }

    /// A version taken out of the configuration: its batches are refused from the reload on, and
    /// its records stay and are delivered with the purpose's fields.
    @Test func aRetiredVersionIsRefusedAndItsRecordsStay() async throws {
        try await TestGateway.with(policy: Self.policy, configure: Self.addBothVersions) { gw in
            #expect(try await Self.push(gw, version: 1, [Self.first[1]]).status == 201)
            var configuration = try GatewayConfiguration.load(from: gw.configurationFile)
            configuration.datasets!.removeAll { $0 == "datasets/lpa.verzuim.v1.json" }
            try configuration.write(to: gw.configurationFile)
            let active = try await gw.gateway.reload()
            #expect(active.policy.datasets.filter { $0.id == "lpa.verzuim" }.map(\.version) == [2])

            let refused = try await Self.push(gw, version: 1, [Self.first[0]])
            #expect(refused.refusal?.code == "unsupported_schema_version")
            let records = try await EndToEndTests().pullAll(gw, "region-utrecht", "verzuim-opvolging")
            #expect(records.count == 1)
            #expect(records.first?["melddatum"] as? String == "2026-10-02")
            #expect(
                Set(records.first?.keys.map { $0 } ?? []) == [
                    "id", "pseudonym", "dataset", "gemeentecode", "melddatum", "soort",
                ]
            )
        }
    }

    /// A batch names the version its records follow and is validated against that version alone.
    @Test func aBatchIsValidatedAgainstTheVersionItNames() async throws {
        try await TestGateway.with(policy: Self.policy, configure: Self.addBothVersions) { gw in
            // Version 1 has no `reden`, version 2 no `uren`.
            let v1 = try await Self.push(gw, version: 1, [Self.second[0]])
            let v2 = try await Self.push(gw, version: 2, [Self.first[0]])
            let rejections = try [Self.receipt(gw, v1), Self.receipt(gw, v2)].map { $0.rejections.map(\.reason) }
            #expect(rejections == [[.unknownField], [.unknownField]])
            // A member named like the stored version marker is input like any other unknown key.
            let marker = Self.first[1].replacingOccurrences(of: #"{"bsn""#, with: #"{"$version":2,"bsn""#)
            let forged = try Self.receipt(gw, try await Self.push(gw, version: 1, [marker]))
            #expect(forged.rejections.map(\.reason) == [.unknownField])
        }
    }

    @Test func aVersionTheGatewayDoesNotHoldIsRefusedAndChangesNothing() async throws {
        try await TestGateway.with(policy: Self.policy, configure: Self.addBothVersions) { gw in
            let answer = try await Self.push(gw, version: 3, [Self.second[0]])
            #expect(answer.status == 422)
            #expect(answer.refusal?.code == "unsupported_schema_version")
            #expect(answer.body.contains("lpa.verzuim at version 1, 2; the batch uses 3"), "\(answer.body)")
            let stored = try await gw.store.currentRecords(dataset: "lpa.verzuim", region: RegionNumber(19)!)
            #expect(stored.isEmpty)
        }
    }

    @Test func everyVersionIsListedAndServed() async throws {
        try await TestGateway.with(policy: Self.policy, configure: Self.addBothVersions) { gw in
            let listed = try await gw.using("duo") { try await $0.get("/v1/datasets") }
            #expect(listed.body.contains(#"/v1/datasets/lpa.verzuim/schema?version=1""#))
            #expect(listed.body.contains(#"/v1/datasets/lpa.verzuim/schema?version=2""#))
            for (query, status, id) in [
                ("?version=1", 200, "urn:vangnet:dataset:lpa.verzuim:1"),
                ("?version=2", 200, "urn:vangnet:dataset:lpa.verzuim:2"),
                ("", 200, "urn:vangnet:dataset:lpa.verzuim:2"),
                ("?version=7", 404, "not_found"),
                ("?version=two", 400, "invalid_query"),
            ] {
                let answer = try await gw.using("duo") { try await $0.get("/v1/datasets/lpa.verzuim/schema\(query)") }
                #expect(answer.status == status, "\(query)")
                #expect(answer.body.contains(id), "\(query): \(answer.body)")
            }
        }
    }

    /// A second version that changes the key (or repeats a version) stops the gateway, naming it.
    @Test func versionsThatDisagreeOnTheKeyStopTheGateway() async throws {
        let otherKey = Self.verzuimV2.replacingOccurrences(
            of: #""key": ["melddatum", "soort"]"#,
            with: #""key": ["melddatum"]"#
        )
        for (text, expected) in [
            (otherKey, "lpa.verzuim version 2 has another key ([melddatum], not [melddatum, soort])"),
            (ConfiguredDatasetTests.verzuim, "defines lpa.verzuim version 1 again"),
        ] {
            let message: String
            do {
                try await TestGateway.with(
                    policy: Self.policy,
                    configure: { configuration, directory in
                        try Self.addBothVersions(&configuration, directory)
                        try Data(text.utf8).write(to: directory.appendingPathComponent("datasets/lpa.verzuim.v2.json"))
                    }
                ) { _ in }
                message = "started"
            } catch let error as ConfigurationError {
                message = error.description
            }
            #expect(message.contains(expected), "\(message)")
        }
    }
}
