import Foundation
import VangnetCore
import VangnetCrypto

/// The gateway side of the wire format: a push-driven state machine that reads an envelope as
/// its bytes arrive, yields decrypted payload chunks, and at the end verifies the signature.
///
/// Payload bytes it yields are **unverified** until ``finish()`` returns a ``OpenedBatch``: a
/// caller must stage what it derives from them and commit only with that value in hand.
/// Memory is bounded by one frame (at most `maxChunkSize` plus overhead) whatever the batch size.
package struct EnvelopeReader: ~Copyable {
    /// What the reader produced from the bytes fed so far.
    package enum Event {
        /// The header was read; the caller checks it (source, key, dataset, time) and then calls
        /// ``open(with:signingKey:)`` to go on.
        case header(EnvelopeHeader)
        /// A decrypted, not yet verified, payload chunk.
        case payload([UInt8])
    }

    private enum State {
        case magicAndLength
        case header(length: Int)
        case awaitingKeys(EnvelopeHeader)
        case frameLength
        case frame(length: Int)
        case signature
        case done
    }

    private var state: State = .magicAndLength
    private var buffer: [UInt8] = []
    private var consumed = 0
    private var digest = StreamingHash(outputLength: 64)
    private var envelopeHash = StreamingHash(outputLength: 32)
    private var decryptor: SecretStreamDecryptor?
    private var signingKey: SigningPublicKey?
    private var header: EnvelopeHeader?
    private var signature: [UInt8] = []
    private var plaintextBuffer: [UInt8] = []
    private let maxEnvelopeBytes: Int
    private var totalBytes = 0

    package init(maxEnvelopeBytes: Int) { self.maxEnvelopeBytes = maxEnvelopeBytes }

    /// Supplies the keys to open the payload after the ``Event/header(_:)`` event, and goes on
    /// reading the bytes already fed; `body` receives the payload events.
    package mutating func open(
        with recipient: BoxKeyPair,
        signingKey: SigningPublicKey,
        _ body: (Event) throws -> Void
    ) throws {
        guard case .awaitingKeys(let header) = state else {
            preconditionFailure("open(with:) only after the header event")
        }
        guard header.recipientKeyId == recipient.publicKey.keyID else {
            throw EnvelopeError(
                .wrongRecipient,
                "the payload key is sealed to another gateway key (\(header.recipientKeyId))"
            )
        }
        guard header.signingKeyId == signingKey.keyID else {
            throw EnvelopeError(.unknownSigningKey, "the header names signing key \(header.signingKeyId)")
        }
        guard let sealed = Data(base64Encoded: header.sealedPayloadKey),
            let streamHeader = Data(base64Encoded: header.streamHeader)
        else {
            throw EnvelopeError(.malformed, "sealedPayloadKey or streamHeader is not base64")
        }
        do {
            let key = try recipient.open(Array(sealed))
            decryptor = try SecretStreamDecryptor(key: key, header: Array(streamHeader))
        } catch {
            throw EnvelopeError(.payloadKeyUnreadable, "the payload key does not open with the gateway key")
        }
        self.signingKey = signingKey
        state = .frameLength
        try drain(body)
    }

    /// Feeds the next bytes of the envelope; `body` receives events in order.
    package mutating func feed(_ bytes: UnsafeRawBufferPointer, _ body: (Event) throws -> Void) throws {
        totalBytes += bytes.count
        guard totalBytes <= maxEnvelopeBytes else {
            throw EnvelopeError(.tooLarge, "the envelope exceeds the limit of \(maxEnvelopeBytes) bytes")
        }
        envelopeHash.update(bytes)
        buffer.append(contentsOf: bytes)
        try drain(body)
        if consumed > 0 && consumed >= buffer.count / 2 {
            buffer.removeFirst(consumed)
            consumed = 0
        }
    }

    /// Ends the stream and verifies the signature.
    /// - Returns: proof that the whole envelope was read, decrypted and verified.
    package consuming func finish() throws(EnvelopeError) -> OpenedBatch {
        guard case .done = state, let header = self.header, let signingKey = self.signingKey else {
            if case .awaitingKeys = state { preconditionFailure("finish() before open(with:)") }
            throw EnvelopeError(.truncated, "the envelope ends before its signature")
        }
        let message = EnvelopeFormat.signedMessage(digest: digest.finalize())
        guard signingKey.isValidSignature(signature, for: message) else {
            throw EnvelopeError(
                .badSignature,
                "the signature does not verify with the source's key \(signingKey.keyID)"
            )
        }
        return OpenedBatch(header: header, envelopeHash: envelopeHash.finalize(), byteCount: totalBytes)
    }

    private var available: Int { buffer.count - consumed }

    private mutating func take(_ n: Int, hashed: Bool = true) -> ArraySlice<UInt8> {
        let slice = buffer[consumed..<consumed + n]
        if hashed { slice.withUnsafeBytes { digest.update($0) } }
        consumed += n
        return slice
    }

    private mutating func drain(_ body: (Event) throws -> Void) throws {
        while true {
            switch state {
            case .magicAndLength:
                guard available >= 12 else { return }
                let prefix = take(12)
                guard Array(prefix.prefix(8)) == EnvelopeFormat.magic else {
                    throw EnvelopeError(.malformed, "not a Vangnet envelope (magic bytes differ)")
                }
                let length = Int(prefix.dropFirst(8).reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                guard length > 0, length <= EnvelopeFormat.maxHeaderBytes else {
                    throw EnvelopeError(.malformed, "header length \(length) is out of bounds")
                }
                state = .header(length: length)
            case .header(let length):
                guard available >= length else { return }
                let header = try EnvelopeHeader.decode(Array(take(length)))
                guard header.version == 1 else {
                    throw EnvelopeError(.unsupportedVersion, "envelope version \(header.version) is not supported")
                }
                guard EnvelopeFormat.isKeyID(header.signingKeyId), EnvelopeFormat.isKeyID(header.recipientKeyId) else {
                    throw EnvelopeError(.malformed, "a key id is not 16 lower-case hex digits")
                }
                guard header.chunkSize > 0, header.chunkSize <= EnvelopeFormat.maxChunkSize else {
                    throw EnvelopeError(.malformed, "chunk size \(header.chunkSize) is out of bounds")
                }
                self.header = header
                state = .awaitingKeys(header)
                try body(.header(header))
                guard case .frameLength = state else { return }
            case .awaitingKeys:
                return
            case .frameLength:
                guard available >= 4 else { return }
                let length = Int(take(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                guard let header, length >= SecretStream.overhead, length <= header.chunkSize + SecretStream.overhead
                else {
                    throw EnvelopeError(.malformed, "frame length \(length) is out of bounds")
                }
                state = .frame(length: length)
            case .frame(let length):
                guard available >= length else { return }
                let frame = take(length)
                do {
                    try frame.withUnsafeBytes { try decryptor!.decrypt($0, into: &plaintextBuffer) }
                } catch {
                    throw EnvelopeError(
                        .decryptionFailed,
                        "payload chunk failed authentication (altered, reordered or out of place)"
                    )
                }
                state = decryptor!.isFinished ? .signature : .frameLength
                try body(.payload(plaintextBuffer))
            case .signature:
                guard available >= EnvelopeFormat.signatureBytes else { return }
                signature = Array(take(EnvelopeFormat.signatureBytes, hashed: false))
                state = .done
            case .done:
                guard available == 0 else { throw EnvelopeError(.trailingData, "bytes follow the signature") }
                return
            }
        }
    }
}

/// A batch whose envelope was read to the end, decrypted and verified against the source's key.
///
/// Made by ``EnvelopeReader/finish()`` alone (an initialiser internal to this module); the store
/// commits a batch only given this value.
package struct OpenedBatch: Sendable {
    package let header: EnvelopeHeader
    /// BLAKE2b-256 of every byte of the envelope, signature included.
    package let envelopeHash: [UInt8]
    package let byteCount: Int
}
