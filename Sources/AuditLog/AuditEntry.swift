import Foundation
import VangnetCore

/// One event in the audit log, before it is chained: who did what to which object, with what
/// outcome. Holds identifiers, counts and reason codes only; never a BSN, a pseudonym of a
/// person or a record value.
public struct AuditEvent: Sendable, Codable, Equatable {
    /// What happened.
    public enum Action: String, Sendable, Codable, CaseIterable {
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
    }

    public enum Outcome: String, Sendable, Codable {
        case success
        case refused
        case failed
    }

    public var time: Date
    public var actor: OIN?
    public var role: Role?
    public var action: Action
    /// What it was done to: `batch:<source>/<id>`, `purpose:<id>/region:<n>`, ...
    public var object: String
    public var outcome: Outcome
    /// A stable reason code for refusals and failures.
    public var reason: String?
    /// Counts (records accepted, rejected per reason code, records delivered, ...).
    public var counts: [String: Int]
    /// The region concerned (a pull, an explanation), for filtering.
    public var region: RegionNumber?
    /// The purpose concerned, if the gateway knows it.
    public var purpose: PurposeID?
    /// The dataset concerned (a push).
    public var dataset: DatasetID?

    public init(time: Date, actor: OIN?, role: Role?, action: Action, object: String, outcome: Outcome, reason: String? = nil,
                counts: [String: Int] = [:], region: RegionNumber? = nil, purpose: PurposeID? = nil, dataset: DatasetID? = nil) {
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
public struct AuditRecord: Sendable, Equatable {
    public let sequence: Int64
    public let event: AuditEvent
    /// Hash of the previous record (32 zero bytes for the first).
    public let previousHash: [UInt8]
    public let hash: [UInt8]

    public init(sequence: Int64, event: AuditEvent, previousHash: [UInt8], hash: [UInt8]) {
        self.sequence = sequence
        self.event = event
        self.previousHash = previousHash
        self.hash = hash
    }
}
