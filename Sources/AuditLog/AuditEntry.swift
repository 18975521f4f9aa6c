import Foundation
import VangnetCore

/// One event in the audit log, before it is chained: who did what to which object, with what
/// outcome. Holds identifiers, counts and reason codes only; never a BSN, a pseudonym of a
/// person or a record value.
package struct AuditEvent: Sendable, Codable, Equatable {
    /// What happened.
    package enum Action: String, Sendable, Codable, CaseIterable {
        case batchPush = "batch.push"
        case batchRetry = "batch.retry"
        case pull = "records.pull"
        case identity = "identity.check"
        case configLoad = "config.load"
        case keyEpoch = "key.epoch"
        case policyExplain = "policy.explain"
        /// A TLS handshake the gateway refused (no certificate, an untrusted one).
        case tlsHandshake = "tls.handshake"
        /// Connections or requests refused by a resource limit (summarised per second and reason).
        case limit = "limit.refused"
        /// An auditor read the audit log (API or review page).
        case auditRead = "audit.read"
        /// An operator ran a command against the store (export, verify, key rotation).
        case operatorCommand = "operator.command"
        /// Records past their retention were removed.
        case retentionPurge = "retention.purge"
        case auditVerify = "audit.verify"
        /// A contactgemeente asked who the people behind some pseudonyms are.
        case reidentificationRequest = "reidentification.request"
        /// An approver approved or refused a re-identification request.
        case reidentificationDecision = "reidentification.decide"
        /// The BSNs of an approved request were released, sealed to the contactgemeente's key.
        case reidentificationRelease = "reidentification.release"
        /// A request waited past its time for a decision or a release.
        case reidentificationExpiry = "reidentification.expire"
        /// The number of records a region has not collected within its purpose's working days changed.
        case deliveryOverdue = "delivery.overdue"
    }

    package enum Outcome: String, Sendable, Codable {
        case success
        case refused
        case failed
    }

    package var time: Date
    package var actor: OIN?
    package var role: Role?
    package var action: Action
    /// What it was done to: `batch:<source>/<id>`, `purpose:<id>/region:<n>`, ...
    package var object: String
    package var outcome: Outcome
    /// A stable reason code for refusals and failures.
    package var reason: String?
    /// Counts (records accepted, rejected per reason code, records delivered, ...).
    package var counts: [String: Int]
    /// The region concerned (a pull, an explanation), for filtering.
    package var region: RegionNumber?
    /// The purpose concerned, if the gateway knows it.
    package var purpose: PurposeID?
    /// The dataset concerned (a push).
    package var dataset: DatasetID?

    package init(
        time: Date,
        actor: OIN?,
        role: Role?,
        action: Action,
        object: String,
        outcome: Outcome,
        reason: String? = nil,
        counts: [String: Int] = [:],
        region: RegionNumber? = nil,
        purpose: PurposeID? = nil,
        dataset: DatasetID? = nil
    ) {
        self.time = time
        self.actor = actor
        self.role = role
        self.action = action
        self.object = object
        self.outcome = outcome
        self.reason = reason
        self.counts = counts
        self.region = region
        self.purpose = purpose
        self.dataset = dataset
    }
}

/// An event as stored: its place in the chain and the hashes that bind it there.
package struct AuditRecord: Sendable, Equatable {
    package let sequence: Int64
    package let event: AuditEvent
    /// Hash of the previous record (32 zero bytes for the first).
    package let previousHash: [UInt8]
    package let hash: [UInt8]

    package init(sequence: Int64, event: AuditEvent, previousHash: [UInt8], hash: [UInt8]) {
        self.sequence = sequence
        self.event = event
        self.previousHash = previousHash
        self.hash = hash
    }
}
