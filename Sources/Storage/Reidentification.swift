import AuditLog
import Foundation
import Pseudonymisation
import Records
import VangnetCore

/// Where a re-identification request stands. `pending` waits for its decision, `approved` for its
/// release; the other three are final.
package enum ReidentificationState: String, Sendable, Codable, CaseIterable {
    case pending, approved, refused, released, expired

    /// Whether the request still counts against its region's monthly quota.
    package var countsAgainstQuota: Bool { self == .pending || self == .approved || self == .released }
}

/// A contactgemeente's request to learn who the people behind some of its pseudonyms are. Holds
/// pseudonyms, a reason code and a case reference (checked to hold no BSN-like number); never a BSN.
package struct ReidentificationRequest: Sendable, Equatable {
    package let id: String
    package let region: RegionNumber
    package let purpose: PurposeID
    package let requester: OIN
    package let reason: String
    package let caseReference: String
    package let pseudonyms: [String]
    /// The calendar month (Europe/Amsterdam, `YYYYMM`) it counts against.
    package let month: Int
    package let createdAt: Date
    package let expiresAt: Date
    package var state: ReidentificationState
    package var decidedBy: OIN?
    package var decidedAt: Date?
    package var decisionReason: String?
    package var releasedAt: Date?

    package init(
        id: String,
        region: RegionNumber,
        purpose: PurposeID,
        requester: OIN,
        reason: String,
        caseReference: String,
        pseudonyms: [String],
        month: Int,
        createdAt: Date,
        expiresAt: Date,
        state: ReidentificationState = .pending,
        decidedBy: OIN? = nil,
        decidedAt: Date? = nil,
        decisionReason: String? = nil,
        releasedAt: Date? = nil
    ) {
        (self.id, self.region, self.purpose, self.requester, self.reason, self.caseReference) = (
            id, region, purpose, requester, reason, caseReference
        )
        (self.pseudonyms, self.month, self.createdAt, self.expiresAt, self.state) = (
            pseudonyms, month, createdAt, expiresAt, state
        )
        (self.decidedBy, self.decidedAt, self.decisionReason, self.releasedAt) = (
            decidedBy, decidedAt, decisionReason, releasedAt
        )
    }
}

/// A pseudonym a stream delivers now: its person, and the person's sealed identity if a current
/// record holds one.
package struct ReidentificationSubject: Sendable {
    package let person: InternalPseudonym
    package let identity: String?
    package init(person: InternalPseudonym, identity: String?) { (self.person, self.identity) = (person, identity) }
}

/// Per region, month, purpose and reason: requests and people by state (the review page and the
/// auditor's summary).
package struct ReidentificationTally: Sendable, Equatable, Codable {
    package let region: RegionNumber
    package let month: Int
    package let purpose: PurposeID
    package let reason: String
    package let state: ReidentificationState
    package let requests: Int
    package let people: Int
    package init(
        region: RegionNumber,
        month: Int,
        purpose: PurposeID,
        reason: String,
        state: ReidentificationState,
        requests: Int,
        people: Int
    ) {
        (self.region, self.month, self.purpose, self.reason, self.state, self.requests, self.people) = (
            region, month, purpose, reason, state, requests, people
        )
    }
}

/// What was asked of a change of state, and what the store found.
package enum ReidentificationChange: Sendable, Equatable {
    /// Done, with its audit entry.
    case done(ReidentificationRequest)
    /// The request was not in the state the change needs (decided, released or expired meanwhile).
    case notIn(ReidentificationState)
    case notFound
}

/// Re-identification requests, their quota, and who the pseudonyms of re-identifying purposes are.
package protocol ReidentificationStore: Sendable {
    /// Per pseudonym of `pseudonyms` that `stream` delivers now: its subject. The others are absent.
    func subjects(_ pseudonyms: [String], in stream: DeliveryStream) async throws -> [String: ReidentificationSubject]
    /// Stores `request` with `audit`, in one transaction, if its region's requests of the month for
    /// its purpose (waiting, approved or released) and it name at most `quota` people together;
    /// otherwise stores nothing but `refused` and returns how many the month already holds.
    func createReidentification(
        _ request: ReidentificationRequest,
        quota: Int,
        audit: AuditEvent,
        refused: @Sendable (Int) -> AuditEvent
    ) async throws -> Int?
    func reidentification(_ id: String) async throws -> ReidentificationRequest?
    /// Requests in `state` (every state if `nil`), of `region` if given, newest first.
    func reidentifications(
        state: ReidentificationState?,
        region: RegionNumber?,
        limit: Int
    ) async throws -> [ReidentificationRequest]
    /// Moves request `id` from `from` to `change`'s state with its audit entry, in one transaction.
    func changeReidentification(
        _ id: String,
        from: ReidentificationState,
        to change: @Sendable (inout ReidentificationRequest) -> Void,
        audit: @Sendable (ReidentificationRequest) -> AuditEvent
    ) async throws -> ReidentificationChange
    /// Requests waiting or approved whose time ran out before `now`.
    func overdueReidentifications(at now: Date, limit: Int) async throws -> [ReidentificationRequest]
    func reidentificationTallies() async throws -> [ReidentificationTally]
    /// Removes the sealed identity from every current record of each dataset last confirmed
    /// before its cutoff (the record itself stays, for the purposes that keep it longer); with
    /// `audit` of the number removed, if any, in the same transaction. Returns that number.
    func forgetIdentities(
        before cutoffs: [DatasetID: Date],
        audit: @escaping @Sendable (Int) -> AuditEvent
    ) async throws -> Int
}

package enum ReidentificationTables {
    static let sqlite = """
        CREATE TABLE subjects (
            stream INTEGER NOT NULL, pseudonym TEXT NOT NULL, person BLOB NOT NULL,
            PRIMARY KEY (stream, pseudonym)
        ) WITHOUT ROWID;
        CREATE INDEX subjects_person ON subjects (person);
        CREATE TABLE reidentifications (
            id TEXT PRIMARY KEY, region INTEGER NOT NULL, purpose TEXT NOT NULL, requester TEXT NOT NULL,
            reason TEXT NOT NULL, case_reference TEXT NOT NULL, pseudonyms TEXT NOT NULL, people INTEGER NOT NULL,
            month INTEGER NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'refused', 'released', 'expired')),
            decided_by TEXT, decided_at REAL, decision_reason TEXT, released_at REAL
        );
        CREATE INDEX reidentifications_quota ON reidentifications (region, purpose, month);
        CREATE INDEX reidentifications_open ON reidentifications (expires_at) WHERE state IN ('pending', 'approved');
        CREATE INDEX reidentifications_created ON reidentifications (created_at);
        """

    static let columns =
        "id, region, purpose, requester, reason, case_reference, pseudonyms, month, created_at, expires_at, state, decided_by, decided_at, decision_reason, released_at"

    /// The identity held in a record's stored fields, if any.
    package static func identity(in fields: String) -> String? {
        guard fields.contains(IdentityVault.storedField) else { return nil }
        if case .text(let sealed)? = FlatJSON.decodeFields(fields)[IdentityVault.storedField] { return sealed }
        return nil
    }
}
