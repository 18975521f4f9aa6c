import BatchEnvelope
import Foundation
import FuzzSupport
import Records
import VangnetCore
import VangnetCrypto

/// libFuzzer harness for the envelope reader: arbitrary bytes, fed in chunks whose size the first
/// byte chooses, opened with fixed keys whenever a header parses, finished at the end. The reader
/// must throw an `EnvelopeError` or succeed; anything else (a trap, a sanitizer report, a hang)
/// is a finding.
///
/// Built with `scripts/fuzz.sh` (`-sanitize=fuzzer,address -D FUZZING`). Without `FUZZING` the
/// same harness is a replay tool: `FuzzEnvelope FILE|DIR...` runs every input once, and
/// `FuzzEnvelope --make-seeds DIR` writes valid envelopes under the fixed keys as a seed corpus.
enum EnvelopeHarness {
    static let recipient = try! BoxKeyPair(secretKey: SecretBytes([UInt8](repeating: 7, count: 32)))
    static let signer = try! SigningKeyPair(seed: SecretBytes([UInt8](repeating: 9, count: 32)))

    /// Whether the input opened as a whole, verified envelope.
    @discardableResult
    static func run(_ input: UnsafeRawBufferPointer) -> Bool {
        guard let first = input.first else { return false }
        let step = Int(first) * 16 + 1
        do {
            _ = try EnvelopeReader.open(
                Array(input.dropFirst()),
                with: recipient,
                signingKey: signer.publicKey,
                piece: step,
                maxEnvelopeBytes: 1 << 20
            )
            return true
        } catch is EnvelopeError {
            return false  // refused with a reason: what hostile input should get
        } catch {
            fatalError("the envelope reader threw something other than an EnvelopeError: \(type(of: error))")
        }
    }

    /// Valid envelopes under the fixed keys, each behind a chunking byte.
    static func seeds() throws -> [(String, [UInt8])] {
        let sealer = EnvelopeSealer(
            source: OIN("00000099000000000101")!,
            signingKey: signer,
            recipient: recipient.publicKey,
            chunkSize: 64
        )
        var synth = SyntheticRecords(seed: 3)
        let lines = synth.people(2, in: [MunicipalityCode("GM0344")!]).map { synth.duoLine(for: $0, earlyLeaver: true) }
        var out: [(String, [UInt8])] = []
        for (i, payload) in [
            "", lines[0] + "\n", lines.joined(separator: "\n") + "\n", String(repeating: lines[1] + "\n", count: 5),
        ].enumerated() {
            let envelope = try sealer.seal(
                payload: Array(payload.utf8),
                batchId: BatchID(),
                dataset: "duo.onderwijsdeelname",
                createdAt: Date(timeIntervalSince1970: 1_795_435_200),
                recordCount: payload.split(separator: "\n").count
            )
            for chunking: UInt8 in [0, 3, 255] { out.append(("valid-\(i)-\(chunking)", [chunking] + envelope)) }
        }
        return out
    }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
package func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    EnvelopeHarness.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#endif

@main struct FuzzEnvelopeMain {
    static func main() throws {
        #if FUZZING
        FuzzDriver.main(fuzzOneInput)
        #else
        try FuzzReplay.main(name: "FuzzEnvelope", run: EnvelopeHarness.run, seeds: EnvelopeHarness.seeds)
        #endif
    }
}
