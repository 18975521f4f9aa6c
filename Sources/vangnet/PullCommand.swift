import ArgumentParser
import Foundation
import Gateway
import Storage
import VangnetClient

struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Pull your region's records for a purpose: the current picture, or the changes since a cursor.",
        discussion: """
            --current (the default) pulls everyone in your population today with their current records, one consistent \
            snapshot; --changes pulls what entered, changed or left since --cursor. The cursor to continue with is \
            printed on standard error: after a complete current picture it is a changes cursor. \
            --mirror FILE keeps a local SQLite copy up to date: the first run pulls the current picture into it, \
            later runs apply only the changes (run it every night).
            """
    )

    @OptionGroup var client: ClientOptions
    @Option(help: "Purpose id, for example vsv-opvolging.") var purpose: String
    @Flag(help: "Pull the current picture (the default without --cursor).") var current = false
    @Flag(help: "Pull the changes since --cursor (from the start of the feed without one).") var changes = false
    @Option(help: "Continue from this cursor (Vangnet-Next-Cursor of an earlier page).") var cursor: String?
    @Option(help: "Records per page.") var limit = 1000
    @Option(help: "ndjson or csv.") var format = "ndjson"
    @Flag(help: "Follow the cursor to the end (of the snapshot, or of the changes).") var all = false
    @Option(help: "Write the records to this file instead of standard output.") var output: String?
    @Option(help: "Keep this SQLite file up to date with the pulls (implies --all, NDJSON).") var mirror: String?

    func validate() throws {
        if current && changes { throw ValidationError("--current and --changes exclude each other") }
        if mirror != nil && (format != "ndjson" || output != nil || cursor != nil) {
            throw ValidationError(
                "--mirror keeps its own cursor and writes no file: leave out --format, --output and --cursor"
            )
        }
    }

    func run() async throws {
        let http = try client.client()
        do {
            if let mirror { try await runMirror(http, path: mirror) } else { try await runPull(http) }
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    private var view: String? { changes ? "changes" : current || cursor == nil ? "current" : nil }

    private func runPull(_ http: GatewayClient) async throws {
        var sink: FileHandle = .standardOutput
        if let output {
            FileManager.default.createFile(atPath: output, contents: nil)
            guard let file = FileHandle(forWritingAtPath: output) else {
                throw CommandFailure("cannot write \(output)")
            }
            try file.truncate(atOffset: 0)
            sink = file
        }
        defer { if output != nil { try? sink.close() } }
        let progress = Progress(purpose: purpose)
        var headerWritten = false
        func write(_ answer: GatewayClient.Answer) throws {
            var body = Substring(answer.body)
            // CSV: one header row for the whole file.
            if format == "csv" {
                if headerWritten, let newline = body.firstIndex(of: "\n") { body = body[body.index(after: newline)...] }
                headerWritten = true
            }
            sink.write(Data(body.utf8))
            progress.add(answer.body.split(separator: "\n").count - (format == "csv" ? 1 : 0))
        }
        let next: String
        if all {
            switch try await http.pullAll(
                purpose: purpose,
                view: view,
                cursor: cursor,
                limit: limit,
                format: format,
                page: { try write($0) }
            ) {
            case .success(let cursor): next = cursor
            case .failure(let failure):
                throw CommandFailure(
                    "refused: \(failure.answer.refusal.map(String.init(describing:)) ?? "HTTP \(failure.answer.status)")"
                )
            }
        } else {
            let answer = try await http.pull(purpose: purpose, view: view, cursor: cursor, limit: limit, format: format)
            if let refusal = answer.refusal { throw CommandFailure("refused: \(refusal)") }
            try write(answer)
            next = answer.headers["vangnet-next-cursor"] ?? ""
        }
        progress.finish()
        FileHandle.standardError.write(Data("next cursor: \(next)\n".utf8))
    }

    private func runMirror(_ http: GatewayClient, path: String) async throws {
        let mirror = try RegionMirror(path: path)
        let stored = try mirror.cursor(purpose: purpose)
        // No cursor yet, or an interrupted current picture: the picture; otherwise the changes.
        var cursor = stored?.cursor
        var restart = stored == nil
        let progress = Progress(purpose: purpose)
        var totals = RegionMirror.Applied()
        while true {
            let answer = try await http.pull(
                purpose: purpose,
                view: cursor == nil ? "current" : nil,
                cursor: cursor,
                limit: limit
            )
            if answer.status == 410 {
                // Too old to continue: the current picture again.
                (cursor, restart) = (nil, true)
                continue
            }
            if let refusal = answer.refusal { throw CommandFailure("refused: \(refusal)") }
            guard let next = answer.headers["vangnet-next-cursor"],
                let nextView = answer.headers["vangnet-complete"] == "true" ? "changes" : answer.headers["vangnet-view"]
            else {
                throw CommandFailure("the answer has no cursor")
            }
            let applied = try mirror.apply(
                purpose: purpose,
                ndjson: answer.body,
                next: next,
                nextView: nextView,
                restart: restart
            )
            totals.upserted += applied.upserted
            totals.withdrawn += applied.withdrawn
            progress.add(applied.upserted + applied.withdrawn)
            restart = false
            cursor = next
            let done =
                answer.headers["vangnet-view"] == "changes"
                ? answer.body.isEmpty : answer.headers["vangnet-complete"] == "true"
            if done { break }
        }
        progress.finish()
        let held = try mirror.records(purpose: purpose).count
        print(
            "mirror \(path): \(purpose): \(totals.upserted) upserted, \(totals.withdrawn) withdrawn, \(held) records held"
        )
    }
}

/// A progress line on standard error when it is a terminal.
private final class Progress {
    let purpose: String
    let terminal = isatty(2) == 1
    var count = 0
    init(purpose: String) { self.purpose = purpose }
    func add(_ n: Int) {
        count += n
        if terminal { FileHandle.standardError.write(Data("\r\(purpose): \(count) records".utf8)) }
    }
    func finish() { if terminal { FileHandle.standardError.write(Data("\n".utf8)) } }
}
