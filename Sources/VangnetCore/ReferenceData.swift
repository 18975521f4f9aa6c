/// The public reference data Vangnet routes by: the 342 municipalities and the 40 regions.
///
/// Embedded in the binary from `config/reference/` (see its README for provenance), so the
/// gateway needs no data files. The routing table is not an official publication; a production
/// deployment should load the official CBS table (a later issue).
package struct ReferenceData: Sendable {
    /// Municipalities by code.
    package let municipalities: [MunicipalityCode: Municipality]
    /// Regions by number; every municipality belongs to exactly one.
    package let regions: [RegionNumber: Region]
    private let regionOfMunicipality: [MunicipalityCode: RegionNumber]
    /// Region by the four digits of a municipality code (`GM0344` -> 344), for lookups without strings.
    private let regionByNumber: [RegionNumber?]

    /// The embedded tables, parsed once.
    package static let embedded: ReferenceData = {
        do {
            return try ReferenceData(
                municipalitiesCSV: municipalitiesCSV,
                routingCSV: routingCSV,
                regionsCSV: regionsCSV
            )
        } catch { preconditionFailure("embedded reference data is invalid: \(error)") }
    }()

    /// The region a municipality belongs to, or `nil` for an unknown code.
    package func region(of municipality: MunicipalityCode) -> RegionNumber? { regionOfMunicipality[municipality] }

    /// The region of the municipality `GMdddd` with `number` = dddd, or `nil` for an unknown one.
    package func region(ofMunicipalityNumber number: Int) -> RegionNumber? {
        regionByNumber.indices.contains(number) ? regionByNumber[number] : nil
    }

    /// Parses the three semicolon-separated tables and checks that they agree.
    package init(municipalitiesCSV: String, routingCSV: String, regionsCSV: String) throws {
        var municipalities: [MunicipalityCode: Municipality] = [:]
        for row in Self.rows(municipalitiesCSV) {
            guard row.count >= 2, let code = MunicipalityCode(row[0]) else {
                throw ReferenceDataError(reason: "bad municipality row")
            }
            municipalities[code] = Municipality(code: code, name: row[1])
        }
        var names: [RegionNumber: String] = [:]
        for row in Self.rows(regionsCSV) {
            guard row.count >= 2, let n = Int(row[0]).flatMap({ RegionNumber($0) }) else {
                throw ReferenceDataError(reason: "bad region row")
            }
            names[n] = row[1]
        }
        var members: [RegionNumber: Set<MunicipalityCode>] = [:]
        var regionOf: [MunicipalityCode: RegionNumber] = [:]
        for row in Self.rows(routingCSV) {
            guard row.count >= 3, let code = MunicipalityCode(row[0]), let n = Int(row[2]).flatMap({ RegionNumber($0) })
            else {
                throw ReferenceDataError(reason: "bad routing row")
            }
            guard municipalities[code] != nil else {
                throw ReferenceDataError(reason: "routing names unknown municipality \(code)")
            }
            guard regionOf.updateValue(n, forKey: code) == nil else {
                throw ReferenceDataError(reason: "\(code) routed twice")
            }
            members[n, default: []].insert(code)
        }
        guard regionOf.count == municipalities.count else {
            throw ReferenceDataError(reason: "\(municipalities.count - regionOf.count) municipalities have no region")
        }
        var regions: [RegionNumber: Region] = [:]
        for (n, name) in names {
            regions[n] = Region(number: n, name: name, municipalities: members[n] ?? [])
        }
        self.municipalities = municipalities
        self.regions = regions
        self.regionOfMunicipality = regionOf
        var byNumber = [RegionNumber?](repeating: nil, count: 10_000)
        for (code, region) in regionOf { byNumber[Int(code.value.dropFirst(2))!] = region }
        self.regionByNumber = byNumber
    }

    /// Data rows (header skipped) split on `;`.
    private static func rows(_ csv: String) -> [[String]] {
        csv.split(whereSeparator: \.isNewline).dropFirst().map {
            $0.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        }
    }
}

/// The embedded reference tables do not agree with each other.
package struct ReferenceDataError: Error, CustomStringConvertible {
    package let reason: String
    package var description: String { "reference data: \(reason)" }
}
