import AuditLog
import Foundation
import Pseudonymisation
import Records
import VangnetCore
import VangnetCrypto

/// A pseudonymised record routed to its region: what the store keeps.
public struct RoutedRecord: Sendable {
    public let record: PseudonymisedRecord
    /// The region of the record's municipality of residence.
    public let region: RegionNumber

    public init(record: PseudonymisedRecord, region: RegionNumber) {
        self.record = record
        self.region = region
    }
}

/// What happened when a batch was offered for commit.
public enum BatchCommitOutcome: Sendable {
    /// Committed now, with this receipt.
    case committed(SignedReceiptJSON)
    /// The same source already committed this batch id with the same envelope: the first receipt.
    case duplicate(SignedReceiptJSON)
    /// The same source already committed this batch id with a different envelope.
    case conflict
}

/// A signed receipt as stored (its JSON text).
public typealias SignedReceiptJSON = String

/// A staging area: a batch whose records are being stored but that is not committed.
public struct StagingID: Sendable, Hashable {
    /// The staging batch's row number in its store.
    public let seq: Int64
    public init(seq: Int64) { self.seq = seq }
}

/// The store cannot do what was asked; the message says why (never a record value).
public struct StoreError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// How the store signs audit checkpoints: with the gateway's audit key, every `every` entries.
public struct AuditSigning: Sendable {
    public let key: SigningKeyPair
    public let every: Int
    public init(key: SigningKeyPair, every: Int) {
        precondition(every > 0)
        self.key = key
        self.every = every
    }
}

/// Which audit entries an auditor wants; `nil` matches anything.
public struct AuditFilter: Sendable, Equatable {
    public var from: Date?
    public var to: Date?
    public var actor: OIN?
    public var action: AuditEvent.Action?
    public var region: RegionNumber?
    public var outcome: AuditEvent.Outcome?
    public init(from: Date? = nil, to: Date? = nil, actor: OIN? = nil, action: AuditEvent.Action? = nil, region: RegionNumber? = nil, outcome: AuditEvent.Outcome? = nil) {
        self.from = from
        self.to = to
        self.actor = actor
        self.action = action
        self.region = region
        self.outcome = outcome
    }
}

/// An audit entry as stored: its place, the event, and the chain's hash after it.
public struct StoredAuditEntry: Sendable {
    public let sequence: Int64
    public let event: AuditEvent
    public let hash: [UInt8]
    public init(sequence: Int64, event: AuditEvent, hash: [UInt8]) {
        self.sequence = sequence
        self.event = event
        self.hash = hash
    }
}

/// What one consumer pulled for one purpose in its region, over the whole audit log.
public struct PullSummary: Sendable, Equatable {
    public let region: RegionNumber
    public let purpose: PurposeID?
    public let consumer: OIN
    public let pulls: Int
    public let records: Int
    public let last: Date

    public init(region: RegionNumber, purpose: PurposeID?, consumer: OIN, pulls: Int, records: Int, last: Date) {
        (self.region, self.purpose, self.consumer, self.pulls, self.records, self.last) = (region, purpose, consumer, pulls, records, last)
    }
}

/// What a retention purge removed.
public struct PurgeResult: Sendable, Equatable {
    /// Batches whose records were removed, per dataset.
    public var batches: [DatasetID: Int] = [:]
    /// Records removed, per dataset.
    public var records: [DatasetID: Int] = [:]
    public init() {}
}

/// One audit entry as a store persists it: the next link of the chain (``AuditChain``), signed if
/// it is the last entry its transaction writes (a signature covers the entries before it through
/// the chain), and the checkpoint the signing rule asks for (every `every` entries). Both stores
/// append through ``chain(_:after:signing:)``, so they keep one rule.
public struct AuditAppend: Sendable {
    public let sequence: Int64
    public let event: AuditEvent
    public let canonical: [UInt8]
    public let previousHash: [UInt8]
    public let hash: [UInt8]
    public let signature: [UInt8]?
    public let checkpoint: AuditCheckpoint?

    /// The chain's end before any entry: sequence 0 and the genesis hash.
    public static let emptyHead: (sequence: Int64, hash: [UInt8]) = (0, AuditChain.genesis)

    /// The entries that append `events`, in order, after the chain's `head`.
    public static func chain(_ events: [AuditEvent], after head: (sequence: Int64, hash: [UInt8]), signing: AuditSigning?) -> [AuditAppend] {
        var last = head
        return events.enumerated().map { index, event in
            let sequence = last.sequence + 1, canonical = AuditChain.canonicalBytes(event)
            let hash = AuditChain.hash(canonical, sequence: sequence, previous: last.hash)
            let signature = index == events.count - 1 ? signing.map { AuditChain.sign(hash: hash, key: $0.key) } : nil
            let checkpoint = signing.flatMap { signing in
                sequence % Int64(signing.every) == 0 ? AuditCheckpoint(sequence: sequence, hash: hash, time: event.time, key: signing.key) : nil
            }
            defer { last = (sequence, hash) }
            return AuditAppend(sequence: sequence, event: event, canonical: canonical, previousHash: last.hash, hash: hash,
                               signature: signature, checkpoint: checkpoint)
        }
    }
}
