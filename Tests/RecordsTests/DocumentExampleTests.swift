import Foundation
import Records
import Testing
import VangnetCore

/// What the documents say about records and regions, held to the code and the reference data.
@Suite struct DocumentExampleTests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs")

    static func text(_ name: String) throws -> String {
        try String(contentsOf: docs.appendingPathComponent(name), encoding: .utf8)
    }

    /// Every region example (`"number": N` with its municipalities) names municipalities of that
    /// region in the reference data.
    @Test func theRegionExamplesNameMunicipalitiesOfThatRegion() throws {
        let reference = ReferenceData.embedded
        var checked = 0
        for name in ["configuration.md", "operations.md", "api.md"] {
            let text = try Self.text(name)
            let pattern = try Regex(#""number": (\d+),[^}]*?"municipalities": \[([^\]]*)\]"#)
            for match in text.matches(of: pattern) {
                let number = Int(match.output[1].substring!)!
                let codes = match.output[2].substring!.split(separator: ",").map {
                    $0.trimmingCharacters(in: CharacterSet(charactersIn: " \""))
                }
                for code in codes where code != "..." {
                    let region = MunicipalityCode(code).flatMap(reference.region(of:))?.value
                    #expect(region == number, "\(name): \(code) is in region \(region.map(String.init) ?? "none")")
                    checked += 1
                }
            }
        }
        #expect(checked >= 3)
    }

    @Test func theRejectionTableListsEveryCodeAndNoOther() throws {
        let text = try Self.text("envelope.md")
        let table = text.components(separatedBy: "## Record rejection codes")[1].components(separatedBy: "\n## ")[0]
        let listed = Set(table.matches(of: try Regex(#"\n\| `([a-z_]+)` \|"#)).map { String($0.output[1].substring!) })
        #expect(listed == Set(RecordRejection.Reason.allCases.map(\.rawValue)))
    }
}
