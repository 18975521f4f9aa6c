import AccessPolicy
import BatchEnvelope
import DevelopmentSupport
import Foundation
import Gateway
import Records
import Testing
import VangnetCore

/// Datasets as configuration: a dataset added by a definition file and a policy change alone is
/// pushed, validated, stored and pulled like a shipped one; a wrong file stops the gateway with
/// the file's line.
@Suite struct ConfiguredDatasetTests {
    static let verzuim = """
        {
          "id": "lpa.verzuim",
          "version": 1,
          "description": "Leerplicht: absences a municipality's attendance officer recorded (a test's fourth dataset).",
          "fields": [
            { "name": "bsn", "type": "bsn" },
            { "name": "geboortedatum", "type": "date" },
            { "name": "gemeentecode", "type": "municipality" },
            { "name": "melddatum", "type": "date" },
            { "name": "soort", "type": "enumeration", "values": ["absoluut", "relatief", "luxe"] },
            { "name": "uren", "type": "integer", "minimum": 1, "maximum": 400, "required": false }
          ],
          "key": ["melddatum", "soort"],
          "dateRules": [{ "field": "melddatum", "notAfter": "createdAt" }]
        }
        """

    /// The configuration's datasets plus `lpa.verzuim`; DUO may push it, and region Utrecht
    /// pulls it for a purpose of its own.
    static func addVerzuim(_ configuration: inout GatewayConfiguration, _ directory: URL) throws {
        try Data(verzuim.utf8).write(to: directory.appendingPathComponent("datasets/lpa.verzuim.v1.json"))
        configuration.datasets = (configuration.datasets ?? []) + ["datasets/lpa.verzuim.v1.json"]
    }

    static func verzuimPolicy(_ policy: inout PolicyDocument) {
        let duo = policy.organisations.firstIndex { $0.oin == DevelopmentSetup.duo }!
        policy.organisations[duo].datasets?.append("lpa.verzuim")
        policy.purposes.append(
            PolicyDocument.Purpose(
                id: "verzuim-opvolging",
                legalBasis: "Leerplichtwet 1969 (test): opvolging van verzuim",
                populationDataset: "lpa.verzuim",
                population: [.oneOf(field: "soort", values: ["absoluut", "relatief"])],
                fields: ["lpa.verzuim": ["gemeentecode", "melddatum", "soort"]],
                retentionDays: 365
            )
        )
        let utrecht = policy.grants.firstIndex { $0.consumer == DevelopmentSetup.regionUtrecht }!
        policy.grants[utrecht].purposes.append("verzuim-opvolging")
    }

    @Test func aDatasetAddedByConfigurationAloneIsPushedAndPulled() async throws {
        try await TestGateway.with(policy: Self.verzuimPolicy, configure: Self.addVerzuim) { gw in
            let lines = [
                #"{"bsn":"123456782","geboortedatum":"2011-04-02","gemeentecode":"GM0344","melddatum":"2026-10-01","soort":"relatief","uren":16}"#,
                #"{"bsn":"111222333","geboortedatum":"2011-06-12","gemeentecode":"GM0363","melddatum":"2026-10-02","soort":"absoluut"}"#,
                #"{"bsn":"123456782","geboortedatum":"2011-04-02","gemeentecode":"GM0344","melddatum":"2026-10-03","soort":"luxe"}"#,
                #"{"bsn":"123456782","geboortedatum":"2011-04-02","gemeentecode":"GM0344","melddatum":"2026-10-03","soort":"ziek"}"#,
            ]
            let envelope = try EnvelopeSealer(
                source: DevelopmentSetup.duo,
                signingKey: gw.signingKey("duo"),
                recipient: gw.gatewayBoxKey
            )
            .seal(
                payload: Array((lines.joined(separator: "\n") + "\n").utf8),
                batchId: BatchID(),
                dataset: "lpa.verzuim",
                createdAt: TestGateway.now,
                recordCount: lines.count
            )
            let answer = try await gw.using("duo") { try await $0.push(envelope: envelope) }
            #expect(answer.status == 201, "\(answer.body)")
            let receipt = try JSONDecoder().decode(SignedReceipt.self, from: Data(answer.body.utf8)).verified(
                with: gw.gatewaySigningKey
            )
            #expect(receipt.accepted == 3)
            #expect(receipt.rejections.map(\.line) == [4])
            #expect(receipt.rejections.map(\.reason) == [.invalidValue])

            let records = try await EndToEndTests().pullAll(gw, "region-utrecht", "verzuim-opvolging")
            // Utrecht's one absence in the population; the luxe absence is outside it, Amsterdam's elsewhere.
            #expect(records.count == 1)
            let record = records.first ?? [:]
            #expect(record["dataset"] as? String == "lpa.verzuim")
            #expect(
                Set(record.keys) == ["id", "pseudonym", "dataset", "gemeentecode", "melddatum", "soort"],
                "only the purpose's fields"
            )
            #expect(record["melddatum"] as? String == "2026-10-01")

            let listed = try await gw.using("region-utrecht") { try await $0.get("/v1/datasets") }
            #expect(listed.body.contains(#""id":"lpa.verzuim""#))
            let schema = try await gw.using("region-utrecht") { try await $0.get("/v1/datasets/lpa.verzuim/schema") }
            #expect(schema.status == 200 && schema.body.contains(#""urn:vangnet:dataset:lpa.verzuim:1""#))
        }
    }

    /// Region Amsterdam holds no grant for the new purpose: refused like any purpose not granted.
    @Test func theNewPurposeIsDeniedToARegionWithoutItsGrant() async throws {
        try await TestGateway.with(policy: Self.verzuimPolicy, configure: Self.addVerzuim) { gw in
            let answer = try await gw.using("region-amsterdam") { try await $0.pull(purpose: "verzuim-opvolging") }
            #expect(answer.refusal?.status == 403)
            #expect(answer.refusal?.code == "no_grant")
        }
    }

    /// A definition file with a problem stops the gateway at start, naming the file, line and member.
    @Test func aWrongDefinitionStopsTheGatewayWithItsLine() async throws {
        let broken = Self.verzuim.replacingOccurrences(of: #""type": "municipality""#, with: #""type": "gemeente""#)
        let message: String
        do {
            try await TestGateway.with(
                policy: Self.verzuimPolicy,
                configure: { configuration, directory in
                    try Self.addVerzuim(&configuration, directory)
                    try Data(broken.utf8).write(to: directory.appendingPathComponent("datasets/lpa.verzuim.v1.json"))
                }
            ) { _ in }
            message = "started"
        } catch let error as ConfigurationError {
            message = error.description
        }
        #expect(message.contains("datasets/lpa.verzuim.v1.json:8:39: error: fields[2].type:"), "\(message)")
        #expect(message.contains(#""gemeente" is not a field type"#))
    }

    /// A dataset added to a running gateway takes effect at the reload, audited with the number of
    /// datasets; a reload with a wrong file is refused and what is in force stays.
    @Test func aDatasetAddedAtReloadTakesEffectAndAWrongOneIsRefused() async throws {
        try await TestGateway.with { gw in
            let envelope = try EnvelopeSealer(
                source: DevelopmentSetup.duo,
                signingKey: gw.signingKey("duo"),
                recipient: gw.gatewayBoxKey
            )
            .seal(
                payload: Array(
                    #"{"bsn":"123456782","geboortedatum":"2011-04-02","gemeentecode":"GM0344","melddatum":"2026-10-01","soort":"relatief"}"#
                        .utf8
                ) + [0x0A],
                batchId: BatchID(),
                dataset: "lpa.verzuim",
                createdAt: TestGateway.now,
                recordCount: 1
            )
            let before = try await gw.using("duo") { try await $0.push(envelope: envelope) }
            #expect(before.refusal?.code == "dataset_not_allowed")

            var configuration = try GatewayConfiguration.load(from: gw.configurationFile)
            try Self.addVerzuim(&configuration, gw.directory)
            Self.verzuimPolicy(&configuration.policy)
            try configuration.write(to: gw.configurationFile)
            let active = try await gw.gateway.reload()
            #expect(active.policy.datasets.map(\.id.value).contains("lpa.verzuim"))
            let after = try await gw.using("duo") { try await $0.push(envelope: envelope) }
            #expect(after.status == 201, "\(after.body)")
            let load = try await gw.store.auditEvents().last { $0.action == .configLoad }
            #expect(load?.outcome == .success && load?.counts["datasets"] == 4)

            let file = gw.directory.appendingPathComponent("datasets/lpa.verzuim.v1.json")
            try Data(Self.verzuim.replacingOccurrences(of: #""version": 1"#, with: #""version": "1""#).utf8).write(
                to: file
            )
            let error = try await #require(throws: ConfigurationError.self) { try await gw.gateway.reload() }
            #expect(error.description.contains("lpa.verzuim.v1.json:3:14: error: version: must be a whole number"))
            #expect(gw.gateway.policy.datasets.count == 4, "the datasets in force stay")
            let refused = try await gw.store.auditEvents().last { $0.action == .configLoad }
            #expect(refused?.outcome == .refused && refused?.reason == "invalid_configuration")
        }
    }

    /// A policy naming fields of a dataset the configuration does not define is refused.
    @Test func aPolicyNamingAnUndefinedDatasetIsRefused() async throws {
        let message: String
        do {
            try await TestGateway.with(policy: Self.verzuimPolicy) { _ in }
            message = "started"
        } catch let error as ConfigurationError {
            message = error.description
        }
        #expect(message.contains("lpa.verzuim"), "\(message)")
    }
}
