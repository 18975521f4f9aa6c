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
}
