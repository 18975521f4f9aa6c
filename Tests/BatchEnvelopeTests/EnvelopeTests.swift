import BatchEnvelope
import Foundation
import Testing
import VangnetCore
import VangnetCrypto

/// The wire format, read back by the gateway's reader: round trip and every way it must refuse.
@Suite struct EnvelopeTests {
    let source = OIN("00000099000000000101")!
    let signer = SigningKeyPair.generate()
    let gateway = BoxKeyPair.generate()
    let payload =
        Array((1...500).map { #"{"line":\#($0),"text":"some record content"}"# }.joined(separator: "\n").utf8) + [0x0A]

    func seal(chunkSize: Int = 1000, signer: SigningKeyPair? = nil, recipient: BoxPublicKey? = nil) throws -> [UInt8] {
        try EnvelopeSealer(
            source: source,
            signingKey: signer ?? self.signer,
            recipient: recipient ?? gateway.publicKey,
            chunkSize: chunkSize
        )
        .seal(
            payload: payload,
            batchId: BatchID(),
            dataset: "duo.onderwijsdeelname",
            createdAt: Date(timeIntervalSince1970: 1_790_000_000),
            recordCount: 500
        )
    }

    /// Reads `envelope` in pieces of `piece` bytes, as a network would deliver it.
    func open(_ envelope: [UInt8], piece: Int = 777, key: SigningPublicKey? = nil) throws -> (OpenedBatch, [UInt8]) {
        let read = try EnvelopeReader.open(
            envelope,
            with: gateway,
            signingKey: key ?? signer.publicKey,
            piece: piece,
            maxEnvelopeBytes: 1 << 24
        )
        return (read.batch, read.payload)
    }

    func refusal(_ envelope: [UInt8], key: SigningPublicKey? = nil) -> EnvelopeError.Code? {
        do {
            _ = try open(envelope, key: key)
            return nil
        } catch let e as EnvelopeError { return e.code } catch { return nil }
    }

    @Test(arguments: [1, 13, 777, 1 << 20])
    func roundTripInAnyPieceSize(piece: Int) throws {
        let envelope = try seal()
        let (opened, plaintext) = try open(envelope, piece: piece)
        #expect(plaintext == payload)
        #expect(opened.header.source == source)
        #expect(opened.header.recordCount == 500)
        #expect(opened.envelopeHash == GenericHash.hash(envelope, outputLength: 32))
    }

    @Test func emptyPayloadRoundTrips() throws {
        let envelope = try EnvelopeSealer(source: source, signingKey: signer, recipient: gateway.publicKey)
            .seal(payload: [], batchId: BatchID(), dataset: "duo.onderwijsdeelname", createdAt: Date(), recordCount: 0)
        #expect(try open(envelope).1 == [])
    }

    @Test func tamperedCiphertextIsRefused() throws {
        var envelope = try seal()
        envelope[envelope.count / 2] ^= 0x01
        #expect(refusal(envelope) == .decryptionFailed)
    }

    @Test func tamperedHeaderIsRefusedByTheSignature() throws {
        var envelope = try seal()
        let needle = Array("\"recordCount\":500".utf8)
        let found = (0...(envelope.count - needle.count)).first { Array(envelope[$0..<$0 + needle.count]) == needle }
        let start = try #require(found)
        envelope[start + needle.count - 1] = UInt8(ascii: "1")  // 500 -> 501
        #expect(refusal(envelope) == .badSignature)
    }

    @Test(arguments: [1, 64, 65, 200, 5000])
    func truncatedEnvelopeIsRefused(missing: Int) throws {
        let envelope = try seal()
        #expect(refusal(Array(envelope.dropLast(missing))) != nil)
    }

    @Test func envelopeCutBeforeTheSignatureIsTruncated() throws {
        #expect(refusal(Array(try seal().dropLast(64))) == .truncated)
    }

    @Test func trailingBytesAreRefused() throws {
        #expect(refusal(try seal() + [0]) == .trailingData)
    }

    @Test func droppedChunkIsRefused() throws {
        // Remove the second frame (chunk size 1000 -> frames of 4 + 1017 bytes after the header).
        let envelope = try seal()
        let headerLength = Int(envelope[8]) << 24 | Int(envelope[9]) << 16 | Int(envelope[10]) << 8 | Int(envelope[11])
        let firstFrame = 12 + headerLength
        let frame = 4 + 1000 + SecretStream.overhead
        let spliced = Array(envelope[..<(firstFrame + frame)] + envelope[(firstFrame + 2 * frame)...])
        #expect(refusal(spliced) == .decryptionFailed)
    }

    @Test func signatureByAnotherKeyIsRefused() throws {
        // Sealed by a stranger; the gateway checks against the registered key with the id the header names.
        let stranger = SigningKeyPair.generate()
        let envelope = try seal(signer: stranger)
        #expect(refusal(envelope, key: signer.publicKey) == .unknownSigningKey)
    }

    @Test func forgedSignatureUnderTheRegisteredKeyIDIsRefused() throws {
        var envelope = try seal()
        envelope[envelope.count - 10] ^= 0xFF
        #expect(refusal(envelope) == .badSignature)
    }

    @Test func envelopeForAnotherGatewayIsRefused() throws {
        #expect(refusal(try seal(recipient: BoxKeyPair.generate().publicKey)) == .wrongRecipient)
    }

    @Test func notAnEnvelopeIsRefused() {
        #expect(refusal(Array("PK\u{3}\u{4} this is a zip file, not a batch".utf8)) == .malformed)
    }

    /// An envelope of exactly `chunks` (chunk size 100), each with its tag.
    func seal(chunks: [(plaintext: [UInt8], tag: SecretStream.Tag)]) throws -> [UInt8] {
        try EnvelopeSealer(source: source, signingKey: signer, recipient: gateway.publicKey, chunkSize: 100)
            .seal(chunks: chunks, dataset: "duo.onderwijsdeelname", createdAt: Date(), recordCount: 0)
    }

    func reason(_ envelope: [UInt8]) -> String? {
        do {
            _ = try open(envelope)
            return nil
        } catch let e as EnvelopeError { return e.reason } catch { return "\(error)" }
    }

    let full = [UInt8](repeating: 0x41, count: 100)

    @Test func fullMessageChunksThenAShortOrEmptyFinalOneAreTheLayout() throws {
        let short = try seal(chunks: [(full, .message), (full, .message), ([0x42], .final)])
        #expect(try open(short).1 == full + full + [0x42])
        let empty = try seal(chunks: [(full, .message), ([], .final)])
        #expect(try open(empty).1 == full)
    }

    @Test(arguments: [0, 1, 99])
    func aChunkShorterThanChunkSizeThatIsNotTheLastIsRefused(size: Int) throws {
        let envelope = try seal(chunks: [(full, .message), (Array(full.prefix(size)), .message), (full, .final)])
        #expect(refusal(envelope) == .chunkInvalid)
        #expect(reason(envelope)?.contains("chunk 2 has \(size) bytes") == true)
    }

    @Test(arguments: [SecretStream.Tag.push, .rekey])
    func aChunkTaggedOtherThanMessageOrFinalIsRefused(tag: SecretStream.Tag) throws {
        let envelope = try seal(chunks: [(full, .message), (full, tag), ([1], .final)])
        #expect(refusal(envelope) == .chunkInvalid)
    }

    @Test func anEnvelopeWithoutAFinalChunkIsTruncatedWhateverItsSignatureBytes() throws {
        // The same payload under many signatures (each seal has fresh keys and so other bytes).
        for _ in 0..<20 {
            let envelope = try seal(chunks: [(full, .message), (full, .message)])
            #expect(refusal(envelope) == .truncated)
            #expect(reason(envelope) == "the payload ends without its final chunk")
        }
    }

    @Test func aBodyThatDoesNotBeginAsAnEnvelopeIsMalformedWhateverItsLength() {
        for body in ["", "x", "hello", "VNGTENV2", "VNGTENV2 and more bytes"] {
            let code = refusal(Array(body.utf8))
            #expect(code == .malformed, "body \(body.debugDescription)")
        }
    }

    @Test func aBodyThatBeginsAsAnEnvelopeAndEndsEarlyIsTruncated() throws {
        let envelope = try seal()
        for length in [1, 7, 8, 11, 12, 40] {
            let code = refusal(Array(envelope.prefix(length)))
            #expect(code == .truncated, "the first \(length) bytes")
        }
    }

    @Test func afterTheFinalChunkExactlyTheSignatureFollows() throws {
        let envelope = try seal()
        #expect(refusal(Array(envelope.dropLast(1))) == .truncated)
        #expect(refusal(Array(envelope.dropLast(63))) == .truncated)
        #expect(refusal(envelope + [0]) == .trailingData)
        #expect(refusal(envelope + envelope.suffix(64)) == .trailingData)
    }

    @Test func oversizedEnvelopeIsRefusedWhileStreaming() throws {
        var reader = EnvelopeReader(maxEnvelopeBytes: 100)
        let envelope = try seal()
        #expect(throws: EnvelopeError(.tooLarge, "the envelope exceeds the limit of 100 bytes")) {
            try envelope.withUnsafeBytes { try reader.feed($0) }
        }
    }
}

@Suite struct ReceiptTests {
    let key = SigningKeyPair.generate()
    var body: ReceiptBody {
        ReceiptBody(
            batchId: BatchID(),
            source: OIN("00000099000000000101")!,
            dataset: "duo.onderwijsdeelname",
            envelopeHash: "ab",
            receivedAt: Date(timeIntervalSince1970: 1_790_000_000),
            accepted: 9,
            rejected: 1,
            rejections: [.init(line: 4, reason: .invalidBSN, field: "bsn")],
            gatewayKeyId: key.publicKey.keyID
        )
    }

    @Test func signedReceiptVerifies() throws {
        let b = body
        #expect(try SignedReceipt(body: b, signingKey: key).verified(with: key.publicKey) == b)
    }

    @Test func alteredReceiptIsRejected() throws {
        let signed = try SignedReceipt(body: body, signingKey: key)
        let json = try JSONEncoder().encode(signed)
        let altered = String(decoding: json, as: UTF8.self).replacingOccurrences(
            of: "accepted\\\":9",
            with: "accepted\\\":10"
        )
        #expect(altered != String(decoding: json, as: UTF8.self))
        let decoded = try JSONDecoder().decode(SignedReceipt.self, from: Data(altered.utf8))
        #expect(throws: EnvelopeError.self) { try decoded.verified(with: key.publicKey) }
    }

    @Test func receiptFromAnotherKeyIsRejected() throws {
        #expect(throws: EnvelopeError.self) {
            try SignedReceipt(body: body, signingKey: key).verified(with: SigningKeyPair.generate().publicKey)
        }
    }
}
