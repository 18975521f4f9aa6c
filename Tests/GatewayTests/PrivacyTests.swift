import Foundation
import Gateway
import Testing

/// No BSN pushed in a test reaches the SQLite files (WAL and shared memory included), the
/// gateway's logs, or any response.
@Suite struct PrivacyTests {
    let population = Population()

    @Test func noBSNReachesDiskLogsOrResponses() async throws {
        try await TestGateway.with { gw in
            var responses: [String] = []
            responses.append(
                try await gw.using("duo") { try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo")) }
                    .body
            )
            responses.append(
                try await gw.using("uwv") { try await $0.push(envelope: try gw.seal(population.uwvLines, as: "uwv")) }
                    .body
            )
            // A refused push and rejected records, whose error paths must not echo input either.
            var tampered = try gw.seal(population.duoLines, as: "duo")
            tampered[tampered.count / 2] ^= 1
            responses.append(try await gw.using("duo") { try await $0.push(envelope: tampered) }.body)
            // Records that fail validation, and records with the BSN as a key (not to come back as a field name).
            let invalid =
                population.everyone.map { Population.duo($0, leaver: true, municipality: "GM9999") }
                + population.everyone.map { #"{"\#($0.bsn)":"x"}"# }
            responses.append(
                try await gw.using("duo") { try await $0.push(envelope: try gw.seal(invalid, as: "duo")) }.body
            )
            for (name, purpose, format) in [
                ("region-utrecht", "vsv-opvolging", "ndjson"), ("region-utrecht", "kwetsbare-jongeren", "csv"),
                ("region-amsterdam", "vsv-opvolging", "ndjson"), ("region-amsterdam", "kwetsbare-jongeren", "ndjson"),
            ] {
                responses.append(try await gw.using(name) { try await $0.pull(purpose: purpose, format: format) }.body)
            }
            #expect(responses[0].contains("\"accepted\\\":22"), "the pushes did happen")

            let files = try gw.databaseFiles()
            do {
                let holds = files.contains { $0.0.hasSuffix("-wal") }
                #expect(holds, "the WAL is searched too")
            }
            let logs = gw.logs.all.joined(separator: "\n")
            do {
                let holds = gw.logs.all.contains { $0.contains("request refused") }
                #expect(holds, "the logs are captured, so searching them means something")
            }
            var leaks: [String] = []
            for (index, person) in population.everyone.enumerated() {
                let bsn = Data(person.bsn.utf8)
                for (path, bytes) in files where bytes.range(of: bsn) != nil {
                    leaks.append("person \(index) in \(URL(fileURLWithPath: path).lastPathComponent)")
                }
                if logs.contains(person.bsn) { leaks.append("person \(index) in the logs") }
                if responses.contains(where: { $0.contains(person.bsn) }) {
                    leaks.append("person \(index) in a response")
                }
            }
            // The failure text names people by index, never by BSN.
            #expect(leaks.isEmpty, "BSNs leaked: \(leaks)")
        }
    }
}
