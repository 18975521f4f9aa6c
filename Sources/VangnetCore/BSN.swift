/// A Burgerservicenummer: nine digits that pass the elfproef.
///
/// - Warning: a BSN is the most sensitive value Vangnet handles. This type never prints its
///   digits (`description` is redacted), is not `Codable`, and leaves the ingest stage only as
///   a keyed pseudonym. Use ``withDigits(_:)`` to hand the digits to the keyed hash.
package struct BSN: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    private let digits: [UInt8]

    /// `nil` unless `text` is nine ASCII digits that pass the elfproef.
    package init?(_ text: some StringProtocol) {
        self.init(utf8: Array(text.utf8))
    }

    /// `nil` unless `bytes` are nine ASCII digits that pass the elfproef.
    package init?(utf8 bytes: [UInt8]) {
        guard BSN.passesElfproef(bytes) else { return nil }
        self.digits = bytes
    }

    /// `9*d1 + 8*d2 + ... + 2*d8 - 1*d9` is divisible by 11 and the number is not all zeros.
    package static func passesElfproef(_ bytes: [UInt8]) -> Bool {
        guard bytes.count == 9 else { return false }
        var sum = 0
        for (index, byte) in bytes.enumerated() {
            guard byte >= 0x30 && byte <= 0x39 else { return false }
            let digit = Int(byte - 0x30)
            sum += index == 8 ? -digit : digit * (9 - index)
        }
        return sum % 11 == 0 && bytes != Array(repeating: 0x30, count: 9)
    }

    /// Gives the nine ASCII digits to `body`, for the keyed hash only.
    package func withDigits<R>(_ body: ([UInt8]) throws -> R) rethrows -> R { try body(digits) }

    package var description: String { "BSN(redacted)" }
    package var debugDescription: String { description }
}
