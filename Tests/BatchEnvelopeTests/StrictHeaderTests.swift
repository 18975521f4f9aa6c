import BatchEnvelope
import Foundation
import Testing
import VangnetCore
import VangnetCrypto

/// The signed header reads one way only: a header that another parser could read differently
/// (a duplicate member, a byte order mark, invalid UTF-8, an integer written as a decimal) is
/// refused, even with a valid signature.
@Suite struct StrictHeaderTests {
    let source = OIN("00000099000000000101")!
    let signer = SigningKeyPair.generate()
    let gateway = BoxKeyPair.generate()

    func sealed() throws -> [UInt8] {
        try EnvelopeSealer(source: source, signingKey: signer, recipient: gateway.publicKey, chunkSize: 1000)
            .seal(
                payload: Array("{\"a\":1}\n".utf8),
                batchId: BatchID(),
                dataset: "duo.onderwijsdeelname",
                createdAt: Date(timeIntervalSince1970: 1_790_000_000),
                recordCount: 1
            )
    }

    /// `envelope` with its header replaced by `edit(header)`, signed again by the source's key:
    /// what a source (or anyone holding its key) could send.
    func resigned(_ envelope: [UInt8], _ edit: ([UInt8]) -> [UInt8]) -> [UInt8] {
        let length = Int(envelope[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        let header = edit(Array(envelope[12..<(12 + length)]))
        let frames = envelope[(12 + length)..<(envelope.count - 64)]
        let n = UInt32(header.count)
        let body =
            Array(envelope[0..<8]) + [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
            + header + frames
        let digest = StreamingHash(outputLength: 64)
        digest.update(body)
        return body + signer.sign(EnvelopeFormat.signedMessage(digest: digest.finalize()))
    }

    /// What the reader says of `envelope`: `nil` if it opens, else the refusal's code and message.
    func refusal(_ envelope: [UInt8]) -> (String, String)? {
        do {
            _ = try EnvelopeReader.open(envelope, with: gateway, signingKey: signer.publicKey, piece: envelope.count)
            return nil
        } catch let error as EnvelopeError {
            return (error.code.description, error.reason)
        } catch {
            return ("unexpected", "\(error)")
        }
    }

    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func theResignedOriginalOpens() throws {
        do {
            let actual = refusal(resigned(try sealed()) { $0 })
            #expect(actual == nil)
        }
    }

    @Test(arguments: [
        ("a duplicate source", "a duplicate member name"),
        ("a byte order mark", "not a JSON object"),
        ("invalid UTF-8 in a string", "invalid UTF-8"),
        ("version written as 1.0", "version is not written as an integer"),
        ("recordCount written as 1.0", "recordCount is not written as an integer"),
        ("recordCount written as 1e0", "recordCount is not written as an integer"),
        ("a trailing comma", "expected"),
        ("a leading zero", "leading zero"),
    ])
    func aHeaderThatCouldReadTwoWaysIsRefused(fault: String, says: String) throws {
        let envelope = resigned(try sealed()) { header in
            let json = text(header)
            switch fault {
            case "a duplicate source":
                return Array(json.dropLast().utf8) + Array(#","source":"00000099000000000102"}"#.utf8)
            case "a byte order mark": return [0xEF, 0xBB, 0xBF] + header
            case "invalid UTF-8 in a string":
                return Array(json.replacingOccurrences(of: #""dataset":"duo"#, with: #""dataset":"d\#u{FFFD}uo"#).utf8)
                    .replacing([0xEF, 0xBF, 0xBD], with: [0xC3, 0x28])
            case "version written as 1.0":
                return Array(json.replacingOccurrences(of: #""version":1"#, with: #""version":1.0"#).utf8)
            case "recordCount written as 1.0":
                return Array(json.replacingOccurrences(of: #""recordCount":1"#, with: #""recordCount":1.0"#).utf8)
            case "recordCount written as 1e0":
                return Array(json.replacingOccurrences(of: #""recordCount":1"#, with: #""recordCount":1e0"#).utf8)
            case "a trailing comma": return Array((json.dropLast() + ",}").utf8)
            default:
                return Array(json.replacingOccurrences(of: #""schemaVersion":1"#, with: #""schemaVersion":01"#).utf8)
            }
        }
        let refused = refusal(envelope)
        #expect(refused?.1.contains("00000099000000000102") != true, "the refusal repeats no header value")
        #expect(refused?.0 == "envelope_malformed", "\(fault): \(refused.map { "\($0)" } ?? "opened")")
        #expect(refused?.1.contains(says) == true, "\(fault): \(refused?.1 ?? "opened")")
    }

    @Test func strictJSONKeepsWhatRFC8259AllowsAndRefusesTheRest() throws {
        let accepted = [#"{}"#, #" {"a":[1,-0.5e+3,true,null,{"b":"\u00e9\ud83d\ude00"}]} "#, #"{"a":"\"\\\/"}"#]
        for json in accepted { #expect((try? StrictJSON(Array(json.utf8))) != nil, "\(json)") }
        let refused = [
            #"{"a":1,"a":2}"#, #"{"a":{"b":1,"b":2}}"#, #"{"a":"\ud800"}"#, #"{"a":NaN}"#, #"{"a":1}x"#, #"{"a":"\x"}"#,
            "{\"a\":\"tab\there\"}", #"[1]"#, #"{"a":+1}"#, #"{"a":.5}"#, #"{"a":1.}"#, #"{"\u0061":1,"a":2}"#,
        ]
        for json in refused { #expect((try? StrictJSON(Array(json.utf8))) == nil, "\(json)") }
    }

    @Test(arguments: [
        ("2026-11-23T12:00:00Z", 0.0), ("2026-11-23T13:00:00+01:00", 0), ("2026-11-23T07:30:00-04:30", 0),
        ("2026-11-23T12:00:00.5Z", 0.5), ("2026-11-23T12:00:00.123456789Z", 0.123456789),
        ("2026-11-24T00:00:00+12:00", 0),
    ])
    func createdAtTakesRFC3339WithAnOffsetAndAFraction(text: String, after: Double) throws {
        let noon = Date(timeIntervalSince1970: 1_795_435_200)  // 2026-11-23T12:00:00Z
        let read = try #require(EnvelopeHeader.instant(text))
        #expect(abs(read.timeIntervalSince(noon) - after) < 1e-6)
    }

    @Test(arguments: [
        "2026-11-23 12:00:00Z", "2026-11-23", "2026-11-23T12:00:00", "2026-02-30T12:00:00Z", "2026-11-23t12:00:00z",
        "2026-11-23T12:00:00.Z", "2026-11-23T12:00:60Z", "2026-11-23T12:00:00+0100", "2026-11-23T12:00Z",
        "2026-11-23T12:00:00.1234567890Z", "2026-11-23T24:00:00Z", "+2026-11-23T12:00:00Z",
    ])
    func createdAtInAnyOtherFormIsRefused(written: String) throws {
        #expect(EnvelopeHeader.instant(written) == nil)
        let envelope = resigned(try sealed()) { header in
            let json = text(header)
            let start = try! #require(json.range(of: #""createdAt":""#)).upperBound
            let end = json[start...].firstIndex(of: "\"")!
            return Array((json[..<start] + written + json[end...]).utf8)
        }
        #expect(refusal(envelope)?.0 == "envelope_malformed")
    }

    @Test func aMemberVersion1DoesNotDefineIsRefusedWithoutRepeatingItsName() throws {
        let envelope = resigned(try sealed()) { header in
            Array(text(header).dropLast().utf8) + Array(#","priority123456782":"high"}"#.utf8)
        }
        let refused = refusal(envelope)
        #expect(refused?.0 == "envelope_malformed")
        #expect(refused?.1 == "the header has a member that version 1 does not define")
    }

    @Test func aBatchIdIsOneIdInUpperOrLowerCaseAndIsWrittenInLowerCase() throws {
        let upper = try #require(BatchID("6F1C2B4E-8D0A-4C7E-9B3F-2A1D5E6C7B80"))
        let lower = try #require(BatchID("6f1c2b4e-8d0a-4c7e-9b3f-2a1d5e6c7b80"))
        #expect(upper == lower)
        #expect(upper.description == "6f1c2b4e-8d0a-4c7e-9b3f-2a1d5e6c7b80")
        #expect(BatchID("6f1c2b4e8d0a4c7e9b3f2a1d5e6c7b80") == nil, "a UUID has its hyphens")
    }
}
