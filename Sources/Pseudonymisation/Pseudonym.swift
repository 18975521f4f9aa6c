import VangnetCore
import VangnetCrypto

/// The gateway's internal pseudonym of a person: a keyed BLAKE2b-256 of the BSN.
///
/// Stored with each record so that a person's DUO and UWV records meet; never sent to a region.
/// Its bytes do not print (`description` is redacted) so it cannot reach a log or audit entry.
public struct InternalPseudonym: Sendable, Hashable, CustomStringConvertible {
    /// The 32 hash bytes (what the store keeps).
    public let bytes: [UInt8]
    /// The key epoch it was made under.
    public let epoch: UInt32

    /// Reconstructs a stored pseudonym.
    public init(storedBytes: [UInt8], epoch: UInt32) {
        self.bytes = storedBytes
        self.epoch = epoch
    }

    public var description: String { "InternalPseudonym(epoch \(epoch), redacted)" }
}

/// The pseudonym a region receives: stable for one person within (region, purpose, epoch),
/// unlinkable across regions, purposes and epochs.
///
/// Textual form: `vp1.e<epoch>.<32 hex digits>`, naming the scheme (`vp1`: keyed BLAKE2b-128 over
/// the internal pseudonym, region and purpose) and the key epoch.
public struct DeliveryPseudonym: Sendable, Hashable, CustomStringConvertible {
    public let text: String
    public var description: String { text }
}
