import Testing
import VangnetCrypto

/// The blocks of a scratch file open only as what they were: with their cipher, under their number, unchanged.
@Suite struct ScratchCipherTests {
    let plain = Array("a staged line, pseudonymised".utf8)

    func sealed(_ cipher: ScratchCipher, number: UInt64) -> [UInt8] {
        var out: [UInt8] = [9, 9]
        plain.withUnsafeBytes { cipher.seal($0, number: number, appendingTo: &out) }
        return Array(out.dropFirst(2))
    }

    func open(_ block: [UInt8], _ cipher: ScratchCipher, number: UInt64) -> [UInt8]? {
        var out: [UInt8] = [1, 2, 3]
        return block.withUnsafeBytes { cipher.open($0, number: number, into: &out) } ? out : nil
    }

    @Test func aBlockOpensWithItsCipherAndNumber() {
        let cipher = ScratchCipher()
        let block = sealed(cipher, number: 7)
        #expect(block.count == plain.count + ScratchCipher.overhead)
        #expect(!block.starts(with: plain.prefix(8)))
        #expect(open(block, cipher, number: 7) == plain)
    }

    @Test func aBlockDoesNotOpenUnderAnotherNumberAnotherCipherAlteredOrCut() {
        let cipher = ScratchCipher()
        let block = sealed(cipher, number: 7)
        var altered = block
        altered[3] ^= 0x40
        #expect(open(block, cipher, number: 8) == nil)
        #expect(open(block, ScratchCipher(), number: 7) == nil)
        #expect(open(altered, cipher, number: 7) == nil)
        #expect(open(Array(block.dropLast()), cipher, number: 7) == nil)
        #expect(open(Array(block.prefix(ScratchCipher.overhead - 1)), cipher, number: 7) == nil)
    }

    @Test func twoNumbersSealTheSameBytesDifferently() {
        let cipher = ScratchCipher()
        #expect(sealed(cipher, number: 1) != sealed(cipher, number: 2))
    }
}
