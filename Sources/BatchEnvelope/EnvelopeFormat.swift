/// Constants of envelope format version 1 (see `docs/envelope.md`).
///
/// ```
/// magic "VNGTENV1" | u32be header length | header JSON
/// | frames: (u32be ciphertext length | secretstream chunk)* , the last tagged FINAL
/// | Ed25519 signature (64 bytes)
/// ```
/// The signature covers `signatureDomain || BLAKE2b-512(every byte before the signature)`.
package enum EnvelopeFormat {
    package static let magic: [UInt8] = Array("VNGTENV1".utf8)
    package static let signatureDomain: [UInt8] = Array("vangnet/envelope/v1/signature\u{0}".utf8)
    package static let maxHeaderBytes = 64 * 1024
    package static let signatureBytes = 64
    package static let defaultChunkSize = 64 * 1024
    package static let maxChunkSize = 1024 * 1024

    /// Whether `text` has the form of a key id (16 lower-case hex digits). Checked before a key id
    /// from a header is used or named in a message.
    package static func isKeyID(_ text: String) -> Bool {
        text.utf8.count == 16 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// The message a source signs, given the BLAKE2b-512 digest of the envelope so far.
    package static func signedMessage(digest: [UInt8]) -> [UInt8] { signatureDomain + digest }
}
