import AuditLog
import DevelopmentSupport
import Foundation
import Gateway
import StoreSelection
import Testing
import VangnetCore

/// The security officer's tools, run as the real `vangnet` binary.
@Suite struct PolicyToolTests {
    /// Runs `vangnet arguments`; returns exit status and standard output and error, in one text.
    static func vangnet(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let executable = try #require(CrashTests.executable, "the vangnet executable is built with the tests")
        let finished = try await ChildProcess.run(executable, arguments)
        return (finished.status, finished.output + finished.errors)
    }

    static func developmentSetup() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-tool-\(UUID().uuidString.prefix(8))"
        )
        try DevelopmentSetup.create(in: directory, port: 0)
        return directory
    }

    @Test func policyCheckPassesTheDevelopmentPolicyWithItsWarning() async throws {
        let directory = try Self.developmentSetup()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (status, output) = try await Self.vangnet([
            "policy", "check", "--config", directory.appendingPathComponent("vangnet.json").path,
        ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("valid; 40 regions, 9 organisations, 4 purposes"))
        #expect(output.contains("warning: policy.regions: 38 region(s) name no contactgemeente"))
    }

    @Test func policyCheckNamesTheLineOfEveryProblem() async throws {
        let directory = try Self.developmentSetup()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("vangnet.json")
        var text = try String(contentsOf: file, encoding: .utf8)
        // A typo in a field name and a municipality put in a second region, as an editor would make them.
        text = text.replacingOccurrences(
            of: #""uitschrijvingsdatum"\#n"#,
            with: #""uitschrijfdatum"\#n"#,
            options: [],
            range: text.range(of: #""uitschrijvingsdatum"\#n"#)
        )
        text = text.replacingOccurrences(of: #""GM0014""#, with: #""GM0344""#)
        try text.write(to: file, atomically: true, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let typoLine = lines.firstIndex { $0.contains("\"uitschrijfdatum\"") }! + 1
        let (status, output) = try await Self.vangnet(["policy", "check", "--config", file.path])
        #expect(status == 1)
        #expect(output.contains("vangnet.json:\(typoLine):"), "\(output)")
        #expect(output.contains("unknown field uitschrijfdatum"))
        #expect(output.contains("GM0344 (Utrecht) is already in a region"))
        #expect(output.contains("1 municipality is in no region: GM0014 (Groningen)"))
        #expect(output.contains("error(s) to fix"))
        // The gateway refuses to start on the same file, and says why.
        let serve = try await Self.vangnet(["serve", "--config", file.path])
        #expect(serve.status != 0 && serve.output.contains("unknown field uitschrijfdatum"))
    }

    @Test func policyExplainSaysWhatAndWhyNot() async throws {
        let directory = try Self.developmentSetup()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("vangnet.json").path
        let amsterdam = DevelopmentSetup.regionAmsterdam.value
        let denied = try await Self.vangnet([
            "policy", "explain", "--config", config, "--consumer", amsterdam, "--purpose", "kwetsbare-jongeren",
        ])
        #expect(denied.status == 0 && denied.output.contains("DENIED (no_grant)"))
        let permitted = try await Self.vangnet([
            "policy", "explain", "--config", config, "--consumer", amsterdam, "--purpose", "vsv-opvolging",
        ])
        #expect(permitted.output.contains("decision: PERMITTED"))
        #expect(permitted.output.contains("delivered: gemeentecode, brin, onderwijssoort, niveau, uitschrijvingsdatum"))
        #expect(permitted.output.contains("- geboortedatum: not needed for vsv-opvolging"))
        #expect(permitted.output.contains("- vsv = true"))
        let json = try await Self.vangnet([
            "policy", "explain", "--config", config, "--consumer", amsterdam, "--purpose", "vsv-opvolging", "--json",
        ])
        #expect(json.output.contains("\"decision\" : \"permit\""))
    }

    @Test func keysRotateStartsTheNextEpoch() async throws {
        let directory = try Self.developmentSetup()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("vangnet.json")
        let (status, output) = try await Self.vangnet(["keys", "rotate", "--config", config.path])
        #expect(status == 0, "\(output)")
        #expect(
            FileManager.default.fileExists(atPath: directory.appendingPathComponent("keys/pseudonym-root.e2.key").path)
        )
        #expect(try GatewayConfiguration.load(from: config).gateway.pseudonymEpoch == 2)
        let check = try await Self.vangnet(["config", "check", "--config", config.path])
        #expect(check.status == 0 && check.output.contains("pseudonym epoch 2 (held: 1, 2)"), "\(check.output)")
    }

    /// `vangnet config check` names the datasets it loads, and every problem of a definition file
    /// at its line, with exit status 1.
    @Test func configCheckReadsTheDatasetFilesAndReportsEveryProblemAtItsLine() async throws {
        let directory = try Self.developmentSetup()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("vangnet.json")
        let good = try await Self.vangnet(["config", "check", "--config", config.path])
        #expect(good.status == 0, "\(good.output)")
        #expect(
            good.output.contains(
                "datasets: duo.onderwijsdeelname v1, mbo.niet-toelaatbaar v1, uwv.inkomstenverhoudingen v1"
            ),
            "\(good.output)"
        )

        let file = directory.appendingPathComponent("datasets/uwv.inkomstenverhoudingen.v1.json")
        let text = try String(contentsOf: file, encoding: .utf8)
            .replacingOccurrences(of: #""places": 2"#, with: #""places": 9"#)
            .replacingOccurrences(
                of: #""key": ["periode", "soort", "startdatum"]"#,
                with: #""key": ["periode", "sector"]"#
            )
        try Data(text.utf8).write(to: file)
        let bad = try await Self.vangnet(["config", "check", "--config", config.path])
        #expect(bad.status == 1)
        #expect(
            bad.output.contains("uwv.inkomstenverhoudingen.v1.json:11:90: error: fields[5].places: must be 0 to 6"),
            "\(bad.output)"
        )
        #expect(bad.output.contains(#"key[1]: "sector" is optional; a key field is required"#), "\(bad.output)")
        #expect(!bad.output.contains("configuration valid"))
    }

    /// A second version of a shipped dataset, named beside the first: `config check` lists both,
    /// `config schemas --config` writes the schema of each.
    @Test func configCheckAndSchemasListEveryVersionHeld() async throws {
        let directory = try Self.developmentSetup()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("vangnet.json")
        let first = directory.appendingPathComponent("datasets/mbo.niet-toelaatbaar.v1.json")
        let second = try String(contentsOf: first, encoding: .utf8)
            .replacingOccurrences(of: #""version": 1"#, with: #""version": 2"#)
        try Data(second.utf8).write(to: directory.appendingPathComponent("datasets/mbo.niet-toelaatbaar.v2.json"))
        var configuration = try GatewayConfiguration.load(from: config)
        configuration.datasets! += ["datasets/mbo.niet-toelaatbaar.v2.json"]
        try configuration.write(to: config)

        let check = try await Self.vangnet(["config", "check", "--config", config.path])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("mbo.niet-toelaatbaar v1, mbo.niet-toelaatbaar v2, uwv"), "\(check.output)")
        let out = directory.appendingPathComponent("schemas")
        let schemas = try await Self.vangnet(["config", "schemas", "--config", config.path, "--out", out.path])
        #expect(schemas.status == 0, "\(schemas.output)")
        let written = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        #expect(
            written.filter { $0.hasPrefix("mbo.") } == [
                "mbo.niet-toelaatbaar.v1.schema.json", "mbo.niet-toelaatbaar.v2.schema.json",
            ]
        )
    }
}

/// The security officer's audit tools, run as the real `vangnet` binary.
@Suite struct AuditToolTests {
    @Test func anExportedLogVerifiesOfflineWithAHeldCheckpointAndATamperedOneDoesNot() async throws {
        let directory = try PolicyToolTests.developmentSetup()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("vangnet.json")
        // A gateway's life: start (config.load), a checkpoint signed at shutdown.
        let gateway = try await Gateway(configuration: try GatewayConfiguration.load(from: config))
        for _ in 0..<3 {
            try await gateway.store.checkpointAudit(at: Date())
            _ = try await gateway.reload()
        }
        let held = try #require(try await gateway.store.auditCheckpoints().last)
        let heldFile = directory.appendingPathComponent("held.json")
        try JSONEncoder().encode(held).write(to: heldFile)

        for format in ["ndjson", "csv"] {
            let export = directory.appendingPathComponent("audit.\(format)")
            let exported = try await PolicyToolTests.vangnet([
                "audit", "export", "--config", config.path, "--format", format, "--output", export.path,
            ])
            #expect(exported.status == 0, "\(exported.output)")
            let key = directory.appendingPathComponent("keys/audit-signing.pub").path
            let verified = try await PolicyToolTests.vangnet([
                "audit", "verify", "--export", export.path, "--audit-key", key, "--checkpoint", heldFile.path,
            ])
            #expect(
                verified.status == 0 && verified.output.contains("audit chain intact"),
                "\(format): \(verified.output)"
            )
            // Cut the copy short before the held checkpoint.
            let lines = try String(contentsOf: export, encoding: .utf8).split(separator: "\n")
            let kept = lines.filter {
                !$0.contains("\"seq\":\(held.sequence)") && !$0.hasPrefix("entry,\(held.sequence),")
                    && !$0.contains("\"seq\":\(held.sequence + 1)") && !$0.hasPrefix("entry,\(held.sequence + 1),")
            }
            let cut = directory.appendingPathComponent("cut.\(format)")
            try (kept.joined(separator: "\n") + "\n").write(to: cut, atomically: true, encoding: .utf8)
            let refused = try await PolicyToolTests.vangnet([
                "audit", "verify", "--export", cut.path, "--audit-key", key, "--checkpoint", heldFile.path,
            ])
            #expect(refused.status != 0 && refused.output.contains("BROKEN"), "\(format): \(refused.output)")
        }
        let entriesBefore = try await gateway.store.auditHead()
        let live = try await PolicyToolTests.vangnet([
            "audit", "verify", "--config", config.path, "--checkpoint", heldFile.path,
        ])
        #expect(live.status == 0 && live.output.contains("signed checkpoint(s) matched"), "\(live.output)")
        let events = try await gateway.store.auditEvents().filter { $0.action == .operatorCommand }.map(\.object)
        #expect(events.contains("cli:audit export"), "operator commands are audited")
        let entriesAfter = try await gateway.store.auditHead()
        #expect(
            !events.contains("cli:audit verify") && entriesAfter == entriesBefore,
            "verifying evidence does not change it"
        )
        let purge = try await PolicyToolTests.vangnet(["retention", "purge", "--config", config.path])
        #expect(purge.status == 0 && purge.output.contains("0 records removed"), "\(purge.output)")
    }
}
