/// A CBS municipality code, `GM` and four digits (for example `GM0344`, Utrecht).
package struct MunicipalityCode: Sendable, Hashable, Codable, Comparable, CustomStringConvertible, RawRepresentable {
    package let value: String

    /// `nil` unless `value` has the form `GMdddd`. Existence is checked against ``ReferenceData``.
    package init?(_ value: String) {
        let u = Array(value.utf8)
        guard u.count == 6, u[0] == 0x47, u[1] == 0x4D, u[2...].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        self.value = value
    }

    package var description: String { value }
    package static func < (a: Self, b: Self) -> Bool { a.value < b.value }

    // Codable through RawRepresentable: a JSON string, validated on decoding.
    package init?(rawValue: String) { self.init(rawValue) }
    package var rawValue: String { value }
}
