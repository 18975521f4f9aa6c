import Foundation
import Records
import VangnetCore
import VangnetCrypto

/// The keys of one re-identification epoch, derived from its own root secret (never the
/// pseudonym root): `VNGTRTAG` makes a seal's tag, `VNGTRKEY` its key stream.
package struct IdentityKeys: Sendable, CustomStringConvertible {
    package let epoch: UInt32
    let tagKey: SecretBytes
    let streamKey: SecretBytes

    package init(root: SecretBytes, epoch: UInt32) throws {
        self.epoch = epoch
        tagKey = try KeyDerivation.derive(from: root, context: "VNGTRTAG", id: UInt64(epoch))
        streamKey = try KeyDerivation.derive(from: root, context: "VNGTRKEY", id: UInt64(epoch))
    }

    package var description: String { "IdentityKeys(epoch \(epoch), redacted)" }
}

/// Keeps BSNs for controlled re-identification: sealed under the re-identification key, bound to
/// the person's internal pseudonym, and opened only to be sealed again to a contactgemeente's own
/// public key. Nothing this type returns holds a BSN in the clear.
///
/// A sealed identity is text, `ri1.e<epoch>.<base64url>` of `tag (16 bytes) || ciphertext (9)`:
/// deterministic authenticated encryption in the SIV construction (Rogaway and Shrimpton) from
/// keyed BLAKE2b, a PRF: `tag = BLAKE2b(tagKey, associated || BSN)`, `ciphertext = BSN xor
/// BLAKE2b(streamKey, tag)`; opening recomputes the tag and compares in constant time. The
/// associated data is the internal pseudonym with its epoch, so a seal moved to another person
/// does not open. Deterministic on purpose: the same person sealed twice under one epoch gives
/// the same text, so a record sent again unchanged stays unchanged (equal seals reveal only what
/// equal internal pseudonyms already do). Four BLAKE2b compressions, no allocation beyond the
/// text: ingest seals every record a re-identifying purpose delivers (performance.md).
package struct IdentityVault: Sendable {
    private let keys: IdentityKeys
    private let epochs: [UInt32: IdentityKeys]

    /// The member of a record's stored fields that holds its sealed identity. No dataset field can
    /// have this name (field names are lower-case words), so no purpose can deliver it.
    package static let storedField = "$identity"

    /// A vault sealing under `current`, still opening what `earlier` epochs sealed.
    package init(current: IdentityKeys, earlier: [IdentityKeys] = []) {
        keys = current
        sealedPrefix = Array("ri1.e\(current.epoch).".utf8)
        epochs = Dictionary((earlier + [current]).map { ($0.epoch, $0) }) { _, last in last }
    }

    /// The epoch new identities are sealed under.
    package var epoch: UInt32 { keys.epoch }

    /// Every epoch whose key is held, in order.
    package var heldEpochs: [UInt32] { epochs.keys.sorted() }

    /// The associated data of a person's seal: `vangnet/identity/v1:`, the pseudonym's epoch
    /// (4 bytes, big-endian) and its 32 bytes.
    private static let associatedPrefix = Array("vangnet/identity/v1:".utf8)

    private static func withAssociated<R>(_ person: InternalPseudonym, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: associatedPrefix.count + 4 + person.bytes.count) {
            buffer in
            let end = buffer.initialize(fromContentsOf: associatedPrefix)
            buffer[end] = UInt8(truncatingIfNeeded: person.epoch >> 24)
            buffer[end + 1] = UInt8(truncatingIfNeeded: person.epoch >> 16)
            buffer[end + 2] = UInt8(truncatingIfNeeded: person.epoch >> 8)
            buffer[end + 3] = UInt8(truncatingIfNeeded: person.epoch)
            _ = UnsafeMutableBufferPointer(rebasing: buffer[(end + 4)...]).initialize(fromContentsOf: person.bytes)
            return body(UnsafeRawBufferPointer(buffer))
        }
    }

    static let tagLength = 16

    /// Appends `bsn` sealed for `person` (the text `ri1.e<epoch>.<base64url>`) to `out`. The
    /// digits meet only stack buffers, wiped after use.
    private func appendSeal(_ bsn: BSN, of person: InternalPseudonym, to out: inout [UInt8]) {
        var box = [UInt8](repeating: 0, count: Self.tagLength + 9)
        Self.withAssociated(person) { associated in
            bsn.withDigits { digits in
                box.withUnsafeMutableBytes { box in
                    let tag = UnsafeMutableRawBufferPointer(rebasing: box[..<Self.tagLength])
                    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: associated.count + digits.count) { input in
                        let end = input.initialize(fromContentsOf: associated)
                        _ = UnsafeMutableBufferPointer(rebasing: input[end...]).initialize(fromContentsOf: digits)
                        defer { input.update(repeating: 0) }
                        GenericHash.keyedHash(UnsafeRawBufferPointer(input), key: keys.tagKey, into: tag)
                    }
                    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.tagLength) { stream in
                        defer { stream.update(repeating: 0) }
                        GenericHash.keyedHash(
                            UnsafeRawBufferPointer(tag),
                            key: keys.streamKey,
                            into: UnsafeMutableRawBufferPointer(stream)
                        )
                        for (i, digit) in digits.enumerated() { box[Self.tagLength + i] = digit ^ stream[i] }
                    }
                }
            }
        }
        out.append(contentsOf: sealedPrefix)
        Pseudonymiser.appendBase64url(box, to: &out)
    }

    /// The digits of `box` (sealed for `person` under `keys`) given to `body` and wiped after;
    /// `nil` if the box was altered or is another person's.
    private static func open<R>(
        _ box: [UInt8],
        of person: InternalPseudonym,
        keys: IdentityKeys,
        _ body: (UnsafeRawBufferPointer) -> R
    ) -> R? {
        guard box.count == tagLength + 9 else { return nil }
        return box.withUnsafeBytes { box -> R? in
            let tag = UnsafeRawBufferPointer(rebasing: box[..<tagLength])
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: tagLength) { digits -> R? in
                defer { digits.update(repeating: 0) }
                // The key stream, as long as a tag (the shortest BLAKE2b output), of which 9 bytes are used.
                GenericHash.keyedHash(tag, key: keys.streamKey, into: UnsafeMutableRawBufferPointer(digits))
                for i in 0..<9 { digits[i] ^= box[tagLength + i] }
                let plain = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(digits)[..<9])
                let expected = withAssociated(person) { associated in
                    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: associated.count + 9) { input -> [UInt8] in
                        let end = input.initialize(fromContentsOf: associated)
                        _ = UnsafeMutableBufferPointer(rebasing: input[end...]).initialize(fromContentsOf: plain)
                        defer { input.update(repeating: 0) }
                        return GenericHash.keyedHash(
                            UnsafeRawBufferPointer(input),
                            key: keys.tagKey,
                            outputLength: tagLength
                        )
                    }
                }
                // Constant time: every byte is compared, whatever the first difference.
                var difference: UInt8 = 0
                for i in 0..<tagLength { difference |= expected[i] ^ tag[i] }
                guard difference == 0 else { return nil }
                return body(plain)
            }
        }
    }

    /// `ri1.e<epoch>.` of the current epoch.
    private let sealedPrefix: [UInt8]

    /// `bsn` sealed for `person`.
    package func seal(_ bsn: BSN, of person: InternalPseudonym) -> String {
        var out: [UInt8] = []
        appendSeal(bsn, of: person, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// A record's stored fields with `bsn`, sealed for `person`, added as the last member,
    /// ``storedField``: what ingest stores for a dataset a re-identifying purpose delivers.
    package func storedFields(_ fields: String, keeping bsn: BSN, of person: InternalPseudonym) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(fields.utf8.count + Self.memberPrefix.count + 80)
        out.append(contentsOf: fields.utf8)
        precondition(out.count > 2 && out.last == UInt8(ascii: "}"))
        out.removeLast()
        out.append(contentsOf: Self.memberPrefix)
        appendSeal(bsn, of: person, to: &out)
        out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: "}")])
        return String(decoding: out, as: UTF8.self)
    }

    private static let memberPrefix = Array(",\"\(storedField)\":\"".utf8)

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
        let released = Self.open(box, of: person, keys: keys) { digits in
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
