import Foundation
import Records
import VangnetCore
import VangnetCrypto

/// A validated record with the BSN replaced by the internal pseudonym: the first type in the
/// flow that may be stored. Made by ``Pseudonymiser`` alone: its initialiser is internal to this
/// module, and the pseudonymiser is its one caller.
package struct PseudonymisedRecord: Sendable {
    package let dataset: DatasetID
    package let line: Int
    package let person: InternalPseudonym
    package let municipality: MunicipalityCode
    /// The record's fields without the BSN, as one flat JSON object (what the store keeps).
    package let storedFields: String
    /// What identifies the record within its dataset: its person and key fields.
    package let key: RecordKey
}

/// A withdrawal with the BSN replaced by the internal pseudonym. Made by ``Pseudonymiser`` alone
/// (an initialiser internal to this module).
package struct PseudonymisedWithdrawal: Sendable {
    package let dataset: DatasetID
    package let line: Int
    package let person: InternalPseudonym
    /// The record withdrawn.
    package let key: RecordKey
}

/// Replaces BSNs by keyed pseudonyms, and derives the pseudonyms regions receive.
///
/// New records are pseudonymised under the current epoch's keys; a stored record is delivered
/// under the keys of the epoch it was stored in, as long as those keys are held.
package struct Pseudonymiser: Sendable {
    private let keys: PseudonymKeys
    private let epochs: [UInt32: PseudonymKeys]
    private static let bsnPrefix = Array("vangnet/bsn/v1:".utf8)

    /// A pseudonymiser with one epoch.
    package init(keys: PseudonymKeys) { self.init(current: keys, earlier: []) }

    /// A pseudonymiser for `current`, still able to deliver records stored under `earlier` epochs.
    package init(current: PseudonymKeys, earlier: [PseudonymKeys]) {
        self.keys = current
        self.epochs = Dictionary((earlier + [current]).map { ($0.epoch, $0) }) { _, last in last }
    }

    /// The current key epoch.
    package var epoch: UInt32 { keys.epoch }

    /// Every epoch whose keys are held, in order.
    package var heldEpochs: [UInt32] { epochs.keys.sorted() }

    /// The internal pseudonym of `bsn`.
    package func internalPseudonym(of bsn: BSN) -> InternalPseudonym {
        let bytes = bsn.withDigits { digits in
            // prefix || digits written straight into a stack buffer (no concatenated copy on the
            // heap), wiped after hashing. The digits themselves live as long as the BSN value.
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.bsnPrefix.count + digits.count) { buffer in
                let end = buffer.initialize(fromContentsOf: Self.bsnPrefix)
                _ = UnsafeMutableBufferPointer(rebasing: buffer[end...]).initialize(fromContentsOf: digits)
                defer { buffer.update(repeating: 0) }
                return GenericHash.keyedHash(UnsafeRawBufferPointer(buffer), key: keys.internalKey)
            }
        }
        return InternalPseudonym(storedBytes: bytes, epoch: keys.epoch)
    }

    /// The validated record with its BSN replaced by the internal pseudonym: what this returns
    /// holds no BSN, so the BSN goes no further along the flow than this call.
    ///
    /// With `vault`, the BSN is kept for re-identification: sealed under the vault's key (bound to
    /// the internal pseudonym) and added to the stored fields as ``IdentityVault/storedField``.
    package func pseudonymise(
        _ record: ValidatedRecord,
        keepingIdentityIn vault: IdentityVault? = nil
    ) -> PseudonymisedRecord {
        let person = internalPseudonym(of: record.bsn)
        return PseudonymisedRecord(
            dataset: record.dataset,
            line: record.line,
            person: person,
            municipality: record.municipality,
            storedFields: vault?.storedFields(record.storedFields, keeping: record.bsn, of: person)
                ?? record.storedFields,
            key: RecordKey(person: person, dataset: record.dataset, identity: record.identity)
        )
    }

    /// The validated withdrawal with its BSN replaced by the internal pseudonym.
    package func pseudonymise(_ withdrawal: ValidatedWithdrawal) -> PseudonymisedWithdrawal {
        let person = internalPseudonym(of: withdrawal.bsn)
        return PseudonymisedWithdrawal(
            dataset: withdrawal.dataset,
            line: withdrawal.line,
            person: person,
            key: RecordKey(person: person, dataset: withdrawal.dataset, identity: withdrawal.identity)
        )
    }

    /// Seals `payload` for `context` under the current epoch's cursor key: opaque to whoever holds
    /// it, and only ``openToken(_:context:)`` with the same context reads it back. Text:
    /// `e<epoch>.<base64url>`.
    package func sealToken(_ payload: [UInt8], context: String) -> String {
        "e\(keys.epoch)." + Self.base64url(AEAD.seal(payload, associated: Array(context.utf8), key: keys.cursorKey))
    }

    /// The payload of a ``sealToken(_:context:)`` token, or `nil` if it was not made by this
    /// gateway for `context` under a held epoch.
    package func openToken(_ token: some StringProtocol, context: String) -> [UInt8]? {
        let parts = token.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].first == "e", let epoch = UInt32(parts[0].dropFirst()),
            let keys = epochs[epoch],
            let box = Self.base64urlDecode(parts[1])
        else { return nil }
        return AEAD.open(box, associated: Array(context.utf8), key: keys.cursorKey)
    }

    private static let base64urlAlphabet = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8
    )

    /// Appends base64url without padding of `bytes` to `out`.
    static func appendBase64url(_ bytes: [UInt8], to out: inout [UInt8]) {
        let alphabet = base64urlAlphabet
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(alphabet[Int(n & 63)])
            i += 3
        }
        let rest = bytes.count - i
        guard rest > 0 else { return }
        let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
        out.append(alphabet[Int(n >> 18 & 63)])
        out.append(alphabet[Int(n >> 12 & 63)])
        if rest == 2 { out.append(alphabet[Int(n >> 6 & 63)]) }
    }

    /// Base64url without padding, written byte by byte (on the ingest path, once per record kept
    /// for re-identification).
    static func base64url(_ bytes: [UInt8]) -> String {
        let count = (bytes.count * 4 + 2) / 3
        return String(unsafeUninitializedCapacity: count) { out in
            let alphabet = base64urlAlphabet
            var (i, o) = (0, 0)
            while i + 3 <= bytes.count {
                let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                out[o] = alphabet[Int(n >> 18 & 63)]
                out[o + 1] = alphabet[Int(n >> 12 & 63)]
                out[o + 2] = alphabet[Int(n >> 6 & 63)]
                out[o + 3] = alphabet[Int(n & 63)]
                (i, o) = (i + 3, o + 4)
            }
            let rest = bytes.count - i
            if rest > 0 {
                let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
                out[o] = alphabet[Int(n >> 18 & 63)]
                out[o + 1] = alphabet[Int(n >> 12 & 63)]
                if rest == 2 { out[o + 2] = alphabet[Int(n >> 6 & 63)] }
                o += rest + 1
            }
            return o
        }
    }

    static func base64urlDecode(_ text: some StringProtocol) -> [UInt8]? {
        guard text.count <= 512,
            text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { return nil }
        var s = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map { Array($0) }
    }

    /// The identifier under which `region` receives the record `key` for `purpose`: stable for
    /// as long as the record exists, unlinkable across regions, purposes and epochs (like the
    /// delivery pseudonym); `nil` if the epoch's keys are no longer held. Its text is
    /// `vr1.<32 hex digits>` (``deliveryRecordID(digest:)``) of ``deliveryRecordDigest(_:region:purpose:epoch:)``.
    package func deliveryRecordID(
        for key: RecordKey,
        epoch: UInt32,
        region: RegionNumber,
        purpose: PurposeID
    ) -> String? {
        deliveryRecordDigest(key, region: region, purpose: purpose, epoch: epoch).map(Self.deliveryRecordID(digest:))
    }

    /// The text of a delivered record identifier with these 16 bytes.
    package static func deliveryRecordID(digest: [UInt8]) -> String { "vr1." + Hex.encode(digest) }

    /// The 16 bytes of ``deliveryRecordID(for:epoch:region:purpose:)``.
    package func deliveryRecordDigest(
        _ key: RecordKey,
        region: RegionNumber,
        purpose: PurposeID,
        epoch: UInt32
    ) -> [UInt8]? {
        guard let keys = epochs[epoch] else { return nil }
        var input: [UInt8] = Array(
            "vangnet/delivery-record/v1:region=\(region.value);purpose=\(purpose.value);record=".utf8
        )
        input.append(contentsOf: key.bytes)
        return GenericHash.keyedHash(input, key: keys.deliveryKey, outputLength: 16)
    }

    /// The pseudonym that `region` receives for `person` under `purpose`, in the person's epoch;
    /// `nil` if that epoch's keys are no longer held (its records cannot be delivered).
    package func deliveryPseudonym(
        for person: InternalPseudonym,
        region: RegionNumber,
        purpose: PurposeID
    ) -> DeliveryPseudonym? {
        guard let keys = epochs[person.epoch] else { return nil }
        var input: [UInt8] = Array("vangnet/delivery/v1:region=\(region.value);purpose=\(purpose.value);person=".utf8)
        input.append(contentsOf: person.bytes)
        let digest = GenericHash.keyedHash(input, key: keys.deliveryKey, outputLength: 16)
        return DeliveryPseudonym(text: "vp1.e\(keys.epoch).\(Hex.encode(digest))")
    }
}
