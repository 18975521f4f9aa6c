/// Constants of envelope format version 1 (see `docs/envelope.md`).
///
/// ```
/// magic "VNGTENV1" | u32be header length | header JSON
/// | frames: (u32be ciphertext length | secretstream chunk)* , the last tagged FINAL
/// | Ed25519 signature (64 bytes)
/// ```
/// The signature covers `signatureDomain || BLAKE2b-512(every byte before the signature)`.
public enum EnvelopeFormat {
    public static let magic: [UInt8] = Array("VNGTENV1".utf8)
    public static let signatureDomain: [UInt8] = Array("vangnet/envelope/v1/signature\u{0}".utf8)
    public static let maxHeaderBytes = 64 * 1024
    public static let signatureBytes = 64
    public static let defaultChunkSize = 64 * 1024
    public static let maxChunkSize = 1024 * 1024

    /// The message a source signs, given the BLAKE2b-512 digest of the envelope so far.
    public static func signedMessage(digest: [UInt8]) -> [UInt8] { signatureDomain + digest }
}
