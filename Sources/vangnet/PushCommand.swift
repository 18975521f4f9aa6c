import ArgumentParser
import BatchEnvelope
import Foundation
import Gateway
import Synchronization

struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Push a sealed envelope to the gateway; prints the signed receipt (JSON).",
        discussion: """
            Streams the file. On a terminal it shows progress (bytes, records per second, time left); otherwise it \
            is quiet. Network errors and 5xx answers are retried with exponential backoff, which is safe: a batch id \
            commits once, and a retry of a committed batch returns its first receipt. Exit status 0 on 201 \
            (committed) and 200 (identical retry); non-zero with the gateway's error code otherwise.
            """
    )

    @OptionGroup var client: ClientOptions
    @Option(help: "Envelope file made by `vangnet seal`.") var envelope: String
    @Option(help: "Attempts after the first, on network errors and 5xx answers.") var retries = 5
    @Option(help: "Seconds before the first retry; doubled each time.") var backoff = 1.0

    func run() async throws {
        let url = URL(fileURLWithPath: envelope)
        let progress = isatty(STDERR_FILENO) == 1 ? try ProgressLine(envelope: url) : nil
        let http = try client.client()
        var report: (@Sendable (Int64) -> Void)?
        if let progress { report = { sent in progress.update(sent: sent) } }
        var attempt = 0
        while true {
            do {
                let answer = try await http.push(envelopeFile: url, progress: report)
                progress?.finish()
                if answer.status >= 500 && attempt < retries {
                    try await wait(attempt: &attempt, because: "the gateway answered \(answer.status)")
                    continue
                }
                try await http.shutdown()
                if let refusal = answer.refusal { throw CommandFailure("refused: \(refusal)") }
                print(answer.body, terminator: "")
                return
            } catch let failure as CommandFailure {
                throw failure
            } catch {
                progress?.finish()
                guard attempt < retries else {
                    try? await http.shutdown()
                    throw CommandFailure("push failed after \(attempt + 1) attempts: \(error)")
                }
                try await wait(attempt: &attempt, because: "\(error)")
            }
        }
    }

    private func wait(attempt: inout Int, because reason: String) async throws {
        let delay = backoff * pow(2, Double(attempt)) * Double.random(in: 0.8...1.2)
        attempt += 1
        FileHandle.standardError.write(
            Data("push: \(reason); retry \(attempt) of \(retries) in \(String(format: "%.1f", delay)) s\n".utf8)
        )
        try await Task.sleep(for: .seconds(delay))
    }
}

/// One line of progress on standard error, redrawn in place: bytes, records per second, time left.
final class ProgressLine: Sendable {
    private let total: Int64
    private let records: Int
    private let start = ContinuousClock.now
    private let lastDraw = Mutex<ContinuousClock.Instant?>(nil)

    init(envelope: URL) throws {
        total = Int64(try FileManager.default.attributesOfItem(atPath: envelope.path)[.size] as? Int ?? 0)
        records = (try? EnvelopeHeader.read(from: envelope).recordCount) ?? 0
    }

    func update(sent: Int64) {
        let now = ContinuousClock.now
        let due = lastDraw.withLock { last -> Bool in
            guard last.map({ now - $0 > .milliseconds(200) }) ?? true || sent == total else { return false }
            last = now
            return true
        }
        guard due, total > 0 else { return }
        let elapsed = max(
            Double((now - start).components.seconds) + Double((now - start).components.attoseconds) / 1e18,
            0.001
        )
        let fraction = Double(sent) / Double(total)
        let rate = Double(records) * fraction / elapsed
        let left = fraction > 0 ? elapsed / fraction - elapsed : 0
        let line = String(
            format: "\r%6.1f%%  %8.1f MiB  %9.0f records/s  %5.0f s left ",
            fraction * 100,
            Double(sent) / 1_048_576,
            rate,
            left
        )
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }
}
