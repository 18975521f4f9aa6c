import Foundation
import VangnetCore
import VangnetCrypto

/// The gateway side of the wire format: a reader you feed bytes as they arrive and then pull
/// events from, one at a time (as swift-nio's single-step decoders are driven): the header, then
/// decrypted payload chunks; at the end ``finish()`` verifies the signature.
///
/// ```swift
/// try reader.feed(bytes)
/// while let event = try reader.next() {
///     switch event {
///     case .header(let header): /* check it */ try reader.open(with: box, signingKey: key)
///     case .payload(let chunk): /* stage what it holds */
///     }
/// }
/// // ... once the body has ended:
/// let opened = try reader.finish()
/// ```
///
/// Payload bytes it yields are **unverified** until ``finish()`` returns a ``OpenedBatch``: a
/// caller must stage what it derives from them and commit only with that value in hand.
/// Memory is bounded by one frame (at most `maxChunkSize` plus overhead) whatever the batch size.
package struct EnvelopeReader: ~Copyable {
    /// What the reader produced from the bytes fed so far.
    package enum Event {
        /// The header was read; the caller checks it (source, key, dataset, time) and calls
        /// ``open(with:signingKey:)`` before it asks for the next event.
        case header(EnvelopeHeader)
        /// A decrypted, not yet verified, payload chunk.
        case payload([UInt8])
    }

    /// The payload opened: what reading the frames and checking the signature needs.
    private struct Opening {
        let header: EnvelopeHeader
        let signingKey: SigningPublicKey
        let decryptor: SecretStreamDecryptor
    }

    /// Where the reader is; each state holds what the next step needs.
    private enum State {
        case magicAndLength
        case header(length: Int)
        /// The header was handed out; waiting for ``open(with:signingKey:)``.
        case awaitingKeys(EnvelopeHeader)
        case frameLength(Opening)
        case frame(Opening, length: Int)
        case signature(Opening)
        case done(Opening, signature: [UInt8])
    }

    private var state: State = .magicAndLength
    private var buffer: [UInt8] = []
    private var consumed = 0
    private var digest = StreamingHash(outputLength: 64)
    private var envelopeHash = StreamingHash(outputLength: 32)
    private var plaintext: [UInt8] = []
    private let maxEnvelopeBytes: Int
    private var totalBytes = 0
    /// Payload chunks decrypted so far.
    private var chunks = 0

    package init(maxEnvelopeBytes: Int) { self.maxEnvelopeBytes = maxEnvelopeBytes }

    /// Takes the next bytes of the envelope; ``next()`` reads them.
    package mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(EnvelopeError) {
        totalBytes += bytes.count
        guard totalBytes <= maxEnvelopeBytes else {
            throw EnvelopeError(.tooLarge, "the envelope exceeds the limit of \(maxEnvelopeBytes) bytes")
        }
        envelopeHash.update(bytes)
        if consumed > 0 && consumed >= buffer.count / 2 {
            buffer.removeFirst(consumed)
            consumed = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Supplies the keys to open the payload, after the ``Event/header(_:)`` event.
    package mutating func open(with recipient: BoxKeyPair, signingKey: SigningPublicKey) throws(EnvelopeError) {
        guard case .awaitingKeys(let header) = state else {
            preconditionFailure("open(with:signingKey:) only after the header event")
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
        let decryptor: SecretStreamDecryptor
        do {
            decryptor = try SecretStreamDecryptor(key: try recipient.open(Array(sealed)), header: Array(streamHeader))
        } catch {
            throw EnvelopeError(.payloadKeyUnreadable, "the payload key does not open with the gateway key")
        }
        state = .frameLength(Opening(header: header, signingKey: signingKey, decryptor: decryptor))
    }

    /// The next event from the bytes fed so far, or `nil` when it needs more bytes.
    package mutating func next() throws(EnvelopeError) -> Event? {
        while true {
            switch state {
            case .magicAndLength:
                // Refused as soon as a byte differs, not only once 12 have come.
                let seen = min(available, EnvelopeFormat.magic.count)
                guard buffer[consumed..<consumed + seen].elementsEqual(EnvelopeFormat.magic.prefix(seen)) else {
                    throw EnvelopeError(.malformed, "not a Vangnet envelope (magic bytes differ)")
                }
                guard available >= 12 else { return nil }
                let prefix = take(12)
                let length = Int(prefix.dropFirst(8).reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                guard length > 0, length <= EnvelopeFormat.maxHeaderBytes else {
                    throw EnvelopeError(.malformed, "header length \(length) is out of bounds")
                }
                state = .header(length: length)
            case .header(let length):
                guard available >= length else { return nil }
                let header = try Self.checked(Array(take(length)))
                state = .awaitingKeys(header)
                return .header(header)
            case .awaitingKeys:
                preconditionFailure("next() after the header event, before open(with:signingKey:)")
            // The last 64 bytes of the body are the signature: a frame is read only once the
            // 64 bytes after it have come, so a body that ends is never read into its signature.
            case .frameLength(let opening):
                guard available >= 4 + EnvelopeFormat.signatureBytes else { return nil }
                let length = Int(take(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                guard length >= SecretStream.overhead, length <= opening.header.chunkSize + SecretStream.overhead
                else {
                    throw EnvelopeError(.malformed, "frame length \(length) is out of bounds")
                }
                state = .frame(opening, length: length)
            case .frame(let opening, let length):
                guard available >= length + EnvelopeFormat.signatureBytes else { return nil }
                let frame = take(length)
                let tag: SecretStream.Tag
                do {
                    tag = try frame.withUnsafeBytes { try opening.decryptor.decrypt($0, into: &plaintext) }
                } catch {
                    throw EnvelopeError(
                        .decryptionFailed,
                        "payload chunk failed authentication (altered, reordered or out of place)"
                    )
                }
                chunks += 1
                try Self.check(tag, size: plaintext.count, chunk: chunks, of: opening.header)
                state = tag == .final ? .signature(opening) : .frameLength(opening)
                return .payload(plaintext)
            case .signature(let opening):
                guard available >= EnvelopeFormat.signatureBytes else { return nil }
                guard available == EnvelopeFormat.signatureBytes else {
                    throw EnvelopeError(.trailingData, "bytes follow the signature")
                }
                state = .done(opening, signature: Array(take(EnvelopeFormat.signatureBytes, hashed: false)))
            case .done:
                guard available == 0 else { throw EnvelopeError(.trailingData, "bytes follow the signature") }
                return nil
            }
        }
    }

    /// Ends the stream (every event pulled) and verifies the signature.
    /// - Returns: proof that the whole envelope was read, decrypted and verified.
    package consuming func finish() throws(EnvelopeError) -> OpenedBatch {
        switch state {
        case .done(let opening, let signature):
            guard available == 0 else { throw EnvelopeError(.trailingData, "bytes follow the signature") }
            let message = EnvelopeFormat.signedMessage(digest: digest.finalize())
            guard opening.signingKey.isValidSignature(signature, for: message) else {
                throw EnvelopeError(
                    .badSignature,
                    "the signature does not verify with the source's key \(opening.signingKey.keyID)"
                )
            }
            return OpenedBatch(header: opening.header, envelopeHash: envelopeHash.finalize(), byteCount: totalBytes)
        case .awaitingKeys:
            preconditionFailure("finish() before open(with:signingKey:)")
        default:
            throw endedTooSoon()
        }
    }

    /// What a body that ends here, before the signature is read, is: empty (not an envelope at
    /// all) or cut off, and where.
    package func endedTooSoon() -> EnvelopeError {
        switch state {
        case .magicAndLength where totalBytes == 0: EnvelopeError(.malformed, "the body is empty, not an envelope")
        case .magicAndLength, .header: EnvelopeError(.truncated, "the envelope ends inside its header")
        case .frameLength where available == EnvelopeFormat.signatureBytes:
            EnvelopeError(.truncated, "the payload ends without its final chunk")
        case .frameLength, .frame, .signature:
            EnvelopeError(.truncated, "the envelope ends before its signature is complete")
        case .awaitingKeys, .done: preconditionFailure("the header is read and the body has not ended too soon")
        }
    }

    /// The layout of chunks: every chunk but the last is a message chunk of exactly `chunkSize`
    /// bytes; the last is tagged final (and has at most `chunkSize`, which its frame's length bound
    /// already holds).
    private static func check(
        _ tag: SecretStream.Tag,
        size: Int,
        chunk: Int,
        of header: EnvelopeHeader
    ) throws(EnvelopeError) {
        switch tag {
        case .final: return
        case .message where size == header.chunkSize: return
        case .message:
            throw EnvelopeError(
                .chunkInvalid,
                "chunk \(chunk) has \(size) bytes and is not the last; every chunk but the last has chunkSize (\(header.chunkSize))"
            )
        case .push, .rekey:
            throw EnvelopeError(
                .chunkInvalid,
                "chunk \(chunk) is tagged \(tag); every chunk but the last is a message chunk, the last is final"
            )
        }
    }

    /// Reads a whole envelope held in memory, fed `piece` bytes at a time as a network would
    /// deliver it, opened with `recipient` and `signingKey` whatever the header names (the
    /// reader then refuses a mismatch): for tools, tests and the fuzzer; the gateway streams.
    /// - Returns: the verified batch, its payload, and how many frames carried it.
    /// - Throws: ``EnvelopeError`` for every refusal.
    package static func open(
        _ envelope: [UInt8],
        with recipient: BoxKeyPair,
        signingKey: SigningPublicKey,
        piece: Int = 1 << 16,
        maxEnvelopeBytes: Int = 1 << 30
    ) throws -> (batch: OpenedBatch, payload: [UInt8], frames: Int) {
        var reader = EnvelopeReader(maxEnvelopeBytes: maxEnvelopeBytes)
        var payload: [UInt8] = []
        var frames = 0
        var start = 0
        while start < envelope.count {
            let end = min(envelope.count, start + max(piece, 1))
            try envelope[start..<end].withUnsafeBytes { try reader.feed($0) }
            while let event = try reader.next() {
                switch event {
                case .header: try reader.open(with: recipient, signingKey: signingKey)
                case .payload(let chunk):
                    payload += chunk
                    frames += 1
                }
            }
            start = end
        }
        return (try reader.finish(), payload, frames)
    }

    /// The header's bytes decoded and checked: version, key ids, chunk size.
    private static func checked(_ bytes: [UInt8]) throws(EnvelopeError) -> EnvelopeHeader {
        let header: EnvelopeHeader
        do { header = try EnvelopeHeader.decode(bytes) } catch let error as EnvelopeError {
            throw error
        } catch {
            throw EnvelopeError(.malformed, "the header could not be read")
        }
        guard header.version == 1 else {
            throw EnvelopeError(.unsupportedVersion, "envelope version \(header.version) is not supported")
        }
        guard EnvelopeFormat.isKeyID(header.signingKeyId), EnvelopeFormat.isKeyID(header.recipientKeyId) else {
            throw EnvelopeError(.malformed, "a key id is not 16 lower-case hex digits")
        }
        guard header.chunkSize > 0, header.chunkSize <= EnvelopeFormat.maxChunkSize else {
            throw EnvelopeError(.malformed, "chunk size \(header.chunkSize) is out of bounds")
        }
        return header
    }

    private var available: Int { buffer.count - consumed }

    private mutating func take(_ n: Int, hashed: Bool = true) -> ArraySlice<UInt8> {
        let slice = buffer[consumed..<consumed + n]
        if hashed { slice.withUnsafeBytes { digest.update($0) } }
        consumed += n
        return slice
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
