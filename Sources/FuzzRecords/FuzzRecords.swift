import Foundation
import FuzzSupport
import Records
import VangnetCore

/// libFuzzer harness for the record parser: arbitrary bytes split into lines (in chunks whose
/// size the first byte chooses), each line validated against both dataset schemas. Every line
/// must come out as a record or a rejection with a reason; anything else is a finding.
///
/// Built with `scripts/fuzz.sh`; without `FUZZING` a replay tool like `FuzzEnvelope`.
enum RecordHarness {
    static let validators = [
        RecordValidator(schema: .duoOnderwijsdeelname), RecordValidator(schema: .uwvInkomstenverhoudingen),
    ]

    /// Whether every line was a valid record of one of the schemas.
    @discardableResult
    static func run(_ input: UnsafeRawBufferPointer) -> Bool {
        guard let first = input.first else { return false }
        var allValid = true
        let step = Int(first) + 1
        var splitter = LineSplitter(maxLineBytes: 4096)
        func validate(_ line: LineSplitter.Line) {
            guard case .line(let bytes, let number) = line else {
                allValid = false
                return
            }
            var valid = false
            for validator in validators {
                switch bytes.withUnsafeBytes({ validator.validate(line: $0, number: number) }) {
                case .success(let record):
                    precondition(record.line == number)
                    valid = true
                case .failure(let rejection): precondition(rejection.line == number)
                }
            }
            allValid = allValid && valid
        }
        var offset = 1
        while offset < input.count {
            let end = min(offset + step, input.count)
            splitter.feed(Array(input[offset..<end]))
            while let line = splitter.next() { validate(line) }
            offset = end
        }
        splitter.finish()
        while let line = splitter.next() { validate(line) }
        return allValid
    }

    static func seeds() throws -> [(String, [UInt8])] {
        var synth = SyntheticRecords(seed: 1)
        let people = synth.people(6, in: [MunicipalityCode("GM0344")!, MunicipalityCode("GM0363")!])
        let duo = people.enumerated().map { synth.duoLine(for: $1, earlyLeaver: $0 % 2 == 0) }
        let uwv = people.map { synth.uwvLine(for: $0) }
        // RFC 8259 numbers at their edges, in an integer field (docs/envelope.md, Numbers).
        let numbers = ["1e1", "10.0", "100e-1", "07", "-0", "1.", "1e+", "1e400", "0.99e2", "10.5"].map {
            #"{"bsn":"123456782","gemeentecode":"GM0344","periode":"2026-10","soort":"WW","sector":"#
                + $0 + #","startdatum":"2026-01-01"}"#
        }
        return [
            ("duo", duo), ("uwv", uwv), ("mixed", [duo[0], uwv[1], "{}", "not json", #"{"bsn":"#]),
            ("numbers", numbers),
        ].flatMap {
            name,
            lines in
            [UInt8(0), 7, 255].map { ("\(name)-\($0)", [$0] + Array((lines.joined(separator: "\n") + "\n").utf8)) }
        }
    }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
package func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    RecordHarness.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#endif

@main struct FuzzRecordsMain {
    static func main() throws {
        #if FUZZING
        FuzzDriver.main(fuzzOneInput)
        #else
        try FuzzReplay.main(name: "FuzzRecords", run: RecordHarness.run, seeds: RecordHarness.seeds)
        #endif
    }
}
