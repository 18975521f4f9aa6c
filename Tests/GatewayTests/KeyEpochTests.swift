import AccessPolicy
import AuditLog
import DevelopmentSupport
import Foundation
import Gateway
import StoreSelection
import Testing
import VangnetCore
import VangnetCrypto

/// Pseudonym key epochs: a rotation gives regions new, unlinkable pseudonyms; records of an
/// earlier epoch stay deliverable under their own while its key exists, and not after.
@Suite struct KeyEpochTests {
    let population = Population()

    func pseudonyms(_ gw: TestGateway, _ purpose: String, dataset: String) async throws -> [String] {
        let answer = try await gw.using("region-utrecht") { try await $0.pull(purpose: purpose, limit: 1000) }
        #expect(answer.status == 200)
        return answer.body.split(separator: "\n").compactMap { line in
            let record = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return record["dataset"] as? String == dataset ? record["pseudonym"] as? String : nil
        }
    }

    @Test func rotationStartsANewEpochWithUnlinkablePseudonyms() async throws {
        try await TestGateway.with { gw in
            _ = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo")) }
            let first = try await pseudonyms(gw, "vsv-een-jaar-later", dataset: "duo.onderwijsdeelname")
            do {
                let holds = first.count == 10 && first.allSatisfy { $0.hasPrefix("vp1.e1.") }
                #expect(holds)
            }

            let epoch = try GatewayKeys.rotatePseudonymRoot(in: gw.keys)
            #expect(epoch == 2)
            let attributes = try FileManager.default.attributesOfItem(
                atPath: gw.keys.appendingPathComponent("pseudonym-root.e2.key").path
            )
            #expect((attributes[.posixPermissions] as! NSNumber).intValue == 0o600)
            try PolicyReloadTests.rewrite(gw.configurationFile) { $0.gateway.pseudonymEpoch = 2 }
            try await gw.gateway.reload()
            let event = try await gw.store.auditEvents().last { $0.action == .keyEpoch }
            #expect(event?.object == "pseudonym-epoch:2" && event?.counts["previousEpoch"] == 1)

            // The same young people pushed again, now with their UWV records: epoch 2.
            _ = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo")) }
            _ = try await gw.using("uwv") { try await $0.push(envelope: try gw.seal(population.uwvLines, as: "uwv")) }
            let duo = try await pseudonyms(gw, "vsv-een-jaar-later", dataset: "duo.onderwijsdeelname")
            let uwv = try await pseudonyms(gw, "vsv-een-jaar-later", dataset: "uwv.inkomstenverhoudingen")
            let old = duo.filter { $0.hasPrefix("vp1.e1.") }
            let new = Set(duo.filter { $0.hasPrefix("vp1.e2.") })
            #expect(Set(old) == Set(first), "earlier records keep their pseudonyms while the epoch's key exists")
            #expect(new.count == 10)
            do {
                let holds = Set(new.map { $0.suffix(32) }).isDisjoint(with: first.map { $0.suffix(32) })
                #expect(holds, "no link between epochs")
            }
            #expect(uwv.count == 6 && Set(uwv).isSubset(of: new), "within the new epoch DUO and UWV records still meet")

            // Destroying the old epoch's key makes its records undeliverable (crypto-shredding).
            try FileManager.default.removeItem(at: gw.keys.appendingPathComponent("pseudonym-root.e1.key"))
            try await gw.gateway.reload()
            let after = try await pseudonyms(gw, "vsv-een-jaar-later", dataset: "duo.onderwijsdeelname")
            #expect(Set(after) == new)
        }
    }

    @Test func theGatewayRefusesToStartWithoutTheCurrentEpochsKey() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-epoch-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = try DevelopmentSetup.create(in: directory, port: 0)
        configuration.gateway.pseudonymEpoch = 3
        let error = try await #require(throws: KeyFile.Failure.self) { try await Gateway(configuration: configuration) }
        #expect(error.description.contains("pseudonym-root.e3.key") && error.description.contains("missing"))
    }

    @Test func aRootKeyOwnedByAnotherUserIsRefused() throws {
        guard geteuid() == 0 else { return }  // only root can give a file away
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-owner-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        try GatewayKeys.create(in: directory)
        let root = directory.appendingPathComponent("pseudonym-root.e1.key")
        #expect(chown(root.path, 65534, 65534) == 0)
        let error = try #require(throws: KeyFile.Failure.self) { try GatewayKeys.load(from: directory) }
        #expect(error.reason.contains("not by the gateway's user"))
    }
}
