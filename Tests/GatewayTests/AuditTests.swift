import AccessPolicy
import AuditLog
import DevelopmentSupport
import Foundation
import Gateway
import Pseudonymisation
import Storage
import Testing
import VangnetCore
import VangnetCrypto

/// The audit log at the gateway: fail-closed, TLS refusals recorded, the auditor's API and
/// review page, and no personal data in any entry.
@Suite struct AuditTests {
    let population = Population()

    /// Pushes both batches, pulls as both regions (one pull refused), asks as the auditor.
    func exercise(_ gw: TestGateway) async throws -> [String] {
        var bodies: [String] = []
        bodies.append(
            try await gw.using("duo") { try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo")) }.body
        )
        bodies.append(
            try await gw.using("uwv") { try await $0.push(envelope: try gw.seal(population.uwvLines, as: "uwv")) }.body
        )
        for (name, purpose) in [
            ("region-utrecht", "vsv-opvolging"), ("region-utrecht", "vsv-een-jaar-later"),
            ("region-amsterdam", "vsv-opvolging"), ("region-amsterdam", "kwetsbare-jongeren"),
        ] {
            bodies.append(try await gw.using(name) { try await $0.pull(purpose: purpose) }.body)
        }
        return bodies
    }

    @Test func aFailedAuditWriteStopsThePushAndThePull() async throws {
        try await TestGateway.with { gw in
            _ = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo")) }
            let before = try await gw.store.counts()
            try await gw.store.tamper(
                "CREATE TRIGGER audit_down BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END"
            )

            let push = try await gw.using("uwv") {
                try await $0.push(envelope: try gw.seal(population.uwvLines, as: "uwv"))
            }
            #expect(push.status == 500 && push.refusal?.code == "internal_error")
            #expect(try await gw.store.counts() == before, "the batch whose audit entry failed is not committed")
            #expect(try await gw.store.storedRecordRows() == before.records, "nor staged")

            let pull = try await gw.using("region-utrecht") { try await $0.pull(purpose: "vsv-opvolging") }
            #expect(pull.status == 500, "no records leave without their audit entry")
            #expect(!pull.body.contains("vp1."))

            try await gw.store.tamper("DROP TRIGGER audit_down")
            do {
                let actual = try await gw.using("region-utrecht") { try await $0.pull(purpose: "vsv-opvolging") }.status
                #expect(actual == 200)
            }
        }
    }

    @Test func refusedTLSHandshakesAreAudited() async throws {
        try await TestGateway.with(.tls) { gw in
            _ = try? await gw.using(nil) { try await $0.get("/healthz") }
            _ = try? await gw.using("duo", pki: "rogue") { try await $0.get("/healthz") }
            // The handshake is refused on the server's event loop; give it a moment to write.
            var reasons: [String] = []
            for _ in 0..<50 {
                reasons = try await gw.store.auditEvents().filter { $0.action == .tlsHandshake }.compactMap(\.reason)
                if reasons.count >= 2 { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(reasons.contains("tls_no_certificate"))
            #expect(reasons.contains("tls_untrusted_certificate"))
            do {
                let holds = try await gw.store.auditEvents().filter { $0.action == .tlsHandshake }.allSatisfy {
                    $0.outcome == .refused && $0.actor == nil
                }
                #expect(holds)
            }
        }
    }

    @Test func theAuditorFiltersAndPagesEntries() async throws {
        try await TestGateway.with { gw in
            _ = try await exercise(gw)
            struct Page: Decodable {
                struct Entry: Decodable {
                    let seq: Int64
                    let action: String
                    let region: Int?
                    let outcome: String
                    let actor: String?
                    let purpose: String?
                    let reason: String?
                }
                let entries: [Entry]
                let next: Int64?
            }
            func page(_ query: String) async throws -> Page {
                let answer = try await gw.using("auditor") { try await $0.get("/v1/audit/entries?\(query)") }
                #expect(answer.status == 200, "\(query): \(answer.status)")
                return try JSONDecoder().decode(Page.self, from: Data(answer.body.utf8))
            }
            let pulls = try await page("action=records.pull")
            do {
                let holds = pulls.entries.count == 4 && pulls.entries.allSatisfy { $0.action == "records.pull" }
                #expect(holds)
            }
            let amsterdam = try await page("region=21")
            do {
                let holds = amsterdam.entries.count == 2 && amsterdam.entries.allSatisfy { $0.region == 21 }
                #expect(holds)
            }
            let refused = try await page("outcome=refused&region=21")
            #expect(
                refused.entries.map(\.reason) == ["no_grant"] && refused.entries.first?.purpose == "kwetsbare-jongeren"
            )
            let utrecht = try await page("actor=\(DevelopmentSetup.regionUtrecht)")
            #expect(utrecht.entries.count == 2)
            #expect(try await page("from=2026-11-24").entries.isEmpty, "the test clock is 2026-11-23")
            #expect(try await page("from=2026-11-23&to=2026-11-23").entries.count >= 7)

            var seen: [Int64] = []
            var after: Int64 = 0
            while true {
                let p = try await page("after=\(after)&limit=3")
                seen += p.entries.map(\.seq)
                guard let next = p.next else { break }
                after = next
            }
            #expect(seen == Array(1...Int64(seen.count)), "pages follow each other without gaps or repeats")

            let bad = try await gw.using("auditor") { try await $0.get("/v1/audit/entries?action=records.delete") }
            #expect(bad.refusal?.status == 400 && bad.refusal?.code == "invalid_query")
            // A limit outside 1...1000 is refused, not cut to fit.
            for limit in ["0", "1001", "-1", "ten"] {
                let answer = try await gw.using("auditor") { try await $0.get("/v1/audit/entries?limit=\(limit)") }
                #expect(answer.refusal?.status == 400 && answer.refusal?.code == "invalid_query", "limit=\(limit)")
            }
            for limit in [1, 1000] {
                let answer = try await gw.using("auditor") { try await $0.get("/v1/audit/entries?limit=\(limit)") }
                let count = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
                #expect(
                    answer.status == 200 && ((count?["entries"] as? [Any])?.count ?? 0) >= 1,
                    "limit=\(limit) is taken"
                )
            }
            let consumer = try await gw.using("region-utrecht") { try await $0.get("/v1/audit/entries") }
            #expect(consumer.refusal?.status == 403 && consumer.refusal?.code == "wrong_role")
            let events = try await gw.store.auditEvents()
            do {
                let holds = events.contains {
                    $0.action == .identity && $0.object == "route:GET /v1/audit/entries" && $0.outcome == .refused
                        && $0.reason == "wrong_role" && $0.actor == DevelopmentSetup.regionUtrecht
                }
                #expect(holds)
            }
            do {
                let actual = events.filter { $0.action == .auditRead && $0.outcome == .success }.count
                #expect(actual >= 8, "every read by the auditor is itself recorded")
            }
        }
    }

    @Test func checkpointsFromTheAPIVerifyAndPinTheLog() async throws {
        try await TestGateway.with { gw in
            _ = try await exercise(gw)
            try await gw.store.checkpointAudit(at: Date())
            let answer = try await gw.using("auditor") { try await $0.get("/v1/audit/checkpoints") }
            struct Checkpoints: Decodable {
                let auditKey: String
                let keyId: String
                let checkpoints: [AuditCheckpoint]
            }
            let body = try JSONDecoder().decode(Checkpoints.self, from: Data(answer.body.utf8))
            let key = try SigningPublicKey(bytes: Array(Data(base64Encoded: body.auditKey)!))
            #expect(key == gw.gateway.keys.audit.publicKey)
            let held = try #require(body.checkpoints.last)
            #expect(held.isSigned(by: key))
            guard case .intact = try await gw.store.verifyAudit(held: [held], key: key) else {
                Issue.record("not intact")
                return
            }
            let verify = try await gw.using("auditor") { try await $0.get("/v1/audit/verify") }
            #expect(verify.body.contains("\"intact\":true"))
            try await gw.store.tamper(
                "DELETE FROM audit WHERE seq >= \(held.sequence - 1); DELETE FROM audit_checkpoints"
            )
            guard case .broken = try await gw.store.verifyAudit(held: [held], key: key) else {
                Issue.record("truncation not caught")
                return
            }
        }
    }

    @Test func noAuditEntryHoldsABSNAPseudonymOrARecordValue() async throws {
        try await TestGateway.with { gw in
            let bodies = try await exercise(gw)
            // Input that tries to get into the log: a BSN as purpose, as consumer to explain, in a query.
            let bsn = population.everyone[0].bsn
            _ = try await gw.using("region-utrecht") { try await $0.pull(purpose: bsn) }
            _ = try await gw.using("auditor") { try await $0.get("/v1/policy/explain?consumer=\(bsn)&purpose=\(bsn)") }
            _ = try await gw.using("auditor") { try await $0.get("/v1/audit/entries?actor=\(bsn)") }
            var exported = ""
            try await gw.store.exportAudit(.ndjson) { exported += $0 + "\n" }
            #expect(exported.contains("records.pull"), "the export holds the log")

            let root = try KeyFile.readSecret(gw.keys.appendingPathComponent("pseudonym-root.e1.key"))
            let pseudonymiser = Pseudonymiser(keys: try PseudonymKeys(root: root, epoch: 1))
            let delivered = bodies.flatMap { $0.split(separator: "\n") }.compactMap { line -> String? in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["pseudonym"] as? String
            }
            #expect(delivered.count > 10, "pulls delivered records whose pseudonyms are searched for")
            var leaks: [String] = []
            for (index, person) in population.everyone.enumerated() {
                if exported.contains(person.bsn) { leaks.append("BSN of person \(index)") }
                let linkHash = Hex.encode(pseudonymiser.internalPseudonym(of: BSN(person.bsn)!).bytes)
                if exported.lowercased().contains(linkHash.prefix(16)) {
                    leaks.append("internal pseudonym of person \(index)")
                }
            }
            for (index, pseudonym) in delivered.enumerated()
            where exported.contains(pseudonym) || exported.contains(pseudonym.suffix(32)) {
                leaks.append("delivered pseudonym \(index)")
            }
            for value in [
                "25LP", "2008-05-01", "2024-08-20", "2025-03-01", "2026-09", "dienstverband", "GM0344", "GM0363",
            ] where exported.contains(value) {
                leaks.append("record value \(value)")
            }
            #expect(leaks.isEmpty, "found in the audit log: \(leaks)")
        }
    }

    @Test func theReviewPageShowsStatusRegionsAndRefusals() async throws {
        try await TestGateway.with { gw in
            _ = try await exercise(gw)
            let page = try await gw.using("auditor") { try await $0.get("/review") }
            #expect(page.status == 200)
            #expect(page.headers["content-type"]?.hasPrefix("text/html") == true)
            let html = page.body
            #expect(html.contains("Audit chain intact"))
            #expect(html.contains("19 Utrecht") && html.contains("21 Agglomeratie Amsterdam"))
            #expect(html.contains("vsv-een-jaar-later"))
            #expect(html.contains("<tr class=\"refused\">"), "refusals are highlighted")
            #expect(
                !html.contains("<script") && !html.contains("http://") && !html.contains("https://"),
                "no scripts, no external assets"
            )
            let refusedOnly = try await gw.using("auditor") { try await $0.get("/review?outcome=refused") }
            let rows = refusedOnly.body.components(separatedBy: "<tr class=\"").dropFirst().map { $0.prefix(7) }
            do {
                let holds = !rows.isEmpty && rows.allSatisfy { $0 == "refused" }
                #expect(holds, "the filter leaves refusals only")
            }
            let consumer = try await gw.using("region-utrecht") { try await $0.get("/review") }
            #expect(consumer.refusal?.status == 403)
            // Input is escaped: a purpose with markup is refused, and its audit entry does not echo it.
            _ = try await gw.using("region-utrecht") { try await $0.pull(purpose: "%3Cb%3Ex%3C%2Fb%3E") }
            let after = try await gw.using("auditor") { try await $0.get("/review") }
            #expect(!after.body.contains("<b>x</b>"))
        }
    }
}
