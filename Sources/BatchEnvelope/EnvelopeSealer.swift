import Foundation
import VangnetCore
import VangnetCrypto

/// The source side of the wire format: signs and encrypts an NDJSON payload into an envelope.
///
/// Streams: plaintext goes in chunk by chunk and sealed bytes come out through `write`, so a
/// batch of any size needs memory for one chunk.
package struct EnvelopeSealer: Sendable {
    package let source: OIN
    package let signingKey: SigningKeyPair
    package let recipient: BoxPublicKey
    package let chunkSize: Int

    package init(
        source: OIN,
        signingKey: SigningKeyPair,
        recipient: BoxPublicKey,
        chunkSize: Int = EnvelopeFormat.defaultChunkSize
    ) {
        precondition(chunkSize > 0 && chunkSize <= EnvelopeFormat.maxChunkSize)
        self.source = source
        self.signingKey = signingKey
        self.recipient = recipient
        self.chunkSize = chunkSize
    }

    /// Seals a payload read through `read` (which fills up to `n` bytes and returns fewer only at
    /// the end) and hands each piece of the envelope to `write`.
    /// - Returns: the header that was written.
    package func seal(
        batchId: BatchID,
        dataset: DatasetID,
        schemaVersion: Int,
        createdAt: Date,
        recordCount: Int,
        mode: BatchMode? = nil,
        read: (Int) throws -> [UInt8],
        write: ([UInt8]) throws -> Void
    ) throws -> EnvelopeHeader {
        let payloadKey = SecretBytes.random(count: SecretStream.keyLength)
        var stream = try SecretStreamEncryptor(key: payloadKey)
        let header = EnvelopeHeader(
            batchId: batchId,
            source: source,
            dataset: dataset,
            schemaVersion: schemaVersion,
            createdAt: createdAt,
            recordCount: recordCount,
            signingKeyId: signingKey.publicKey.keyID,
            recipientKeyId: recipient.keyID,
            sealedPayloadKey: Data(recipient.seal(payloadKey)).base64EncodedString(),
            streamHeader: Data(stream.header).base64EncodedString(),
            chunkSize: chunkSize,
            mode: mode
        )
        var digest = StreamingHash(outputLength: 64)
        func emit(_ bytes: [UInt8]) throws {
            digest.update(bytes)
            try write(bytes)
        }
        let headerBytes = Array(try EnvelopeHeader.encoder.encode(header))
        try emit(EnvelopeFormat.magic + UInt32(headerBytes.count).bigEndianBytes + headerBytes)

        var chunk = try read(chunkSize)
        while true {
            let next = chunk.count == chunkSize ? try read(chunkSize) : []
            let isFinal = next.isEmpty
            let sealed = stream.encrypt(chunk, isFinal: isFinal)
            try emit(UInt32(sealed.count).bigEndianBytes + sealed)
            if isFinal { break }
            chunk = next
        }
        try write(signingKey.sign(EnvelopeFormat.signedMessage(digest: digest.finalize())))
        return header
    }

    /// Seals an in-memory payload; for tests and small batches.
    package func seal(
        payload: [UInt8],
        batchId: BatchID,
        dataset: DatasetID,
        schemaVersion: Int = 1,
        createdAt: Date,
        recordCount: Int,
        mode: BatchMode? = nil
    ) throws -> [UInt8] {
        var offset = 0
        var out: [UInt8] = []
        _ = try seal(
            batchId: batchId,
            dataset: dataset,
            schemaVersion: schemaVersion,
            createdAt: createdAt,
            recordCount: recordCount,
            mode: mode,
            read: { n in
                let end = min(payload.count, offset + n)
                defer { offset = end }
                return Array(payload[offset..<end])
            },
            write: { out.append(contentsOf: $0) }
        )
        return out
    }
}

extension UInt32 {
    var bigEndianBytes: [UInt8] {
        [UInt8(self >> 24), UInt8(self >> 16 & 0xff), UInt8(self >> 8 & 0xff), UInt8(self & 0xff)]
    }
}
