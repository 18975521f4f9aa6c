import VangnetCore
import VangnetCrypto

/// The result of recomputing the audit chain.
public enum AuditVerdict: Sendable, Equatable {
    /// Every record links to the one before; `head` is the last hash.
    case intact(count: Int, head: [UInt8])
    /// The first record at which the chain breaks, and how.
    case broken(sequence: Int64, reason: String)
}

/// Recomputes the chain over stored records, as they are read, with constant memory.
///
/// Records are given as stored: sequence, the stored canonical event bytes, and the stored hashes.
public struct AuditVerifier {
    private var expectedSequence: Int64 = 1
    private var previous = AuditChain.genesis
    private var count = 0
    private var failure: (Int64, String)?

    public init() {}

    /// Checks the next stored record.
    public mutating func check(sequence: Int64, canonicalEvent: [UInt8], previousHash: [UInt8], hash: [UInt8]) {
        guard failure == nil else { return }
        if sequence != expectedSequence {
            failure = (sequence, sequence > expectedSequence ? "record \(expectedSequence) is missing" : "record out of order")
            return
        }
        guard previousHash == previous else { failure = (sequence, "does not link to the record before it"); return }
        guard AuditChain.hash(canonicalEvent, sequence: sequence, previous: previous) == hash else {
            failure = (sequence, "its content does not match its hash (edited)")
            return
        }
        previous = hash
        expectedSequence += 1
        count += 1
    }

    /// The verdict over everything checked.
    public func verdict() -> AuditVerdict {
        if let (sequence, reason) = failure { return .broken(sequence: sequence, reason: reason) }
        return .intact(count: count, head: previous)
    }
}
