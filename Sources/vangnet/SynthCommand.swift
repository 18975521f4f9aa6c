import ArgumentParser
import Foundation
import Records
import VangnetCore

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Generate synthetic NDJSON records (BSNs that pass the elfproef, real municipality codes).",
        discussion:
            "The same --seed gives the same people, so a DUO and a UWV file made with one seed describe the same young people."
    )

    @Option(help: "duo.onderwijsdeelname, uwv.inkomstenverhoudingen or mbo.niet-toelaatbaar.")
    var dataset: String

    @Option(help: "For mbo.niet-toelaatbaar: the reporting institution's BRIN numbers (comma-separated).")
    var brin = "91MB"

    @Option(help: "Number of people.")
    var count = 100

    @Option(help: "Seed for reproducible output.")
    var seed: UInt64 = 1

    @Option(help: "Limit to municipalities (comma-separated GM codes); default: all.")
    var municipalities = ""

    @Option(help: "Output file (default: standard output).")
    var output: String?

    func run() throws {
        var synth = SyntheticRecords(seed: seed)
        let codes = municipalities.split(separator: ",").compactMap { MunicipalityCode(String($0)) }
        let people = synth.people(count, in: codes)
        let brin = brin.split(separator: ",").map(String.init)
        guard !brin.isEmpty, brin.allSatisfy({ RecordValidator.matches(code: $0, format: "99AA") }) else {
            throw ValidationError("--brin takes BRIN numbers: two digits and two capital letters (25LP)")
        }
        var lines: [String] = []
        for (index, person) in people.enumerated() {
            switch dataset {
            case "duo.onderwijsdeelname": lines.append(synth.duoLine(for: person, earlyLeaver: index % 3 != 2))
            case "uwv.inkomstenverhoudingen": lines.append(synth.uwvLine(for: person))
            case "mbo.niet-toelaatbaar":
                lines.append(synth.mboLine(for: person, brin: brin))
            default: throw CommandFailure("unknown dataset \(dataset)")
            }
        }
        let text = lines.joined(separator: "\n") + "\n"
        if let output {
            try text.write(toFile: output, atomically: true, encoding: .utf8)
        } else {
            print(text, terminator: "")
        }
    }
}
