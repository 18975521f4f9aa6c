import Foundation
import VangnetCore

/// The header of a batch envelope (format version 1): who sent what, to whom, and how to open it.
///
/// Serialised as UTF-8 JSON; the exact bytes sent are covered by the trailer signature.
package struct EnvelopeHeader: Sendable, Codable, Equatable {
    /// Always 1 for this format.
    package var version: Int
    package var batchId: BatchID
    /// OIN of the source organisation; must match the TLS client certificate.
    package var source: OIN
    package var dataset: DatasetID
    package var schemaVersion: Int
    /// When the source made the batch (ISO 8601, UTC).
    package var createdAt: Date
    /// Number of records (non-empty lines) in the payload.
    package var recordCount: Int
    /// Key id of the source's Ed25519 signing key.
    package var signingKeyId: String
    /// Key id of the gateway's X25519 key the payload key is sealed to.
    package var recipientKeyId: String
    /// The 32-byte payload key, sealed to the gateway (`crypto_box_seal`), base64.
    package var sealedPayloadKey: String
    /// The secretstream header, base64.
    package var streamHeader: String
    /// Plaintext bytes per chunk (every chunk but the last is exactly this long).
    package var chunkSize: Int
    /// `full` (the complete current picture of the dataset) or `changes`; absent means `changes`.
    package var mode: BatchMode?

    /// What the batch is: ``mode``, `changes` when the header leaves it out.
    package var batchMode: BatchMode { mode ?? .changes }

    package init(
        batchId: BatchID,
        source: OIN,
        dataset: DatasetID,
        schemaVersion: Int,
        createdAt: Date,
        recordCount: Int,
        signingKeyId: String,
        recipientKeyId: String,
        sealedPayloadKey: String,
        streamHeader: String,
        chunkSize: Int,
        mode: BatchMode? = nil
    ) {
        self.version = 1
        self.batchId = batchId
        self.source = source
        self.dataset = dataset
        self.schemaVersion = schemaVersion
        self.createdAt = createdAt
        self.recordCount = recordCount
        self.signingKeyId = signingKeyId
        self.recipientKeyId = recipientKeyId
        self.sealedPayloadKey = sealedPayloadKey
        self.streamHeader = streamHeader
        self.chunkSize = chunkSize
        self.mode = mode
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }()

    /// The members that are integers and must be written as integers (`1`, never `1.0` or `1e0`).
    static let integerMembers = ["version", "schemaVersion", "recordCount", "chunkSize"]
    /// Every member a version 1 header may have (docs/envelope.md).
    static let members: Set<String> = [
        "version", "batchId", "source", "dataset", "schemaVersion", "createdAt", "recordCount", "signingKeyId",
        "recipientKeyId", "sealedPayloadKey", "streamHeader", "chunkSize", "mode",
    ]

    /// Reads signed header bytes so that they mean one thing to every reader: strict RFC 8259 JSON
    /// (no byte order mark, valid UTF-8, no duplicate member names, see ``StrictJSON``), integers
    /// written as integers, then the fields.
    /// - Throws: ``EnvelopeError`` (`envelope_malformed`) saying what is wrong; never a header value.
    package static func decode(_ bytes: [UInt8]) throws -> EnvelopeHeader {
        let json: StrictJSON
        do { json = try StrictJSON(bytes) } catch let failure as StrictJSON.Failure {
            throw EnvelopeError(.malformed, "the header is not strict JSON: \(failure)")
        }
        // A member the gateway would not read is refused: nothing signed may be ignored. Its name
        // is input, so it is not repeated.
        guard json.members.allSatisfy({ members.contains($0.name) }) else {
            throw EnvelopeError(.malformed, "the header has a member that version 1 does not define")
        }
        for name in integerMembers where json[name] != nil && !json.isInteger(name) {
            throw EnvelopeError(.malformed, "the header's \(name) is not written as an integer")
        }
        do { return try decoder.decode(EnvelopeHeader.self, from: Data(bytes)) } catch {
            throw EnvelopeError(.malformed, "the header is not valid envelope JSON")
        }
    }

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = Self.instant(text) else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath, debugDescription: "createdAt is not an RFC 3339 time")
                )
            }
            return date
        }
        return d
    }()

    /// An RFC 3339 time as `createdAt` takes it: `YYYY-MM-DDThh:mm:ss`, an optional fraction of
    /// 1 to 9 digits, then `Z` or an offset `+hh:mm` / `-hh:mm`. Nothing else (no lower-case
    /// `t` or `z`, no space, no leap second, no date alone).
    package static func instant(_ text: String) -> Date? {
        let b = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= b.count, range.allSatisfy({ (0x30...0x39).contains(b[$0]) }) else { return nil }
            return range.reduce(0) { $0 * 10 + Int(b[$1] - 0x30) }
        }
        func at(_ i: Int, _ c: Character) -> Bool { i < b.count && b[i] == c.asciiValue! }
        guard let year = number(0..<4), at(4, "-"), let month = number(5..<7), at(7, "-"), let day = number(8..<10),
            at(10, "T"), let hour = number(11..<13), at(13, ":"), let minute = number(14..<16), at(16, ":"),
            let second = number(17..<19), hour < 24, minute < 60, second < 60
        else { return nil }
        var i = 19
        var nanoseconds = 0
        if at(i, ".") {
            let start = i + 1
            var end = start
            while end < b.count, (0x30...0x39).contains(b[end]) { end += 1 }
            guard (1...9).contains(end - start), let fraction = number(start..<end) else { return nil }
            nanoseconds = fraction * Int(pow(10, Double(9 - (end - start))))
            i = end
        }
        var offset = 0
        if at(i, "Z") {
            i += 1
        } else if at(i, "+") || at(i, "-") {
            guard let hours = number((i + 1)..<(i + 3)), at(i + 3, ":"), let minutes = number((i + 4)..<(i + 6)),
                hours < 24, minutes < 60
            else { return nil }
            offset = (hours * 60 + minutes) * 60 * (at(i, "-") ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let parts = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        guard let local = utc.date(from: parts),
            utc.dateComponents([.year, .month, .day], from: local) == DateComponents(year: year, month: month, day: day)
        else { return nil }  // a day the month does not have
        return local.addingTimeInterval(Double(nanoseconds) / 1e9 - Double(offset))
    }

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}

extension EnvelopeHeader {
    /// Reads the (unverified) header of an envelope file, for tools that show what a file holds.
    package static func read(from url: URL) throws -> EnvelopeHeader {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let prefix = Array(try handle.read(upToCount: 12) ?? Data())
        guard prefix.count == 12, Array(prefix.prefix(8)) == EnvelopeFormat.magic else {
            throw EnvelopeError(.malformed, "not a Vangnet envelope (magic bytes differ)")
        }
        let length = Int(prefix[8...].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard length > 0, length <= EnvelopeFormat.maxHeaderBytes, let bytes = try handle.read(upToCount: length),
            bytes.count == length
        else {
            throw EnvelopeError(.malformed, "header length \(length) is out of bounds")
        }
        return try decode(Array(bytes))
    }
}
