import Testing
import VangnetCrypto

/// BLAKE2b against the reference vectors (RFC 7693 appendix A; the keyed KAT of the BLAKE2
/// reference implementation, `blake2b-kat.txt`, key 00..3f).
@Suite struct GenericHashTests {
    @Test func unkeyedMatchesRFC7693() {
        #expect(
            Hex.encode(GenericHash.hash(Array("abc".utf8), outputLength: 64))
                == "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
        )
    }

    @Test(arguments: [
        (
            0,
            "10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568"
        ),
        (
            1,
            "961f6dd1e4dd30f63901690c512e78e4b45e4742ed197c3c5e45c549fd25f2e4187b0bc9fe30492b16b0d0bc4ef9b0f34c7003fac09a5ef1532e69430234cebd"
        ),
        (
            255,
            "142709d62e28fcccd0af97fad0f8465b971e82201dc51070faa0372aa43e92484be1c1e73ba10906d5d1853db6a4106e0a7bf9800d373d6dee2d46d62ef2a461"
        ),
    ])
    func keyedMatchesReferenceKAT(length: Int, expected: String) {
        let key = SecretBytes((0..<64).map { UInt8($0) })
        let input = (0..<length).map { UInt8($0) }
        #expect(Hex.encode(GenericHash.keyedHash(input, key: key, outputLength: 64)) == expected)
    }

    @Test func streamingEqualsOneShot() {
        let input = (0..<10_000).map { UInt8($0 % 251) }
        let stream = StreamingHash(outputLength: 32)
        stream.update(Array(input[..<3333]))
        stream.update(Array(input[3333...]))
        #expect(stream.finalize() == GenericHash.hash(input, outputLength: 32))
    }

    @Test func differentKeysGiveDifferentHashes() {
        let input = Array("123456782".utf8)
        #expect(
            GenericHash.keyedHash(input, key: .random(count: 32))
                != GenericHash.keyedHash(input, key: .random(count: 32))
        )
    }
}
