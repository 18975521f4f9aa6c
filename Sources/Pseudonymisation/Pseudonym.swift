import VangnetCore
import VangnetCrypto

/// The gateway's internal pseudonym of a person: a keyed BLAKE2b-256 of the BSN.
///
/// Stored with each record so that a person's DUO and UWV records meet; never sent to a region.
/// Its bytes do not print (`description` is redacted) so it cannot reach a log or audit entry.
package struct InternalPseudonym: Sendable, Hashable, CustomStringConvertible {
    /// The 32 hash bytes (what the store keeps).
    package let bytes: [UInt8]
    /// The key epoch it was made under.
    package let epoch: UInt32

    /// Reconstructs a stored pseudonym.
    package init(storedBytes: [UInt8], epoch: UInt32) {
        self.bytes = storedBytes
        self.epoch = epoch
    }

    package var description: String { "InternalPseudonym(epoch \(epoch), redacted)" }
}

/// The pseudonym a region receives: stable for one person within (region, purpose, epoch),
/// unlinkable across regions, purposes and epochs.
///
/// Textual form: `vp1.e<epoch>.<32 hex digits>`, naming the scheme (`vp1`: keyed BLAKE2b-128 over
/// the internal pseudonym, region and purpose) and the key epoch.
package struct DeliveryPseudonym: Sendable, Hashable, CustomStringConvertible {
    package let text: String
    package var description: String { text }
}

/// What identifies a stored record: 16 bytes of BLAKE2b over its internal pseudonym, its dataset
/// and the values of the dataset's key fields. Derived from the keyed pseudonym, so it carries no
/// BSN and links to nothing outside the gateway; regions never see it (they get
/// ``Pseudonymiser/deliveryRecordID(for:epoch:region:purpose:)``). Two words, so a set of a
/// million keys (the records of one complete picture) takes 16 MB and no allocation per key.
package struct RecordKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    let high: UInt64
    let low: UInt64

    /// The key of the record of `person` in `dataset` with these key-field values
    /// (`DatasetSchema.identity(of:)`).
    package init(person: InternalPseudonym, dataset: DatasetID, identity: [UInt8]) {
        var input = Array("vangnet/record/v1:".utf8)
        input.append(contentsOf: person.bytes)
        input.append(contentsOf: dataset.value.utf8)
        input.append(0)
        input.append(contentsOf: identity)
        self.init(storedBytes: GenericHash.hash(input, outputLength: 16))
    }

    /// A key read back from the store (16 bytes).
    package init(storedBytes b: [UInt8]) {
        precondition(b.count == 16, "a record key has 16 bytes")
        high = b[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = b[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A key read back from the store, from a buffer of 16 bytes.
    package init(storedBytes b: UnsafeRawBufferPointer) {
        precondition(b.count == 16, "a record key has 16 bytes")
        high = b[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = b[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The 16 bytes, big-endian words: the order of `<` is the order of the bytes.
    package var bytes: [UInt8] {
        (0..<16).map { k in UInt8(truncatingIfNeeded: (k < 8 ? high : low) >> (56 - 8 * UInt64(k % 8))) }
    }

    package static func < (a: Self, b: Self) -> Bool { (a.high, a.low) < (b.high, b.low) }
    package var description: String { "RecordKey(redacted)" }
}
