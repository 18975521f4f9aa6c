/// The number of an RMC / Doorstroompunt region, 1 to 40.
package struct RegionNumber: Sendable, Hashable, Codable, Comparable, CustomStringConvertible, RawRepresentable {
    package let value: Int

    package init?(_ value: Int) {
        guard (1...40).contains(value) else { return nil }
        self.value = value
    }

    package var description: String { String(value) }
    package static func < (a: Self, b: Self) -> Bool { a.value < b.value }

    // Codable through RawRepresentable: a JSON number, validated on decoding.
    package init?(rawValue: Int) { self.init(rawValue) }
    package var rawValue: Int { value }
}

/// An RMC / Doorstroompunt region: its number, name and member municipalities.
package struct Region: Sendable, Hashable {
    package let number: RegionNumber
    package let name: String
    package let municipalities: Set<MunicipalityCode>
}

/// A municipality from the CBS list.
package struct Municipality: Sendable, Hashable {
    package let code: MunicipalityCode
    package let name: String
}
