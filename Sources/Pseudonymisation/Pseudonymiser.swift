import Records
import VangnetCore
import VangnetCrypto

/// A validated record with the BSN replaced by the internal pseudonym: the first type in the
/// flow that may be stored. Only ``Pseudonymiser`` makes one.
public struct PseudonymisedRecord: Sendable {
    public let dataset: DatasetID
    public let line: Int
    public let person: InternalPseudonym
    public let municipality: MunicipalityCode
    /// The record's fields without the BSN, as one flat JSON object (what the store keeps).
    public let storedFields: String
}

/// Replaces BSNs by keyed pseudonyms, and derives the pseudonyms regions receive.
///
/// New records are pseudonymised under the current epoch's keys; a stored record is delivered
/// under the keys of the epoch it was stored in, as long as those keys are held.
public struct Pseudonymiser: Sendable {
    private let keys: PseudonymKeys
    private let epochs: [UInt32: PseudonymKeys]
    private static let bsnPrefix = Array("vangnet/bsn/v1:".utf8)

    /// A pseudonymiser with one epoch.
    public init(keys: PseudonymKeys) { self.init(current: keys, earlier: []) }

    /// A pseudonymiser for `current`, still able to deliver records stored under `earlier` epochs.
    public init(current: PseudonymKeys, earlier: [PseudonymKeys]) {
        self.keys = current
        self.epochs = Dictionary((earlier + [current]).map { ($0.epoch, $0) }) { _, last in last }
    }

    /// The current key epoch.
    public var epoch: UInt32 { keys.epoch }

    /// Every epoch whose keys are held, in order.
    public var heldEpochs: [UInt32] { epochs.keys.sorted() }

    /// The internal pseudonym of `bsn`.
    public func internalPseudonym(of bsn: BSN) -> InternalPseudonym {
        let bytes = bsn.withDigits { digits in
            // prefix || digits in a stack buffer, wiped after hashing.
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.bsnPrefix.count + digits.count) { buffer in
                _ = buffer.initialize(from: Self.bsnPrefix + digits)
                defer { buffer.update(repeating: 0) }
                return GenericHash.keyedHash(UnsafeRawBufferPointer(buffer), key: keys.internalKey)
            }
        }
        return InternalPseudonym(storedBytes: bytes, epoch: keys.epoch)
    }

    /// Consumes a validated record: the BSN goes no further than this call.
    public func pseudonymise(_ record: ValidatedRecord) -> PseudonymisedRecord {
        PseudonymisedRecord(
            dataset: record.dataset,
            line: record.line,
            person: internalPseudonym(of: record.bsn),
            municipality: record.municipality,
            storedFields: record.storedFields
        )
    }

    /// The pseudonym that `region` receives for `person` under `purpose`, in the person's epoch;
    /// `nil` if that epoch's keys are no longer held (its records cannot be delivered).
    public func deliveryPseudonym(for person: InternalPseudonym, region: RegionNumber, purpose: PurposeID) -> DeliveryPseudonym? {
        guard let keys = epochs[person.epoch] else { return nil }
        var input: [UInt8] = Array("vangnet/delivery/v1:region=\(region.value);purpose=\(purpose.value);person=".utf8)
        input.append(contentsOf: person.bytes)
        let digest = GenericHash.keyedHash(input, key: keys.deliveryKey, outputLength: 16)
        return DeliveryPseudonym(text: "vp1.e\(keys.epoch).\(Hex.encode(digest))")
    }
}
