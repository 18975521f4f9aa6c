import Foundation
import Records
import VangnetCore
import VangnetCrypto

/// The keys of one re-identification epoch, derived from its own root secret (never the
/// pseudonym root): `VNGTRIDE` seals BSNs, `VNGTRINC` makes their synthetic nonces.
package struct IdentityKeys: Sendable, CustomStringConvertible {
    package let epoch: UInt32
    let sealingKey: SecretBytes
    let nonceKey: SecretBytes

    package init(root: SecretBytes, epoch: UInt32) throws {
        self.epoch = epoch
        sealingKey = try KeyDerivation.derive(from: root, context: "VNGTRIDE", id: UInt64(epoch))
        nonceKey = try KeyDerivation.derive(from: root, context: "VNGTRINC", id: UInt64(epoch))
    }

    package var description: String { "IdentityKeys(epoch \(epoch), redacted)" }
}

/// Keeps BSNs for controlled re-identification: sealed under the re-identification key, bound to
/// the person's internal pseudonym, and opened only to be sealed again to a contactgemeente's own
/// public key. Nothing this type returns holds a BSN in the clear.
///
/// A sealed identity is text, `ri1.e<epoch>.<base64url>` of `nonce || XChaCha20-Poly1305(BSN)`,
/// with the internal pseudonym as associated data and a synthetic nonce (keyed BLAKE2b of the
/// pseudonym and the BSN): the same person sealed twice under one epoch gives the same text, so a
/// record sent again unchanged stays unchanged in the store.
package struct IdentityVault: Sendable {
    private let keys: IdentityKeys
    private let epochs: [UInt32: IdentityKeys]

    /// The member of a record's stored fields that holds its sealed identity. No dataset field can
    /// have this name (field names are lower-case words), so no purpose can deliver it.
    package static let storedField = "$identity"

    /// A vault sealing under `current`, still opening what `earlier` epochs sealed.
    package init(current: IdentityKeys, earlier: [IdentityKeys] = []) {
        keys = current
        epochs = Dictionary((earlier + [current]).map { ($0.epoch, $0) }) { _, last in last }
    }

    /// The epoch new identities are sealed under.
    package var epoch: UInt32 { keys.epoch }

    /// Every epoch whose key is held, in order.
    package var heldEpochs: [UInt32] { epochs.keys.sorted() }

    private static func associated(_ person: InternalPseudonym) -> [UInt8] {
        Array("vangnet/identity/v1:e\(person.epoch):".utf8) + person.bytes
    }

    /// `bsn` sealed for `person`.
    package func seal(_ bsn: BSN, of person: InternalPseudonym) -> String {
        let associated = Self.associated(person)
        let box = bsn.withDigits { digits in
            // associated data || digits in a stack buffer, wiped after hashing.
            let nonce = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: associated.count + digits.count) {
                buffer in
                let end = buffer.initialize(fromContentsOf: associated)
                _ = UnsafeMutableBufferPointer(rebasing: buffer[end...]).initialize(fromContentsOf: digits)
                defer { buffer.update(repeating: 0) }
                return GenericHash.keyedHash(UnsafeRawBufferPointer(buffer), key: keys.nonceKey, outputLength: 24)
            }
            return digits.withUnsafeBytes { AEAD.seal($0, associated: associated, key: keys.sealingKey, nonce: nonce) }
        }
        return "ri1.e\(keys.epoch)." + Pseudonymiser.base64url(box)
    }

    /// The record's stored fields with `sealed` added as ``storedField``.
    package static func storedFields(_ fields: String, adding sealed: String) -> String {
        precondition(fields.hasSuffix("}") && fields.count > 2)
        return fields.dropLast() + ",\"\(storedField)\":\"\(sealed)\"}"
    }

    /// Why a sealed identity could not be released.
    package enum Unreleasable: Error, Sendable, Equatable {
        /// Sealed under an epoch whose key is no longer held.
        case epochNotHeld
        /// Not a sealed identity of this person (altered, or another person's).
        case doesNotOpen
    }

    /// Opens `sealed` (of `person`) and seals the BSN with `pseudonym` to `recipient`: the
    /// plaintext `vangnet-reveal-v1\n<pseudonym>\n<BSN>` in a sealed box (X25519, libsodium's
    /// `crypto_box_seal`) that only the holder of the recipient's secret key opens. The BSN exists
    /// in the clear only in a buffer wiped before this returns.
    package func release(
        _ sealed: String,
        of person: InternalPseudonym,
        as pseudonym: String,
        to recipient: BoxPublicKey
    ) -> Result<[UInt8], Unreleasable> {
        let parts = sealed.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "ri1", parts[1].first == "e", let epoch = UInt32(parts[1].dropFirst())
        else { return .failure(.doesNotOpen) }
        guard let keys = epochs[epoch] else { return .failure(.epochNotHeld) }
        guard let box = Pseudonymiser.base64urlDecode(parts[2]) else { return .failure(.doesNotOpen) }
        let prefix = Array("\(Self.revealPrefix)\n\(pseudonym)\n".utf8)
        let released = AEAD.withOpened(box, associated: Self.associated(person), key: keys.sealingKey) { digits in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: prefix.count + digits.count) { buffer in
                let end = buffer.initialize(fromContentsOf: prefix)
                _ = UnsafeMutableBufferPointer(rebasing: buffer[end...]).initialize(fromContentsOf: digits)
                defer { buffer.update(repeating: 0) }
                return recipient.seal(UnsafeRawBufferPointer(buffer))
            }
        }
        return released.map { .success($0) } ?? .failure(.doesNotOpen)
    }

    /// The first line of a released plaintext.
    package static let revealPrefix = "vangnet-reveal-v1"

    /// What a region reads from a release with its secret key: the pseudonym the BSN was released
    /// for, and the BSN (given to `body` only, never returned).
    package static func reveal<R>(
        _ sealed: [UInt8],
        with key: BoxKeyPair,
        _ body: (_ pseudonym: String, _ bsn: BSN) throws -> R
    ) throws -> R? {
        let plain = try key.open(sealed)
        return try plain.withUnsafeBytes { bytes -> R? in
            let lines = bytes.split(separator: 0x0A, maxSplits: 2, omittingEmptySubsequences: false)
            guard lines.count == 3, Array(lines[0]) == Array(revealPrefix.utf8), let bsn = BSN(utf8: Array(lines[2]))
            else { return nil }
            return try body(String(decoding: lines[1], as: UTF8.self), bsn)
        }
    }
}
