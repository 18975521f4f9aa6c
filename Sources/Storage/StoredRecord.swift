import AuditLog
import Foundation
import Pseudonymisation
import Records
import VangnetCore
import VangnetCrypto

/// A pseudonymised record routed to its region: what the store keeps.
package struct RoutedRecord: Sendable {
    package let record: PseudonymisedRecord
    /// The region of the record's municipality of residence.
    package let region: RegionNumber

    package init(record: PseudonymisedRecord, region: RegionNumber) {
        self.record = record
        self.region = region
    }
}

/// What happened when a batch was offered for commit.
package enum BatchCommitOutcome: Sendable {
    /// Committed now, with this receipt.
    case committed(SignedReceiptJSON)
    /// The same source already committed this batch id with the same envelope: the first receipt.
    case duplicate(SignedReceiptJSON)
    /// The same source already committed this batch id with a different envelope.
    case conflict
}

/// A signed receipt as stored (its JSON text).
package typealias SignedReceiptJSON = String

/// A staging area: a batch whose records are being stored but that is not committed.
package struct StagingID: Sendable, Hashable {
    /// The staging batch's row number in its store.
    package let seq: Int64
    package init(seq: Int64) { self.seq = seq }
}

/// The store cannot do what was asked; the message says why (never a record value).
package struct StoreError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// How the store signs audit checkpoints: with the gateway's audit key, every `every` entries.
package struct AuditSigning: Sendable {
    package let key: SigningKeyPair
    package let every: Int
    package init(key: SigningKeyPair, every: Int) {
        precondition(every > 0)
        self.key = key
        self.every = every
    }
}

/// Which audit entries an auditor wants; `nil` matches anything.
package struct AuditFilter: Sendable, Equatable {
    package var from: Date?
    package var to: Date?
    package var actor: OIN?
    package var action: AuditEvent.Action?
    package var region: RegionNumber?
    package var outcome: AuditEvent.Outcome?
    package init(
        from: Date? = nil,
        to: Date? = nil,
        actor: OIN? = nil,
        action: AuditEvent.Action? = nil,
        region: RegionNumber? = nil,
        outcome: AuditEvent.Outcome? = nil
    ) {
        self.from = from
        self.to = to
        self.actor = actor
        self.action = action
        self.region = region
        self.outcome = outcome
    }
}

/// An audit entry as stored: its place, the event, and the chain's hash after it.
package struct StoredAuditEntry: Sendable {
    package let sequence: Int64
    package let event: AuditEvent
    package let hash: [UInt8]
    package init(sequence: Int64, event: AuditEvent, hash: [UInt8]) {
        self.sequence = sequence
        self.event = event
        self.hash = hash
    }
}

/// What one consumer pulled for one purpose in its region, over the whole audit log.
package struct PullSummary: Sendable, Equatable {
    package let region: RegionNumber
    package let purpose: PurposeID?
    package let consumer: OIN
    package let pulls: Int
    package let records: Int
    package let last: Date

    package init(region: RegionNumber, purpose: PurposeID?, consumer: OIN, pulls: Int, records: Int, last: Date) {
        (self.region, self.purpose, self.consumer, self.pulls, self.records, self.last) = (
            region, purpose, consumer, pulls, records, last
        )
    }
}

/// What a retention purge removed.
package struct PurgeResult: Sendable, Equatable {
    /// Batches whose records were removed, per dataset.
    package var batches: [DatasetID: Int] = [:]
    /// Records removed, per dataset.
    package var records: [DatasetID: Int] = [:]
    package init() {}
}

/// One audit entry as a store persists it: the next link of the chain (``AuditChain``), signed if
/// it is the last entry its transaction writes (a signature covers the entries before it through
/// the chain), and the checkpoint the signing rule asks for (every `every` entries). Both stores
/// append through ``chain(_:after:signing:)``, so they keep one rule.
package struct AuditAppend: Sendable {
    package let sequence: Int64
    package let event: AuditEvent
    package let canonical: [UInt8]
    package let previousHash: [UInt8]
    package let hash: [UInt8]
    package let signature: [UInt8]?
    package let checkpoint: AuditCheckpoint?

    /// The chain's end before any entry: sequence 0 and the genesis hash.
    package static let emptyHead: (sequence: Int64, hash: [UInt8]) = (0, AuditChain.genesis)

    /// The entries that append `events`, in order, after the chain's `head`.
    package static func chain(
        _ events: [AuditEvent],
        after head: (sequence: Int64, hash: [UInt8]),
        signing: AuditSigning?
    ) -> [AuditAppend] {
        var last = head
        return events.enumerated().map { index, event in
            let sequence = last.sequence + 1
            let canonical = AuditChain.canonicalBytes(event)
            let hash = AuditChain.hash(canonical, sequence: sequence, previous: last.hash)
            let signature = index == events.count - 1 ? signing.map { AuditChain.sign(hash: hash, key: $0.key) } : nil
            let checkpoint = signing.flatMap { signing in
                sequence % Int64(signing.every) == 0
                    ? AuditCheckpoint(sequence: sequence, hash: hash, time: event.time, key: signing.key) : nil
            }
            defer { last = (sequence, hash) }
            return AuditAppend(
                sequence: sequence,
                event: event,
                canonical: canonical,
                previousHash: last.hash,
                hash: hash,
                signature: signature,
                checkpoint: checkpoint
            )
        }
    }
}
