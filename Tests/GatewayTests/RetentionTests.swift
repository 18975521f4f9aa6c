import AccessPolicy
import AuditLog
import DevelopmentSupport
import Foundation
import Gateway
import Storage
import StoreSelection
import Testing
import VangnetCore

/// Retention: records are kept only as long as a purpose that delivers their dataset may use
/// them, and each purpose delivers only records within its own retention.
@Suite struct RetentionTests {
    let population = Population()
    static let day: TimeInterval = 86_400

    @Test func recordsPastEveryPurposesRetentionArePurgedAndThePurgeIsAudited() async throws {
        try await TestGateway.with { gw in
            let uwvEnvelope = try gw.seal(population.uwvLines, as: "uwv")
            _ = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo")) }
            let first = try await gw.using("uwv") { try await $0.push(envelope: uwvEnvelope) }
            #expect(try await gw.store.counts() == (batches: 2, records: 33))

            // Nothing is due on the day of the push.
            #expect(try await gw.gateway.purgeExpiredRecords() == PurgeResult())
            do {
                let holds = !(try await gw.store.auditEvents().contains { $0.action == .retentionPurge })
                #expect(holds, "a purge that removes nothing writes no entry")
            }

            // 800 days on: UWV is delivered only by vsv-een-jaar-later (730 days), DUO also by kwetsbare-jongeren (1,095 days).
            let later = TestGateway.now.addingTimeInterval(800 * Self.day)
            let result = try await Retention.purge(
                store: gw.store,
                active: gw.gateway.state.current,
                now: later,
                actor: DevelopmentSetup.gatewayOIN,
                trigger: "test"
            )
            #expect(
                result.records == ["uwv.inkomstenverhoudingen": 11]
                    && result.batches == ["uwv.inkomstenverhoudingen": 1]
            )
            #expect(try await gw.store.storedRecordRows() == 22, "the DUO records stay")
            let event = try #require(try await gw.store.auditEvents().last)
            #expect(
                event.action == .retentionPurge && event.counts["records"] == 11
                    && event.counts["records.uwv.inkomstenverhoudingen"] == 11
            )

            // A retry of the purged batch still gets its first receipt, and stores nothing again.
            let retry = try await gw.using("uwv") { try await $0.push(envelope: uwvEnvelope) }
            #expect(retry.status == 200 && retry.body == first.body)
            #expect(try await gw.store.storedRecordRows() == 22)

            // 1,100 days on, the DUO records go too.
            let end = TestGateway.now.addingTimeInterval(1_100 * Self.day)
            try await Retention.purge(
                store: gw.store,
                active: gw.gateway.state.current,
                now: end,
                actor: nil,
                trigger: "test"
            )
            #expect(try await gw.store.storedRecordRows() == 0)
            #expect(try await gw.store.verifyAudit().isIntact)
        }
    }

    @Test func aPurposeDeliversOnlyRecordsWithinItsOwnRetention() async throws {
        try await TestGateway.with { gw in
            _ = try await gw.using("duo") { try await $0.push(envelope: try gw.seal(population.duoLines, as: "duo")) }
            // The same store and policy, 800 days on: past vsv-opvolging's 730 days, within kwetsbare-jongeren's 1,095.
            guard case .permit(.consumer(let utrecht)) = gw.gateway.policy.identify(DevelopmentSetup.regionUtrecht)
            else {
                Issue.record("Utrecht unknown")
                return
            }
            // Today, both deliver.
            let today = try await gw.gateway.delivery.pull(
                caller: utrecht,
                purpose: "vsv-opvolging",
                view: .current,
                cursor: nil,
                limit: 100
            )
            #expect(today.lines.count == 10)
            let later = try await Gateway(
                configuration: try GatewayConfiguration.load(from: gw.configurationFile),
                clock: FixedClock(TestGateway.now.addingTimeInterval(800 * Self.day))
            )
            #expect(
                try await later.delivery.pull(
                    caller: utrecht,
                    purpose: "vsv-opvolging",
                    view: .current,
                    cursor: nil,
                    limit: 100
                ).lines.isEmpty
            )
            #expect(
                try await later.delivery.pull(
                    caller: utrecht,
                    purpose: "kwetsbare-jongeren",
                    view: .current,
                    cursor: nil,
                    limit: 100
                ).lines.count == 2
            )
            // Utrecht's copy learns why: its ten records left its picture of vsv-opvolging.
            let changes = try await later.delivery.pull(
                caller: utrecht,
                purpose: "vsv-opvolging",
                view: nil,
                cursor: today.nextCursor,
                limit: 100
            )
            do {
                let holds = changes.lines.count == 10 && changes.lines.allSatisfy { $0.record == nil }
                #expect(holds)
            }
            #expect(Set(changes.lines.map(\.id)) == Set(today.lines.map(\.id)))
        }
    }
}
