/// An Organisatie-identificatienummer: the 20-digit number that identifies a Dutch government
/// organisation, carried in the subject `serialNumber` of its PKIoverheid certificate.
package struct OIN: Sendable, Hashable, Codable, Comparable, CustomStringConvertible, RawRepresentable {
    /// The 20 digits.
    package let value: String

    /// `nil` unless `value` is exactly 20 ASCII digits.
    package init?(_ value: String) {
        guard value.utf8.count == 20, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        self.value = value
    }

    /// Whether this is a test OIN (prefix `00000099`), the only kind tests and demos use.
    package var isTest: Bool { value.hasPrefix("00000099") }

    package var description: String { value }

    package static func < (a: OIN, b: OIN) -> Bool { a.value < b.value }

    // Codable through RawRepresentable: a JSON string, validated on decoding.
    package init?(rawValue: String) { self.init(rawValue) }
    package var rawValue: String { value }
}
