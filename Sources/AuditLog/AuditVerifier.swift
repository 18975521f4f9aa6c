import VangnetCore
import VangnetCrypto

/// The result of recomputing the audit chain.
package enum AuditVerdict: Sendable, Equatable {
    /// Every record links to the one before; `head` is the last hash; `checkpoints` signed
    /// checkpoints matched the chain.
    case intact(count: Int, head: [UInt8], checkpoints: Int)
    /// The first record at which the chain breaks, and how.
    case broken(sequence: Int64, reason: String)
}

/// Recomputes the chain over stored or exported records, as they are read, with constant memory
/// (plus the checkpoints).
///
/// Checkpoints are checked as the walk reaches them: the chain's hash there must be the signed
/// one, and the signature must verify under the audit key. A checkpoint beyond the last record
/// means the log was cut short after it was signed. Give the checkpoints an auditor kept from
/// earlier (`held`) to detect a log cut short and re-chained before them.
///
/// With the audit key, every entry must also be covered by a signature: an entry's own signature
/// (the gateway signs the last entry of every transaction that appends) or a signed checkpoint at
/// or after it. A signature is over the entry's chain hash, which binds every entry before it:
/// once the chain is recomputed, the newest signature vouches for all older entries, so it is the
/// one checked (the walk stays one signature check, whatever the length). Entries that nothing
/// signed (a tail recomputed by someone without the key, or a chain without any signature) make
/// the verdict `broken`, loudly, never "intact". Readable columns given with an entry are checked
/// against its canonical bytes.
package struct AuditVerifier {
    private var expectedSequence: Int64 = 1
    private var previous = AuditChain.genesis
    private var count = 0
    private var failure: (Int64, String)?
    private var pending: [Int64: [(AuditCheckpoint, held: Bool)]] = [:]
    private var matched = 0
    private let key: SigningPublicKey?
    /// The first entry since the last signature (own or checkpoint) that no signature covers yet.
    private var firstUncovered: Int64?
    /// The newest entry signature seen, checked in ``verdict()``.
    private var newestSignature: (sequence: Int64, hash: [UInt8], signature: [UInt8])?

    /// - Parameters:
    ///   - checkpoints: the checkpoints stored or exported with the log.
    ///   - held: checkpoints the auditor kept; each must be matched.
    ///   - key: the gateway's audit key; without it, signatures are not checked (hashes still are).
    package init(checkpoints: [AuditCheckpoint] = [], held: [AuditCheckpoint] = [], key: SigningPublicKey? = nil) {
        self.key = key
        for checkpoint in checkpoints { pending[checkpoint.sequence, default: []].append((checkpoint, false)) }
        for checkpoint in held { pending[checkpoint.sequence, default: []].append((checkpoint, true)) }
        if let key {
            for (checkpoint, held) in pending.values.joined() where !checkpoint.isSigned(by: key) {
                failure = (
                    checkpoint.sequence,
                    "\(held ? "the held " : "")checkpoint at entry \(checkpoint.sequence) is not signed by the audit key \(key.keyID)"
                )
                break
            }
        }
    }

    /// Checks the next record: its link and hash, its own `signature` (if it has one), and its
    /// stored `columns` (if given) against its canonical bytes.
    package mutating func check(
        sequence: Int64,
        canonicalEvent: [UInt8],
        previousHash: [UInt8],
        hash: [UInt8],
        signature: [UInt8]? = nil,
        columns: AuditColumns? = nil
    ) {
        guard failure == nil else { return }
        if sequence != expectedSequence {
            failure = (
                sequence, sequence > expectedSequence ? "record \(expectedSequence) is missing" : "record out of order"
            )
            return
        }
        guard previousHash == previous else {
            failure = (sequence, "does not link to the record before it")
            return
        }
        guard AuditChain.hash(canonicalEvent, sequence: sequence, previous: previous) == hash else {
            failure = (sequence, "its content does not match its hash (edited)")
            return
        }
        if let columns, let column = columns.mismatch(with: canonicalEvent) {
            failure = (
                sequence, "its stored \(column) column differs from the chained entry (edited outside the chain)"
            )
            return
        }
        if key != nil {
            if let signature {
                newestSignature = (sequence, hash, signature)
                firstUncovered = nil
            } else if firstUncovered == nil {
                firstUncovered = sequence
            }
        }
        if let checkpoints = pending.removeValue(forKey: sequence) {
            firstUncovered = nil
            let hex = Hex.encode(hash)
            for (checkpoint, held) in checkpoints {
                guard checkpoint.hash == hex else {
                    failure = (
                        sequence,
                        "the chain differs from the \(held ? "held " : "")signed checkpoint at this entry (rewritten)"
                    )
                    return
                }
                matched += 1
            }
        }
        previous = hash
        expectedSequence += 1
        count += 1
    }

    /// Records a failure found outside the chain's own bytes (an export's readable column).
    package mutating func fail(sequence: Int64, reason: String) {
        if failure == nil { failure = (sequence, reason) }
    }

    /// The verdict over everything checked.
    package func verdict() -> AuditVerdict {
        if let (sequence, reason) = failure { return .broken(sequence: sequence, reason: reason) }
        if let beyond = pending.keys.min() {
            let held = pending[beyond]!.contains { $0.held }
            return .broken(
                sequence: beyond,
                reason:
                    "the log ends at entry \(expectedSequence - 1), but \(held ? "a held" : "a signed") checkpoint covers entry \(beyond) (truncated)"
            )
        }
        if let key, let newest = newestSignature,
            !key.isValidSignature(newest.signature, for: AuditChain.entrySignatureMessage(hash: newest.hash))
        {
            return .broken(
                sequence: newest.sequence,
                reason: "its signature is not the audit key's \(key.keyID) (forged or re-chained)"
            )
        }
        if let first = firstUncovered {
            let last = expectedSequence - 1
            return .broken(
                sequence: first,
                reason: first == 1
                    ? "no entry is signed by the audit key and no signed checkpoint covers any: the chain is not protected (\(last) entries)"
                    : "entries \(first)–\(last) are covered by no signature of the audit key (appended or recomputed without it)"
            )
        }
        return .intact(count: count, head: previous, checkpoints: matched)
    }
}
