import DevelopmentSupport
import Foundation
import Gateway
import Testing
import VangnetCore

/// The review page in a real headless Chromium, which presents the auditor's client certificate
/// from its NSS database (selected by the `AutoSelectCertificateForUrls` policy) over mTLS.
///
/// Needs `chromium`, `certutil`, `pk12util` (libnss3-tools), `openssl` and a writable
/// `/etc/chromium/policies/managed`; skipped without them unless `VANGNET_REQUIRE_CHROMIUM=1`
/// (CI sets it). `VANGNET_SCREENSHOT=path` keeps the screenshot (docs/review-page.png is made so).
@Suite struct ReviewPageBrowserTests {
    static let tools = ["/usr/bin/chromium", "/usr/bin/certutil", "/usr/bin/pk12util", "/usr/bin/openssl"]
    static let policyDirectory = URL(fileURLWithPath: "/etc/chromium/policies/managed")

    static var available: Bool {
        tools.allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
            && ((try? FileManager.default.createDirectory(at: policyDirectory, withIntermediateDirectories: true))
                != nil)
            && FileManager.default.isWritableFile(atPath: policyDirectory.path)
    }

    /// Runs a tool to completion; its standard error (Chromium's chatter, which its helpers may
    /// hold open) is discarded.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> String {
        let finished = try await ChildProcess.run(
            URL(fileURLWithPath: tool),
            arguments,
            environment: environment,
            discardErrors: true
        )
        guard finished.status == 0 else {
            throw ConfigurationError("\(tool) \(arguments.first ?? "") failed (\(finished.status))")
        }
        return finished.output
    }

    @Test func theAuditorSeesTheReviewPageInChromium() async throws {
        guard Self.available else {
            #expect(
                ProcessInfo.processInfo.environment["VANGNET_REQUIRE_CHROMIUM"] != "1",
                "Chromium and the NSS tools are required here"
            )
            return
        }
        let population = Population()
        try await TestGateway.with(.tls) { gw in
            _ = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo")) }
            _ = try await gw.using("uwv") { try await $0.push(envelope: try gw.seal(population.uwvLines, as: "uwv")) }
            for (name, purpose) in [
                ("region-utrecht", "vsv-opvolging"), ("region-utrecht", "vsv-een-jaar-later"),
                ("region-utrecht", "kwetsbare-jongeren"),
                ("region-amsterdam", "vsv-opvolging"), ("region-amsterdam", "vsv-een-jaar-later"),
                ("region-amsterdam", "kwetsbare-jongeren"),
            ] {
                _ = try await gw.using(name) { try await $0.pull(purpose: purpose) }
            }
            _ = try? await gw.using("duo", pki: "rogue") { try await $0.get("/healthz") }

            // The auditor's browser profile: its certificate and the test CA in an NSS database.
            let home = gw.directory.appendingPathComponent("browser-home")
            let nss = home.appendingPathComponent(".pki/nssdb")
            try FileManager.default.createDirectory(at: nss, withIntermediateDirectories: true)
            let p12 = gw.directory.appendingPathComponent("auditor.p12")
            try await Self.run(
                "/usr/bin/openssl",
                [
                    "pkcs12", "-export", "-in", gw.certs.appendingPathComponent("auditor.pem").path,
                    "-inkey", gw.certs.appendingPathComponent("auditor.key").path, "-out", p12.path, "-passout",
                    "pass:", "-name", "auditor",
                ]
            )
            try await Self.run("/usr/bin/certutil", ["-N", "-d", "sql:\(nss.path)", "--empty-password"])
            try await Self.run("/usr/bin/pk12util", ["-i", p12.path, "-d", "sql:\(nss.path)", "-W", ""])
            try await Self.run(
                "/usr/bin/certutil",
                [
                    "-A", "-d", "sql:\(nss.path)", "-n", "vangnet-test-ca", "-t", "C,,", "-i",
                    gw.certs.appendingPathComponent("ca.pem").path,
                ]
            )
            let origin = "https://127.0.0.1:\(gw.port)"
            let policy = Self.policyDirectory.appendingPathComponent("vangnet-review-test.json")
            try
                #"{"AutoSelectCertificateForUrls": ["{\"pattern\":\"\#(origin)\",\"filter\":{\"ISSUER\":{\"CN\":\"Vangnet Development CA\"}}}"]}"#
                .write(to: policy, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: policy) }

            let browser = [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--window-size=1280,1500",
                "--user-data-dir=\(home.appendingPathComponent("profile").path)",
            ]
            let dom = try await Self.run(
                "/usr/bin/chromium",
                browser + ["--dump-dom", "\(origin)/review"],
                environment: ["HOME": home.path]
            )
            #expect(dom.contains("Audit chain intact"), "the page rendered for the auditor over mTLS")
            #expect(dom.contains("19 Utrecht") && dom.contains("21 Agglomeratie Amsterdam"), "the overview per region")
            #expect(dom.contains("<tr class=\"refused\">"), "refusals highlighted")
            #expect(dom.contains("tls_untrusted_certificate"), "a refused TLS handshake is on the timeline")

            let screenshot =
                ProcessInfo.processInfo.environment["VANGNET_SCREENSHOT"].map { URL(fileURLWithPath: $0) }
                ?? gw.directory.appendingPathComponent("review.png")
            try await Self.run(
                "/usr/bin/chromium",
                browser + ["--screenshot=\(screenshot.path)", "\(origin)/review"],
                environment: ["HOME": home.path]
            )
            let png = try Data(contentsOf: screenshot)
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000, "a real screenshot")

            let reads = try await gw.store.auditEvents().filter {
                $0.action == .auditRead && $0.object == "audit:review"
            }
            do {
                let holds = reads.count >= 2 && reads.allSatisfy { $0.actor == DevelopmentSetup.auditor }
                #expect(holds, "the browser's visits are audited as the auditor's")
            }
        }
    }
}
