import AuditLog
import Foundation
import Storage
import Testing
import VangnetCore

/// The request store of re-identification behaves the same on both stores: a request fits its
/// quota or is not stored (its refusal audited instead), a change of state happens once and with
/// its audit entry, overdue requests are found, and the tallies add up.
extension StoreBehaviourTests {
    static func request(
        _ id: String,
        people: Int,
        month: Int = 202611,
        expiresAt: Double = 2_000_000_000
    )
        -> ReidentificationRequest
    {
        ReidentificationRequest(
            id: id,
            region: RegionNumber(19)!,
            purpose: "vsv-opvolging",
            requester: OIN("00000099000000000219")!,
            reason: "rmc-contactpoging",
            caseReference: "RMC-2026-0042",
            pseudonyms: (0..<people).map { String(format: "vp1.e1.%032x", $0) },
            month: month,
            createdAt: Date(timeIntervalSince1970: 1_795_435_200),
            expiresAt: Date(timeIntervalSince1970: expiresAt)
        )
    }

    static func event(_ reason: String?) -> AuditEvent {
        AuditEvent(
            time: Date(timeIntervalSince1970: 1_795_435_200),
            actor: nil,
            role: nil,
            action: .reidentificationRequest,
            object: "test",
            outcome: reason == nil ? .success : .refused,
            reason: reason
        )
    }

    @Test(arguments: Self.kinds)
    func reidentificationRequestsKeepTheirQuotaAndChangeStateOnce(kind: Kind) async throws {
        guard let (store, _, close) = try await stores(kind) else { return }
        defer { close() }
        let refused: @Sendable (Int) -> AuditEvent = { used in Self.event("quota_exceeded:\(used)") }
        let first = try await store.createReidentification(
            Self.request("rq-1", people: 3),
            quota: 4,
            audit: Self.event(nil),
            refused: refused
        )
        #expect(first == nil)
        let over = try await store.createReidentification(
            Self.request("rq-2", people: 2),
            quota: 4,
            audit: Self.event(nil),
            refused: refused
        )
        #expect(over == 3, "the month already holds 3 people")
        let nextMonth = try await store.createReidentification(
            Self.request("rq-3", people: 2, month: 202612, expiresAt: 1),
            quota: 4,
            audit: Self.event(nil),
            refused: refused
        )
        #expect(nextMonth == nil, "another month has its own quota")
        let stored = try await store.reidentification("rq-1")
        #expect(stored == Self.request("rq-1", people: 3))
        let missing = try await store.reidentification("rq-2")
        #expect(missing == nil, "a refused request is not stored")
        let reasons = try await store.auditEvents().map { $0.reason ?? "-" }
        #expect(reasons == ["-", "quota_exceeded:3", "-"])

        let approve = try await store.changeReidentification(
            "rq-1",
            from: .pending,
            to: {
                $0.state = .approved
                $0.decidedBy = OIN("00000099000000000319")!
            },
            audit: { _ in Self.event(nil) }
        )
        guard case .done(let approved) = approve else {
            Issue.record("not approved: \(approve)")
            return
        }
        #expect(approved.state == .approved && approved.decidedBy == OIN("00000099000000000319"))
        let twice = try await store.changeReidentification(
            "rq-1",
            from: .pending,
            to: { $0.state = .refused },
            audit: { _ in Self.event(nil) }
        )
        #expect(twice == .notIn(.approved))
        let none = try await store.changeReidentification(
            "rq-9",
            from: .pending,
            to: { $0.state = .refused },
            audit: { _ in Self.event(nil) }
        )
        #expect(none == .notFound)
        #expect(try await store.auditEvents().count == 4, "a change that did not happen is not audited")

        let overdue = try await store.overdueReidentifications(at: Date(timeIntervalSince1970: 100), limit: 10)
        #expect(overdue.map(\.id) == ["rq-3"])
        let approvedOnes = try await store.reidentifications(state: .approved, region: RegionNumber(19)!, limit: 10)
        #expect(approvedOnes.map(\.id) == ["rq-1"])
        let otherRegion = try await store.reidentifications(state: nil, region: RegionNumber(21)!, limit: 10)
        #expect(otherRegion.isEmpty)
        let tallies = try await store.reidentificationTallies().map {
            "\($0.month) \($0.state.rawValue) \($0.requests) \($0.people)"
        }
        #expect(tallies == ["202611 approved 1 3", "202612 pending 1 2"])
    }
}
